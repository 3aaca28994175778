"""CPUThrottling: containers starved by their own CPU limit (CFS throttling), not sick.

Signal: the share of CFS periods throttled (``container_cpu_cfs_throttled_periods_total``
over ``container_cpu_cfs_periods_total``, the ``cpu_throttling`` query) above
``THROTTLED_RATIO`` for a container that has a CPU limit, or a firing ``CPUThrottlingHigh``
alert (kubernetes-mixin). Throttled containers answer slowly, miss probes and look broken;
restarting or deleting them removes capacity and fixes nothing.

The fix is a bigger CPU limit (SetResources ``cpuLimit``, :func:`propose_cpu_limit`) for a
container of the workload's pod template; a bare pod or an injected container is escalated.
Never DeletePod or RestartRollout (see domain/safety.py, which uses the same proposal).
"""

import decimal
from typing import Final

from kubemedic.domain import quantity, view
from kubemedic.domain.analyzers import base, signals, vocabulary
from kubemedic.models.diagnosis import Action, ActionType, Category

#: Share of CFS periods throttled above which a container is starved by its CPU limit.
THROTTLED_RATIO: Final = 0.25
#: A starved container's CPU limit grows by this factor (rounded up to 100m, at most 2x).
CPU_LIMIT_GROWTH: Final = decimal.Decimal("1.5")
THROTTLING_ALERT: Final = "CPUThrottlingHigh"


def propose_cpu_limit(limit: decimal.Decimal) -> str:
    """A starved container's new CPU limit: 1.5x, rounded up to 100m, at most 2x."""
    step = decimal.Decimal("0.1")
    grown = (limit * CPU_LIMIT_GROWTH / step).to_integral_value(rounding=decimal.ROUND_CEILING)
    return quantity.format_quantity(min(grown * step, limit * 2))


def cpu_limits(index: view.BundleView) -> dict[str, decimal.Decimal]:
    """CPU limits of the template's containers (of a pod's, for a bare pod), in cores."""
    spec = view.pod_template_spec(index.workload() or index.target_object() or {})
    if not spec:
        pods = index.scope_pods()
        spec = view.get_dict(pods[0], "spec") if pods else {}
    limits: dict[str, decimal.Decimal] = {}
    for container in view.pod_spec_containers(spec):
        parsed = quantity.try_parse_quantity(view.get(container, "resources", "limits", "cpu"))
        if parsed is not None and parsed > 0:
            limits[view.get_str(container, "name")] = parsed
    return limits


def throttled_containers(index: view.BundleView) -> dict[str, tuple[float, str]]:
    """Per throttled container, its peak throttled share and the evidence line."""
    found: dict[str, tuple[float, str]] = {}
    series = signals.series_of_pods(
        signals.metric_series(index, vocabulary.THROTTLED_METRIC), index.scope_pods()
    )
    for s in series:
        container = s.labels.get("container", "")
        peak = max((v for _, v in s.points if v <= 1), default=0.0)
        if container and peak > THROTTLED_RATIO and peak > found.get(container, (0.0, ""))[0]:
            pod = s.labels.get("pod", "?")
            found[container] = (
                peak,
                f"Metric {vocabulary.THROTTLED_METRIC} pod '{pod}' container '{container}': "
                f"{peak:.0%} of CFS periods throttled (last {s.last:.0%})",
            )
    return found


def analyze_cpu_throttling(index: view.BundleView) -> base.Finding | None:
    """Containers throttled at their CPU limit: raise the limit, do not restart."""
    throttled = throttled_containers(index)
    alerts = [
        alert
        for alert in index.bundle.alerts
        if alert.status == "firing" and alert.labels.get("alertname") == THROTTLING_ALERT
    ]
    for alert in alerts:
        container = alert.labels.get("container", "")
        if container and container not in throttled:
            throttled[container] = (
                THROTTLED_RATIO,
                f"Alert {THROTTLING_ALERT} (firing) "
                f"container '{container}': "
                f"{view.truncate(alert.annotations.get('description', '') or alert.annotations.get('summary', ''), 160)}",
            )
    if not throttled:
        return None
    limits = cpu_limits(index)
    workload = base.workload_object_ref(index)
    template = {
        view.get_str(c, "name")
        for c in view.dicts(view.get(view.pod_template_spec(index.workload() or {}), "containers"))
    }
    evidence = [line for _, line in throttled.values()]
    actions: list[Action] = []
    proposals: list[str] = []
    for container in sorted(throttled, key=lambda c: -throttled[c][0])[: base.MAX_POD_ACTIONS]:
        limit = limits.get(container)
        if limit is None:
            continue
        evidence.append(
            f"container '{container}' resources.limits.cpu={quantity.format_quantity(limit)}"
        )
        new_limit = propose_cpu_limit(limit)
        proposals.append(f"'{container}' {quantity.format_quantity(limit)} → {new_limit}")
        if workload is not None and container in template:
            actions.append(
                base.make_action(
                    ActionType.SET_RESOURCES,
                    workload,
                    params={"container": container, "cpuLimit": new_limit},
                )
            )
    if not actions:
        actions.append(
            base.escalate(
                base.owner_ref(index),
                reason=f"{index.target.display()} is CPU-throttled",
                instructions=(
                    "Raise resources.limits.cpu of the throttled container"
                    + (f" ({'; '.join(proposals)})" if proposals else "")
                    + " where it is defined (the pod template, or the injector's settings for "
                    "a sidecar), or remove the CPU limit; do not delete or restart the pods."
                ),
            )
        )
    subject = base.describe_workload(index.workload_ref(), index.target.display())
    summary = (
        f"Container {base.quoted_list(throttled)} of {subject} is CPU-throttled at its limit"
        + (f"; raise the CPU limit ({'; '.join(proposals)})." if proposals else ".")
    )
    peak = max(ratio for ratio, _ in throttled.values())
    return base.Finding(
        category=Category.CPU_THROTTLING,
        summary=summary,
        confidence=round(min(base.MAX_CONFIDENCE, 0.7 + (0.15 if peak >= 0.5 else 0.0)), 3),
        evidence=base.clip(evidence),
        actions=tuple(actions),
        facts={"container": next(iter(throttled))},
    )
