"""HPAMisconfigured: an HPA that cannot scale at all (AbleToScale or ScalingActive False).

The HPA controller says why in its conditions:

- ``AbleToScale=False`` ``FailedGetScale``: the scale target does not exist (a typo in
  ``scaleTargetRef``, a deleted or renamed workload);
- ``ScalingActive=False`` ``FailedGetResourceMetric``: "missing request for cpu in container
  app of Pod ...": utilization targets need resource requests; or the metrics API returns
  nothing (metrics-server down, ``unable to fetch metrics``).

A target container without the request the HPA's Utilization metric divides by gets
SetResources adding it (sized from the container's CPU or memory usage in the bundle's
metrics when present, else ``DEFAULT_REQUESTS``), when the container is in the workload's
template. Everything else escalates with the exact field to fix.
"""

import decimal
import math
import re
from typing import Final

from kubemedic.domain import quantity, view
from kubemedic.domain.analyzers import base, signals
from kubemedic.models.diagnosis import Action, ActionType, Category
from kubemedic.models.target import TargetKind

#: Requests proposed when no usage is known: a modest default an operator can tune.
DEFAULT_REQUESTS: Final = {"cpu": "100m", "memory": "128Mi"}
_MISSING_REQUEST_RE: Final = re.compile(
    r"missing request for (cpu|memory)(?: in container ([a-z0-9-]{1,63}))?", re.IGNORECASE
)
_USAGE_METRICS: Final = {
    "cpu": "container_cpu_usage_seconds_total",
    "memory": "container_memory_working_set_bytes",
}


def _hpa(index: view.BundleView) -> object | None:
    if index.target.kind is TargetKind.HORIZONTAL_POD_AUTOSCALER:
        return index.target_object()
    key = index.workload_ref()
    hpas = [] if key is None else index.hpas_for(key)
    return hpas[0] if hpas else None


def _request(index: view.BundleView, resource: str, container: str) -> str:
    """A request near the container's mean usage in the bundle's metrics, else the default."""
    values = [
        value
        for s in signals.series_of_pods(
            signals.metric_series(index, _USAGE_METRICS[resource]), index.scope_pods()
        )
        if s.labels.get("container", container) == container
        for _, value in s.points
        if value > 0
    ]
    if not values:
        return DEFAULT_REQUESTS[resource]
    mean = sum(values) / len(values)
    if resource == "cpu":
        millis = max(10, math.ceil(mean * 1000 / 10) * 10)
        return f"{millis}m"
    return quantity.format_quantity(
        quantity.round_up_to_mebibytes(decimal.Decimal(mean)), binary=True
    )


def _missing_requests(index: view.BundleView, hpa: object, message: str) -> list[tuple[str, str]]:
    """``(resource, container)`` pairs the HPA's utilization metrics need and lack."""
    found = {
        (match.group(1).lower(), match.group(2) or "")
        for match in _MISSING_REQUEST_RE.finditer(message)
    }
    workload = index.workload()
    if workload is None:
        return sorted(found)
    resources = {
        view.get_str(m, "resource", "name")
        for m in view.dicts(view.get(hpa, "spec", "metrics"))
        if view.get_str(m, "type") == "Resource"
        and view.get_str(m, "resource", "target", "type") == "Utilization"
    }
    for container in view.dicts(view.get(view.pod_template_spec(workload), "containers")):
        for resource in resources & set(_USAGE_METRICS):
            if view.get(container, "resources", "requests", resource) is None:
                found.add((resource, view.get_str(container, "name")))
    return sorted((r, c) for r, c in found if c) or sorted(found)


def analyze_hpa_misconfigured(index: view.BundleView) -> base.Finding | None:
    """An HPA that cannot compute or apply a scale, and why."""
    hpa = _hpa(index)
    if hpa is None:
        return None
    able, active = view.condition(hpa, "AbleToScale"), view.condition(hpa, "ScalingActive")
    failed = [c for c in (able, active) if view.get_str(c, "status") == "False"]
    workload_ref = base.workload_object_ref(index)
    target_kind = view.get_str(hpa, "spec", "scaleTargetRef", "kind")
    target_name = view.get_str(hpa, "spec", "scaleTargetRef", "name")
    namespace = view.namespace_of(hpa)
    evidence = [
        f"{view.cite(hpa)} status.conditions[{view.get_str(c, 'type')}]=False reason="
        f"{view.get_str(c, 'reason') or '?'}: {view.truncate(view.get_str(c, 'message'))}"
        for c in failed
    ]
    messages = " ".join(view.get_str(c, "message") for c in failed)
    missing = _missing_requests(index, hpa, messages) if index.workload() is not None else []
    if not failed and not missing:
        return None
    actions: list[Action] = []
    template = {
        view.get_str(c, "name")
        for c in view.dicts(view.get(view.pod_template_spec(index.workload() or {}), "containers"))
    }
    for resource, container in missing[: base.MAX_POD_ACTIONS]:
        evidence.append(
            f"container '{container}' has no resources.requests.{resource}, which the HPA's "
            f"{resource} Utilization target divides by"
        )
        if workload_ref is not None and container in template:
            key = "cpuRequest" if resource == "cpu" else "memoryRequest"
            actions.append(
                base.make_action(
                    ActionType.SET_RESOURCES,
                    workload_ref,
                    params={"container": container, key: _request(index, resource, container)},
                )
            )
    reason = view.get_str(failed[0], "reason") if failed else "MissingRequests"
    if reason == "FailedGetScale" or (target_name and index.workload() is None and failed):
        cause = f"its scale target {target_kind} {namespace}/{target_name} cannot be read"
        fix = (
            f"Fix spec.scaleTargetRef of {view.cite(hpa)} (it names {target_kind} "
            f"'{target_name}'): create or rename the workload, or point the HPA at the right one."
        )
    elif missing:
        cause = "its target's containers lack the resource requests its utilization needs"
        fix = "Add resources.requests for the HPA's resources to every container of the target."
    else:
        cause = "it cannot read its metrics"
        fix = (
            "Check the metrics pipeline: `kubectl get apiservice v1beta1.metrics.k8s.io`, the "
            "metrics-server pods and `kubectl top pod -n " + namespace + "`; for custom or "
            "external metrics, the adapter and the metric's name."
        )
    if not actions:
        actions.append(
            base.escalate(
                base.object_ref("HorizontalPodAutoscaler", view.name_of(hpa), namespace=namespace),
                reason=f"{view.cite(hpa)} cannot scale: {cause}",
                instructions=fix,
            )
        )
    return base.Finding(
        category=Category.HPA_MISCONFIGURED,
        summary=f"{view.cite(hpa)} cannot scale: {cause}. {fix}",
        confidence=0.86 if failed else 0.62,
        evidence=base.clip(evidence),
        actions=tuple(actions),
        facts={"namespace": namespace, "hpa": view.name_of(hpa)},
    )
