"""We test these aspects: remediation patches and verification (kubemedic.domain.patches).

- the idempotency key is stable per (incident, action) and differs otherwise; the target
  fingerprint changes exactly when a Deployment's spec generation or a Node's
  ``spec.unschedulable`` changes;
- markers: an applied action is recognised by its marker, marker times feed rate limits,
  markers older than 24 h are pruned by the next patch while newer ones stay;
- ``build_patch`` for every action type against realistic live objects: the generation
  ``test`` comes first, then the change, then the marker; annotation keys are JSON-pointer
  escaped; the patch applies cleanly (RFC 6902, the ``jsonpatch`` library), a retry against
  the changed object is rejected by its ``test``, and applying the revert gives back the
  original object (apart from the marker, which records that the action ran);
- RollbackRollout strips ``pod-template-hash`` and never changes the caller's template;
  wrong kinds, a missing container and a missing rollback template are refused with a
  RemediationError that says why;
- ``verify_action`` on IncidentBundles: Passed once the newest revision's pods are ready and
  the status counts match; Pending while the controller has not seen the change or the
  rollout is in progress; Failed when a new pod crash-loops or the target is gone; old
  revisions' pods do not count; DeletePod, CordonNode and PatchHPA have their own checks.
"""

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonpatch
import pytest

from kubemedic.domain.patches import (
    MARKER_PREFIX,
    PatchPlan,
    RemediationError,
    VerdictState,
    build_patch,
    has_marker,
    idempotency_key,
    marker_times,
    target_fingerprint,
    verify_action,
)
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.diagnosis import Action, ActionType, Risk
from kubemedic.models.target import ObjectRef, TargetRef

NOW = datetime(2025, 3, 14, 10, 30, 12, 345678, tzinfo=UTC)
INCIDENT = "shop/checkout-oomkilled-7xk2p"
INCIDENT_UID = "0b6e4a52-9f1d-4c1e-9a7b-3f5d2e8c1a90"
DEPLOYMENT_UID = "19636706-d0af-5c65-8676-a2c8ca22367a"
NODE_UID = "e3b0c442-98fc-4c14-9afb-4c8996fb9242"
HPA_UID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
POD_UID = "dc1f0056-ef36-59ee-aa92-f3cfc0cf1ba5"
LABELS = {"app.kubernetes.io/name": "checkout", "app.kubernetes.io/part-of": "shop"}
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
REVISION = "deployment.kubernetes.io/revision"


# --- realistic live objects ------------------------------------------------------------------


def deployment(
    *,
    kind: str = "Deployment",
    template_annotations: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    generation: int = 7,
) -> dict[str, Any]:
    """A live workload with a sidecar first and the app container at index 1."""
    metadata: dict[str, Any] = {
        "name": "checkout",
        "namespace": "shop",
        "uid": DEPLOYMENT_UID,
        "resourceVersion": "3456982",
        "generation": generation,
        "creationTimestamp": "2025-02-12T10:30:00Z",
        "labels": dict(LABELS),
    }
    if annotations is not None:
        metadata["annotations"] = annotations
    template_metadata: dict[str, Any] = {"labels": dict(LABELS)}
    if template_annotations is not None:
        template_metadata["annotations"] = template_annotations
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": metadata,
        "spec": {
            "replicas": 3,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": dict(LABELS)},
            "template": {
                "metadata": template_metadata,
                "spec": {
                    "containers": [
                        {
                            "name": "istio-proxy",
                            "image": "docker.io/istio/proxyv2:1.22.3",
                            "resources": {
                                "limits": {"cpu": "2", "memory": "128Mi"},
                                "requests": {"cpu": "100m", "memory": "64Mi"},
                            },
                        },
                        {
                            "name": "app",
                            "image": "registry.example.com/shop/checkout:4.2.1",
                            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                            "resources": {
                                "limits": {"memory": "512Mi"},
                                "requests": {"cpu": "250m", "memory": "256Mi"},
                            },
                        },
                    ],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                },
            },
        },
        "status": {"observedGeneration": generation, "replicas": 3, "readyReplicas": 3},
    }


def annotated_deployment(**kwargs: Any) -> dict[str, Any]:
    return deployment(
        annotations={REVISION: "4", "meta.helm.sh/release-name": "shop"},
        template_annotations={"prometheus.io/scrape": "true", "prometheus.io/port": "9090"},
        **kwargs,
    )


def node(*, unschedulable: bool | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "podCIDR": "10.244.3.0/24",
        "providerID": "aws:///eu-west-1a/i-0a1b2c3d4e5f67890",
    }
    if unschedulable is not None:
        spec["unschedulable"] = unschedulable
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": "worker-3",
            "uid": NODE_UID,
            "resourceVersion": "9031350",
            "labels": {"kubernetes.io/hostname": "worker-3", "kubernetes.io/os": "linux"},
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": spec,
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]},
    }


def hpa(*, max_replicas: int = 10) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": "checkout",
            "namespace": "shop",
            "uid": HPA_UID,
            "resourceVersion": "5336800",
            "generation": 2,
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "checkout"},
            "minReplicas": 2,
            "maxReplicas": max_replicas,
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
        "status": {"currentReplicas": 10, "desiredReplicas": 10},
    }


