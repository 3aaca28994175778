"""We test the failure modes added for diagnosis depth, each with its positive case and the
look-alikes that must not match (tables of small bundles shaped like the API's objects):

- NodePressure: a Ready node with Disk/PID pressure or no network; not a NotReady node, not a
  healthy one; a workload on a pressured node is only a weak hint;
- VolumeFull: kubelet volume stats at ~0 bytes, consumers' "no space left on device"; not
  ENOSPC without a claim (the node's disk), not a roomy volume;
- OOM kills without restart: ``container_oom_events_total`` rising or "was sent SIGKILL"
  lines give SetResources; a flat counter does not, and do-no-harm does not call it recovered;
- CPUThrottling: SetResources raising the CPU limit, never DeletePod; not below the ratio;
- CertificateExpired, DNSFailure, DependencyDown: from log lines (grouped, counted, first and
  last cited); look-alikes: other TLS errors, a single resolver retry, a dependency that has
  ready endpoints;
- InitContainerFailure crashing vs stuck; not a short-running init, not a finished one;
- DisruptionBlocked, RolloutStuck, PodCreationFailed, HPAMisconfigured, with look-alikes;
- revision awareness: a leak or an impossible request in the new revision only is rolled
  back; a leak in both revisions is not.
"""

from typing import Any

import pytest

from kubemedic.domain import analyzers, view
from kubemedic.domain import rule_engine as diagnose
from kubemedic.models.bundle import ContainerLog, IncidentBundle, MetricResult
from kubemedic.models.diagnosis import ActionType, Category, Diagnosis
from kubemedic.models.target import TargetKind, TargetRef

Obj = dict[str, Any]
NS = "shop"
MI = 1024 * 1024


def md(kind: str, name: str, *, namespace: str | None = NS, **extra: Any) -> Obj:
    data: Obj = {"name": name, "uid": f"uid-{kind}-{name}"}
    if namespace:
        data["namespace"] = namespace
    data.update(extra)
    return data


def owner(obj: Obj) -> list[Obj]:
    return [
        {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"],
            "controller": True,
        }
    ]


def container(
    name: str = "app",
    *,
    cpu_limit: str | None = None,
    memory: str = "256Mi",
    cpu_request: str | None = "100m",
    env: list[Obj] | None = None,
) -> Obj:
    limits: Obj = {"memory": memory}
    if cpu_limit:
        limits["cpu"] = cpu_limit
    requests: Obj = {"memory": "128Mi"}
    if cpu_request:
        requests["cpu"] = cpu_request
    spec: Obj = {
        "name": name,
        "image": f"shop/{name}:1",
        "resources": {"limits": limits, "requests": requests},
    }
    if env:
        spec["env"] = env
    return spec


def deployment(
    name: str = "web",
    *,
    containers: list[Obj] | None = None,
    progressing: tuple[str, str] = ("True", "NewReplicaSetAvailable"),
    volumes: list[Obj] | None = None,
) -> Obj:
    spec: Obj = {"containers": containers or [container()]}
    if volumes:
        spec["volumes"] = volumes
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": md("Deployment", name),
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
        },
        "status": {
            "conditions": [
                {
                    "type": "Progressing",
                    "status": progressing[0],
                    "reason": progressing[1],
                    "message": "ReplicaSet progress",
                }
            ]
        },
    }


def replicaset(
    dep: Obj,
    revision: int,
    *,
    containers: list[Obj] | None = None,
    conditions: list[Obj] | None = None,
) -> Obj:
    name = f"{dep['metadata']['name']}-h{revision}"
    rs: Obj = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": md(
            "ReplicaSet",
            name,
            ownerReferences=owner(dep),
            labels={"app": dep["metadata"]["name"], "pod-template-hash": f"h{revision}"},
            annotations={"deployment.kubernetes.io/revision": str(revision)},
        ),
        "spec": {
            "template": {
                "spec": {"containers": containers or dep["spec"]["template"]["spec"]["containers"]}
            }
        },
        "status": {"replicas": 1},
    }
    if conditions:
        rs["status"]["conditions"] = conditions
    return rs


