"""OOMKilled: containers killed by the kernel for exceeding their memory limit.

The fix is a bigger memory limit (SetResources on the workload), sized from the peak
working set in the bundle's metrics when present (:func:`memory_peak`), else from the
current limit (:func:`propose_memory_limit`). A container without a limit, a limit already
at the ceiling, or a bare pod is escalated with the number to set.
"""

import decimal
import math
from collections import Counter
from collections.abc import Sequence
from typing import Final

from kubemedic.domain import quantity, view
from kubemedic.domain.analyzers import base, signals, vocabulary
from kubemedic.models.diagnosis import Action, ActionType, Category

#: OOM memory limit proposal: max(peak * PEAK_HEADROOM, limit * LIMIT_GROWTH), bounded.
MEMORY_PEAK_HEADROOM: Final = decimal.Decimal("1.3")
MEMORY_LIMIT_GROWTH: Final = decimal.Decimal("1.5")
MEMORY_MAX_GROWTH: Final = decimal.Decimal(2)


def propose_memory_limit(*, limit_bytes: int, peak_bytes: int | None) -> int | None:
    """The new memory limit for an OOMKilled container, in bytes; ``None`` if it cannot grow.

    ``max(peak * 1.3, limit * 1.5)`` (just ``limit * 1.5`` without a peak), rounded up to a
    whole MiB, then bounded by ``2 * limit`` and by 16Gi (rounded down to a whole MiB).
    """
    if limit_bytes <= 0:
        return None
    limit = decimal.Decimal(limit_bytes)
    candidate = limit * MEMORY_LIMIT_GROWTH
    if peak_bytes is not None and peak_bytes > 0:
        candidate = max(candidate, decimal.Decimal(peak_bytes) * MEMORY_PEAK_HEADROOM)
    bound = min(limit * MEMORY_MAX_GROWTH, decimal.Decimal(base.MEMORY_LIMIT_CEILING))
    proposed = quantity.round_up_to_mebibytes(candidate)
    if proposed > bound:
        proposed = quantity.round_down_to_mebibytes(bound)
    return proposed if proposed > limit_bytes else None


def memory_peak(
    index: view.BundleView, *, namespace: str, container: str, pods: set[str]
) -> int | None:
    """Peak working set of a container from the bundle's metrics, in bytes.

    Series are matched on their ``namespace``/``container``/``pod`` labels where present, so
    a query for the whole namespace does not lend another container's peak.
    """
    peak: float | None = None
    for result in index.metrics():
        if vocabulary.WORKING_SET_METRIC not in result.query:
            continue
        for labels, value in view.iter_metric_samples(result):
            if labels.get("container", container) != container:
                continue
            if labels.get("namespace", namespace) != namespace:
                continue
            if "pod" in labels and pods and labels["pod"] not in pods:
                continue
            peak = value if peak is None else max(peak, value)
    return None if peak is None or peak <= 0 else math.ceil(peak)


def _memory_limit_source(
    index: view.BundleView, container: str, *, pods: Sequence[object]
) -> tuple[int | None, str]:
    """The container's current memory limit and the evidence line naming its field."""
    workload = index.workload()
    if workload is not None:
        spec = view.find_container(view.pod_template_spec(workload), container)
        if spec is not None:
            raw = view.get(spec, "resources", "limits", "memory")
            field = (
                f"{view.cite(workload)} "
                f"spec.template.spec.containers[{container}].resources.limits.memory"
            )
            return base.as_bytes(raw), f"{field}={raw if raw is not None else '(not set)'}"
    for pod in pods:
        spec = view.find_container(view.get_dict(pod, "spec"), container)
        if spec is not None:
            raw = view.get(spec, "resources", "limits", "memory")
            field = f"{view.cite(pod)} spec.containers[{container}].resources.limits.memory"
            return base.as_bytes(raw), f"{field}={raw if raw is not None else '(not set)'}"
    return None, ""


