"""We test these aspects of the rule engine (kubemedic.domain: view, analyzers, diagnose, runbook):

- the bundle view: revisions sorted numerically, owner chains, the Deployment inferred from a
  pod-template-hash when the ReplicaSet is missing, events from both Event APIs, tolerant getters;
- container classification: each kubelet status shape maps to the right problem kind;
- the OOM memory-limit proposal (growth factors, 2x and 16Gi bounds, whole MiB) and its evidence;
- per-analyzer decisions a user sees: Escalate texts naming what to create or raise, transient
  crash loops restarted first, probe failures replaced only when same-template siblings work,
  HPA and quota proposals, endpoints without ``conditions.ready`` counted as ready;
- precedence: strong findings beat weak ones, then the documented category order, then
  confidence; an unexplained competing finding lowers the confidence;
- robustness: a table of malformed objects (wrong types, cycles, huge inputs) never makes an
  analyzer or diagnose_bundle raise;
- runbooks: deterministic, no timestamps, a recipe for every category, kubectl for every action.
"""

import re
from collections.abc import Callable
from typing import Any

import pytest

from kubemedic.domain import analyzers, runbook, view
from kubemedic.domain import rule_engine as diagnose
from kubemedic.models.bundle import ContainerLog, IncidentBundle, MetricResult
from kubemedic.models.diagnosis import ActionType, Category, Risk
from kubemedic.models.target import ObjectRef, TargetKind, TargetRef

Obj = dict[str, Any]
MI, GI = 1024**2, 1024**3


# -- Builders: small but shaped like the API's objects ----------------------------------------


def md(kind: str, name: str, *, namespace: str | None = "shop", **extra: Any) -> Obj:
    data: Obj = {"name": name, "uid": f"uid-{kind}-{name}", "resourceVersion": "1"}
    if namespace:
        data["namespace"] = namespace
    data.update(extra)
    return data


def ref(owner: Obj) -> list[Obj]:
    return [
        {
            "apiVersion": owner["apiVersion"],
            "kind": owner["kind"],
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def app_container(
    name: str = "app", *, memory_limit: str | None = "128Mi", image: str = "shop/web:1"
) -> Obj:
    resources: Obj = {"requests": {"cpu": "100m", "memory": "64Mi"}}
    if memory_limit:
        resources["limits"] = {"memory": memory_limit}
    return {
        "name": name,
        "image": image,
        "resources": resources,
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 10},
    }


def deployment(name: str = "web", *, memory_limit: str | None = "128Mi", replicas: int = 3) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": md("Deployment", name),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [app_container(memory_limit=memory_limit)]},
            },
        },
    }


def replicaset(
    dep: Obj, revision: int, *, pod_hash: str, ready: int = 0, image: str = "shop/web:1"
) -> Obj:
    name = f"{dep['metadata']['name']}-{pod_hash}"
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": md(
            "ReplicaSet",
            name,
            labels={"app": dep["metadata"]["name"], "pod-template-hash": pod_hash},
            annotations={"deployment.kubernetes.io/revision": str(revision)},
            ownerReferences=ref(dep),
        ),
        "spec": {"template": {"spec": {"containers": [app_container(image=image)]}}},
        "status": {"replicas": ready, "readyReplicas": ready},
    }


def running(
    name: str = "app", *, ready: bool = True, restarts: int = 0, last: Obj | None = None
) -> Obj:
    return {
        "name": name,
        "ready": ready,
        "started": True,
        "restartCount": restarts,
        "state": {"running": {"startedAt": "2025-03-14T10:00:00Z"}},
        "lastState": {"terminated": last} if last else {},
    }


def waiting(
    reason: str, message: str = "", *, name: str = "app", restarts: int = 0, last: Obj | None = None
) -> Obj:
    return {
        "name": name,
        "ready": False,
        "started": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason, "message": message}},
        "lastState": {"terminated": last} if last else {},
    }


def term(reason: str, exit_code: int) -> Obj:
    return {
        "reason": reason,
        "exitCode": exit_code,
        "startedAt": "2025-03-14T10:20:00Z",
        "finishedAt": "2025-03-14T10:21:00Z",
    }


def pod(
    name: str,
    statuses: list[Obj],
    *,
    owner: Obj | None = None,
    ready: bool | None = None,
    phase: str = "Running",
    node: str = "node-a",
    labels: dict[str, str] | None = None,
    spec_containers: list[Obj] | None = None,
) -> Obj:
    is_ready = all(s.get("ready") for s in statuses) if ready is None else ready
    meta = md("Pod", name, labels=labels or {})
    if owner is not None:
        meta["ownerReferences"] = ref(owner)
        meta["labels"].update(owner["metadata"].get("labels", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"nodeName": node, "containers": spec_containers or [app_container()]},
        "status": {
            "phase": phase,
            "conditions": [
                {"type": "Ready", "status": "True" if is_ready else "False"},
                {"type": "PodScheduled", "status": "True"},
            ],
            "containerStatuses": statuses,
        },
    }


