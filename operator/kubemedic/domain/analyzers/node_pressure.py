"""NodePressure: a node that is still Ready but reports Disk/Memory/PID pressure or no network.

The kubelet sets ``DiskPressure``/``MemoryPressure``/``PIDPressure`` to ``True`` when an
eviction threshold is met, taints the node (``node.kubernetes.io/disk-pressure:NoSchedule``)
and starts evicting pods (``EvictionThresholdMet``, ``ImageGCFailed``,
``FreeDiskSpaceFailed`` events); the CNI or the cloud route controller sets
``NetworkUnavailable``. A NotReady node is the NodeNotReady analyzer's; here the node runs,
but badly. For a workload target the finding covers its pods placed on such a node.

No action is automatic: the kubelet already taints the node against new pods, and cordoning
or draining a node under pressure moves the load onto its neighbours. The escalation names
the condition and what to clean or resize.
"""

from collections.abc import Sequence
from typing import Final

from kubemedic.domain import view
from kubemedic.domain.analyzers import base, vocabulary
from kubemedic.models.diagnosis import Category
from kubemedic.models.target import TargetKind

_ADVICE: Final = {
    "DiskPressure": (
        "free disk on the node: remove unused images (`crictl rmi --prune`), large container "
        "logs and emptyDir data; raise the root or image volume size; set ephemeral-storage "
        "limits on the pods that write most"
    ),
    "MemoryPressure": (
        "find the pods using most memory (`kubectl top pod -A --sort-by=memory`), set memory "
        "requests equal to real usage so the scheduler stops overpacking the node, or add nodes"
    ),
    "PIDPressure": (
        "find the process leaking threads or processes (`ps -eLf | wc -l` on the node), set "
        "the kubelet's podPidsLimit, and fix the leaking workload"
    ),
    "NetworkUnavailable": (
        "check the CNI daemonset's pod on this node (calico-node, cilium, aws-node) and the "
        "cloud route table; the node's pod network is not configured"
    ),
}


def pressure_lines(node: object) -> list[tuple[str, str]]:
    """``(condition, evidence)`` for each pressure condition ``True`` on a node."""
    found: list[tuple[str, str]] = []
    for cond_type in vocabulary.PRESSURE_CONDITIONS:
        cond = view.condition(node, cond_type)
        if view.get_str(cond, "status") == "True":
            found.append(
                (
                    cond_type,
                    f"{view.cite(node)} status.conditions[{cond_type}]=True reason="
                    f"{view.get_str(cond, 'reason') or '?'}: "
                    f"{view.truncate(view.get_str(cond, 'message'), 200)}",
                )
            )
    return found


def _node_evidence(index: view.BundleView, node: object) -> list[str]:
    evidence: list[str] = []
    taints = {
        view.get_str(t, "key"): view.get_str(t, "effect")
        for t in view.dicts(view.get(node, "spec", "taints"))
    }
    for cond_type, taint in vocabulary.PRESSURE_CONDITIONS.items():
        if taint in taints and view.condition_status(node, cond_type) == "True":
            evidence.append(f"{view.cite(node)} spec.taints: {taint}:{taints[taint]}")
    evidence.extend(
        event.cite()
        for event in index.events_for(node)
        if event.reason in vocabulary.PRESSURE_EVENT_REASONS
    )
    evicted = [
        pod
        for pod in index.pods()
        if view.get_str(pod, "spec", "nodeName") == view.name_of(node)
        and view.get_str(pod, "status", "reason") == "Evicted"
    ]
    if evicted:
        evidence.append(
            f"{base.plural(len(evicted), 'pod')} evicted from {view.cite(node)}, e.g. "
            f"{view.cite(evicted[0])}: {view.truncate(view.get_str(evicted[0], 'status', 'message'), 160)}"
        )
    return evidence


def _pressured_nodes(index: view.BundleView) -> Sequence[object]:
    target = index.target
    if target.kind is TargetKind.NODE:
        node = index.target_object()
        return [] if node is None else [node]
    names = {view.get_str(pod, "spec", "nodeName") for pod in index.scope_pods()}
    return [node for name in sorted(names) if (node := index.node(name)) is not None]


def analyze_node_pressure(index: view.BundleView) -> base.Finding | None:
    """A Ready node under Disk/Memory/PID pressure or without network."""
    for node in _pressured_nodes(index):
        if view.condition_status(node, "Ready") != "True":
            continue
        conditions = pressure_lines(node)
        if not conditions:
            continue
        names = [name for name, _ in conditions]
        evidence = [line for _, line in conditions] + _node_evidence(index, node)
        node_name = view.name_of(node)
        is_target = index.target.kind is TargetKind.NODE
        summary = (
            f"Node {node_name} is Ready but reports {' and '.join(names)}"
            + ("" if is_target else f"; pods of {index.target.display()} run on it")
            + f": {_ADVICE[names[0]].split(';')[0].split(':')[0]}."
        )
        instructions = " ".join(f"{name}: {_ADVICE[name]}." for name in names) + (
            " The kubelet already taints the node against new pods; do not drain it "
            "blindly, that moves the load onto the other nodes."
        )
        return base.Finding(
            category=Category.NODE_PRESSURE,
            summary=summary,
            # NB: for a workload the pressure is a hint (weak): its pods may fail otherwise.
            confidence=(0.9 if len(evidence) > len(conditions) else 0.85) if is_target else 0.5,
            evidence=base.clip(evidence),
            actions=(
                base.escalate(
                    base.object_ref("Node", node_name),
                    reason=f"node {node_name}: {', '.join(names)}",
                    instructions=instructions,
                ),
            ),
            facts={"node": node_name, "condition": names[0]},
        )
    return None
