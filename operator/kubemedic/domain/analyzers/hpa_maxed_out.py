"""HPAMaxedOut: an HorizontalPodAutoscaler pinned at ``maxReplicas`` that wants more."""

import math
from typing import Final

from kubemedic.domain import view
from kubemedic.domain.analyzers import base
from kubemedic.models.diagnosis import ActionType, Category
from kubemedic.models.target import TargetKind

#: HPA: without utilisation data, raise maxReplicas by this factor; never beyond 2x.
HPA_DEFAULT_GROWTH: Final = 1.5
HPA_MAX_GROWTH: Final = 2
HPA_REPLICAS_CEILING: Final = 1000


def _utilisation_ratio(hpa: object) -> tuple[float | None, list[str]]:
    """Highest current/target ratio over the HPA's resource metrics (autoscaling/v2)."""
    targets: dict[str, int] = {}
    for metric in view.dicts(view.get(hpa, "spec", "metrics")):
        name = view.get_str(metric, "resource", "name")
        target_value = view.get_int(metric, "resource", "target", "averageUtilization")
        if name and target_value:
            targets[name] = target_value
    ratio: float | None = None
    evidence: list[str] = []
    for metric in view.dicts(view.get(hpa, "status", "currentMetrics")):
        name = view.get_str(metric, "resource", "name")
        current = view.get_int(metric, "resource", "current", "averageUtilization")
        if name in targets and current is not None and targets[name] > 0:
            evidence.append(
                f"{view.cite(hpa)} {name} utilisation {current}% vs target {targets[name]}% "
                "(status.currentMetrics / spec.metrics)"
            )
            observed = current / targets[name]
            ratio = observed if ratio is None else max(ratio, observed)
    return ratio, evidence


def propose_max_replicas(
    *, max_replicas: int, current_replicas: int, ratio: float | None
) -> int | None:
    """New ``maxReplicas``: what the utilisation asks for, at least +1, at most 2x and 1000."""
    if max_replicas < 1:
        return None
    needed = (
        math.ceil(current_replicas * ratio)
        if ratio
        else math.ceil(max_replicas * HPA_DEFAULT_GROWTH)
    )
    proposed = min(
        max(needed, max_replicas + 1), max_replicas * HPA_MAX_GROWTH, HPA_REPLICAS_CEILING
    )
    return proposed if proposed > max_replicas else None


def analyze_hpa_maxed_out(index: view.BundleView) -> base.Finding | None:
    """An HPA pinned at ``maxReplicas`` that wants more (``ScalingLimited`` TooManyReplicas)."""
    target = index.target
    if target.kind is TargetKind.HORIZONTAL_POD_AUTOSCALER:
        hpa = index.target_object()
        hpas = [] if hpa is None else [hpa]
    else:
        key = index.workload_ref()
        hpas = [] if key is None else index.hpas_for(key)
    for hpa in hpas:
        max_replicas = view.get_int(hpa, "spec", "maxReplicas")
        current = view.get_int(hpa, "status", "currentReplicas")
        if max_replicas is None or current is None or current < max_replicas:
            continue
        limited = view.condition(hpa, "ScalingLimited")
        limited_true = view.get_str(limited, "status") == "True"
        limited_reason = view.get_str(limited, "reason")
        desired = view.get_int(hpa, "status", "desiredReplicas")
        evidence = [
            f"{view.cite(hpa)} status.currentReplicas={current} == spec.maxReplicas={max_replicas}"
            + (f" (status.desiredReplicas={desired})" if desired is not None else "")
        ]
        if limited is not None:
            evidence.append(
                f"{view.cite(hpa)} "
                f"status.conditions[ScalingLimited]={view.get_str(limited, 'status')} "
                f"reason={limited_reason}: {view.truncate(view.get_str(limited, 'message'), 200)}"
            )
        ratio, ratio_evidence = _utilisation_ratio(hpa)
        evidence.extend(ratio_evidence)
        strong = limited_true and limited_reason == "TooManyReplicas"
        namespace, name = view.namespace_of(hpa), view.name_of(hpa)
        hpa_ref = base.object_ref("HorizontalPodAutoscaler", name, namespace=namespace)
        proposed = propose_max_replicas(
            max_replicas=max_replicas, current_replicas=current, ratio=ratio
        )
        scale_target = (
            f"{view.get_str(hpa, 'spec', 'scaleTargetRef', 'kind')} {namespace}/"
            f"{view.get_str(hpa, 'spec', 'scaleTargetRef', 'name')}"
        )
        if proposed is None:
            actions = (
                base.escalate(
                    hpa_ref,
                    reason=f"HPA {namespace}/{name} is at its maximum of {max_replicas} replicas",
                    instructions=(
                        f"maxReplicas={max_replicas} cannot be raised further automatically. "
                        "Reduce the per-pod "
                        f"load of {scale_target} or review its capacity plan."
                    ),
                ),
            )
            summary = f"HPA {namespace}/{name} is maxed out at {max_replicas} replicas."
        else:
            min_replicas = view.get_int(hpa, "spec", "minReplicas")
            params: dict[str, object] = {"maxReplicas": proposed}
            if min_replicas is not None and 1 <= min_replicas <= proposed:
                params["minReplicas"] = min_replicas
            actions = (base.make_action(ActionType.PATCH_HPA, hpa_ref, params=params),)
            summary = (
                f"HPA {namespace}/{name} is pinned at maxReplicas={max_replicas} for "
                f"{scale_target} and wants more; "
                f"raise maxReplicas to {proposed}."
            )
            evidence.append(
                f"check that ResourceQuotas and node capacity in {namespace} allow {proposed} "
                "replicas"
            )
        return base.Finding(
            category=Category.HPA_MAXED_OUT,
            summary=summary,
            confidence=0.88 if strong else 0.45,
            evidence=base.clip(evidence),
            actions=actions,
            facts={"hpa": name, "namespace": namespace},
        )
    return None