def status(
    name: str = "app",
    *,
    ready: bool = True,
    waiting: str = "",
    restarts: int = 0,
    last_exit: int | None = None,
    started_at: str = "2025-03-14T10:00:00Z",
) -> Obj:
    state: Obj = (
        {"waiting": {"reason": waiting}} if waiting else {"running": {"startedAt": started_at}}
    )
    last: Obj = (
        {"terminated": {"reason": "Error", "exitCode": last_exit}} if last_exit is not None else {}
    )
    return {
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "state": state,
        "lastState": last,
    }


def pod(
    name: str,
    rs: Obj | None,
    *,
    statuses: list[Obj] | None = None,
    node: str = "node-a",
    ready: bool = True,
    phase: str = "Running",
    containers: list[Obj] | None = None,
    volumes: list[Obj] | None = None,
    labels: dict[str, str] | None = None,
    conditions: list[Obj] | None = None,
    init: list[Obj] | None = None,
) -> Obj:
    meta = md("Pod", name, labels=dict(labels or {}))
    spec: Obj = {"nodeName": node, "containers": containers or [container()]}
    if volumes:
        spec["volumes"] = volumes
    if rs is not None:
        meta["ownerReferences"] = owner(rs)
        meta["labels"].update(rs["metadata"]["labels"])
    st: Obj = {
        "phase": phase,
        "containerStatuses": statuses or [status()],
        "conditions": [
            {"type": "Ready", "status": "True" if ready else "False"},
            *(conditions or []),
        ],
    }
    if init is not None:
        st["initContainerStatuses"] = init
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": st}


def node(
    name: str = "node-a",
    *,
    ready: str = "True",
    pressure: dict[str, str] | None = None,
    unschedulable: bool = False,
) -> Obj:
    conditions = [
        {
            "type": t,
            "status": (pressure or {}).get(t, "False"),
            "reason": "R",
            "message": f"{t} message",
        }
        for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
    ]
    conditions.append({"type": "Ready", "status": ready, "reason": "KubeletReady"})
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": md("Node", name, namespace=None),
        "spec": {},
        "status": {"conditions": conditions},
    }
    if unschedulable:
        obj["spec"]["unschedulable"] = True
    return obj


def event(subject: Obj, reason: str, message: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": md("Event", f"{subject['metadata']['name']}.{reason}"),
        "involvedObject": {
            "kind": subject["kind"],
            "name": subject["metadata"]["name"],
            "namespace": subject["metadata"].get("namespace", ""),
            "uid": subject["metadata"]["uid"],
        },
        "reason": reason,
        "message": message,
        "type": "Warning",
        "count": 3,
    }


def matrix(query: str, series: list[tuple[dict[str, str], list[float]]]) -> MetricResult:
    return MetricResult(
        query=query,
        data={
            "resultType": "matrix",
            "result": [
                {
                    "metric": labels,
                    "values": [[1741946400 + 60 * i, str(v)] for i, v in enumerate(values)],
                }
                for labels, values in series
            ],
        },
    )


def logs_of(p: Obj, text: str, container_name: str = "app") -> ContainerLog:
    return ContainerLog(
        namespace=NS, pod=p["metadata"]["name"], container=container_name, previous=False, text=text
    )


def run(
    target: tuple[str, str | None, str],
    objects: list[Obj],
    *,
    logs: list[ContainerLog] | None = None,
    metrics: list[MetricResult] | None = None,
    collected_at: str | None = "2025-03-14T10:30:00Z",
) -> Diagnosis:
    kind, namespace, name = target
    bundle = IncidentBundle.model_validate(
        {
            "target": {"kind": kind, "namespace": namespace, "name": name},
            "collectedAt": collected_at,
            "objects": objects,
            "logs": [log.model_dump(by_alias=True) for log in logs or []],
            "metrics": [m.model_dump(by_alias=True) for m in metrics or []],
        }
    )
    return diagnose.diagnose_bundle(bundle)