def bare_pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "checkout-6d8f7b9c5d-hf4jb",
            "namespace": "shop",
            "uid": POD_UID,
            "labels": {**LABELS, "pod-template-hash": "6d8f7b9c5d"},
        },
        "spec": {
            "containers": [{"name": "app", "image": "registry.example.com/shop/checkout:4.2.1"}]
        },
    }


# --- actions ---------------------------------------------------------------------------------

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
RESTART = Action(type=ActionType.RESTART_ROLLOUT, target=CHECKOUT, risk=Risk.LOW)
SCALE = Action(
    type=ActionType.SCALE_WORKLOAD, target=CHECKOUT, params={"replicas": 5}, risk=Risk.MEDIUM
)
SET_MEMORY = Action(
    type=ActionType.SET_RESOURCES,
    target=CHECKOUT,
    params={"container": "app", "memoryLimit": "1Gi"},
    risk=Risk.MEDIUM,
)
ROLLBACK = Action(
    type=ActionType.ROLLBACK_ROLLOUT, target=CHECKOUT, params={"toRevision": 3}, risk=Risk.HIGH
)
CORDON = Action(
    type=ActionType.CORDON_NODE,
    target=ObjectRef(kind="Node", name="worker-3"),
    params={"node": "worker-3"},
    risk=Risk.HIGH,
)
PATCH_HPA = Action(
    type=ActionType.PATCH_HPA,
    target=ObjectRef(kind="HorizontalPodAutoscaler", namespace="shop", name="checkout"),
    params={"maxReplicas": 20, "minReplicas": 4},
    risk=Risk.MEDIUM,
)
PATCH_HPA_MAX_ONLY = Action(
    type=ActionType.PATCH_HPA,
    target=ObjectRef(kind="HorizontalPodAutoscaler", namespace="shop", name="checkout"),
    params={"maxReplicas": 20},
    risk=Risk.MEDIUM,
)
DELETE_POD = Action(
    type=ActionType.DELETE_POD,
    target=ObjectRef(kind="Pod", namespace="shop", name="checkout-6d8f7b9c5d-hf4jb"),
    params={"pod": "checkout-6d8f7b9c5d-hf4jb"},
    risk=Risk.LOW,
)
ESCALATE = Action(
    type=ActionType.ESCALATE,
    target=CHECKOUT,
    params={"reason": "the database is unreachable", "instructions": "page the DBA on call"},
    risk=Risk.LOW,
)

KEY = idempotency_key(INCIDENT_UID, SET_MEMORY.id)


def revision_3_template() -> dict[str, Any]:
    """The template of revision 3, as its ReplicaSet carries it (with the hash label)."""
    return {
        "metadata": {"labels": {**LABELS, "pod-template-hash": "5c7d9f8b6"}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "registry.example.com/shop/checkout:4.1.0",
                    "resources": {
                        "limits": {"memory": "512Mi"},
                        "requests": {"cpu": "250m", "memory": "256Mi"},
                    },
                }
            ],
            "restartPolicy": "Always",
        },
    }


def plan_for(action: Action, live: dict[str, Any], **kwargs: Any) -> PatchPlan:
    return build_patch(
        action,
        live,
        key=idempotency_key(INCIDENT_UID, action.id),
        incident=INCIDENT,
        now=NOW,
        **kwargs,
    )


