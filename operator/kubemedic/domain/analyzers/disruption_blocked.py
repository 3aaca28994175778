"""DisruptionBlocked: a PodDisruptionBudget that allows no disruption blocks a drain or eviction.

Signals: a PodDisruptionBudget with ``status.disruptionsAllowed=0`` whose selector matches
the scope's pods (for a Node target: pods bound to the node, which is cordoned, i.e. being
drained), and the eviction API's refusal ("Cannot evict pod as it would violate the pod's
disruption budget") in events. A budget with ``minAvailable`` equal to the replica count (or
``maxUnavailable: 0``) can never allow an eviction; a budget whose pods are unhealthy
allows none until they recover.

The finding escalates: lowering a budget or force-evicting is a human decision.
"""

from collections.abc import Sequence

from kubemedic.domain import view
from kubemedic.domain.analyzers import base, signals, vocabulary
from kubemedic.models.diagnosis import Category
from kubemedic.models.target import TargetKind


def _blocking_budgets(
    index: view.BundleView, pods: Sequence[object]
) -> list[tuple[object, list[object]]]:
    found: list[tuple[object, list[object]]] = []
    for pdb in index.objects_of_kind("PodDisruptionBudget"):
        if view.get_int(pdb, "status", "disruptionsAllowed") != 0:
            continue
        selector = view.str_map(view.get(pdb, "spec", "selector", "matchLabels"))
        matched = [
            pod
            for pod in pods
            if view.namespace_of(pod) == view.namespace_of(pdb)
            and view.selector_matches(selector, view.labels_of(pod))
        ]
        if matched:
            found.append((pdb, matched))
    return found


def analyze_disruption_blocked(index: view.BundleView) -> base.Finding | None:
    """A budget at ``disruptionsAllowed=0`` over pods that must move."""
    pods = [pod for pod in index.scope_pods() if not view.is_terminal_pod(pod)]
    refusals = signals.event_matches(index, vocabulary.PDB_BLOCK_RE, objects=pods)
    target = index.target_object()
    if target is not None:
        refusals += signals.event_matches(index, vocabulary.PDB_BLOCK_RE, objects=[target])
    draining = (
        index.target.kind is TargetKind.NODE and view.get(target, "spec", "unschedulable") is True
    )
    if not refusals and not draining:
        return None
    budgets = _blocking_budgets(index, pods)
    if not budgets:
        return None
    pdb, matched = budgets[0]
    spec = view.get_dict(pdb, "spec")
    bound = (
        f"minAvailable={spec['minAvailable']}"
        if "minAvailable" in spec
        else f"maxUnavailable={spec.get('maxUnavailable', '?')}"
    )
    status = view.get_dict(pdb, "status")
    evidence = [
        f"{view.cite(pdb)} spec.{bound} status.disruptionsAllowed=0 "
        f"currentHealthy={status.get('currentHealthy', '?')} "
        f"desiredHealthy={status.get('desiredHealthy', '?')} "
        f"expectedPods={status.get('expectedPods', '?')}",
        f"it covers {base.plural(len(matched), 'pod')} of the target, e.g. {view.cite(matched[0])}",
    ]
    if draining:
        evidence.insert(0, f"{view.cite(target)} spec.unschedulable=true (cordoned for a drain)")
    evidence.extend(event.cite() for event in refusals)
    never = status.get("currentHealthy") == status.get("desiredHealthy") or spec.get(
        "maxUnavailable"
    ) in (0, "0", "0%")
    cause = (
        "its bound can never allow an eviction"
        if never
        else "its pods are not healthy enough to lose one"
    )
    summary = (
        f"PodDisruptionBudget {view.namespace_of(pdb)}/{view.name_of(pdb)} allows no disruption "
        f"({bound}; {cause}), so the eviction of its pods"
        + (f" from Node {index.target.name}" if draining else "")
        + " is refused."
    )
    instructions = (
        "Either add a replica to the protected workload so one pod may leave, or relax the "
        f"budget (`kubectl edit pdb {view.name_of(pdb)} -n {view.namespace_of(pdb)}`: lower "
        "minAvailable or set maxUnavailable: 1) for the drain, then restore it; if its pods "
        "are unhealthy, fix them first. Do not force-delete the pods."
    )
    return base.Finding(
        category=Category.DISRUPTION_BLOCKED,
        summary=summary,
        confidence=0.88 if refusals else 0.72,
        evidence=base.clip(evidence),
        actions=(
            base.escalate(
                base.object_ref(
                    "PodDisruptionBudget", view.name_of(pdb), namespace=view.namespace_of(pdb)
                ),
                reason=summary,
                instructions=instructions,
            ),
        ),
        facts={"namespace": view.namespace_of(pdb), "pdb": view.name_of(pdb)},
    )