def workload(
    *, statuses: list[Obj] | None = None, ready: bool = True, **dep_kwargs: Any
) -> tuple[Obj, Obj, list[Obj]]:
    dep = deployment(**dep_kwargs)
    rs = replicaset(dep, 1)
    pods = [
        pod(f"web-h1-{i}", rs, statuses=statuses, ready=ready, volumes=dep_kwargs.get("volumes"))
        for i in range(2)
    ]
    return dep, rs, pods


DEPLOY = ("Deployment", NS, "web")
CRASHING = [status(ready=False, waiting="CrashLoopBackOff", restarts=5, last_exit=1)]


# -- NodePressure -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (node(pressure={"DiskPressure": "True"}), Category.NODE_PRESSURE),
        (node(pressure={"PIDPressure": "True"}), Category.NODE_PRESSURE),
        (node(pressure={"NetworkUnavailable": "True"}), Category.NODE_PRESSURE),
        (node(ready="False", pressure={"DiskPressure": "True"}), Category.NODE_NOT_READY),
        (node(), Category.UNKNOWN),
    ],
    ids=["disk", "pid", "network", "not-ready-wins", "healthy"],
)
def test_node_pressure_only_on_a_ready_node(obj: Obj, expected: Category) -> None:
    result = run(("Node", None, "node-a"), [obj])
    assert result.category is expected
    if expected is Category.NODE_PRESSURE:
        assert [a.type for a in result.actions] == [ActionType.ESCALATE]
        assert any("status.conditions[" in line and "=True" in line for line in result.evidence)


def test_workload_on_a_pressured_node_is_only_a_hint() -> None:
    dep, rs, pods = workload()
    index = view.BundleView(
        IncidentBundle(
            target=TargetRef(kind=TargetKind.DEPLOYMENT, namespace=NS, name="web"),
            objects=[dep, rs, *pods, node(pressure={"MemoryPressure": "True"})],
        )
    )
    finding = analyzers.analyze_node_pressure(index)
    assert finding is not None
    assert finding.confidence < diagnose.STRONG_CONFIDENCE


# -- VolumeFull -------------------------------------------------------------------------------

