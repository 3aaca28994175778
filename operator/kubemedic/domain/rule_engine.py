"""The rule engine: run the analyzers that apply to the target, pick one finding, explain it.

How the winning finding is chosen (``rank_findings``):

1. **Strong before weak.** A finding with confidence >= ``STRONG_CONFIDENCE`` always beats a
   weaker one, whatever its category: a weak finding is a hint (an HPA at its maximum without
   ``ScalingLimited``, a not-ready node while pods elsewhere fail too), not a diagnosis.
2. **Precedence among strong findings.** ``PRECEDENCE`` orders categories from cause to
   symptom; each failure mode's place, and the reason for it, is in
   :mod:`kubemedic.domain.analyzers.registry`.
3. **Confidence breaks remaining ties** (and orders the weak findings).

Which analyzers run depends on the target kind (``AnalyzerSpec.kinds`` in the registry): a
Node is judged by the node analyzer, a Service by the endpoints analyzer, a
PersistentVolumeClaim by the volume analyzer; workloads, pods and HPAs by all pod-level
analyzers.

The winner's evidence comes first; every other finding is appended as one "Also observed"
line. If another *strong* finding is not explained by the winner (``EXPLAINS``, from the
registry), the confidence is lowered by ``AMBIGUITY_FACTOR``: two independent strong stories
mean the engine is less sure which one the user is fighting. Nothing matched: category
Unknown with an Escalate action that says what to look at.

Last, the winner's actions pass :func:`kubemedic.domain.safety.apply` (do no harm): nothing for
a problem that has recovered, capacity instead of pod deletions for an overload, no template
patch for an injected sidecar.
"""

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Final

from kubemedic.domain import analyzers, runbook, safety, view
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.diagnosis import Category, Diagnosis

logger = logging.getLogger(__name__)

#: Findings at or above this confidence are "strong" and outrank every weaker finding.
STRONG_CONFIDENCE: Final = 0.6
#: Confidence multiplier when another strong finding is not explained by the winner.
AMBIGUITY_FACTOR: Final = 0.9
#: At most this many evidence lines in a Diagnosis.
MAX_DIAGNOSIS_EVIDENCE: Final = 20
#: Confidence of an Unknown diagnosis: the engine knows it does not know.
UNKNOWN_CONFIDENCE: Final = 0.1

#: Categories from cause to symptom, and the symptoms each accounts for (from the registry).
PRECEDENCE: Final = analyzers.PRECEDENCE
EXPLAINS: Final = analyzers.EXPLAINS
_RANK: Final[Mapping[Category, int]] = {category: rank for rank, category in enumerate(PRECEDENCE)}


def run_analyzers(index: view.BundleView) -> list[analyzers.Finding]:
    """Every finding of the analyzers that apply to the target's kind.

    NB: analyzers are written never to raise on odd data (and are fuzz-tested for it); the
    guard below keeps one unforeseen bug from hiding what the other analyzers found.
    """
    findings: list[analyzers.Finding] = []
    for spec in analyzers.specs_for(index.target.kind):
        try:
            finding = spec.fn(index)
        except Exception:
            logger.exception(
                "analyzer for %s failed on %s", spec.category.value, index.target.display()
            )
            continue
        if finding is not None:
            findings.append(finding)
    return findings


def rank_findings(findings: Sequence[analyzers.Finding]) -> list[analyzers.Finding]:
    """Best first: strong before weak, then by precedence, then by confidence."""
    return sorted(
        findings,
        key=lambda f: (
            f.confidence < STRONG_CONFIDENCE,
            _RANK.get(f.category, len(_RANK)),
            -f.confidence,
        ),
    )


