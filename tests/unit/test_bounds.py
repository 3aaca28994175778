"""We test these aspects: parameter bounds against the live object (kubemedic.domain.bounds).

- ScaleWorkload: never below 1 unless the policy allows 0 *and* the rule engine alone
  diagnosed; never above max(2x, +5) of the current replicas, nor above an HPA's maxReplicas
  (only an HPA scaling this workload counts);
- PatchHPA: maxReplicas only up, at most 2x (or +1); minReplicas at most 2x (or +1) of the
  current min and never above the new max (the "min=max=1000" attack);
- SetResources: memory limits up to the policy factor and never down; other values within
  2x either way (the "1m CPU" and "1Ti request" attacks); requests never above limits;
  LimitRange min/max; absolute caps when there is nothing to compare with;
- other action types are not bounded here; every refusal names the value and the bound;
- verification fails when a workload is left with 0 replicas ("0/0 ready" is not healthy),
  unless the action was a ScaleWorkload to 0 that the bounds let through.
"""

from typing import Any

import pytest

from kubemedic.domain.bounds import BoundsContext, check_bounds
from kubemedic.domain.patches import VerdictState, verify_action
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.diagnosis import Action, ActionType, Risk
from kubemedic.models.target import TargetKind, TargetRef


def deployment(
    replicas: int | None = 3, resources: dict[str, Any] | None = None, name: str = "web"
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "template": {"spec": {"containers": [{"name": "app", "resources": resources or {}}]}}
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "team-a"},
        "spec": spec,
    }


def hpa(max_replicas: int, min_replicas: int | None = 1, target: str = "web") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "maxReplicas": max_replicas,
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
    }
    if min_replicas is not None:
        spec["minReplicas"] = min_replicas
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": f"{target}-hpa", "namespace": "team-a"},
        "spec": spec,
    }


def limit_range(**limits: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "limits", "namespace": "team-a"},
        "spec": {"limits": [{"type": "Container", **limits}]},
    }


def action(type_: ActionType, kind: str, params: dict[str, Any]) -> Action:
    return Action.model_validate(
        {
            "type": type_,
            "target": {"kind": kind, "namespace": "team-a", "name": "web"},
            "params": params,
            "risk": Risk.MEDIUM,
        }
    )


def scale(replicas: int) -> Action:
    return action(ActionType.SCALE_WORKLOAD, "Deployment", {"replicas": replicas})


@pytest.mark.parametrize(
    ("current", "wanted", "context", "refused_with"),
    [
        (3, 4, BoundsContext(), None),
        (3, 1, BoundsContext(), None),
        (3, 0, BoundsContext(), "never scales below 1"),
        (3, 0, BoundsContext(allow_scale_to_zero=True), "rule engine alone"),
        (3, 0, BoundsContext(rules_only=True), "never scales below 1"),
        (3, 0, BoundsContext(allow_scale_to_zero=True, rules_only=True), None),
        (3, 8, BoundsContext(), None),  # 3 + 5
        (3, 9, BoundsContext(), "more than 8, the bound for a workload of 3 replicas"),
        (10, 20, BoundsContext(), None),  # 2x
        (10, 21, BoundsContext(), "more than 20"),
        (None, 6, BoundsContext(), None),  # no spec.replicas means 1
        (None, 7, BoundsContext(), "more than 6"),
        (3, 1000, BoundsContext(), "more than 8"),
        (3, 5, BoundsContext(hpas=[hpa(4)]), "more than 4, `maxReplicas` of"),
        (3, 4, BoundsContext(hpas=[hpa(4)]), None),
        (3, 8, BoundsContext(hpas=[hpa(4, target="other")]), None),
    ],
)
def test_scale_workload_bounds(
    current: int | None, wanted: int, context: BoundsContext, refused_with: str | None
) -> None:
    reason = check_bounds(scale(wanted), live=deployment(current), context=context)
    if refused_with is None:
        assert reason is None
    else:
        assert reason is not None and refused_with in reason
        assert f"replicas {wanted}" in reason


def patch_hpa(max_replicas: int, min_replicas: int | None = None) -> Action:
    params: dict[str, Any] = {"maxReplicas": max_replicas}
    if min_replicas is not None:
        params["minReplicas"] = min_replicas
    return action(ActionType.PATCH_HPA, "HorizontalPodAutoscaler", params)


@pytest.mark.parametrize(
    ("live", "wanted_max", "wanted_min", "refused_with"),
    [
        (hpa(10), 20, None, None),
        (hpa(10), 21, None, "maxReplicas 21 is more than 20"),
        (hpa(10), 9, None, "lower than the current 10"),
        (hpa(1), 2, None, None),
        (hpa(1), 3, None, "more than 2"),
        (hpa(10, 2), 12, 4, None),
        (hpa(10, 2), 12, 5, "minReplicas 5 is more than 4"),
        (hpa(10, 1), 1000, 1000, "maxReplicas 1000 is more than 20"),
        (hpa(10, 8), 12, 16, "minReplicas 16 is more than maxReplicas 12"),
        (hpa(10, None), 12, 2, None),  # no minReplicas means 1
    ],
)
def test_patch_hpa_bounds(
    live: dict[str, Any], wanted_max: int, wanted_min: int | None, refused_with: str | None
) -> None:
    reason = check_bounds(patch_hpa(wanted_max, wanted_min), live=live, context=BoundsContext())
    assert (reason is None) if refused_with is None else (refused_with in str(reason))


