"""Parameter bounds: every action's parameters checked against the live object, whoever
proposed them (the rule engine, the model, or a person who approved a proposal).

Validation of an action's params (models/diagnosis.py) only knows the catalog's absolute
limits (replicas 0..1000); a model or a poisoned input can still propose ScaleWorkload to 0,
PatchHPA with min=max=1000 or SetResources with 1Ti of memory and 1m of CPU, all "valid".
These checks run just before the server-side dry-run, on the object as it is now:

- **ScaleWorkload**: never below 1, unless the rule engine alone made the diagnosis
  (``rules_only``) *and* the deciding policy sets ``allowScaleToZero``; never above
  ``max(2x current, current + 5)``, and never above the ``maxReplicas`` of an HPA that
  scales the workload (the HPA would undo it anyway).
- **PatchHPA**: ``maxReplicas`` may only grow, to at most ``max(2x current, current + 1)``;
  ``minReplicas`` at most ``max(2x current min, current min + 1)`` and never above the new
  ``maxReplicas``.
- **SetResources**: each value within a factor of the container's current value (memory
  limits: up to the policy's ``maxMemoryIncreaseFactor``, never down; everything else: from
  half to twice), requests never above the limit, and inside every LimitRange of the
  namespace (``type: Container`` ``min``/``max``). A value with nothing to compare it to is
  held to absolute caps (:data:`ABSOLUTE_CAPS`).

Pure: the caller passes the live object, the HPAs and LimitRanges of its namespace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from kubemedic.domain import view
from kubemedic.domain.quantity import format_quantity, parse_quantity, try_parse_quantity
from kubemedic.models.diagnosis import Action, ActionType

#: ScaleWorkload may at most double a workload (plus a little for tiny ones).
MAX_SCALE_FACTOR: Final = 2
MAX_SCALE_STEP: Final = 5
#: PatchHPA may at most double an HPA's bounds (plus one for tiny ones).
MAX_HPA_FACTOR: Final = 2
#: SetResources may move a value (other than a memory limit) within this factor.
MAX_RESOURCE_FACTOR: Final = Decimal(2)
#: Bounds for a resource value when the container has none and no LimitRange says more.
ABSOLUTE_CAPS: Final[Mapping[str, tuple[Decimal, Decimal]]] = {
    "memory": (parse_quantity("16Mi"), parse_quantity("64Gi")),
    "cpu": (parse_quantity("10m"), parse_quantity("64")),
}
_RESOURCE_PARAMS: Final = (
    ("memoryLimit", "limits", "memory"),
    ("memoryRequest", "requests", "memory"),
    ("cpuLimit", "limits", "cpu"),
    ("cpuRequest", "requests", "cpu"),
)


@dataclass(frozen=True)
class BoundsContext:
    """What the bounds depend on besides the action and the live object."""

    hpas: Sequence[Mapping[str, Any]] = ()
    limit_ranges: Sequence[Mapping[str, Any]] = ()
    max_memory_factor: float = 2.0
    allow_scale_to_zero: bool = False
    #: The diagnosis came from the rule engine alone (no model took part).
    rules_only: bool = False


def check_bounds(action: Action, *, live: Mapping[str, Any], context: BoundsContext) -> str | None:
    """Why ``action`` is out of bounds for ``live``, or None when it is within them."""
    if action.type is ActionType.SCALE_WORKLOAD:
        return _scale(action, live, context)
    if action.type is ActionType.PATCH_HPA:
        return _patch_hpa(action, live)
    if action.type is ActionType.SET_RESOURCES:
        return _set_resources(action, live, context)
    return None


def _scale(action: Action, live: Mapping[str, Any], context: BoundsContext) -> str | None:
    wanted = int(action.params["replicas"])
    current = view.get_int(live, "spec", "replicas")
    current = 1 if current is None else current
    if wanted < 1:
        if not context.allow_scale_to_zero:
            return (
                f"replicas {wanted} would stop every pod of {view.cite(live)}; kubemedic never "
                "scales below 1 unless a policy sets `allowScaleToZero`"
            )
        if not context.rules_only:
            return (
                f"replicas {wanted} was not proposed by the rule engine alone; even with "
                "`allowScaleToZero` only the rule engine may scale a workload to 0"
            )
    ceiling = max(current * MAX_SCALE_FACTOR, current + MAX_SCALE_STEP)
    reason = f"the bound for a workload of {current} replicas"
    for hpa in _hpas_scaling(live, context.hpas):
        hpa_max = view.get_int(hpa, "spec", "maxReplicas")
        if hpa_max is not None and hpa_max < ceiling:
            ceiling, reason = hpa_max, f"`maxReplicas` of {view.cite(hpa)}"
    if wanted > ceiling:
        return f"replicas {wanted} is more than {ceiling}, {reason}"
    return None


def _hpas_scaling(
    live: Mapping[str, Any], hpas: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    kind, name = view.kind_of(live), view.name_of(live)
    return [
        h
        for h in hpas
        if view.get_str(h, "spec", "scaleTargetRef", "kind") == kind
        and view.get_str(h, "spec", "scaleTargetRef", "name") == name
    ]


def _patch_hpa(action: Action, live: Mapping[str, Any]) -> str | None:
    wanted_max = int(action.params["maxReplicas"])
    current_max = view.get_int(live, "spec", "maxReplicas") or 1
    ceiling = max(current_max * MAX_HPA_FACTOR, current_max + 1)
    if wanted_max < current_max:
        return f"maxReplicas {wanted_max} is lower than the current {current_max}: not a raise"
    if wanted_max > ceiling:
        return (
            f"maxReplicas {wanted_max} is more than {ceiling} "
            f"({MAX_HPA_FACTOR}x the current {current_max})"
        )
    wanted_min = action.params.get("minReplicas")
    if wanted_min is not None:
        current_min = view.get_int(live, "spec", "minReplicas") or 1
        min_ceiling = max(current_min * MAX_HPA_FACTOR, current_min + 1)
        if int(wanted_min) > min_ceiling:
            return (
                f"minReplicas {wanted_min} is more than {min_ceiling} "
                f"({MAX_HPA_FACTOR}x the current {current_min})"
            )
        if int(wanted_min) > wanted_max:
            return f"minReplicas {wanted_min} is more than maxReplicas {wanted_max}"
    return None


def _set_resources(action: Action, live: Mapping[str, Any], context: BoundsContext) -> str | None:
    container_name = str(action.params["container"])
    container = next(
        (
            c
            for c in view.pod_spec_containers(view.pod_template_spec(live))
            if c.get("name") == container_name
        ),
        None,
    )
    if container is None:
        return f"{view.cite(live)} has no container '{container_name}'"
    resources = view.get_dict(container, "resources")
    wanted: dict[tuple[str, str], Decimal] = {}
    for param, section, resource in _RESOURCE_PARAMS:
        value = action.params.get(param)
        if value is not None:
            wanted[(section, resource)] = parse_quantity(str(value))
    for param, section, resource in _RESOURCE_PARAMS:
        new = wanted.get((section, resource))
        if new is None:
            continue
        text = str(action.params[param])
        current = try_parse_quantity(view.get(resources, section, resource))
        problem = _within_current(
            param, text, new, current, resource=resource, section=section, context=context
        )
        problem = problem or _within_limit_ranges(param, text, new, resource, context)
        if problem is None and current is None and not _limit_range_bounds(context, resource):
            low, high = ABSOLUTE_CAPS[resource]
            if not low <= new <= high:
                problem = (
                    f"{param} {text} is outside {_fmt(low, resource)}..{_fmt(high, resource)}, "
                    f"the bounds for a container without a current {resource} {section[:-1]}"
                )
        if problem is None and section == "requests":
            limit = wanted.get(("limits", resource)) or try_parse_quantity(
                view.get(resources, "limits", resource)
            )
            if limit is not None and new > limit:
                problem = (
                    f"{param} {text} is more than the {resource} limit {_fmt(limit, resource)}"
                )
        if problem is not None:
            return f"container '{container_name}': {problem}"
    return None


def _within_current(
    param: str,
    text: str,
    new: Decimal,
    current: Decimal | None,
    *,
    resource: str,
    section: str,
    context: BoundsContext,
) -> str | None:
    if current is None:
        return None
    shown = _fmt(current, resource)
    if (section, resource) == ("limits", "memory"):
        factor = Decimal(str(context.max_memory_factor))
        if new > current * factor:
            return (
                f"{param} {text} is more than {context.max_memory_factor:g}x the current "
                f"{shown} (the policy's `maxMemoryIncreaseFactor`)"
            )
        if new < current:
            return f"{param} {text} is lower than the current {shown}: not an increase"
        return None
    if new > current * MAX_RESOURCE_FACTOR or new < current / MAX_RESOURCE_FACTOR:
        return (
            f"{param} {text} is not within {MAX_RESOURCE_FACTOR}x of the current {shown} "
            f"({_fmt(current / MAX_RESOURCE_FACTOR, resource)}.."
            f"{_fmt(current * MAX_RESOURCE_FACTOR, resource)})"
        )
    return None


def _limit_range_bounds(
    context: BoundsContext, resource: str
) -> list[tuple[str, Decimal | None, Decimal | None]]:
    bounds = []
    for limit_range in context.limit_ranges:
        for item in view.get(limit_range, "spec", "limits") or []:
            if not isinstance(item, dict) or item.get("type") != "Container":
                continue
            low = try_parse_quantity(view.get(item, "min", resource))
            high = try_parse_quantity(view.get(item, "max", resource))
            if low is not None or high is not None:
                bounds.append((view.cite(limit_range), low, high))
    return bounds


def _within_limit_ranges(
    param: str, text: str, new: Decimal, resource: str, context: BoundsContext
) -> str | None:
    # NB: a LimitRange's min/max bound requests and limits alike.
    for where, low, high in _limit_range_bounds(context, resource):
        if low is not None and new < low:
            return f"{param} {text} is below the min {_fmt(low, resource)} of {where}"
        if high is not None and new > high:
            return f"{param} {text} is above the max {_fmt(high, resource)} of {where}"
    return None


def _fmt(value: Decimal, resource: str) -> str:
    return format_quantity(value, binary=resource == "memory")