def apply(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = jsonpatch.apply_patch(doc, ops)
    return result


def without_markers(obj: dict[str, Any]) -> dict[str, Any]:
    """The object with kubemedic's markers (and an annotations map they alone created) gone."""
    result = copy.deepcopy(obj)
    annotations = result["metadata"].get("annotations")
    if isinstance(annotations, dict):
        for name in [n for n in annotations if n.startswith(MARKER_PREFIX)]:
            del annotations[name]
    return result


def marker_value(time: datetime, action_id: str = "restart-rollout-0a1b2c3d") -> str:
    return json.dumps(
        {
            "action": "RestartRollout",
            "id": action_id,
            "incident": INCIDENT,
            "time": time.isoformat(),
        },
        sort_keys=True,
    )


# --- keys and fingerprints -------------------------------------------------------------------


def test_idempotency_key_is_stable_per_incident_and_action() -> None:
    key = idempotency_key(INCIDENT_UID, SET_MEMORY.id)

    assert key == idempotency_key(INCIDENT_UID, SET_MEMORY.id)
    assert len(key) == 16
    assert all(c in "0123456789abcdef" for c in key)
    # Short enough for an annotation name after the prefix (the name part allows 63).
    assert len(f"{MARKER_PREFIX}{key}".split("/", 1)[1]) <= 63


def test_idempotency_key_differs_per_incident_and_per_action() -> None:
    keys = {
        idempotency_key(INCIDENT_UID, SET_MEMORY.id),
        idempotency_key(INCIDENT_UID, RESTART.id),
        idempotency_key("5d41402a-bc4b-4a76-b971-9d911017c592", SET_MEMORY.id),
        idempotency_key("5d41402a-bc4b-4a76-b971-9d911017c592", RESTART.id),
    }

    assert len(keys) == 4


FINGERPRINTS: list[tuple[str, dict[str, Any], str]] = [
    ("deployment", deployment(generation=7), f"{DEPLOYMENT_UID}/7"),
    ("deployment after a spec change", deployment(generation=8), f"{DEPLOYMENT_UID}/8"),
    ("hpa", hpa(), f"{HPA_UID}/2"),
    ("object without generation", bare_pod(), f"{POD_UID}/0"),
    ("schedulable node", node(), f"{NODE_UID}/unschedulable=False"),
    ("node with unschedulable=false", node(unschedulable=False), f"{NODE_UID}/unschedulable=False"),
    ("cordoned node", node(unschedulable=True), f"{NODE_UID}/unschedulable=True"),
]


@pytest.mark.parametrize(
    ("obj", "expected"), [pytest.param(o, e, id=case) for case, o, e in FINGERPRINTS]
)
def test_target_fingerprint(obj: dict[str, Any], expected: str) -> None:
    assert target_fingerprint(obj) == expected


def test_target_fingerprint_ignores_status_and_metadata_churn() -> None:
    live = deployment()
    churned = deployment()
    churned["metadata"]["resourceVersion"] = "3457001"
    churned["status"]["readyReplicas"] = 1
    churned["metadata"]["annotations"] = {f"{MARKER_PREFIX}{KEY}": marker_value(NOW)}

    assert target_fingerprint(churned) == target_fingerprint(live)


# --- markers ---------------------------------------------------------------------------------


def test_an_applied_action_is_recognised_by_its_marker() -> None:
    live = annotated_deployment()
    assert not has_marker(live, KEY)

    patched = apply(live, plan_for(SET_MEMORY, live).ops)

    assert has_marker(patched, KEY)
    assert not has_marker(patched, idempotency_key(INCIDENT_UID, RESTART.id))
    stamp = json.loads(patched["metadata"]["annotations"][f"{MARKER_PREFIX}{KEY}"])
    assert stamp == {
        "action": "SetResources",
        "id": SET_MEMORY.id,
        "incident": INCIDENT,
        "time": NOW.isoformat(),
    }


def test_marker_times_reads_only_kubemedic_markers() -> None:
    two_hours_ago = NOW - timedelta(hours=2)
    live = deployment(
        annotations={
            REVISION: "4",
            f"{MARKER_PREFIX}0123456789abcdef": marker_value(two_hours_ago),
            f"{MARKER_PREFIX}fedcba9876543210": marker_value(NOW - timedelta(minutes=5)),
            f"{MARKER_PREFIX}not-json": "applied by hand",
            f"{MARKER_PREFIX}no-time": json.dumps({"action": "RestartRollout"}),
            "kubectl.kubernetes.io/last-applied-configuration": json.dumps({"time": "x"}),
        }
    )

    assert sorted(marker_times(live)) == [two_hours_ago, NOW - timedelta(minutes=5)]


def test_marker_times_of_an_object_without_annotations_is_empty() -> None:
    assert marker_times(deployment()) == []


def test_markers_older_than_a_day_are_pruned_and_newer_ones_kept() -> None:
    stale = f"{MARKER_PREFIX}0123456789abcdef"
    recent = f"{MARKER_PREFIX}fedcba9876543210"
    edge = f"{MARKER_PREFIX}aaaaaaaaaaaaaaaa"
    live = deployment(
        annotations={
            REVISION: "4",
            stale: marker_value(NOW - timedelta(hours=25)),
            edge: marker_value(NOW - timedelta(hours=24)),
            recent: marker_value(NOW - timedelta(hours=2)),
        }
    )

    plan = plan_for(SET_MEMORY, live)
    patched = apply(live, plan.ops)

    removes = [op for op in plan.ops if op["op"] == "remove"]
    assert removes == [
        {"op": "remove", "path": "/metadata/annotations/actions.kubemedic.dev~10123456789abcdef"}
    ]
    annotations = patched["metadata"]["annotations"]
    assert stale not in annotations
    assert {edge, recent, f"{MARKER_PREFIX}{KEY}", REVISION} <= set(annotations)
    assert sorted(marker_times(patched)) == [
        NOW - timedelta(hours=24),
        NOW - timedelta(hours=2),
        NOW,
    ]


def test_a_marker_with_a_naive_time_does_not_block_new_actions() -> None:
    odd = f"{MARKER_PREFIX}0123456789abcdef"
    live = deployment(
        annotations={odd: json.dumps({"action": "RestartRollout", "time": "2025-03-12T08:00:00"})}
    )

    plan = plan_for(SET_MEMORY, live)

    assert plan.ops[-1]["path"] == f"/metadata/annotations/actions.kubemedic.dev~1{KEY}"


# --- build_patch: structure ------------------------------------------------------------------

WORKLOAD_ACTIONS = [RESTART, SCALE, SET_MEMORY]


@pytest.mark.parametrize("action", WORKLOAD_ACTIONS, ids=lambda a: a.type.value)
def test_ops_are_generation_test_then_change_then_marker(action: Action) -> None:
    live = annotated_deployment()
    key = idempotency_key(INCIDENT_UID, action.id)

    ops = plan_for(action, live).ops

    assert ops[0] == {"op": "test", "path": "/metadata/generation", "value": 7}
    assert ops[-1] == {
        "op": "add",
        "path": f"/metadata/annotations/actions.kubemedic.dev~1{key}",
        "value": json.dumps(
            {
                "action": action.type.value,
                "id": action.id,
                "incident": INCIDENT,
                "time": NOW.isoformat(),
            },
            sort_keys=True,
        ),
    }
    change = ops[1:-1]
    assert change
    assert all(op["path"].startswith("/spec/") for op in change)


@pytest.mark.parametrize("action", WORKLOAD_ACTIONS, ids=lambda a: a.type.value)
def test_a_retry_after_the_change_is_rejected_by_the_generation_test(action: Action) -> None:
    live = annotated_deployment()
    ops = plan_for(action, live).ops
    # The API server bumps metadata.generation when the spec changes.
    changed = apply(live, ops)
    changed["metadata"]["generation"] = 8

    with pytest.raises(jsonpatch.JsonPatchTestFailed):
        apply(changed, ops)


def test_an_object_without_annotations_gets_the_marker_map_created() -> None:
    live = deployment()
    assert "annotations" not in live["metadata"]

    plan = plan_for(SCALE, live)
    patched = apply(live, plan.ops)

    key = idempotency_key(INCIDENT_UID, SCALE.id)
    assert plan.ops[-1]["path"] == "/metadata/annotations"
    assert set(patched["metadata"]["annotations"]) == {f"{MARKER_PREFIX}{key}"}


def test_the_patch_does_not_change_the_live_object() -> None:
    live = annotated_deployment()
    before = copy.deepcopy(live)

    for action in WORKLOAD_ACTIONS:
        plan_for(action, live)
    template = revision_3_template()
    plan_for(ROLLBACK, live, rollback_template=template)

    assert live == before
    assert template == revision_3_template()


# --- build_patch: each action type -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet"])
def test_restart_rollout_stamps_restarted_at_next_to_existing_template_annotations(
    kind: str,
) -> None:
    live = annotated_deployment(kind=kind)

    plan = plan_for(RESTART, live)
    patched = apply(live, plan.ops)

    assert plan.ops[1] == {
        "op": "add",
        "path": "/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt",
        "value": NOW.isoformat(),
    }
    assert patched["spec"]["template"]["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9090",
        RESTARTED_AT: NOW.isoformat(),
    }
    assert plan.revert is None
    assert plan.delete_pod_uid is None


def test_restart_rollout_creates_the_template_annotations_when_there_are_none() -> None:
    live = deployment()

    plan = plan_for(RESTART, live)
    patched = apply(live, plan.ops)

    assert plan.ops[1] == {
        "op": "add",
        "path": "/spec/template/metadata/annotations",
        "value": {RESTARTED_AT: NOW.isoformat()},
    }
    assert patched["spec"]["template"]["metadata"]["annotations"] == {RESTARTED_AT: NOW.isoformat()}
    assert patched["spec"]["template"]["metadata"]["labels"] == LABELS


def test_restart_rollout_twice_moves_restarted_at() -> None:
    live = annotated_deployment()
    once = apply(live, plan_for(RESTART, live).ops)
    once["metadata"]["generation"] = 8
    later = NOW + timedelta(minutes=10)

    twice = apply(
        once, build_patch(RESTART, once, key="fedcba9876543210", incident=INCIDENT, now=later).ops
    )

    assert twice["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT] == later.isoformat()


def test_scale_workload_sets_absolute_replicas_and_reverts_them() -> None:
    live = annotated_deployment()

    plan = plan_for(SCALE, live)
    patched = apply(live, plan.ops)

    assert plan.ops[1] == {"op": "add", "path": "/spec/replicas", "value": 5}
    assert patched["spec"]["replicas"] == 5
    assert plan.revert == [{"op": "add", "path": "/spec/replicas", "value": 3}]
    assert apply(patched, plan.revert)["spec"]["replicas"] == 3


def test_scale_workload_without_live_replicas_has_no_revert() -> None:
    live = annotated_deployment()
    del live["spec"]["replicas"]

    assert plan_for(SCALE, live).revert is None


def test_set_resources_changes_only_the_named_container_at_its_index() -> None:
    live = annotated_deployment()

    plan = plan_for(SET_MEMORY, live)
    patched = apply(live, plan.ops)

    assert plan.ops[1] == {
        "op": "test",
        "path": "/spec/template/spec/containers/1/name",
        "value": "app",
    }
    assert plan.ops[2] == {
        "op": "add",
        "path": "/spec/template/spec/containers/1/resources",
        "value": {"limits": {"memory": "1Gi"}, "requests": {"cpu": "250m", "memory": "256Mi"}},
    }
    containers = patched["spec"]["template"]["spec"]["containers"]
    assert containers[1]["resources"]["limits"] == {"memory": "1Gi"}
    assert containers[0] == live["spec"]["template"]["spec"]["containers"][0]


def test_set_resources_sets_every_given_resource() -> None:
    action = Action(
        type=ActionType.SET_RESOURCES,
        target=CHECKOUT,
        params={
            "container": "istio-proxy",
            "memoryLimit": "256Mi",
            "memoryRequest": "128Mi",
            "cpuLimit": "4",
            "cpuRequest": "200m",
        },
        risk=Risk.MEDIUM,
    )
    live = annotated_deployment()

    patched = apply(live, plan_for(action, live).ops)

    assert patched["spec"]["template"]["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "4", "memory": "256Mi"},
        "requests": {"cpu": "200m", "memory": "128Mi"},
    }


def test_set_resources_on_a_container_without_resources() -> None:
    live = annotated_deployment()
    del live["spec"]["template"]["spec"]["containers"][1]["resources"]

    patched = apply(live, plan_for(SET_MEMORY, live).ops)

    assert patched["spec"]["template"]["spec"]["containers"][1]["resources"] == {
        "limits": {"memory": "1Gi"}
    }


def test_set_resources_refuses_a_container_that_is_not_in_the_template() -> None:
    action = Action(
        type=ActionType.SET_RESOURCES,
        target=CHECKOUT,
        params={"container": "worker", "memoryLimit": "1Gi"},
        risk=Risk.MEDIUM,
    )

    with pytest.raises(
        RemediationError, match=r"container 'worker' is not in Deployment shop/checkout"
    ):
        plan_for(action, annotated_deployment())


def test_rollback_rollout_replaces_the_template_without_the_hash_label() -> None:
    live = annotated_deployment()
    template = revision_3_template()

    plan = plan_for(ROLLBACK, live, rollback_template=template)
    patched = apply(live, plan.ops)

    assert plan.ops[1]["op"] == "replace"
    assert plan.ops[1]["path"] == "/spec/template"
    assert patched["spec"]["template"]["metadata"]["labels"] == LABELS
    assert patched["spec"]["template"]["spec"] == revision_3_template()["spec"]
    # The caller's template (the ReplicaSet's) is not changed.
    assert template == revision_3_template()
    assert plan.revert == [
        {"op": "replace", "path": "/spec/template", "value": live["spec"]["template"]}
    ]


@pytest.mark.parametrize(
    ("live", "template", "message"),
    [
        pytest.param(
            annotated_deployment(),
            None,
            "RollbackRollout needs a Deployment and the revision's template",
            id="no-template",
        ),
        pytest.param(
            annotated_deployment(kind="StatefulSet"),
            revision_3_template(),
            "not StatefulSet",
            id="statefulset",
        ),
    ],
)
def test_rollback_rollout_refusals(
    live: dict[str, Any], template: dict[str, Any] | None, message: str
) -> None:
    with pytest.raises(RemediationError, match=message):
        plan_for(ROLLBACK, live, rollback_template=template)


def test_cordon_node_tests_the_uid_and_sets_unschedulable() -> None:
    live = node()

    plan = plan_for(CORDON, live)
    patched = apply(live, plan.ops)

    assert plan.ops[0] == {"op": "test", "path": "/metadata/uid", "value": NODE_UID}
    assert plan.ops[1] == {"op": "add", "path": "/spec/unschedulable", "value": True}
    assert patched["spec"]["unschedulable"] is True
    assert has_marker(patched, idempotency_key(INCIDENT_UID, CORDON.id))
    assert patched["metadata"]["annotations"]["node.alpha.kubernetes.io/ttl"] == "0"
    assert plan.revert == [{"op": "add", "path": "/spec/unschedulable", "value": False}]


def test_cordon_node_revert_keeps_an_already_cordoned_node_cordoned() -> None:
    assert plan_for(CORDON, node(unschedulable=True)).revert == [
        {"op": "add", "path": "/spec/unschedulable", "value": True}
    ]


def test_patch_hpa_raises_bounds_and_reverts_them() -> None:
    live = hpa()

    plan = plan_for(PATCH_HPA, live)
    patched = apply(live, plan.ops)

    assert plan.ops[0] == {"op": "test", "path": "/metadata/generation", "value": 2}
    assert (patched["spec"]["minReplicas"], patched["spec"]["maxReplicas"]) == (4, 20)
    assert plan.revert == [
        {"op": "add", "path": "/spec/maxReplicas", "value": 10},
        {"op": "add", "path": "/spec/minReplicas", "value": 2},
    ]


def test_patch_hpa_without_min_replicas_leaves_min_alone() -> None:
    live = hpa()

    plan = plan_for(PATCH_HPA_MAX_ONLY, live)
    patched = apply(live, plan.ops)

    assert (patched["spec"]["minReplicas"], patched["spec"]["maxReplicas"]) == (2, 20)
    assert plan.revert == [{"op": "add", "path": "/spec/maxReplicas", "value": 10}]


def test_delete_pod_is_a_deletion_by_uid_not_a_patch() -> None:
    plan = plan_for(DELETE_POD, bare_pod())

    assert plan == PatchPlan(ops=[], revert=None, delete_pod_uid=POD_UID)


WRONG_KIND: list[tuple[str, Action, dict[str, Any], str]] = [
    (
        "restart a pod",
        RESTART,
        bare_pod(),
        "RestartRollout needs a Deployment, StatefulSet or DaemonSet, not Pod",
    ),
    ("restart a node", RESTART, node(), "not Node"),
    (
        "delete a deployment as a pod",
        DELETE_POD,
        annotated_deployment(),
        "DeletePod needs a Pod, not Deployment",
    ),
    (
        "set resources on a pod",
        SET_MEMORY,
        bare_pod(),
        "SetResources needs a Deployment, StatefulSet or DaemonSet, not Pod",
    ),
    ("escalate applies nothing", ESCALATE, annotated_deployment(), "Escalate applies nothing"),
]


@pytest.mark.parametrize(
    ("action", "live", "message"),
    [pytest.param(a, live, m, id=case) for case, a, live, m in WRONG_KIND],
)
def test_actions_on_the_wrong_kind_are_refused(
    action: Action, live: dict[str, Any], message: str
) -> None:
    with pytest.raises(RemediationError, match=message):
        plan_for(action, live)


UNCHECKED_KIND: list[tuple[str, Action, dict[str, Any]]] = [
    ("scale a daemonset", SCALE, annotated_deployment(kind="DaemonSet")),
    ("cordon a deployment", CORDON, annotated_deployment()),
    ("patch a deployment as an hpa", PATCH_HPA, annotated_deployment()),
]


@pytest.mark.parametrize(
    ("action", "live"),
    [pytest.param(a, live, id=case) for case, a, live in UNCHECKED_KIND],
)
def test_actions_on_an_unsupported_kind_are_refused(action: Action, live: dict[str, Any]) -> None:
    with pytest.raises(RemediationError, match=action.type.value):
        plan_for(action, live)


# --- revert round trips ----------------------------------------------------------------------

ROUND_TRIPS: list[tuple[str, Action, dict[str, Any], dict[str, Any] | None]] = [
    ("scale", SCALE, annotated_deployment(), None),
    ("set resources, container at index 1", SET_MEMORY, annotated_deployment(), None),
    ("set resources, no annotations", SET_MEMORY, deployment(), None),
    ("rollback", ROLLBACK, annotated_deployment(), revision_3_template()),
    ("patch hpa", PATCH_HPA, hpa(), None),
    ("patch hpa, max only", PATCH_HPA_MAX_ONLY, hpa(), None),
    ("cordon an explicitly schedulable node", CORDON, node(unschedulable=False), None),
]


@pytest.mark.parametrize(
    ("action", "live", "template"),
    [pytest.param(a, live, t, id=case) for case, a, live, t in ROUND_TRIPS],
)
def test_the_revert_gives_back_the_original_object(
    action: Action, live: dict[str, Any], template: dict[str, Any] | None
) -> None:
    plan = plan_for(action, live, rollback_template=template)
    assert plan.revert is not None

    changed = apply(live, plan.ops)
    assert without_markers(changed) != without_markers(live), "the action changed nothing"
    reverted = apply(changed, plan.revert)

    # The marker stays: it records that the action was applied (and counts for rate limits).
    assert has_marker(reverted, idempotency_key(INCIDENT_UID, action.id))
    original = without_markers(live)
    if "annotations" not in live["metadata"]:
        original["metadata"]["annotations"] = {}
    assert without_markers(reverted) == original


def test_uncordoning_a_node_that_never_had_the_field_makes_it_schedulable() -> None:
    # NB: the revert writes `unschedulable: false` where the field was absent; the API
    # server treats both the same (it omits false).
    live = node()
    plan = plan_for(CORDON, live)
    assert plan.revert is not None

    reverted = apply(apply(live, plan.ops), plan.revert)

    assert reverted["spec"]["unschedulable"] is False
    assert {k: v for k, v in reverted["spec"].items() if k != "unschedulable"} == live["spec"]


# --- verify_action ---------------------------------------------------------------------------

RS_OLD, RS_NEW = "checkout-7f9c6b5d48", "checkout-5c7d9f8b6"


def live_deployment(
    *, generation: int, observed: int, replicas: int, ready: int, updated: int
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "checkout",
            "namespace": "shop",
            "uid": DEPLOYMENT_UID,
            "generation": generation,
            "annotations": {REVISION: "5"},
        },
        "spec": {"replicas": replicas, "selector": {"matchLabels": dict(LABELS)}},
        "status": {
            "observedGeneration": observed,
            "replicas": max(replicas, updated),
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
        },
    }


def replicaset(name: str, *, revision: int, uid: str, replicas: int) -> dict[str, Any]:
    pod_hash = name.rsplit("-", 1)[1]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "uid": uid,
            "labels": {**LABELS, "pod-template-hash": pod_hash},
            "annotations": {REVISION: str(revision)},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "checkout",
                    "uid": DEPLOYMENT_UID,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas},
    }