CLAIM = [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web"}}]
AVAILABLE = 'min by (namespace, persistentvolumeclaim) (kubelet_volume_stats_available_bytes{namespace="shop", persistentvolumeclaim="data-web"})'
CAPACITY = 'max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_capacity_bytes{namespace="shop", persistentvolumeclaim="data-web"})'
PVC_LABELS = {"namespace": NS, "persistentvolumeclaim": "data-web"}


@pytest.mark.parametrize(
    ("available", "log_text", "volumes", "expected"),
    [
        ([5e8, 2e6, 0], "", CLAIM, Category.VOLUME_FULL),
        ([], "write /data/x: no space left on device", CLAIM, Category.VOLUME_FULL),
        ([9e9, 9e9, 9e9], "", CLAIM, None),
        ([], "write /tmp/x: no space left on device", None, None),
    ],
    ids=["stats-at-zero", "enospc-on-claim", "roomy-volume", "enospc-without-claim"],
)
def test_volume_full(
    available: list[float], log_text: str, volumes: list[Obj] | None, expected: Category | None
) -> None:
    dep, rs, pods = workload(volumes=volumes)
    metrics = []
    if available:
        metrics = [
            matrix(AVAILABLE, [(PVC_LABELS, available)]),
            matrix(CAPACITY, [(PVC_LABELS, [10 * 1024**3])]),
        ]
    logs = [logs_of(pods[0], log_text)] if log_text else []
    index = view.BundleView(
        IncidentBundle(
            target=TargetRef(kind=TargetKind.DEPLOYMENT, namespace=NS, name="web"),
            objects=[dep, rs, *pods],
            logs=logs,
            metrics=metrics,
        )
    )
    finding = analyzers.analyze_volume_full(index)
    assert (finding.category if finding else None) is expected
    if finding is not None:
        assert finding.actions[0].type is ActionType.ESCALATE
        assert "data-web" in finding.summary


# -- OOM kills without a restart --------------------------------------------------------------

OOM_EVENTS = 'max by (namespace, pod, container) (container_oom_events_total{namespace="shop", pod=~"web-h1-0|web-h1-1", container!=""})'
RESTARTS = 'max by (namespace, pod, container) (kube_pod_container_status_restarts_total{namespace="shop", pod=~"web-h1-0|web-h1-1"})'


@pytest.mark.parametrize(
    ("counter", "log_text", "oom"),
    [
        ([0, 1, 3], "", True),
        ([2, 2, 2], "", False),
        ([], "[ERROR] Worker (pid:311) was sent SIGKILL! Perhaps out of memory?", True),
        ([], "[INFO] Worker exiting (pid: 311)", False),
    ],
    ids=["counter-rises", "counter-flat", "gunicorn-sigkill", "worker-exits-normally"],
)
def test_oom_kills_without_restart(counter: list[float], log_text: str, oom: bool) -> None:
    dep, rs, pods = workload()
    metrics = [
        matrix(
            RESTARTS,
            [
                ({"namespace": NS, "pod": p["metadata"]["name"], "container": "app"}, [0, 0, 0])
                for p in pods
            ],
        )
    ]
    if counter:
        metrics.append(
            matrix(
                OOM_EVENTS,
                [
                    (
                        {"namespace": NS, "pod": pods[0]["metadata"]["name"], "container": "app"},
                        counter,
                    )
                ],
            )
        )
    logs = [logs_of(pods[0], log_text)] if log_text else []
    result = run(DEPLOY, [dep, rs, *pods], logs=logs, metrics=metrics)
    if oom:
        # NB: every pod is Ready and restarts are flat, yet the problem is current.
        assert result.category is Category.OOM_KILLED
        assert result.actions[0].type is ActionType.SET_RESOURCES
        assert result.actions[0].params == {"container": "app", "memoryLimit": "384Mi"}
        assert not result.summary.startswith("Recovered")
    else:
        assert result.category is Category.UNKNOWN


# -- CPUThrottling ----------------------------------------------------------------------------

THROTTLING = 'sum by (namespace, pod, container) (rate(container_cpu_cfs_throttled_periods_total{namespace="shop"}[5m])) / sum by (namespace, pod, container) (rate(container_cpu_cfs_periods_total{namespace="shop"}[5m]))'


@pytest.mark.parametrize(
    ("ratio", "container_name", "expected_action"),
    [
        (0.6, "app", ActionType.SET_RESOURCES),
        (0.6, "istio-proxy", ActionType.ESCALATE),
        (0.1, "app", None),
    ],
    ids=["throttled", "throttled-injected-sidecar", "below-ratio"],
)
def test_cpu_throttling_raises_the_limit_never_deletes(
    ratio: float, container_name: str, expected_action: ActionType | None
) -> None:
    dep, rs, pods = workload(containers=[container(cpu_limit="500m")])
    if container_name != "app":
        for p in pods:
            p["spec"]["containers"].append(container(container_name, cpu_limit="200m"))
    metric = matrix(
        THROTTLING,
        [
            (
                {"namespace": NS, "pod": p["metadata"]["name"], "container": container_name},
                [ratio, ratio],
            )
            for p in pods
        ],
    )
    result = run(DEPLOY, [dep, rs, *pods], metrics=[metric])
    types = [a.type for a in result.actions]
    assert ActionType.DELETE_POD not in types and ActionType.RESTART_ROLLOUT not in types
    if expected_action is None:
        assert result.category is Category.UNKNOWN
        return
    assert result.category is Category.CPU_THROTTLING
    assert types[0] is expected_action
    if expected_action is ActionType.SET_RESOURCES:
        assert result.actions[0].params == {"container": "app", "cpuLimit": "800m"}


# -- Log-borne causes: certificates, DNS, dependencies ----------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "x509: certificate has expired or is not yet valid: current time 2025-03-14",
            Category.CERTIFICATE_EXPIRED,
        ),
        (
            "javax.net.ssl.SSLHandshakeException\nCaused by: java.security.cert.CertificateExpiredException: NotAfter",
            Category.CERTIFICATE_EXPIRED,
        ),
        ("x509: certificate signed by unknown authority", Category.CRASH_LOOP),
        (
            "lookup invntory.shop.svc.cluster.local on 10.96.0.10:53: no such host\nlookup invntory.shop.svc.cluster.local: no such host",
            Category.DNS_FAILURE,
        ),
        ("getaddrinfo EAI_AGAIN api.example.com", Category.CRASH_LOOP),
        ("panic: runtime error: invalid memory address", Category.CRASH_LOOP),
    ],
    ids=["go-x509-expired", "java-expired", "unknown-authority", "dns-twice", "dns-once", "panic"],
)
def test_log_borne_causes_and_look_alikes(text: str, expected: Category) -> None:
    dep, rs, pods = workload(statuses=CRASHING, ready=False)
    # NB: one pod's log only, so "once" means one line in the whole bundle.
    result = run(DEPLOY, [dep, rs, *pods], logs=[logs_of(pods[0], text)])
    assert result.category is expected, result.summary
    if expected in {Category.CERTIFICATE_EXPIRED, Category.DNS_FAILURE}:
        assert result.actions[0].type is ActionType.ESCALATE
        assert any(line.startswith("Log shop/web-h1-") for line in result.evidence)