def event(
    subject: Obj, reason: str, *, message: str, count: int = 1, field_path: str | None = None
) -> Obj:
    involved: Obj = {
        "kind": subject["kind"],
        "name": subject["metadata"]["name"],
        "namespace": subject["metadata"].get("namespace"),
        "uid": subject["metadata"]["uid"],
    }
    if field_path:
        involved["fieldPath"] = field_path
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": md("Event", f"{subject['metadata']['name']}.{reason.lower()}"),
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "type": "Warning",
        "count": count,
    }


def bundle(
    target: tuple[str, str | None, str],
    objects: list[Obj],
    *,
    logs: list[ContainerLog] | None = None,
    metrics: list[MetricResult] | None = None,
) -> IncidentBundle:
    kind, namespace, name = target
    return IncidentBundle(
        target=TargetRef(kind=TargetKind(kind), namespace=namespace, name=name),
        objects=objects,
        logs=logs or [],
        metrics=metrics or [],
    )


def index_of(
    target: tuple[str, str | None, str], objects: list[Obj], **kwargs: Any
) -> view.BundleView:
    return view.BundleView(bundle(target, objects, **kwargs))


DEPLOY = ("Deployment", "shop", "web")


# -- The view ---------------------------------------------------------------------------------


def test_revisions_sort_numerically_and_collect_their_pods() -> None:
    dep = deployment()
    rs_9 = replicaset(dep, 9, pod_hash="aaa", ready=2)
    rs_10 = replicaset(dep, 10, pod_hash="bbb")
    rs_2 = replicaset(dep, 2, pod_hash="ccc")
    pods = [pod("web-aaa-1", [running()], owner=rs_9), pod("web-bbb-1", [running()], owner=rs_10)]
    index = index_of(DEPLOY, [rs_10, dep, rs_9, rs_2, *pods])
    revisions = index.revisions(dep)
    assert [r.number for r in revisions] == [2, 9, 10]
    assert [view.name_of(p) for p in revisions[1].pods] == ["web-aaa-1"]
    assert [view.name_of(p) for p in index.owner_chain(pods[1])] == ["web-bbb", "web"]


def test_deployment_is_inferred_from_pod_template_hash_without_replicaset() -> None:
    dep = deployment()
    rs = replicaset(dep, 1, pod_hash="7d9c5b8f4")
    orphan = pod("web-7d9c5b8f4-x2kqp", [running()], owner=rs)
    index = index_of(("Pod", "shop", "web-7d9c5b8f4-x2kqp"), [dep, orphan])
    assert index.workload_ref() == ("Deployment", "shop", "web")
    assert index.workload() == dep


def test_events_from_both_apis_are_matched_by_uid_or_name() -> None:
    target = pod("web-1", [running()])
    core = event(
        target,
        "BackOff",
        message="Back-off restarting failed container",
        count=7,
        field_path="spec.containers{app}",
    )
    modern = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": md("Event", "web-1.sched"),
        "regarding": {"kind": "Pod", "name": "web-1", "namespace": "shop"},
        "reason": "FailedScheduling",
        "note": "0/3 nodes are available: 3 Insufficient memory.",
        "type": "Warning",
        "series": {"count": 12},
    }
    stale = event(target, "Killing", message="old pod with the same name")
    stale["involvedObject"]["uid"] = "uid-of-an-older-pod"
    index = index_of(("Pod", "shop", "web-1"), [target, core, modern, stale])
    found = {e.reason: e for e in index.events_for(target)}
    assert set(found) == {"BackOff", "FailedScheduling"}
    assert found["BackOff"].count == 7
    assert found["BackOff"].container == "app"
    assert found["FailedScheduling"].count == 12
    assert found["FailedScheduling"].message.startswith("0/3 nodes")


@pytest.mark.parametrize(
    ("obj", "path", "getter", "expected"),
    [
        ({"a": {"b": "x"}}, ("a", "b"), view.get_str, "x"),
        ({"a": {"b": 3}}, ("a", "b"), view.get_str, "3"),
        ({"a": ["b"]}, ("a", "b"), view.get_str, ""),
        ({"a": "3"}, ("a",), view.get_int, 3),
        ({"a": True}, ("a",), view.get_int, None),
        ({"a": "three"}, ("a",), view.get_int, None),
        ({"a": 2.0}, ("a",), view.get_int, 2),
        ({"a": [1, {"b": 1}]}, ("a", 1, "b"), view.get_int, 1),
        ({"a": [1]}, ("a", 5), view.get_int, None),
        ({"a": "x"}, ("a",), view.get_dict, {}),
        ({"a": {"b": 1}}, ("a",), view.get_list, []),
        ("not a dict", ("a",), view.get_str, ""),
    ],
)
def test_getters_return_safe_defaults_for_odd_types(
    obj: object, path: tuple[str | int, ...], getter: Callable[..., object], expected: object
) -> None:
    assert getter(obj, *path) == expected


