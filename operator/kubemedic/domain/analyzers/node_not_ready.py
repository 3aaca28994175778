"""NodeNotReady: a node whose kubelet stopped reporting or reports NotReady."""

from kubemedic.domain import view
from kubemedic.domain.analyzers import base, signals
from kubemedic.models.diagnosis import Action, ActionType, Category
from kubemedic.models.target import ObjectRef, TargetKind


def node_not_ready_line(node: object) -> str | None:
    """Evidence line if a node's Ready condition is False or Unknown, else ``None``."""
    ready = view.condition(node, "Ready")
    status = view.get_str(ready, "status")
    if ready is None or status == "True":
        return None
    line = (
        f"{view.cite(node)} status.conditions[Ready].status={status or '?'} "
        f"reason={view.get_str(ready, 'reason') or '?'}: "
        f"{view.truncate(view.get_str(ready, 'message'), 200)}"
    )
    heartbeat = view.get_str(ready, "lastHeartbeatTime")
    return line + (f" (lastHeartbeatTime={heartbeat})" if heartbeat else "")


def _node_actions(node: object, *, reason: str, target: ObjectRef | None = None) -> list[Action]:
    name = view.name_of(node)
    actions: list[Action] = []
    if view.get(node, "spec", "unschedulable") is not True:
        actions.append(
            base.make_action(
                ActionType.CORDON_NODE, base.object_ref("Node", name), params={"node": name}
            )
        )
    actions.append(
        base.escalate(
            target or base.object_ref("Node", name),
            reason=reason,
            instructions=(
                f"Node '{name}' is not Ready. Check it with `kubectl describe node {name}`; on "
                "the node, "
                "`systemctl status kubelet containerd` and `journalctl -u kubelet --since '1 "
                "hour ago'`. "
                "If the machine is gone, delete the Node object so its pods are rescheduled; "
                "pods of "
                "StatefulSets on it need `kubectl delete pod --force` once you are sure it is down."
            ),
        )
    )
    return actions


def analyze_node_not_ready(index: view.BundleView) -> base.Finding | None:
    """A node whose kubelet stopped reporting or reports NotReady.

    For a Node target the node itself is judged. For a workload the nodes its pods run on
    are; the finding is strong only when every unhealthy pod of the workload sits on a
    not-ready node (otherwise something else is wrong too, and the confidence stays below
    the "strong" threshold so a more specific finding wins).
    """
    target = index.target
    if target.kind is TargetKind.NODE:
        node = index.target_object()
        line = node_not_ready_line(node) if node is not None else None
        if node is None or line is None:
            return None
        evidence = [line]
        taints = [
            f"{view.get_str(t, 'key')}:{view.get_str(t, 'effect')}"
            for t in view.dicts(view.get(node, "spec", "taints"))
        ]
        if taints:
            evidence.append(f"{view.cite(node)} spec.taints: {', '.join(taints)}")
        if view.get(node, "spec", "unschedulable") is True:
            evidence.append(f"{view.cite(node)} spec.unschedulable=true (already cordoned)")
        pods = index.scope_pods()
        if pods:
            evidence.append(
                f"{base.plural(len(pods), 'pod')} in the bundle are bound to node '{target.name}'"
            )
        evidence.extend(e.cite() for e in index.events_for(node)[:3])
        status = view.condition_status(node, "Ready")
        return base.Finding(
            category=Category.NODE_NOT_READY,
            summary=(
                f"Node {target.name} is not Ready (Ready={status}); keep new pods off it and "
                "repair it."
            ),
            confidence=0.93 if status == "Unknown" else 0.9,
            evidence=base.clip(evidence),
            actions=tuple(_node_actions(node, reason=f"node {target.name} is not Ready")),
            facts={"node": target.name},
        )
    scope = [pod for pod in index.scope_pods() if not view.is_terminal_pod(pod)]
    bad_nodes: dict[str, tuple[object, str]] = {}
    for pod in scope:
        node_name = view.get_str(pod, "spec", "nodeName")
        node = index.node(node_name)
        if node is not None and node_name not in bad_nodes:
            line = node_not_ready_line(node)
            if line is not None:
                bad_nodes[node_name] = (node, line)
    if not bad_nodes:
        return None
    on_bad = [p for p in scope if view.get_str(p, "spec", "nodeName") in bad_nodes]
    unhealthy_elsewhere = [
        p
        for p in scope
        if view.get_str(p, "spec", "nodeName") not in bad_nodes
        and not signals.is_healthy_pod(index, p)
    ]
    node_name, (bad_node, _) = next(iter(bad_nodes.items()))
    evidence = [line for _, line in bad_nodes.values()]
    evidence.extend(
        f"{view.cite(p)} runs on not-ready node '{view.get_str(p, 'spec', 'nodeName')}' "
        f"(Ready={view.condition_status(p, 'Ready') or '?'})"
        for p in on_bad[: base.MAX_CITED_PODS]
    )
    workload_key = index.workload_ref()
    subject = base.describe_workload(workload_key, index.target.display())
    confidence = 0.4 if unhealthy_elsewhere else base.scaled_confidence(0.88, len(on_bad))
    return base.Finding(
        category=Category.NODE_NOT_READY,
        summary=(
            f"{base.plural(len(on_bad), 'pod')} of {subject} run on not-ready node(s) "
            f"{base.quoted_list(bad_nodes)}; cordon and repair the node."
        ),
        confidence=confidence,
        evidence=base.clip(evidence),
        actions=tuple(
            _node_actions(bad_node, reason=f"node {node_name} hosting {subject} is not Ready")
        ),
        facts={"node": node_name, "pod": view.name_of(on_bad[0]) if on_bad else ""},
    )