def running_pod(
    replicaset_name: str,
    replicaset_uid: str,
    suffix: str,
    *,
    ready: bool = True,
    restarts: int = 0,
    waiting: str | None = None,
) -> dict[str, Any]:
    state: dict[str, Any] = (
        {"waiting": {"reason": waiting, "message": "back-off 5m0s restarting failed container"}}
        if waiting
        else {"running": {"startedAt": "2025-03-14T10:20:00Z"}}
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{replicaset_name}-{suffix}",
            "namespace": "shop",
            "uid": f"{replicaset_uid[:-5]}{suffix}",
            "labels": {**LABELS, "pod-template-hash": replicaset_name.rsplit("-", 1)[1]},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": replicaset_name,
                    "uid": replicaset_uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {"nodeName": "worker-3", "containers": [{"name": "app"}]},
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "Ready", "status": "True" if ready else "False"},
                {"type": "ContainersReady", "status": "True" if ready else "False"},
            ],
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": ready,
                    "restartCount": restarts,
                    "state": state,
                    "image": "registry.example.com/shop/checkout:4.2.1",
                }
            ],
        },
    }


OLD_UID = "a4fa6b4b-b085-503b-8e10-8f8af5c00001"
NEW_UID = "bfe401cd-8bb8-59f4-95cc-44be3fa00002"