# -- Container classification -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "events", "expected"),
    [
        (
            waiting("CrashLoopBackOff", restarts=7, last=term("Error", 1)),
            [],
            analyzers.ProblemKind.CRASH,
        ),
        (
            running(ready=False, restarts=4, last=term("OOMKilled", 137)),
            [],
            analyzers.ProblemKind.OOM,
        ),
        (
            waiting("CrashLoopBackOff", restarts=4, last=term("OOMKilled", 137)),
            [],
            analyzers.ProblemKind.OOM,
        ),
        (waiting("ErrImagePull", "not found"), [], analyzers.ProblemKind.IMAGE),
        (
            waiting("ImagePullBackOff", 'Back-off pulling image "x"'),
            [],
            analyzers.ProblemKind.IMAGE,
        ),
        (
            waiting("CreateContainerConfigError", 'configmap "c" not found'),
            [],
            analyzers.ProblemKind.CONFIG,
        ),
        (
            running(ready=False),
            [("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503")],
            analyzers.ProblemKind.READINESS,
        ),
        (
            waiting("CrashLoopBackOff", restarts=5, last=term("Error", 137)),
            [("Killing", "Container app failed liveness probe, will be restarted")],
            analyzers.ProblemKind.LIVENESS,
        ),
        (
            # NB: exit code 1 is the application's own failure even if a liveness probe also failed.
            waiting("CrashLoopBackOff", restarts=5, last=term("Error", 1)),
            [("Unhealthy", "Liveness probe failed: connection refused")],
            analyzers.ProblemKind.CRASH,
        ),
        (running(restarts=4, last=term("Error", 2)), [], analyzers.ProblemKind.CRASH),
        (running(restarts=1, last=term("Error", 1)), [], None),  # one crash long ago
        (running(ready=False), [], None),  # starting up, no probe failure yet
        (running(), [], None),
    ],
)
def test_container_problem_classification(
    status: Obj, events: list[tuple[str, str]], expected: analyzers.ProblemKind | None
) -> None:
    subject = pod("web-1", [status])
    objects = [
        subject,
        *(event(subject, r, message=m, field_path="spec.containers{app}") for r, m in events),
    ]
    index = index_of(("Pod", "shop", "web-1"), objects)
    kinds = [p.kind for p in analyzers.container_problems(index, subject)]
    assert kinds == ([expected] if expected else [])


# -- OOMKilled --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "peak", "expected"),
    [
        (128 * MI, None, 192 * MI),
        (512 * MI, 509 * MI, 768 * MI),
        (GI, int(1.4 * GI), 1864 * MI),  # peak * 1.3 beats limit * 1.5, rounded up to a MiB
        (GI, int(1.9 * GI), 2 * GI),  # bounded by 2x the limit
        (12 * GI, None, 16 * GI),  # bounded by 16Gi
        (16 * GI, None, None),  # cannot grow any further
        (20 * GI, None, None),
        (100_000_000, None, 144 * MI),  # a decimal limit (100M) gets a whole-MiB proposal
        (100 * MI, 1, 150 * MI),  # a tiny peak never lowers the proposal
        (0, None, None),
    ],
)
def test_memory_limit_proposal(limit: int, peak: int | None, expected: int | None) -> None:
    assert analyzers.propose_memory_limit(limit_bytes=limit, peak_bytes=peak) == expected


def _oom_objects(pods: int, *, memory_limit: str | None = "128Mi") -> list[Obj]:
    dep = deployment(memory_limit=memory_limit)
    rs = replicaset(dep, 1, pod_hash="7d9c")
    members = [
        pod(
            f"web-7d9c-{i}",
            [running(ready=False, restarts=4, last=term("OOMKilled", 137))],
            owner=rs,
        )
        for i in range(pods)
    ]
    return [dep, rs, *members]