def _dependency(ready: bool | None) -> list[Obj]:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": md("Service", "payments"),
        "spec": {"selector": {"app": "payments"}, "clusterIP": "10.96.4.4"},
    }
    endpoints = (
        [] if ready is None else [{"addresses": ["10.244.1.5"], "conditions": {"ready": ready}}]
    )
    eps = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": md(
            "EndpointSlice", "payments-x", labels={"kubernetes.io/service-name": "payments"}
        ),
        "endpoints": endpoints or None,
    }
    return [svc, eps]


@pytest.mark.parametrize(
    ("ready", "expected"),
    [
        (None, Category.DEPENDENCY_DOWN),
        (False, Category.DEPENDENCY_DOWN),
        (True, Category.CRASH_LOOP),
    ],
    ids=["no-endpoints", "endpoint-not-ready", "dependency-healthy"],
)
def test_dependency_down_only_when_the_dependency_has_no_ready_endpoint(
    ready: bool | None, expected: Category
) -> None:
    dep, rs, pods = workload(statuses=CRASHING, ready=False)
    text = (
        'Get "http://payments.shop.svc.cluster.local:8080/pay": dial tcp 10.96.4.4:8080: '
        "connect: connection refused"
    )
    result = run(
        DEPLOY, [dep, rs, *pods, *_dependency(ready)], logs=[logs_of(p, text) for p in pods]
    )
    assert result.category is expected, result.summary
    if expected is Category.DEPENDENCY_DOWN:
        first = result.actions[0]
        assert first.type is ActionType.ESCALATE
        assert (first.target.kind, first.target.name) == ("Service", "payments")


def test_dependency_named_by_env_while_pods_fail() -> None:
    dep, rs, pods = workload(
        statuses=CRASHING,
        ready=False,
        containers=[container(env=[{"name": "PAYMENTS_URL", "value": "http://payments:8080"}])],
    )
    result = run(DEPLOY, [dep, rs, *pods, *_dependency(None)])
    assert result.category is Category.DEPENDENCY_DOWN
    assert any("env PAYMENTS_URL" in line for line in result.evidence)