def new_pod(suffix: str, **kwargs: Any) -> dict[str, Any]:
    return running_pod(RS_NEW, NEW_UID, suffix, **kwargs)


def old_pod(suffix: str, **kwargs: Any) -> dict[str, Any]:
    return running_pod(RS_OLD, OLD_UID, suffix, **kwargs)


def evicted(pod: dict[str, Any]) -> dict[str, Any]:
    pod["status"] = {
        "phase": "Failed",
        "reason": "Evicted",
        "message": "The node was low on resource: memory.",
        "conditions": [
            {"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet"},
            {"type": "Ready", "status": "False", "reason": "PodFailed"},
        ],
        "containerStatuses": [
            {
                "name": "app",
                "ready": False,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown"}},
            }
        ],
    }
    return pod


def rollout_bundle(
    pods: list[dict[str, Any]],
    *,
    generation: int = 8,
    observed: int = 8,
    replicas: int = 2,
    ready: int = 2,
    updated: int = 2,
    old_revision: int = 4,
    new_revision: int = 5,
    old_replicas: int = 0,
) -> IncidentBundle:
    return IncidentBundle(
        target=TargetRef(kind="Deployment", namespace="shop", name="checkout"),
        collected_at=NOW,
        objects=[
            live_deployment(
                generation=generation,
                observed=observed,
                replicas=replicas,
                ready=ready,
                updated=updated,
            ),
            replicaset(RS_OLD, revision=old_revision, uid=OLD_UID, replicas=old_replicas),
            replicaset(RS_NEW, revision=new_revision, uid=NEW_UID, replicas=replicas),
            *pods,
        ],
    )