def test_oom_cites_status_and_limit_fields_and_proposes_limit() -> None:
    finding = analyzers.analyze_oom_killed(index_of(DEPLOY, _oom_objects(1)))
    assert finding is not None
    assert finding.category is Category.OOM_KILLED
    assert finding.evidence[0] == (
        "Pod shop/web-7d9c-0 container 'app': lastState.terminated.reason=OOMKilled exitCode=137 "
        "(restartCount=4)"
    )
    assert (
        "Deployment shop/web spec.template.spec.containers[app].resources.limits.memory=128Mi"
        in finding.evidence
    )
    action = finding.actions[0]
    assert (action.type, action.risk) == (ActionType.SET_RESOURCES, Risk.MEDIUM)
    assert action.target == ObjectRef(kind="Deployment", namespace="shop", name="web")
    assert action.params == {"container": "app", "memoryLimit": "192Mi"}


def test_oom_confidence_grows_with_pods_showing_it() -> None:
    one = analyzers.analyze_oom_killed(index_of(DEPLOY, _oom_objects(1)))
    three = analyzers.analyze_oom_killed(index_of(DEPLOY, _oom_objects(3)))
    assert one is not None
    assert three is not None
    assert three.confidence > one.confidence


def test_oom_uses_the_matching_containers_metric_peak() -> None:
    data = {
        "resultType": "vector",
        "result": [
            {
                "metric": {"namespace": "shop", "container": "app", "pod": "web-7d9c-0"},
                "value": [1, str(120 * MI)],
            },
            # NB: a sidecar's bigger peak must not leak into the app container's proposal.
            {
                "metric": {"namespace": "shop", "container": "sidecar", "pod": "web-7d9c-0"},
                "value": [1, str(900 * MI)],
            },
        ],
    }
    metric = MetricResult(
        query='max_over_time(container_memory_working_set_bytes{namespace="shop"}[1h])', data=data
    )
    finding = analyzers.analyze_oom_killed(index_of(DEPLOY, _oom_objects(1), metrics=[metric]))
    assert finding is not None
    assert finding.actions[0].params["memoryLimit"] == "192Mi"
    assert any("peak 120Mi of limit 128Mi" in line for line in finding.evidence)


def test_oom_without_limit_escalates_with_instructions() -> None:
    finding = analyzers.analyze_oom_killed(index_of(DEPLOY, _oom_objects(2, memory_limit=None)))
    assert finding is not None
    action = finding.actions[0]
    assert action.type is ActionType.ESCALATE
    assert "no resources.limits.memory" in action.params["instructions"]


# -- Other analyzers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            'configmap "app-config" not found',
            analyzers.MissingReference("ConfigMap", "shop", "app-config", None),
        ),
        ('secret "db" not found', analyzers.MissingReference("Secret", "shop", "db", None)),
        (
            "couldn't find key password in Secret shop/db-credentials",
            analyzers.MissingReference("Secret", "shop", "db-credentials", "password"),
        ),
        (
            'MountVolume.SetUp failed for volume "conf" : configmap "nginx-conf" not found',
            analyzers.MissingReference("ConfigMap", "shop", "nginx-conf", None),
        ),
        ("failed to reserve container name", None),
    ],
)
def test_missing_reference_parsing(
    message: str, expected: analyzers.MissingReference | None
) -> None:
    assert analyzers.parse_missing_reference(message, "shop") == expected


def test_config_error_escalation_says_exactly_what_to_create() -> None:
    dep = deployment()
    rs = replicaset(dep, 1, pod_hash="aaa")
    stuck = pod(
        "web-aaa-1",
        [waiting("CreateContainerConfigError", 'configmap "app-config" not found')],
        owner=rs,
    )
    finding = analyzers.analyze_config_error(index_of(DEPLOY, [dep, rs, stuck]))
    assert finding is not None
    assert finding.actions[0].type is ActionType.ESCALATE
    assert (
        "Create ConfigMap 'app-config' in namespace 'shop'"
        in finding.actions[0].params["instructions"]
    )


def _crash_objects(*, owned: bool) -> list[Obj]:
    dep = deployment()
    rs = replicaset(dep, 1, pod_hash="aaa")
    crashing = pod(
        "web-aaa-1",
        [waiting("CrashLoopBackOff", restarts=6, last=term("Error", 1))],
        owner=rs if owned else None,
    )
    return [dep, rs, crashing] if owned else [crashing]