def set_resources(**params: str) -> Action:
    return action(ActionType.SET_RESOURCES, "Deployment", {"container": "app", **params})


CURRENT = {
    "limits": {"memory": "512Mi", "cpu": "500m"},
    "requests": {"memory": "256Mi", "cpu": "250m"},
}


@pytest.mark.parametrize(
    ("resources", "params", "context", "refused_with"),
    [
        (CURRENT, {"memoryLimit": "1Gi"}, BoundsContext(), None),
        (CURRENT, {"memoryLimit": "1025Mi"}, BoundsContext(), "more than 2x the current 512Mi"),
        (CURRENT, {"memoryLimit": "1536Mi"}, BoundsContext(max_memory_factor=3.0), None),
        (CURRENT, {"memoryLimit": "256Mi"}, BoundsContext(), "not an increase"),
        (CURRENT, {"cpuLimit": "1m"}, BoundsContext(), "not within 2x of the current 500m"),
        (CURRENT, {"cpuLimit": "1"}, BoundsContext(), None),
        (CURRENT, {"cpuLimit": "1001m"}, BoundsContext(), "not within 2x"),
        (CURRENT, {"memoryRequest": "1Ti"}, BoundsContext(), "not within 2x of the current 256Mi"),
        (CURRENT, {"memoryRequest": "128Mi"}, BoundsContext(), None),
        (CURRENT, {"cpuRequest": "100m"}, BoundsContext(), "not within 2x"),
        # a request above the limit (current or proposed) is refused
        (
            CURRENT,
            {"cpuRequest": "500m", "cpuLimit": "400m"},
            BoundsContext(),
            "more than the cpu limit",
        ),
        ({}, {"memoryLimit": "1Ti"}, BoundsContext(), "outside 16Mi..64Gi"),
        ({}, {"cpuRequest": "1m"}, BoundsContext(), "outside 10m..64"),
        ({}, {"memoryLimit": "2Gi"}, BoundsContext(), None),
        (
            {},
            {"memoryLimit": "2Gi"},
            BoundsContext(limit_ranges=[limit_range(max={"memory": "1Gi"})]),
            "above the max 1Gi of LimitRange team-a/limits",
        ),
        (
            CURRENT,
            {"cpuRequest": "200m"},
            BoundsContext(limit_ranges=[limit_range(min={"cpu": "300m"})]),
            "below the min 300m",
        ),
        # a LimitRange replaces the absolute caps for a value with no current one
        (
            {},
            {"memoryLimit": "100Gi"},
            BoundsContext(limit_ranges=[limit_range(max={"memory": "128Gi"})]),
            None,
        ),
    ],
)
def test_set_resources_bounds(
    resources: dict[str, Any],
    params: dict[str, str],
    context: BoundsContext,
    refused_with: str | None,
) -> None:
    reason = check_bounds(set_resources(**params), live=deployment(3, resources), context=context)
    if refused_with is None:
        assert reason is None
    else:
        assert reason is not None and refused_with in reason
        assert reason.startswith("container 'app': ")


def test_set_resources_for_a_missing_container_is_refused() -> None:
    wrong = action(
        ActionType.SET_RESOURCES, "Deployment", {"container": "sidecar", "memoryLimit": "1Gi"}
    )
    reason = check_bounds(wrong, live=deployment(), context=BoundsContext())
    assert reason is not None and reason.endswith("has no container 'sidecar'")


@pytest.mark.parametrize(
    ("type_", "kind", "params"),
    [
        (ActionType.RESTART_ROLLOUT, "Deployment", {}),
        (ActionType.DELETE_POD, "Pod", {"pod": "web-1"}),
        (ActionType.CORDON_NODE, "Node", {"node": "n1"}),
    ],
)
def test_other_actions_are_not_bounded_here(
    type_: ActionType, kind: str, params: dict[str, Any]
) -> None:
    assert (
        check_bounds(action(type_, kind, params), live=deployment(), context=BoundsContext())
        is None
    )


# --- verification: no replicas is never healthy ------------------------------------------


def zero_bundle() -> IncidentBundle:
    live = deployment(0)
    live["metadata"]["generation"] = 2
    live["status"] = {"observedGeneration": 2, "replicas": 0, "readyReplicas": 0}
    return IncidentBundle(
        target=TargetRef(kind=TargetKind.DEPLOYMENT, namespace="team-a", name="web"),
        objects=[live],
    )


@pytest.mark.parametrize(
    "applied",
    [
        scale(2),
        action(ActionType.RESTART_ROLLOUT, "Deployment", {}),
        set_resources(memoryLimit="1Gi"),
    ],
)
def test_verification_fails_when_no_replica_is_left(applied: Action) -> None:
    verdict = verify_action(
        applied, bundle=zero_bundle(), applied_generation=2, deleted_pod_gone=False
    )
    assert verdict.state is VerdictState.FAILED
    assert verdict.message == "Deployment team-a/web: no replicas are available (0 desired)"


def test_a_scale_to_zero_that_passed_the_bounds_verifies() -> None:
    verdict = verify_action(
        scale(0), bundle=zero_bundle(), applied_generation=2, deleted_pod_gone=False
    )
    assert verdict.state is VerdictState.PASSED