def analyze_oom_killed(index: view.BundleView) -> base.Finding | None:
    """Containers killed by the kernel for exceeding their memory limit.

    Also a kill that did not restart the container (:func:`signals.oom_inside`): a worker process
    killed inside a running container is the same limit, hit by a child.
    """
    problems = signals.scope_problems(index, [signals.ProblemKind.OOM])
    inside = not problems
    if inside:
        problems = signals.oom_inside(index)
    if not problems:
        return None
    by_container = Counter(problem.container for problem in problems)
    workload_key = index.workload_ref()
    workload_ref = base.workload_object_ref(index)
    pods_by_name = {view.name_of(pod): pod for pod in index.scope_pods()}
    evidence = signals.cite_problems(problems)
    actions: list[Action] = []
    proposals: list[str] = []
    for container, _count in by_container.most_common(base.MAX_POD_ACTIONS):
        affected = [p for p in problems if p.container == container]
        pods = [pods_by_name[p.pod] for p in affected if p.pod in pods_by_name]
        limit, limit_line = _memory_limit_source(index, container, pods=pods)
        if limit_line:
            evidence.append(limit_line)
        namespace = affected[0].namespace
        peak = memory_peak(index, namespace=namespace, container=container, pods=set(pods_by_name))
        if peak is not None:
            evidence.append(
                f"Metric {vocabulary.WORKING_SET_METRIC} container '{container}': peak "
                f"{quantity.format_bytes(peak)}"
                + (f" of limit {quantity.format_bytes(limit)}" if limit else "")
            )
        where = base.describe_workload(workload_key, f"Pod {namespace}/{affected[0].pod}")
        if limit is None:
            actions.append(
                base.escalate(
                    workload_ref or base.target_ref(index),
                    reason=f"container '{container}' of {where} is OOMKilled without memory limit",
                    instructions=(
                        f"Container '{container}' has no resources.limits.memory, so the node's "
                        "OOM killer "
                        "chose it under memory pressure. Set resources.requests.memory and "
                        f"resources.limits.memory on {where} to at least its peak usage"
                        + (f" ({quantity.format_bytes(peak)})" if peak else "")
                        + " plus 30% headroom, then watch `kubectl top pod --containers`."
                    ),
                )
            )
            continue
        new_limit = propose_memory_limit(limit_bytes=limit, peak_bytes=peak)
        if new_limit is None:
            actions.append(
                base.escalate(
                    workload_ref or base.target_ref(index),
                    reason=(
                        f"container '{container}' of {where} is OOMKilled at a "
                        f"{quantity.format_bytes(limit)} limit"
                    ),
                    instructions=(
                        f"The memory limit of container '{container}' is already "
                        f"{quantity.format_bytes(limit)}, at or above the "
                        f"{quantity.format_bytes(base.MEMORY_LIMIT_CEILING)} "
                        "kubemedic raises automatically. Profile the application for a memory leak "
                        "or size the limit by hand."
                    ),
                )
            )
            continue
        formatted = quantity.format_quantity(new_limit, binary=True)
        proposals.append(f"'{container}' {quantity.format_bytes(limit)} → {formatted}")
        if workload_ref is None:
            actions.append(
                base.escalate(
                    base.target_ref(index),
                    reason=f"bare pod {where}: container '{container}' is OOMKilled",
                    instructions=(
                        f"Pod {namespace}/{affected[0].pod} has no controller, so its resources "
                        "cannot be "
                        "patched in place safely. Recreate it with "
                        f"resources.limits.memory={formatted} "
                        f"for container '{container}' (was {quantity.format_bytes(limit)}), or "
                        "move it "
                        "into a Deployment."
                    ),
                )
            )
            continue
        actions.append(
            base.make_action(
                ActionType.SET_RESOURCES,
                workload_ref,
                params={"container": container, "memoryLimit": formatted},
            )
        )
    pods_affected = signals.count_affected_pods(problems)
    containers = base.quoted_list(by_container)
    subject = base.describe_workload(workload_key, f"Pod {problems[0].namespace}/{problems[0].pod}")
    summary = (
        f"Processes in container {containers} of {subject} were OOM-killed without a restart "
        f"on {base.plural(pods_affected, 'pod')}"
        if inside
        else f"Container {containers} of {subject} was OOMKilled on "
        f"{base.plural(pods_affected, 'pod')}"
    )
    summary += f"; raise the memory limit ({'; '.join(proposals)})." if proposals else "."
    first = problems[0]
    return base.Finding(
        category=Category.OOM_KILLED,
        summary=summary,
        confidence=base.scaled_confidence(0.8 if inside else 0.88, pods_affected),
        evidence=base.clip(evidence),
        actions=tuple(actions),
        facts={"pod": first.pod, "container": first.container, "namespace": first.namespace},
    )