@pytest.mark.parametrize(
    ("log_text", "owned", "expected"),
    [
        (
            "FATAL dial tcp 10.96.0.4:5432: connect: connection refused\n",
            True,
            [ActionType.RESTART_ROLLOUT, ActionType.ESCALATE],
        ),
        ("panic: nil pointer dereference\n", True, [ActionType.ESCALATE]),
        # NB: a bare pod has no controller to restart it: only escalate.
        (
            "FATAL dial tcp 10.96.0.4:5432: connect: connection refused\n",
            False,
            [ActionType.ESCALATE],
        ),
    ],
)
def test_crash_loop_restarts_only_for_transient_dependency_failures(
    log_text: str, owned: bool, expected: list[ActionType]
) -> None:
    log = ContainerLog(
        namespace="shop", pod="web-aaa-1", container="app", previous=True, text=log_text
    )
    target = DEPLOY if owned else ("Pod", "shop", "web-aaa-1")
    finding = analyzers.analyze_crash_loop(
        index_of(target, _crash_objects(owned=owned), logs=[log])
    )
    assert finding is not None
    assert [a.type for a in finding.actions] == expected
    assert any(log_text.strip()[:20] in line for line in finding.evidence)


def test_probe_failure_replaces_pod_only_when_same_template_siblings_are_ready() -> None:
    dep = deployment()
    old = replicaset(dep, 1, pod_hash="old")
    new = replicaset(dep, 2, pod_hash="new")
    failing = pod("web-new-1", [running(ready=False)], owner=new)
    probe_event = event(
        failing,
        "Unhealthy",
        message="Readiness probe failed: HTTP probe failed with statuscode: 503",
    )
    other_revision = pod("web-old-1", [running()], owner=old)
    same_template = pod("web-new-2", [running()], owner=new)

    alone = analyzers.analyze_probe_failure(
        index_of(DEPLOY, [dep, old, new, failing, probe_event, other_revision])
    )
    assert alone is not None
    assert alone.actions[0].type is ActionType.ESCALATE

    with_sibling = analyzers.analyze_probe_failure(
        index_of(DEPLOY, [dep, old, new, failing, probe_event, other_revision, same_template])
    )
    assert with_sibling is not None
    assert with_sibling.actions[0].type is ActionType.DELETE_POD
    assert with_sibling.actions[0].params == {"pod": "web-new-1"}


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 "
            "Insufficient memory. "
            "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
            [(1, "had untolerated taint {dedicated: gpu}"), (2, "Insufficient memory")],
        ),
        (
            "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.",
            [(1, "didn't match Pod's node affinity/selector")],
        ),
        ("no nodes available to schedule pods", []),
    ],
)
def test_scheduler_message_parsing(message: str, expected: list[tuple[int, str]]) -> None:
    assert analyzers.scheduler_reasons(message) == expected


@pytest.mark.parametrize(
    ("max_replicas", "current", "ratio", "expected"),
    [
        (10, 10, 185 / 70, 20),  # capped at 2x
        (6, 6, 95 / 80, 8),
        (10, 10, 1.01, 11),  # at least one more
        (10, 10, None, 15),  # no metrics: 1.5x
        (1000, 1000, 2.0, None),  # already at the ceiling
        (0, 0, None, None),
    ],
)
def test_hpa_max_replicas_proposal(
    max_replicas: int, current: int, ratio: float | None, expected: int | None
) -> None:
    assert (
        analyzers.propose_max_replicas(
            max_replicas=max_replicas, current_replicas=current, ratio=ratio
        )
        == expected
    )


def test_quota_escalation_names_quota_and_new_hard_limit() -> None:
    dep = deployment()
    message = (
        'pods "web-aaa-x" is forbidden: exceeded quota: compute-quota, requested: '
        "limits.memory=512Mi, "
        "used: limits.memory=4Gi, limited: limits.memory=4Gi"
    )
    rs = replicaset(dep, 1, pod_hash="aaa")
    rs["status"]["conditions"] = [
        {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": message}
    ]
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": md("ResourceQuota", "compute-quota"),
        "status": {"hard": {"limits.memory": "4Gi"}, "used": {"limits.memory": "4Gi"}},
    }
    finding = analyzers.analyze_quota_exceeded(index_of(DEPLOY, [dep, rs, quota]))
    assert finding is not None
    assert (
        "ResourceQuota shop/compute-quota status.used.limits.memory=4Gi == "
        "status.hard.limits.memory=4Gi" in (finding.evidence)
    )
    assert "from 4Gi to at least 4608Mi" in finding.actions[0].params["instructions"]


@pytest.mark.parametrize(
    ("conditions", "expect_finding"),
    [
        ({"ready": False, "serving": False, "terminating": False}, True),
        ({"ready": True}, False),
        ({}, False),  # NB: the EndpointSlice API says a missing ready means ready
    ],
)
def test_service_endpoints_readiness(conditions: Obj, expect_finding: bool) -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": md("Service", "web"),
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    eps = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": md("EndpointSlice", "web-abcde", labels={"kubernetes.io/service-name": "web"}),
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.244.1.5"], "conditions": conditions}],
    }
    finding = analyzers.analyze_service_no_endpoints(
        index_of(("Service", "shop", "web"), [svc, eps])
    )
    assert (finding is not None) == expect_finding