# -- InitContainerFailure ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("init", "initialized", "shape"),
    [
        (
            {
                "name": "migrate",
                "restartCount": 4,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
            },
            "False",
            "crashing",
        ),
        (
            {
                "name": "wait-for-db",
                "restartCount": 0,
                "state": {"running": {"startedAt": "2025-03-14T09:50:00Z"}},
            },
            "False",
            "stuck",
        ),
        (
            {
                "name": "wait-for-db",
                "restartCount": 0,
                "state": {"running": {"startedAt": "2025-03-14T10:28:00Z"}},
            },
            "False",
            None,
        ),
        (
            {
                "name": "migrate",
                "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
            },
            "True",
            None,
        ),
    ],
    ids=["crashing", "stuck", "just-started", "completed"],
)
def test_init_container_crashing_vs_stuck(init: Obj, initialized: str, shape: str | None) -> None:
    dep = deployment()
    rs = replicaset(dep, 1)
    pods = [
        pod(
            "web-h1-0",
            rs,
            phase="Pending",
            ready=False,
            init=[init],
            statuses=[status(ready=False, waiting="PodInitializing")],
            conditions=[{"type": "Initialized", "status": initialized}],
        )
    ]
    index = view.BundleView(
        IncidentBundle.model_validate(
            {
                "target": {"kind": "Deployment", "namespace": NS, "name": "web"},
                "collectedAt": "2025-03-14T10:30:00Z",
                "objects": [dep, rs, *pods],
            }
        )
    )
    finding = analyzers.analyze_init_container(index)
    assert (finding.facts["shape"] if finding else None) == shape
    if shape == "crashing":
        assert diagnose.diagnose_bundle(index.bundle).category is Category.INIT_CONTAINER_FAILURE


# -- DisruptionBlocked ------------------------------------------------------------------------


def _pdb(allowed: int) -> Obj:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": md("PodDisruptionBudget", "web"),
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
        "status": {
            "disruptionsAllowed": allowed,
            "currentHealthy": 2,
            "desiredHealthy": 2,
            "expectedPods": 2,
        },
    }


@pytest.mark.parametrize(
    ("cordoned", "allowed", "expected"),
    [
        (True, 0, Category.DISRUPTION_BLOCKED),
        (True, 1, Category.UNKNOWN),
        (False, 0, Category.UNKNOWN),
    ],
    ids=["draining-blocked", "budget-allows", "not-draining"],
)
def test_pdb_blocking_a_drain(cordoned: bool, allowed: int, expected: Category) -> None:
    dep, rs, pods = workload()
    result = run(
        ("Node", None, "node-a"), [node(unschedulable=cordoned), dep, rs, *pods, _pdb(allowed)]
    )
    assert result.category is expected
    if expected is Category.DISRUPTION_BLOCKED:
        assert result.actions[0].target.kind == "PodDisruptionBudget"


# -- RolloutStuck and PodCreationFailed -------------------------------------------------------

DEADLINE = ("False", "ProgressDeadlineExceeded")


@pytest.mark.parametrize(
    ("progressing", "statuses", "expected"),
    [
        (DEADLINE, None, Category.ROLLOUT_STUCK),
        (DEADLINE, CRASHING, Category.CRASH_LOOP),
        (("True", "NewReplicaSetAvailable"), None, Category.UNKNOWN),
    ],
    ids=["deadline-pods-fine", "deadline-pods-crash", "progressing"],
)
def test_rollout_stuck_only_when_pods_look_fine(
    progressing: tuple[str, str], statuses: list[Obj] | None, expected: Category
) -> None:
    dep, rs, pods = workload(progressing=progressing, statuses=statuses, ready=statuses is None)
    assert run(DEPLOY, [dep, rs, *pods]).category is expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            'pods "web-h2-" is forbidden: error looking up service account shop/web: serviceaccount "web" not found',
            Category.POD_CREATION_FAILED,
        ),
        (
            'admission webhook "validate.kyverno.svc-fail" denied the request: policy violation',
            Category.POD_CREATION_FAILED,
        ),
        (
            'pods "web-h2-x" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true',
            Category.POD_CREATION_FAILED,
        ),
        (
            'pods "web-h2-x" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=10, limited: pods=10',
            Category.QUOTA_EXCEEDED,
        ),
    ],
    ids=["serviceaccount", "webhook", "podsecurity", "quota-is-not-this"],
)
def test_pod_creation_failures_other_than_quota(message: str, expected: Category) -> None:
    dep = deployment(progressing=DEADLINE)
    old = replicaset(dep, 1)
    new = replicaset(
        dep,
        2,
        conditions=[
            {
                "type": "ReplicaFailure",
                "status": "True",
                "reason": "FailedCreate",
                "message": message,
            }
        ],
    )
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": md("ResourceQuota", "compute"),
        "spec": {"hard": {"pods": "10"}},
        "status": {"hard": {"pods": "10"}, "used": {"pods": "10"}},
    }
    result = run(
        DEPLOY,
        [
            dep,
            old,
            new,
            pod("web-h1-0", old),
            quota,
            event(new, "FailedCreate", f"Error creating: {message}"),
        ],
    )
    assert result.category is expected, result.summary
    assert result.actions[0].type is ActionType.ESCALATE


