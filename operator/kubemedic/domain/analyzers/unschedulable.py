"""Unschedulable: pending pods the scheduler cannot place (capacity, taints, affinity, cordons).

Storage-related scheduling failures are left to the volume analyzer.
"""

import decimal

from kubemedic.domain import quantity, view
from kubemedic.domain.analyzers import base, signals, vocabulary
from kubemedic.models.diagnosis import Category


def scheduler_reasons(message: str) -> list[tuple[int, str]]:
    """``(node count, reason)`` pairs of a scheduler "0/N nodes are available: ..." message."""
    text = message[: vocabulary.MAX_SCAN]
    start = text.find("nodes are available:")
    if start < 0:
        return []
    body = text[start + len("nodes are available:") :]
    end = body.find("preemption:")
    body = body[:end] if end >= 0 else body
    reasons: list[tuple[int, str]] = []
    for raw in body.strip().rstrip(".").split(", "):
        part = raw.strip().rstrip(".")
        count_text, _, reason = part.partition(" ")
        if count_text.isdigit() and reason:
            reasons.append((int(count_text), reason.removeprefix("node(s) ")))
    return reasons


def _pod_requests(pod: object) -> str:
    totals: dict[str, decimal.Decimal] = {}
    for container in view.dicts(view.get(pod, "spec", "containers")):
        for resource, raw in view.get_dict(container, "resources", "requests").items():
            parsed = quantity.try_parse_quantity(raw)
            if parsed is not None and resource in {"cpu", "memory"}:
                totals[resource] = totals.get(resource, decimal.Decimal(0)) + parsed
    parts = []
    if "cpu" in totals:
        parts.append(f"cpu={quantity.format_quantity(totals['cpu'])}")
    if "memory" in totals:
        parts.append(f"memory={quantity.format_bytes(totals['memory'])}")
    return ", ".join(parts)


def analyze_unschedulable(index: view.BundleView) -> base.Finding | None:
    """Pending pods the scheduler cannot place (capacity, taints, affinity), storage excluded."""
    pending: list[tuple[object, str]] = []
    for pod in index.scope_pods():
        if view.pod_phase(pod) not in {"Pending", ""}:
            continue
        message = signals.unschedulable_message(index, pod)
        if message and not vocabulary.VOLUME_SCHEDULING_RE.search(message[: vocabulary.MAX_SCAN]):
            pending.append((pod, message))
    if not pending:
        return None
    first_pod, message = pending[0]
    namespace, pod_name = view.namespace_of(first_pod), view.name_of(first_pod)
    reasons = scheduler_reasons(message)
    evidence = [
        f"{view.cite(p)} status.conditions[PodScheduled]=False reason=Unschedulable: "
        f"{view.truncate(m)}"
        for p, m in pending[: base.MAX_CITED_PODS]
    ]
    for event in index.events_for(first_pod):
        if event.reason == "FailedScheduling":
            evidence.append(event.cite())
            break
    texts = [reason for _, reason in reasons] or [message]
    joined = " ".join(texts)
    advice: list[str] = []
    causes: list[str] = []
    requests = _pod_requests(first_pod)
    if "Insufficient" in joined:
        resources = sorted(
            {t.split("Insufficient ", 1)[1].strip() for t in texts if "Insufficient " in t}
        )
        causes.append(f"insufficient {', '.join(resources)}")
        advice.append(
            f"No node has enough free {', '.join(resources)} for the pod"
            + (f" (it requests {requests})" if requests else "")
            + ": add nodes or lower spec.template.spec.containers[*].resources.requests."
        )
    taints = [t for t in texts if "taint" in t]
    if taints:
        causes.append("untolerated taints")
        advice.append(
            "Nodes carry taints the pod does not tolerate "
            f"({'; '.join(view.truncate(t, 120) for t in taints[:3])}): "
            "add a matching toleration to the pod template, or remove the taint "
            "(`kubectl taint nodes <node> <key>-`) if it was set by mistake."
        )
    if any("affinity" in t or "selector" in t for t in texts):
        causes.append("node affinity/selector")
        selector = view.str_map(view.get(first_pod, "spec", "nodeSelector"))
        advice.append(
            "No node matches the pod's nodeSelector/affinity"
            + (
                f" ({', '.join(f'{k}={v}' for k, v in sorted(selector.items()))})"
                if selector
                else ""
            )
            + ": label a node accordingly or fix the selector."
        )
    if any("unschedulable" in t for t in texts):
        causes.append("cordoned nodes")
        advice.append(
            "Some nodes are cordoned: uncordon them if the maintenance is over (`kubectl "
            "uncordon <node>`)."
        )
    if not advice:
        causes.append("scheduler constraints")
        advice.append(f"The scheduler reports: {view.truncate(message, 300)}")
    workload_key = index.workload_ref()
    subject = base.describe_workload(workload_key, f"Pod {namespace}/{pod_name}")
    summary = (
        f"{base.plural(len(pending), 'pod')} of {subject} cannot be scheduled: {', '.join(causes)}."
    )
    return base.escalation(
        index,
        Category.UNSCHEDULABLE,
        summary=summary,
        confidence=base.scaled_confidence(0.88 if reasons else 0.8, len(pending)),
        evidence=evidence,
        instructions=" ".join(advice),
        facts={"pod": pod_name, "namespace": namespace},
    )