# -- Precedence -------------------------------------------------------------------------------


def _finding(category: Category, confidence: float) -> analyzers.Finding:
    return analyzers.Finding(
        category=category,
        summary=f"{category.value} summary",
        confidence=confidence,
        evidence=(f"{category.value} evidence",),
        actions=(),
    )


@pytest.mark.parametrize(
    ("findings", "winner"),
    [
        ([(Category.CRASH_LOOP, 0.8), (Category.BAD_ROLLOUT, 0.82)], Category.BAD_ROLLOUT),
        ([(Category.OOM_KILLED, 0.9), (Category.CRASH_LOOP, 0.95)], Category.OOM_KILLED),
        ([(Category.PROBE_FAILURE, 0.7), (Category.CRASH_LOOP, 0.9)], Category.PROBE_FAILURE),
        ([(Category.UNSCHEDULABLE, 0.9), (Category.QUOTA_EXCEEDED, 0.85)], Category.QUOTA_EXCEEDED),
        ([(Category.VOLUME_ERROR, 0.7), (Category.CONFIG_ERROR, 0.9)], Category.CONFIG_ERROR),
        # A weak finding never beats a strong one, whatever its category.
        ([(Category.NODE_NOT_READY, 0.4), (Category.CRASH_LOOP, 0.75)], Category.CRASH_LOOP),
        ([(Category.HPA_MAXED_OUT, 0.45), (Category.EVICTED, 0.5)], Category.EVICTED),
    ],
)
def test_ranking_strong_then_precedence_then_confidence(
    findings: list[tuple[Category, float]], winner: Category
) -> None:
    ranked = diagnose.rank_findings([_finding(c, conf) for c, conf in findings])
    assert ranked[0].category is winner


def test_precedence_covers_every_category_once() -> None:
    assert sorted(diagnose.PRECEDENCE) == sorted(Category)


@pytest.mark.parametrize(
    ("winner", "other", "expected_confidence"),
    [
        (Category.BAD_ROLLOUT, Category.CRASH_LOOP, 0.9),  # explained by the rollout
        (Category.CONFIG_ERROR, Category.OOM_KILLED, 0.81),  # independent: less sure
        (Category.OOM_KILLED, Category.HPA_MAXED_OUT, 0.81),
    ],
)
def test_merge_lowers_confidence_only_for_unexplained_findings(
    winner: Category, other: Category, expected_confidence: float
) -> None:
    ranked = diagnose.rank_findings([_finding(winner, 0.9), _finding(other, 0.85)])
    merged = diagnose.merge_findings(ranked)
    assert merged.category is winner
    assert merged.confidence == pytest.approx(expected_confidence)
    assert any(line.startswith(f"Also observed ({other.value}") for line in merged.evidence)


def test_nothing_matched_is_unknown_with_escalation() -> None:
    result = diagnose.diagnose_bundle(bundle(DEPLOY, [deployment()]))
    assert result.category is Category.UNKNOWN
    assert [a.type for a in result.actions] == [ActionType.ESCALATE]
    assert result.confidence < diagnose.STRONG_CONFIDENCE


# -- Robustness -------------------------------------------------------------------------------


def _cyclic_pod() -> Obj:
    cyclic = pod("loop", [running()])
    cyclic["metadata"]["ownerReferences"] = [
        {"kind": "Pod", "name": "loop", "uid": cyclic["metadata"]["uid"], "controller": True}
    ]
    return cyclic