VERIFY: list[tuple[str, IncidentBundle, int | None, VerdictState, str]] = [
    (
        "new revision ready",
        rollout_bundle([new_pod("x7k2p"), new_pod("q9m4z")]),
        8,
        VerdictState.PASSED,
        "Deployment shop/checkout: 2/2 replicas updated and ready",
    ),
    (
        "no applied generation recorded",
        rollout_bundle([new_pod("x7k2p"), new_pod("q9m4z")]),
        None,
        VerdictState.PASSED,
        "2/2 replicas updated and ready",
    ),
    (
        "controller has not seen the change",
        rollout_bundle([old_pod("a1b2c"), old_pod("d3e4f")], observed=7, updated=0),
        8,
        VerdictState.PENDING,
        "the controller has not seen generation 8 yet",
    ),
    (
        "rollout in progress",
        rollout_bundle([old_pod("a1b2c"), new_pod("x7k2p")], ready=2, updated=1),
        8,
        VerdictState.PENDING,
        "2/2 ready, rollout in progress",
    ),
    (
        "new pod starting",
        rollout_bundle([new_pod("x7k2p"), new_pod("q9m4z", ready=False)], ready=1),
        8,
        VerdictState.PENDING,
        "1/2 ready, rollout in progress",
    ),
    (
        "counts ready but a new pod is not yet",
        rollout_bundle([new_pod("x7k2p"), new_pod("q9m4z", ready=False)], ready=2),
        8,
        VerdictState.PENDING,
        "rollout in progress",
    ),
    (
        "new pod crash-loops",
        rollout_bundle(
            [
                new_pod("x7k2p"),
                new_pod("q9m4z", ready=False, restarts=4, waiting="CrashLoopBackOff"),
            ],
            ready=1,
        ),
        8,
        VerdictState.FAILED,
        "still failing after the change: checkout-5c7d9f8b6-q9m4z (CrashLoopBackOff)",
    ),
    (
        "new pod cannot pull its image",
        rollout_bundle([new_pod("x7k2p", ready=False, waiting="ImagePullBackOff")], ready=0),
        8,
        VerdictState.FAILED,
        "checkout-5c7d9f8b6-x7k2p (ImagePullBackOff)",
    ),
    (
        "new pod restarted and is not ready",
        rollout_bundle([new_pod("x7k2p"), new_pod("q9m4z", ready=False, restarts=2)], ready=1),
        8,
        VerdictState.FAILED,
        "checkout-5c7d9f8b6-q9m4z (restartCount=2)",
    ),
    (
        "new pod restarted once but is ready again",
        rollout_bundle([new_pod("x7k2p"), new_pod("q9m4z", restarts=1)]),
        8,
        VerdictState.PASSED,
        "2/2 replicas updated and ready",
    ),
    (
        "old revision still crash-loops while it is scaled down",
        rollout_bundle(
            [
                old_pod("a1b2c", ready=False, restarts=9, waiting="CrashLoopBackOff"),
                new_pod("x7k2p"),
                new_pod("q9m4z"),
            ]
        ),
        8,
        VerdictState.PASSED,
        "2/2 replicas updated and ready",
    ),
    (
        "after a rollback the old ReplicaSet is the newest revision",
        rollout_bundle(
            [
                old_pod("a1b2c"),
                old_pod("d3e4f"),
                new_pod("x7k2p", ready=False, restarts=9, waiting="CrashLoopBackOff"),
            ],
            old_revision=6,
            new_revision=5,
            old_replicas=2,
        ),
        8,
        VerdictState.PASSED,
        "2/2 replicas updated and ready",
    ),
]