# -- HPAMisconfigured -------------------------------------------------------------------------


def _hpa(conditions: list[Obj]) -> Obj:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": md("HorizontalPodAutoscaler", "web"),
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 6,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
        "status": {"currentReplicas": 2, "desiredReplicas": 2, "conditions": conditions},
    }


ABLE = {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale"}
ACTIVE = {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"}


@pytest.mark.parametrize(
    ("conditions", "with_workload", "cpu_request", "expected"),
    [
        (
            [
                {
                    **ABLE,
                    "status": "False",
                    "reason": "FailedGetScale",
                    "message": 'deployments/scale.apps "web" not found',
                }
            ],
            False,
            "100m",
            ActionType.ESCALATE,
        ),
        (
            [
                ABLE,
                {
                    **ACTIVE,
                    "status": "False",
                    "reason": "FailedGetResourceMetric",
                    "message": "missing request for cpu in container app of Pod web-h1-0",
                },
            ],
            True,
            None,
            ActionType.SET_RESOURCES,
        ),
        (
            [
                ABLE,
                {
                    **ACTIVE,
                    "status": "False",
                    "reason": "FailedGetResourceMetric",
                    "message": "unable to get metrics for resource cpu: no metrics returned",
                },
            ],
            True,
            "100m",
            ActionType.ESCALATE,
        ),
        ([ABLE, ACTIVE], True, "100m", None),
    ],
    ids=["missing-target", "no-cpu-request", "no-metrics", "healthy"],
)
def test_hpa_that_cannot_scale(
    conditions: list[Obj], with_workload: bool, cpu_request: str | None, expected: ActionType | None
) -> None:
    objects: list[Obj] = [_hpa(conditions)]
    if with_workload:
        dep, rs, pods = workload(containers=[container(cpu_request=cpu_request)])
        objects += [dep, rs, *pods]
    result = run(("HorizontalPodAutoscaler", NS, "web"), objects)
    if expected is None:
        assert result.category is not Category.HPA_MISCONFIGURED
        return
    assert result.category is Category.HPA_MISCONFIGURED
    assert result.actions[0].type is expected
    if expected is ActionType.SET_RESOURCES:
        assert result.actions[0].params == {"container": "app", "cpuRequest": "100m"}


# -- Revision awareness -----------------------------------------------------------------------

WORKING_SET = 'max by (namespace, pod, container) (container_memory_working_set_bytes{namespace="shop", pod=~"web-.*", container!=""})'


def _two_revisions(new_pod_kwargs: dict[str, Any] | None = None) -> tuple[list[Obj], Obj, Obj]:
    dep = deployment()
    old, new = replicaset(dep, 1), replicaset(dep, 2)
    old_pod = pod("web-h1-0", old)
    new_pod = pod("web-h2-0", new, **(new_pod_kwargs or {}))
    return [dep, old, new, old_pod, new_pod], old_pod, new_pod


@pytest.mark.parametrize(
    ("old_series", "new_series", "expected"),
    [
        ([120, 121, 120, 122], [110, 160, 200, 240], Category.BAD_ROLLOUT),
        ([110, 160, 200, 240], [110, 160, 200, 240], Category.UNKNOWN),
        ([120, 121, 120, 122], [120, 122, 121, 123], Category.UNKNOWN),
    ],
    ids=["leak-in-new-revision", "leak-in-both", "both-flat"],
)
def test_memory_leak_of_the_new_revision_is_rolled_back(
    old_series: list[int], new_series: list[int], expected: Category
) -> None:
    objects, old_pod, new_pod = _two_revisions()
    metric = matrix(
        WORKING_SET,
        [
            (
                {"namespace": NS, "pod": old_pod["metadata"]["name"], "container": "app"},
                [v * MI for v in old_series],
            ),
            (
                {"namespace": NS, "pod": new_pod["metadata"]["name"], "container": "app"},
                [v * MI for v in new_series],
            ),
        ],
    )
    result = run(DEPLOY, objects, metrics=[metric])
    assert result.category is expected, result.summary
    if expected is Category.BAD_ROLLOUT:
        assert result.actions[0].type is ActionType.ROLLBACK_ROLLOUT
        assert result.actions[0].params == {"toRevision": 1}


def test_impossible_request_of_the_new_revision_is_rolled_back() -> None:
    pending = {
        "phase": "Pending",
        "ready": False,
        "statuses": [],
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient memory.",
            }
        ],
    }
    objects, _old, new_pod = _two_revisions(pending)
    new_pod["status"].pop("containerStatuses")
    result = run(DEPLOY, objects)
    assert result.category is Category.BAD_ROLLOUT
    assert result.actions[0].type is ActionType.ROLLBACK_ROLLOUT
    assert any("Unschedulable" in line for line in result.evidence)


