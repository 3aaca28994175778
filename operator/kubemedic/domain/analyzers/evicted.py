"""Evicted: pods the kubelet evicted under node pressure."""

import decimal
from collections import Counter
from typing import Final

from kubemedic.domain import quantity, view
from kubemedic.domain.analyzers import base, vocabulary
from kubemedic.models.diagnosis import Action, ActionType, Category

#: Evicted pods: a memory request of the observed usage plus this headroom.
MEMORY_REQUEST_HEADROOM: Final = decimal.Decimal("1.2")


def analyze_evicted(index: view.BundleView) -> base.Finding | None:
    """Pods the kubelet evicted under node pressure (``status.phase=Failed, reason=Evicted``).

    For memory evictions where the kubelet names a container's usage, the container's
    memory request is raised to that usage plus 20% (never above its limit), so the
    scheduler stops packing it onto nodes that cannot hold it. The evicted pod objects are
    cleaned up with DeletePod (their controller already replaced them).
    """
    evicted = [
        pod
        for pod in index.scope_pods()
        if view.pod_phase(pod) == "Failed" and view.get_str(pod, "status", "reason") == "Evicted"
    ]
    if not evicted:
        return None
    evidence: list[str] = []
    usage: dict[str, decimal.Decimal] = {}
    resources: Counter[str] = Counter()
    for pod in evicted:
        message = view.get_str(pod, "status", "message")
        if len(evidence) < base.MAX_CITED_PODS:
            evidence.append(
                f"{view.cite(pod)} status.phase=Failed reason=Evicted on node "
                f"'{view.get_str(pod, 'spec', 'nodeName') or '?'}': {view.truncate(message)}"
            )
        resource = vocabulary.EVICTION_RESOURCE_RE.search(message[: vocabulary.MAX_SCAN])
        if resource:
            resources[resource[1]] += 1
        elif "DiskPressure" in message or "ephemeral" in message.lower():
            resources["ephemeral-storage"] += 1
        for match in vocabulary.EVICTION_USAGE_RE.finditer(message[: vocabulary.MAX_SCAN]):
            if match[4] == "memory":
                used = quantity.try_parse_quantity(match[2])
                if used is not None and used > usage.get(match[1], decimal.Decimal(0)):
                    usage[match[1]] = used
    resource_name = resources.most_common(1)[0][0] if resources else "unknown"
    workload_key = index.workload_ref()
    workload_ref = base.workload_object_ref(index)
    first = evicted[0]
    namespace = view.namespace_of(first)
    subject = base.describe_workload(workload_key, f"Pod {namespace}/{view.name_of(first)}")
    actions: list[Action] = []
    spec_source = index.workload() or first
    for container, used in sorted(usage.items())[: base.MAX_POD_ACTIONS]:
        spec = view.find_container(view.pod_template_spec(spec_source), container)
        request = base.as_bytes(view.get(spec, "resources", "requests", "memory"))
        limit = base.as_bytes(view.get(spec, "resources", "limits", "memory"))
        proposed = quantity.round_up_to_mebibytes(
            min(used * MEMORY_REQUEST_HEADROOM, decimal.Decimal(base.MEMORY_LIMIT_CEILING))
        )
        if limit is not None:
            proposed = min(proposed, limit)
        if workload_ref is None or (request is not None and proposed <= request):
            continue
        evidence.append(
            f"container '{container}' used {quantity.format_bytes(used)} of memory against a "
            "request of "
            f"{quantity.format_bytes(request) if request else '(none)'}"
        )
        actions.append(
            base.make_action(
                ActionType.SET_RESOURCES,
                workload_ref,
                params={
                    "container": container,
                    "memoryRequest": quantity.format_quantity(proposed, binary=True),
                },
            )
        )
    if not actions:
        actions.append(
            base.escalate(
                workload_ref or base.target_ref(index),
                reason=(
                    f"{base.plural(len(evicted), 'pod')} of {subject} evicted for {resource_name} "
                    "pressure"
                ),
                instructions=(
                    f"The kubelet evicted pods of {subject} because its node ran low on "
                    f"{resource_name}. "
                    + (
                        "Set resources.requests/limits.ephemeral-storage, move caches to a sized "
                        "emptyDir, "
                        "and check the node's disk (`kubectl describe node`)."
                        if resource_name != "memory"
                        else (
                            "Set memory requests close to real usage so the scheduler does not "
                            "overpack nodes."
                        )
                    )
                ),
            )
        )
    actions.extend(
        base.make_action(
            ActionType.DELETE_POD,
            base.object_ref("Pod", view.name_of(p), namespace=view.namespace_of(p)),
            params={"pod": view.name_of(p)},
        )
        for p in evicted[: base.MAX_POD_ACTIONS]
        if workload_ref is not None
    )
    live = [p for p in index.scope_pods() if not view.is_terminal_pod(p)]
    summary = (
        f"{base.plural(len(evicted), 'pod')} of {subject} were evicted for {resource_name} pressure"
        + (f"; {len(live)} replacement pod(s) exist." if live else ".")
    )
    return base.Finding(
        category=Category.EVICTED,
        summary=summary,
        confidence=base.scaled_confidence(0.8 if usage or resources else 0.65, len(evicted)),
        evidence=base.clip(evidence),
        actions=tuple(actions),
        facts={
            "pod": view.name_of(first),
            "namespace": namespace,
            "node": view.get_str(first, "spec", "nodeName"),
        },
    )