@pytest.mark.parametrize(
    ("bundle", "applied_generation", "state", "message"),
    [pytest.param(b, g, s, m, id=case) for case, b, g, s, m in VERIFY],
)
def test_verify_a_rollout(
    bundle: IncidentBundle, applied_generation: int | None, state: VerdictState, message: str
) -> None:
    for action in (RESTART, SET_MEMORY, ROLLBACK, SCALE):
        verdict = verify_action(
            action, bundle=bundle, applied_generation=applied_generation, deleted_pod_gone=False
        )

        assert verdict.state is state
        assert message in verdict.message


def test_an_evicted_pod_of_the_new_revision_does_not_hold_verification() -> None:
    bundle = rollout_bundle([evicted(new_pod("e5v1c")), new_pod("x7k2p"), new_pod("q9m4z")])

    verdict = verify_action(SET_MEMORY, bundle=bundle, applied_generation=8, deleted_pod_gone=False)

    assert verdict.state is VerdictState.PASSED


def test_a_terminating_crashing_pod_does_not_fail_verification() -> None:
    leaving = new_pod("q9m4z", ready=False, restarts=3, waiting="CrashLoopBackOff")
    leaving["metadata"]["deletionTimestamp"] = "2025-03-14T10:29:50Z"
    bundle = rollout_bundle([new_pod("x7k2p"), leaving], ready=1)

    verdict = verify_action(SET_MEMORY, bundle=bundle, applied_generation=8, deleted_pod_gone=False)

    assert verdict.state is not VerdictState.FAILED