# -- Probe kills ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unhealthy", "killing", "probe"),
    [
        (
            "Startup probe failed: HTTP probe failed with statuscode: 503",
            "Container app failed startup probe, will be restarted",
            "startupProbe",
        ),
        (
            'Liveness probe failed: Get "http://10.244.1.4:8080/healthz": context deadline exceeded',
            "Container app failed liveness probe, will be restarted",
            "livenessProbe",
        ),
    ],
    ids=["startup-probe-kills-slow-start", "liveness-probe-kills"],
)
def test_probe_kills_exit_137_without_oom(unhealthy: str, killing: str, probe: str) -> None:
    dep, rs, pods = workload(
        statuses=[
            {
                **status(ready=False, waiting="CrashLoopBackOff", restarts=4),
                "lastState": {"terminated": {"reason": "Error", "exitCode": 137}},
            }
        ],
        ready=False,
    )
    objects = [dep, rs, *pods]
    for p in pods:
        objects += [event(p, "Unhealthy", unhealthy), event(p, "Killing", killing)]
    result = run(DEPLOY, objects)
    assert result.category is Category.PROBE_FAILURE
    assert any(f".{probe}:" in line for line in result.evidence)
    assert ActionType.DELETE_POD not in [a.type for a in result.actions]


@pytest.mark.parametrize(
    ("addresses", "expected"),
    [
        ({"notReadyAddresses": [{"ip": "10.0.9.4"}]}, Category.SERVICE_NO_ENDPOINTS),
        ({"addresses": [{"ip": "10.0.9.4"}]}, Category.UNKNOWN),
    ],
    ids=["manual-endpoints-not-ready", "manual-endpoints-ready"],
)
def test_service_without_selector_and_hand_kept_endpoints(
    addresses: Obj, expected: Category
) -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": md("Service", "legacy-db"),
        "spec": {"ports": [{"port": 5432}]},
    }
    endpoints = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": md("Endpoints", "legacy-db"),
        "subsets": [{**addresses, "ports": [{"port": 5432}]}],
    }
    result = run(("Service", NS, "legacy-db"), [svc, endpoints])
    assert result.category is expected
