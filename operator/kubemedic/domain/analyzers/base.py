"""What every analyzer shares: the Finding it returns, the Analyzer protocol, the action
constructors and the confidence helpers.

Confidence says how unambiguous the evidence is: each analyzer starts from a base that
reflects how specific its signal is (``OOMKilled`` is written by the kernel; "not ready" has
many causes) and adds ``PER_POD_CONFIDENCE`` for every further pod showing the same thing,
capped at ``MAX_CONFIDENCE`` (:func:`scaled_confidence`).

Action risks are fixed per action type, not per situation (``ACTION_RISKS`` in
domain/catalog.py, which says why).

Where no safe automatic fix exists (an application bug, a missing ConfigMap, a full quota)
an analyzer proposes Escalate (:func:`escalate`) with instructions precise enough to act on
without re-investigating ("create ConfigMap 'app-config' in namespace 'shop' ...").
"""

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Final, Protocol

from kubemedic.domain import quantity, view
from kubemedic.domain.catalog import ACTION_RISKS
from kubemedic.models.diagnosis import Action, ActionType, Category
from kubemedic.models.target import ObjectRef

# -- Tuning -----------------------------------------------------------------------------------

#: At most this many evidence lines per analyzer, and pods cited per kind of evidence.
MAX_EVIDENCE: Final = 12
MAX_CITED_PODS: Final = 5
#: At most this many DeletePod / SetResources actions in one finding.
MAX_POD_ACTIONS: Final = 3
#: Confidence added per further pod with the same signal, and the ceiling.
PER_POD_CONFIDENCE: Final = 0.03
MAX_CONFIDENCE: Final = 0.97

#: The largest memory limit or request kubemedic proposes on its own; above it a human sizes.
MEMORY_LIMIT_CEILING: Final = 16 * quantity.GIBIBYTE


@dataclasses.dataclass(frozen=True)
class Finding:
    """What one analyzer concluded.

    ``facts`` carry names the runbook needs for its kubectl commands (``pod``, ``container``,
    ``node``, ...); they never change the diagnosis itself.
    """

    category: Category
    summary: str
    confidence: float
    evidence: tuple[str, ...]
    actions: tuple[Action, ...]
    facts: Mapping[str, str] = dataclasses.field(default_factory=dict)


class Analyzer(Protocol):
    """One failure mode: its finding for the bundle, or ``None`` when the mode is absent.

    An analyzer never raises on odd data (every field is read through the tolerant accessors
    of :mod:`kubemedic.domain.view`) and does not know about the other analyzers;
    :mod:`kubemedic.domain.rule_engine` decides between their findings.
    """

    def __call__(self, index: view.BundleView, /) -> Finding | None: ...


# -- Small helpers ----------------------------------------------------------------------------


def make_action(
    action_type: ActionType, target: ObjectRef, *, params: Mapping[str, object] | None = None
) -> Action:
    """An action of the catalog with its fixed risk."""
    return Action(
        type=action_type,
        target=target,
        params=dict(params or {}),
        risk=ACTION_RISKS[action_type],
    )


def escalate(target: ObjectRef, *, reason: str, instructions: str) -> Action:
    """An Escalate action: nothing is applied, a human follows ``instructions``."""
    return make_action(
        ActionType.ESCALATE,
        target,
        params={"reason": view.truncate(reason, 1000), "instructions": instructions[:4000]},
    )


def object_ref(kind: str, name: str, *, namespace: str | None = None) -> ObjectRef:
    """An action target; ``namespace`` is ``None`` (or ``""``) for cluster-scoped kinds."""
    return ObjectRef(kind=kind, namespace=namespace or None, name=name)


def key_ref(key: view.ObjectKey) -> ObjectRef:
    """The action target for a ``(kind, namespace, name)`` key."""
    kind, namespace, name = key
    return object_ref(kind, name, namespace=namespace)


def target_ref(index: view.BundleView) -> ObjectRef:
    target = index.target
    return object_ref(target.kind.value, target.name, namespace=target.namespace)


def workload_object_ref(index: view.BundleView) -> ObjectRef | None:
    """The workload the target is or belongs to, as an action target."""
    key = index.workload_ref()
    return None if key is None else key_ref(key)


def owner_ref(index: view.BundleView) -> ObjectRef:
    """Who an Escalate is about: the workload the target belongs to, else the target itself."""
    return workload_object_ref(index) or target_ref(index)


def escalation(
    index: view.BundleView,
    category: Category,
    *,
    summary: str,
    confidence: float,
    evidence: Iterable[str],
    instructions: str,
    facts: Mapping[str, str],
    reason: str = "",
) -> Finding:
    """A finding whose one action is an Escalate about the owner: no safe automatic fix exists.

    ``reason`` defaults to the summary.
    """
    return Finding(
        category=category,
        summary=summary,
        confidence=confidence,
        evidence=clip(evidence),
        actions=(escalate(owner_ref(index), reason=reason or summary, instructions=instructions),),
        facts=facts,
    )


def describe_workload(key: view.ObjectKey | None, fallback: str) -> str:
    if key is None:
        return fallback
    kind, namespace, name = key
    return f"{kind} {namespace}/{name}"


def scaled_confidence(base: float, count: int, *, step: float = PER_POD_CONFIDENCE) -> float:
    """``base`` plus ``step`` for every further pod showing the same signal, capped."""
    return round(min(MAX_CONFIDENCE, base + step * max(count - 1, 0)), 3)


def clip(lines: Iterable[str], limit: int = MAX_EVIDENCE) -> tuple[str, ...]:
    unique: dict[str, None] = {}
    for line in lines:
        if line and line not in unique:
            unique[line] = None
        if len(unique) >= limit:
            break
    return tuple(unique)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def quoted_list(names: Iterable[str]) -> str:
    return ", ".join(f"'{name}'" for name in sorted(set(names)))


def as_bytes(raw: object) -> int | None:
    parsed = quantity.try_parse_quantity(raw)
    if parsed is None or parsed <= 0:
        return None
    return math.ceil(parsed)