@pytest.mark.parametrize(
    "bundle",
    [
        pytest.param(None, id="no-bundle"),
        pytest.param(
            IncidentBundle(
                target=TargetRef(kind="Deployment", namespace="shop", name="checkout"),
                objects=[bare_pod()],
            ),
            id="target-not-in-bundle",
        ),
    ],
)
def test_verification_fails_when_the_target_is_gone(bundle: IncidentBundle | None) -> None:
    verdict = verify_action(RESTART, bundle=bundle, applied_generation=8, deleted_pod_gone=False)

    assert verdict.state is VerdictState.FAILED
    assert verdict.message == "the target no longer exists"


@pytest.mark.parametrize(
    ("gone", "state"), [(True, VerdictState.PASSED), (False, VerdictState.PENDING)]
)
def test_verify_delete_pod_waits_for_the_pod_to_be_gone(gone: bool, state: VerdictState) -> None:
    # No bundle is needed: only whether the deleted pod (by uid) is gone matters.
    verdict = verify_action(DELETE_POD, bundle=None, applied_generation=None, deleted_pod_gone=gone)

    assert verdict.state is state


def node_bundle(live: dict[str, Any]) -> IncidentBundle:
    return IncidentBundle(target=TargetRef(kind="Node", name="worker-3"), objects=[live])


def hpa_bundle(live: dict[str, Any]) -> IncidentBundle:
    return IncidentBundle(
        target=TargetRef(kind="HorizontalPodAutoscaler", namespace="shop", name="checkout"),
        objects=[live],
    )


@pytest.mark.parametrize(
    ("action", "bundle", "state", "message"),
    [
        (
            CORDON,
            node_bundle(node(unschedulable=True)),
            VerdictState.PASSED,
            "Node worker-3 is cordoned",
        ),
        (CORDON, node_bundle(node()), VerdictState.PENDING, "waiting for spec.unschedulable=true"),
        (
            CORDON,
            node_bundle(node(unschedulable=False)),
            VerdictState.PENDING,
            "waiting for spec.unschedulable=true",
        ),
        (
            PATCH_HPA,
            hpa_bundle(hpa(max_replicas=20)),
            VerdictState.PASSED,
            "HorizontalPodAutoscaler shop/checkout spec.maxReplicas=20",
        ),
        (PATCH_HPA, hpa_bundle(hpa()), VerdictState.PENDING, "waiting for spec.maxReplicas=20"),
    ],
    ids=["cordoned", "not-cordoned", "explicitly-schedulable", "hpa-raised", "hpa-not-yet"],
)
def test_verify_node_and_hpa_changes(
    action: Action, bundle: IncidentBundle, state: VerdictState, message: str
) -> None:
    verdict = verify_action(action, bundle=bundle, applied_generation=None, deleted_pod_gone=False)

    assert verdict.state is state
    assert message in verdict.message
