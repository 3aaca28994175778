"""Do no harm: recovered problems get no action, overload gets capacity, sidecars get no patch.

Each rule of :data:`kubemedic.domain.safety.VETOES` is tested as a table, then end to end
through ``diagnose_bundle`` on small bundles shaped like the API's objects: a crash loop
that ended hours ago, an overloaded workload behind an HPA at its maximum, a throttled
container, an OOMKilled sidecar injected by istio, Pods given as a ``PodList``, and a
``kubectl logs --previous`` tail larger than the bundle's limit.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kubemedic.domain import quantity, safety
from kubemedic.domain import rule_engine as diagnose
from kubemedic.models.bundle import MAX_LOG_CHARS, Alert, ContainerLog, IncidentBundle, MetricResult
from kubemedic.models.diagnosis import Action, ActionType, Category, Risk
from kubemedic.models.target import ObjectRef, TargetKind, TargetRef

Obj = dict[str, Any]
NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
DEPLOY_REF = ObjectRef(kind="Deployment", namespace="shop", name="web")


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def deployment(*, cpu_limit: str = "500m") -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "uid": "uid-dep"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "shop/web:1",
                            "resources": {
                                "requests": {"cpu": "250m", "memory": "64Mi"},
                                "limits": {"cpu": cpu_limit, "memory": "128Mi"},
                            },
                        }
                    ]
                },
            },
        },
    }


def replicaset() -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-5d8f",
            "namespace": "shop",
            "uid": "uid-rs",
            "labels": {"app": "web", "pod-template-hash": "5d8f"},
            "annotations": {"deployment.kubernetes.io/revision": "1"},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "uid-dep"}
                | {"controller": True}
            ],
        },
        "spec": deployment()["spec"],
        "status": {"replicas": 3, "readyReplicas": 3},
    }


def status(
    name: str = "app",
    *,
    ready: bool = True,
    restarts: int = 0,
    last: Obj | None = None,
    waiting: str = "",
) -> Obj:
    state: Obj = (
        {"waiting": {"reason": waiting, "message": "back-off restarting failed container"}}
        if waiting
        else {"running": {"startedAt": stamp(NOW - timedelta(hours=5))}}
    )
    return {
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "state": state,
        "lastState": {"terminated": last} if last else {},
    }


def oom_at(finished: datetime) -> Obj:
    return {
        "reason": "OOMKilled",
        "exitCode": 137,
        "startedAt": stamp(finished - timedelta(minutes=3)),
        "finishedAt": stamp(finished),
    }


def pod(
    name: str,
    statuses: list[Obj],
    *,
    annotations: dict[str, str] | None = None,
    spec_containers: Sequence[str] = ("app",),
    with_kind: bool = True,
) -> Obj:
    ready = all(s["ready"] for s in statuses)
    obj: Obj = {
        "metadata": {
            "name": name,
            "namespace": "shop",
            "uid": f"uid-{name}",
            "labels": {"app": "web", "pod-template-hash": "5d8f"},
            "annotations": annotations or {},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "web-5d8f",
                    "uid": "uid-rs",
                    "controller": True,
                }
            ],
        },
        "spec": {
            "nodeName": "node-a",
            "containers": [
                {"name": c, "image": "shop/web:1", "resources": {"limits": {"memory": "128Mi"}}}
                for c in spec_containers
            ],
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "PodReadyToStartContainers", "status": "True"},
                {"type": "Ready", "status": "True" if ready else "False"},
            ],
            "containerStatuses": statuses,
        },
    }
    if with_kind:
        obj = {"apiVersion": "v1", "kind": "Pod", **obj}
    return obj


def hpa(*, current: int = 10, cpu: int = 180) -> Obj:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "shop", "uid": "uid-hpa"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 10,
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
        "status": {
            "currentReplicas": current,
            "desiredReplicas": current,
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": cpu}},
                }
            ],
        },
    }


def readiness_event(pod_name: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{pod_name}.unhealthy", "namespace": "shop"},
        "involvedObject": {
            "kind": "Pod",
            "name": pod_name,
            "namespace": "shop",
            "uid": f"uid-{pod_name}",
        },
        "reason": "Unhealthy",
        "message": "Readiness probe failed: HTTP probe failed with statuscode: 503",
        "type": "Warning",
        "count": 30,
    }


def make_bundle(
    objects: list[Obj],
    *,
    collected: datetime | None = NOW,
    alerts: list[Alert] | None = None,
    metrics: list[MetricResult] | None = None,
    logs: list[ContainerLog] | None = None,
) -> IncidentBundle:
    return IncidentBundle(
        target=TargetRef(kind=TargetKind.DEPLOYMENT, namespace="shop", name="web"),
        collected_at=collected,
        objects=objects,
        alerts=alerts or [],
        metrics=metrics or [],
        logs=logs or [],
    )


def restarts_matrix(values: list[int]) -> MetricResult:
    start = NOW.timestamp() - 60 * 10 * (len(values) - 1)
    return MetricResult(
        query='kube_pod_container_status_restarts_total{namespace="shop"}[2h]',
        data={
            "resultType": "matrix",
            "result": [
                {
                    "metric": {"namespace": "shop", "pod": "web-5d8f-a", "container": "app"},
                    "values": [[start + 600 * i, str(v)] for i, v in enumerate(values)],
                }
            ],
        },
    )


def alert(state: str, name: str = "KubePodCrashLooping") -> Alert:
    return Alert(status=state, labels={"alertname": name, "namespace": "shop"})


def types(actions: list[Action]) -> list[ActionType]:
    return [a.type for a in actions]


# -- The vetoes, as a table -------------------------------------------------------------------

RECOVERED = safety.Situation(recovered="3/3 pods are Running and Ready now")
OVERLOADED = safety.Situation(overloaded=("HPA shop/web at maxReplicas=10, cpu 180% of 70%",))
SIDECARS = safety.Situation(template_containers=frozenset({"app"}))
NORMAL = safety.Situation(template_containers=frozenset({"app"}))


def action(kind: ActionType, **params: object) -> Action:
    return Action(type=kind, target=DEPLOY_REF, params=params, risk=Risk.LOW)


@pytest.mark.parametrize(
    ("proposed", "situation", "vetoed"),
    [
        (action(ActionType.DELETE_POD, pod="web-1"), NORMAL, False),
        (action(ActionType.DELETE_POD, pod="web-1"), RECOVERED, True),
        (action(ActionType.DELETE_POD, pod="web-1"), OVERLOADED, True),
        (action(ActionType.RESTART_ROLLOUT), NORMAL, False),
        (action(ActionType.RESTART_ROLLOUT), RECOVERED, True),
        (action(ActionType.RESTART_ROLLOUT), OVERLOADED, True),
        (action(ActionType.SET_RESOURCES, container="app", memoryLimit="256Mi"), NORMAL, False),
        (action(ActionType.SET_RESOURCES, container="app", memoryLimit="256Mi"), OVERLOADED, False),
        (action(ActionType.SET_RESOURCES, container="app", memoryLimit="256Mi"), RECOVERED, True),
        (
            action(ActionType.SET_RESOURCES, container="istio-proxy", memoryLimit="1Gi"),
            SIDECARS,
            True,
        ),
        (action(ActionType.PATCH_HPA, maxReplicas=15), OVERLOADED, False),
        (action(ActionType.PATCH_HPA, maxReplicas=15), RECOVERED, True),
        (action(ActionType.ROLLBACK_ROLLOUT, toRevision=3), NORMAL, False),
        (action(ActionType.ROLLBACK_ROLLOUT, toRevision=3), RECOVERED, True),
        (action(ActionType.SCALE_WORKLOAD, replicas=1), RECOVERED, True),
        (action(ActionType.CORDON_NODE, node="node-a"), RECOVERED, True),
        (action(ActionType.ESCALATE, reason="r", instructions="i"), RECOVERED, False),
        (action(ActionType.ESCALATE, reason="r", instructions="i"), OVERLOADED, False),
    ],
)
def test_veto_table(proposed: Action, situation: safety.Situation, vetoed: bool) -> None:
    assert bool(safety.veto(proposed, situation)) is vetoed


def test_every_action_type_has_rules() -> None:
    assert set(safety.VETOES) == set(ActionType)


# -- Is the problem current? ------------------------------------------------------------------


def oom_bundle(finished: datetime, **kwargs: Any) -> IncidentBundle:
    pods = [pod(f"web-5d8f-{s}", [status(restarts=4, last=oom_at(finished))]) for s in "abc"]
    return make_bundle([deployment(), replicaset(), *pods], **kwargs)


@pytest.mark.parametrize(
    ("case", "kwargs", "recovered"),
    [
        ("last OOM 3 h before the bundle", {"finished": NOW - timedelta(hours=3)}, True),
        ("last OOM 10 min before the bundle", {"finished": NOW - timedelta(minutes=10)}, False),
        (
            "old OOM but the alert still fires",
            {"finished": NOW - timedelta(hours=3), "alerts": [alert("firing")]},
            False,
        ),
        (
            "no bundle time, alert resolved",
            {
                "finished": NOW - timedelta(minutes=10),
                "collected": None,
                "alerts": [alert("resolved")],
            },
            True,
        ),
        (
            "no bundle time, restarts flat for the last hour",
            {
                "finished": NOW,
                "collected": None,
                "metrics": [restarts_matrix([1, 4, 4, 4, 4, 4, 4, 4])],
            },
            True,
        ),
        (
            "no bundle time, restarts climbing",
            {
                "finished": NOW,
                "collected": None,
                "metrics": [restarts_matrix([1, 1, 1, 1, 2, 3, 4])],
            },
            False,
        ),
        ("no bundle time and no other signal", {"finished": NOW, "collected": None}, False),
    ],
)
def test_recovered_oom_gets_no_action(case: str, kwargs: Any, recovered: bool) -> None:
    finished = kwargs.pop("finished")
    result = diagnose.diagnose_bundle(oom_bundle(finished, **kwargs))
    assert result.category is Category.OOM_KILLED, case
    if recovered:
        assert types(result.actions) == [ActionType.ESCALATE], case
        assert result.summary.startswith("Recovered"), case
        assert result.evidence[0].startswith("Recovered: "), case
    else:
        assert ActionType.SET_RESOURCES in types(result.actions), case
        assert not result.summary.startswith("Recovered"), case


def test_a_pod_still_crashing_is_current_whatever_the_dates() -> None:
    old = oom_at(NOW - timedelta(hours=3))
    pods = [
        pod("web-5d8f-a", [status(restarts=9, last=old)]),
        pod("web-5d8f-b", [status(ready=False, restarts=9, last=old, waiting="CrashLoopBackOff")]),
    ]
    result = diagnose.diagnose_bundle(make_bundle([deployment(), replicaset(), *pods]))
    assert result.category is Category.OOM_KILLED
    assert ActionType.SET_RESOURCES in types(result.actions)


# -- Overload gets capacity, not deletions ----------------------------------------------------


def readiness_bundle(
    *extra: Obj, metrics: list[MetricResult] | None = None, alerts: list[Alert] | None = None
) -> IncidentBundle:
    healthy = [pod(f"web-5d8f-{s}", [status()]) for s in "ab"]
    failing = pod("web-5d8f-c", [status(ready=False)])
    return make_bundle(
        [deployment(), replicaset(), *healthy, failing, readiness_event("web-5d8f-c"), *extra],
        metrics=metrics,
        alerts=alerts,
    )


def throttled(ratio: float) -> MetricResult:
    return MetricResult(
        query=(
            "sum by (container) (rate(container_cpu_cfs_throttled_periods_total"
            '{namespace="shop"}[5m])) / sum by (container) '
            '(rate(container_cpu_cfs_periods_total{namespace="shop"}[5m]))'
        ),
        data={
            "resultType": "vector",
            "result": [{"metric": {"container": "app"}, "value": [NOW.timestamp(), str(ratio)]}],
        },
    )


def cpu_usage(cores: float) -> MetricResult:
    return MetricResult(
        query='sum by (container) (rate(container_cpu_usage_seconds_total{namespace="shop"}[5m]))',
        data={
            "resultType": "vector",
            "result": [{"metric": {"container": "app"}, "value": [NOW.timestamp(), str(cores)]}],
        },
    )


@pytest.mark.parametrize(
    ("case", "bundle_", "expected"),
    [
        ("sick pod, no overload", readiness_bundle(), ActionType.DELETE_POD),
        ("HPA at max, CPU below target", readiness_bundle(hpa(cpu=50)), ActionType.DELETE_POD),
        (
            "HPA below max, CPU above target",
            readiness_bundle(hpa(current=6)),
            ActionType.DELETE_POD,
        ),
        ("HPA at max, CPU above target", readiness_bundle(hpa()), ActionType.PATCH_HPA),
        ("CFS throttled 60%", readiness_bundle(metrics=[throttled(0.6)]), ActionType.SET_RESOURCES),
        ("CFS throttled 5%", readiness_bundle(metrics=[throttled(0.05)]), ActionType.DELETE_POD),
        ("CPU at its limit", readiness_bundle(metrics=[cpu_usage(0.49)]), ActionType.SET_RESOURCES),
        (
            "CPUThrottlingHigh firing, no metrics",
            readiness_bundle(alerts=[alert("firing", "CPUThrottlingHigh")]),
            ActionType.ESCALATE,
        ),
        (
            "CPU well under its limit",
            readiness_bundle(metrics=[cpu_usage(0.1)]),
            ActionType.DELETE_POD,
        ),
    ],
)
def test_overload_never_gets_pod_deletions(
    case: str, bundle_: IncidentBundle, expected: ActionType
) -> None:
    result = diagnose.diagnose_bundle(bundle_)
    assert result.category is Category.PROBE_FAILURE, case
    assert result.actions[0].type is expected, (case, types(result.actions))
    if expected is not ActionType.DELETE_POD:
        assert ActionType.DELETE_POD not in types(result.actions), case
        assert ActionType.RESTART_ROLLOUT not in types(result.actions), case
        assert any(line.startswith("Not proposed: DeletePod") for line in result.evidence), case
    if expected is ActionType.SET_RESOURCES:
        assert result.actions[0].params == {"container": "app", "cpuLimit": "800m"}, case


@pytest.mark.parametrize(
    ("limit", "proposed"),
    [("500m", "800m"), ("1", "1500m"), ("100m", "200m"), ("2", "3"), ("50m", "100m")],
)
def test_cpu_limit_proposal(limit: str, proposed: str) -> None:
    assert safety.propose_cpu_limit(quantity.parse_quantity(limit)) == proposed


# -- Sidecars injected by a webhook -----------------------------------------------------------


def test_set_resources_never_names_an_injected_sidecar() -> None:
    recent = oom_at(NOW - timedelta(minutes=5))
    pods = [
        pod(
            f"web-5d8f-{s}",
            [status(), status("istio-proxy", restarts=3, last=recent)],
            annotations={"sidecar.istio.io/status": '{"containers":["istio-proxy"]}'},
            spec_containers=["app", "istio-proxy"],
        )
        for s in "ab"
    ]
    result = diagnose.diagnose_bundle(make_bundle([deployment(), replicaset(), *pods]))
    assert result.category is Category.OOM_KILLED
    assert all(a.params.get("container") != "istio-proxy" for a in result.actions)
    escalations = [a for a in result.actions if a.type is ActionType.ESCALATE]
    assert any("sidecar.istio.io/status" in str(a.params["instructions"]) for a in escalations)


def test_set_resources_for_a_template_container_is_kept() -> None:
    recent = oom_at(NOW - timedelta(minutes=5))
    pods = [pod("web-5d8f-a", [status(restarts=3, last=recent)])]
    result = diagnose.diagnose_bundle(make_bundle([deployment(), replicaset(), *pods]))
    assert result.actions[0].type is ActionType.SET_RESOURCES
    assert result.actions[0].params["container"] == "app"


# -- What clusters produce: lists and long logs -----------------------------------------------


@pytest.mark.parametrize("list_kind", ["PodList", "List"])
def test_pods_in_a_list_are_diagnosed(list_kind: str) -> None:
    items = [
        pod(
            f"web-5d8f-{s}",
            [status(ready=False, waiting="ImagePullBackOff")],
            with_kind=list_kind == "List",
        )
        for s in "ab"
    ]
    listed = {"apiVersion": "v1", "kind": list_kind, "metadata": {}, "items": items}
    bundle_ = make_bundle([deployment(), replicaset(), listed])
    assert [o["kind"] for o in bundle_.objects] == ["Deployment", "ReplicaSet", "Pod", "Pod"]
    result = diagnose.diagnose_bundle(bundle_)
    assert result.category is Category.IMAGE_PULL_ERROR


def test_a_long_previous_log_keeps_its_newest_lines() -> None:
    lines = [f"2025-06-02T11:{i // 60:02d}:{i % 60:02d}Z INFO request {i} ok" for i in range(2500)]
    lines.append("panic: runtime error: invalid memory address or nil pointer dereference")
    text = "\n".join(lines)
    assert len(text) > 88 * 1024
    log = ContainerLog(
        namespace="shop", pod="web-5d8f-a", container="app", previous=True, text=text
    )
    assert len(log.text) <= MAX_LOG_CHARS
    assert log.text.endswith(lines[-1])
    first, _, rest = log.text.partition("\n")
    assert first == f"[kubemedic: {len(text) - len(rest)} earlier characters cut]"
    assert rest.startswith("2025-06-02T11:")  # whole lines only


def test_llm_proposals_pass_the_same_vetoes() -> None:
    bundle_ = oom_bundle(NOW - timedelta(hours=3))
    restart = action(ActionType.RESTART_ROLLOUT)
    escalate = action(ActionType.ESCALATE, reason="r", instructions="i")
    kept, vetoed = safety.screen(bundle_, Category.CRASH_LOOP, [restart, escalate])
    assert kept == [escalate]
    assert [(a, "recovered" in why) for a, why in vetoed] == [(restart, True)]
    current = oom_bundle(NOW - timedelta(minutes=2))
    assert safety.screen(current, Category.CRASH_LOOP, [restart]) == ([restart], [])


def test_nested_lists_are_expanded_and_items_keep_their_own_kind() -> None:
    node = {"metadata": {"name": "node-a"}, "status": {}}
    nested = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {"apiVersion": "v1", "kind": "NodeList", "items": [node, "not an object"]},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}},
        ],
    }
    objects = make_bundle([nested]).objects
    assert [(o["apiVersion"], o["kind"]) for o in objects] == [("v1", "Node"), ("v1", "Service")]


def test_an_empty_or_itemless_list_adds_nothing() -> None:
    empty = {"apiVersion": "v1", "kind": "PodList", "items": []}
    odd = {"apiVersion": "v1", "kind": "PodList", "items": None}
    assert make_bundle([empty]).objects == []
    assert make_bundle([odd]).objects == [odd]  # not a list: kept as the object it claims to be