MALFORMED: list[Obj] = [
    {"kind": "Pod"},
    {"kind": "Pod", "metadata": []},
    {"kind": "Pod", "metadata": {"name": 5, "namespace": None}, "status": "Running"},
    {
        "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "shop"},
        "status": {"containerStatuses": "x"},
    },
    {
        "kind": "Pod",
        "metadata": {"name": "web-2", "namespace": "shop", "ownerReferences": "rs"},
        "spec": {"containers": "app", "volumes": [{"persistentVolumeClaim": "x"}, None]},
        "status": {
            "phase": ["Running"],
            "conditions": {"type": "Ready"},
            "containerStatuses": [
                None,
                1,
                {"name": None},
                {
                    "name": "app",
                    "state": [],
                    "lastState": {"terminated": "OOMKilled"},
                    "restartCount": "many",
                },
                {
                    "name": "app",
                    "state": {"waiting": {"reason": 5}},
                    "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": "137"}},
                    "restartCount": 2,
                },
                {
                    "name": "app",
                    "state": {"waiting": {"reason": "CreateContainerConfigError", "message": None}},
                },
            ],
        },
    },
    _cyclic_pod(),
    {
        "kind": "Pod",
        "metadata": {"name": "ev", "namespace": "shop"},
        "status": {"phase": "Failed", "reason": "Evicted", "message": 42},
    },
    {
        "kind": "Pod",
        "metadata": {"name": "pend", "namespace": "shop"},
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": ["x"],
                }
            ],
        },
    },
    {
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-x",
            "namespace": "shop",
            "annotations": {"deployment.kubernetes.io/revision": "abc"},
            "ownerReferences": [
                {
                    "kind": "Deployment",
                    "name": "web",
                    "uid": "uid-Deployment-web",
                    "controller": True,
                }
            ],
        },
        "status": {
            "conditions": [
                {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "message": "exceeded quota: q, requested: x, used: y, limited: z",
                }
            ]
        },
    },
    {
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-y",
            "namespace": "shop",
            "annotations": {"deployment.kubernetes.io/revision": "99999999999999999999999"},
            "ownerReferences": [{"kind": "Deployment", "name": "web", "controller": True}],
        },
    },
    {
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "uid": "uid-Deployment-web"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "app", "resources": {"limits": {"memory": "lots"}}}]
                }
            }
        },
    },
    {"kind": "Event", "involvedObject": ["Pod"], "count": "x", "message": None},
    {
        "kind": "Event",
        "regarding": {"kind": "Pod", "name": "web-2", "namespace": "shop"},
        "reason": "FailedMount",
        "note": "x" * 100_000,
    },
    {
        "kind": "Event",
        "involvedObject": {"kind": "Pod", "name": "web-2", "namespace": "shop"},
        "reason": "Unhealthy",
        "message": "Readiness probe failed: ",
        "series": "x",
    },
    {
        "kind": "Node",
        "metadata": {"name": "node-a"},
        "status": {"conditions": ["Ready"]},
        "spec": {"taints": "x"},
    },
    {
        "kind": "Node",
        "metadata": {"name": "node-b"},
        "status": {"conditions": [{"type": "Ready", "status": None}]},
    },
    {
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "maxReplicas": "ten",
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "metrics": [None],
        },
        "status": {"currentReplicas": 10, "currentMetrics": "x"},
    },
    {
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web2", "namespace": "shop"},
        "spec": {"maxReplicas": 3, "scaleTargetRef": {"kind": "Deployment", "name": "web"}},
        "status": {
            "currentReplicas": 3,
            "conditions": [
                {"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas"}
            ],
            "currentMetrics": [
                {"resource": {"name": "cpu", "current": {"averageUtilization": "high"}}}
            ],
        },
    },
    {
        "kind": "EndpointSlice",
        "metadata": {
            "name": "web-x",
            "namespace": "shop",
            "labels": {"kubernetes.io/service-name": "web"},
        },
        "endpoints": {"a": 1},
    },
    {
        "kind": "Endpoints",
        "metadata": {"name": "web", "namespace": "shop"},
        "subsets": [{"addresses": "x"}],
    },
    {
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": ["app"]},
    },
    {
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "shop"},
        "status": None,
    },
    {
        "kind": "ResourceQuota",
        "metadata": {"name": "q", "namespace": "shop"},
        "status": {"used": ["x"], "hard": {"cpu": 1}},
    },
    {"kind": 7, "metadata": {"name": "weird"}},
    {"apiVersion": "v1"},
]

BAD_LOG = ContainerLog(
    namespace="shop", pod="web-2", container="app", previous=True, text="\x00\n" * 1000
)
BAD_METRICS = [
    MetricResult(query="container_memory_working_set_bytes", data={"result": "x"}),
    MetricResult(
        query="container_memory_working_set_bytes",
        data={
            "result": [
                {"metric": [], "value": ["x"]},
                {"metric": {"container": "app"}, "values": [[1, "NaN"], [2, "1e400"], [3, None]]},
            ]
        },
    ),
]


@pytest.mark.parametrize("target_kind", list(TargetKind))
@pytest.mark.parametrize("obj", MALFORMED, ids=lambda o: str(o.get("kind", "none"))[:20])
def test_analyzers_never_raise_on_malformed_objects(target_kind: TargetKind, obj: Obj) -> None:
    namespace = None if target_kind is TargetKind.NODE else "shop"
    name = {
        TargetKind.POD: "web-2",
        TargetKind.NODE: "node-a",
        TargetKind.PERSISTENT_VOLUME_CLAIM: "data",
    }.get(target_kind, "web")
    incident = IncidentBundle(
        target=TargetRef(kind=target_kind, namespace=namespace, name=name),
        objects=[obj, *MALFORMED],
        logs=[BAD_LOG],
        metrics=BAD_METRICS,
    )
    index = view.BundleView(incident)
    for analyzer in analyzers.ANALYZERS:
        result = analyzer(index)
        assert result is None or isinstance(result, analyzers.Finding), analyzer.__name__
    diagnosis = diagnose.diagnose_bundle(incident)
    assert diagnosis.actions, "a diagnosis always proposes at least one action"
    assert 0.0 <= diagnosis.confidence <= 1.0