def merge_findings(ranked: Sequence[analyzers.Finding]) -> analyzers.Finding:
    """The winner, with the others appended as evidence and its confidence adjusted."""
    winner, others = ranked[0], ranked[1:]
    explained = EXPLAINS.get(winner.category, frozenset())
    confidence = winner.confidence
    if any(
        other.confidence >= STRONG_CONFIDENCE
        and other.category is not winner.category
        and other.category not in explained
        for other in others
    ):
        confidence = round(confidence * AMBIGUITY_FACTOR, 3)
    evidence = list(winner.evidence)
    evidence.extend(
        f"Also observed ({other.category.value}, confidence {other.confidence:.2f}): "
        f"{other.summary}"
        for other in others
    )
    return dataclasses.replace(
        winner, confidence=confidence, evidence=tuple(_unique(evidence)[:MAX_DIAGNOSIS_EVIDENCE])
    )


def _unique(lines: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(line for line in lines if line))


def unknown_finding(index: view.BundleView) -> analyzers.Finding:
    """What the engine says when no analyzer matched: what it saw and what to check."""
    target = index.target
    obj = index.target_object()
    evidence: list[str] = []
    if obj is None:
        evidence.append(f"{target.display()} is not in the bundle's objects")
    else:
        status = view.get_dict(obj, "status")
        ready = view.get_int(status, "readyReplicas")
        replicas = view.get_int(obj, "spec", "replicas")
        if replicas is not None:
            evidence.append(
                f"{view.cite(obj)} spec.replicas={replicas} status.readyReplicas={ready or 0}"
            )
        for item in view.dicts(status.get("conditions")):
            evidence.append(
                f"{view.cite(obj)} "
                f"status.conditions[{view.get_str(item, 'type')}]={view.get_str(item, 'status')}"
                + (
                    f" reason={view.get_str(item, 'reason')}"
                    if view.get_str(item, "reason")
                    else ""
                )
            )
        evidence.extend(event.cite() for event in index.events_for(obj) if event.type == "Warning")
    pods = index.scope_pods()
    if pods:
        ready_pods = sum(1 for pod in pods if view.is_pod_ready(pod))
        evidence.append(f"{ready_pods}/{len(pods)} pods of {target.display()} are Ready")
    for alert in index.bundle.alerts[:3]:
        name = alert.labels.get("alertname", "alert")
        evidence.append(
            f"Alert {name} ({alert.status}): "
            f"{view.truncate(alert.annotations.get('summary', ''), 200)}"
        )
    namespace = f" -n {target.namespace}" if target.namespace else ""
    instructions = (
        f"No rule of the rule engine matched {target.display()}. Look at "
        f"`kubectl describe {target.kind.value.lower()} {target.name}{namespace}` and "
        f"`kubectl get events{namespace or ' -A'} --sort-by=.lastTimestamp`, check the alert's "
        "dashboard, "
        "and add the bundle to the scenario suite once the cause is known."
    )
    return analyzers.Finding(
        category=Category.UNKNOWN,
        summary=f"No known failure pattern matched {target.display()}; a human must investigate.",
        confidence=UNKNOWN_CONFIDENCE,
        evidence=tuple(_unique(evidence)[:MAX_DIAGNOSIS_EVIDENCE]),
        actions=(
            analyzers.escalate(
                analyzers.target_ref(index),
                reason=f"no rule matched {target.display()}",
                instructions=instructions,
            ),
        ),
    )


def diagnose_bundle(bundle: IncidentBundle) -> Diagnosis:
    """Diagnose one incident bundle with the rules: a pure function of the bundle."""
    index = view.BundleView(bundle)
    ranked = rank_findings(run_analyzers(index))
    finding = (
        safety.apply(index, merge_findings(ranked), ranked[1:])
        if ranked
        else unknown_finding(index)
    )
    actions = list(finding.actions)
    if not actions:
        actions.append(
            analyzers.escalate(
                analyzers.target_ref(index),
                reason=finding.summary,
                instructions="No automatic action applies; follow the runbook.",
            )
        )
        finding = dataclasses.replace(finding, actions=tuple(actions))
    return Diagnosis(
        category=finding.category,
        summary=view.truncate(finding.summary, 1024),
        confidence=finding.confidence,
        evidence=list(finding.evidence),
        actions=actions,
        runbook=runbook.build_runbook(finding, bundle.target),
        engine="rules",
    )