def test_huge_bundle_is_diagnosed() -> None:
    dep = deployment(replicas=2000)
    rs = replicaset(dep, 1, pod_hash="aaa")
    members = [
        pod(
            f"web-aaa-{i}",
            [waiting("CrashLoopBackOff", restarts=5, last=term("Error", 1))],
            owner=rs,
        )
        for i in range(2000)
    ]
    events = [
        event(p, "BackOff", message="Back-off restarting failed container app", count=20)
        for p in members
    ]
    result = diagnose.diagnose_bundle(bundle(DEPLOY, [dep, rs, *members, *events]))
    assert result.category is Category.CRASH_LOOP
    assert len(result.evidence) <= diagnose.MAX_DIAGNOSIS_EVIDENCE
    assert "2000 pods" in result.summary


# -- Runbook and actions ----------------------------------------------------------------------


def test_runbook_is_deterministic_and_has_commands() -> None:
    incident = bundle(DEPLOY, _oom_objects(2))
    first, second = diagnose.diagnose_bundle(incident), diagnose.diagnose_bundle(incident)
    assert first.runbook == second.runbook
    for heading in (
        "## What happened",
        "## Evidence",
        "## Checks",
        "## Proposed actions",
        "## Verify",
    ):
        assert heading in first.runbook
    assert (
        "kubectl set resources deployment/web -n shop -c app --limits=memory=192Mi" in first.runbook
    )
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", first.runbook)


def test_every_category_has_a_runbook_recipe() -> None:
    assert set(runbook.RECIPES) == set(Category)


@pytest.mark.parametrize(
    ("action_type", "target", "params", "command"),
    [
        (
            ActionType.RESTART_ROLLOUT,
            ("Deployment", "shop", "web"),
            {},
            "kubectl rollout restart deployment/web -n shop",
        ),
        (
            ActionType.ROLLBACK_ROLLOUT,
            ("Deployment", "shop", "web"),
            {"toRevision": 4},
            "kubectl rollout undo deployment/web -n shop --to-revision=4",
        ),
        (
            ActionType.SCALE_WORKLOAD,
            ("StatefulSet", "data", "db"),
            {"replicas": 3},
            "kubectl scale statefulset/db -n data --replicas=3",
        ),
        (
            ActionType.SET_RESOURCES,
            ("Deployment", "shop", "web"),
            {"container": "app", "memoryRequest": "1Gi"},
            "kubectl set resources deployment/web -n shop -c app --requests=memory=1Gi",
        ),
        (
            ActionType.DELETE_POD,
            ("Pod", "shop", "web-1"),
            {"pod": "web-1"},
            "kubectl delete pod web-1 -n shop",
        ),
        (
            ActionType.CORDON_NODE,
            ("Node", None, "node-b"),
            {"node": "node-b"},
            "kubectl cordon node-b",
        ),
        (
            ActionType.PATCH_HPA,
            ("HorizontalPodAutoscaler", "shop", "web"),
            {"maxReplicas": 20},
            'kubectl patch hpa web -n shop --type=merge -p \'{"spec":{"maxReplicas":20}}\'',
        ),
        (ActionType.ESCALATE, ("Deployment", "shop", "web"), {"reason": "r"}, None),
    ],
)
def test_action_commands(
    action_type: ActionType, target: tuple[str, str, str], params: Obj, command: str | None
) -> None:
    action = analyzers.make_action(action_type, analyzers.key_ref(target), params=params)
    assert runbook.action_command(action) == command


@pytest.mark.parametrize(
    ("action_type", "risk"),
    [
        (ActionType.RESTART_ROLLOUT, Risk.LOW),
        (ActionType.DELETE_POD, Risk.LOW),
        (ActionType.ESCALATE, Risk.LOW),
        (ActionType.ROLLBACK_ROLLOUT, Risk.MEDIUM),
        (ActionType.SCALE_WORKLOAD, Risk.MEDIUM),
        (ActionType.SET_RESOURCES, Risk.MEDIUM),
        (ActionType.PATCH_HPA, Risk.MEDIUM),
        (ActionType.CORDON_NODE, Risk.HIGH),
    ],
)
def test_action_risks(action_type: ActionType, risk: Risk) -> None:
    assert analyzers.ACTION_RISKS[action_type] is risk
