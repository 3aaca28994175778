"""Which IncidentApprovals count, on the operator's own clock, and who may approve what.

Rules (pure; the service reads the objects and writes the outcomes):

- **Time is the operator's.** An approval counts from when the operator first saw it
  (``status.seenAt``, written by the operator), never from a time a client wrote. A recorded
  ``seenAt`` in the future, or before the object was created (``metadata.creationTimestamp``,
  set by the API server), is not believed: the approval counts from now.
- **Spent once used or refused.** An approval with ``status.spentAt`` never counts again, so
  an action proposed again after a refusal needs a new decision.
- **Made after the proposal.** Action IDs are predictable; an approval created before the
  diagnosis that proposed the action (``status.diagnosedTime``) is ignored, so nobody can
  approve in advance what they have not seen.
- **Separation of duties.** With a policy's ``requireDistinctApprover``, the approver must
  differ from the Incident's ``spec.reportedBy`` (which admission binds to the creating
  user), and an Incident without ``reportedBy`` cannot be approved.
- **Scope.** A namespaced action target must be in the Incident's own namespace; a Node
  only from an Incident in the operator's namespace; a Node Incident proposes only
  CordonNode and Escalate (:func:`scope_problem`, :func:`proposable`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from kubemedic.models.approval import IncidentApprovalSpec, IncidentApprovalStatus
from kubemedic.models.diagnosis import Action, ActionType
from kubemedic.models.target import TargetKind, TargetRef

#: Times in status and metadata have whole seconds.
CLOCK_SLACK: Final = timedelta(seconds=1)
#: What an Incident about a Node may propose (anything else would reach into namespaces).
NODE_INCIDENT_ACTIONS: Final = frozenset({ActionType.CORDON_NODE, ActionType.ESCALATE})


@dataclass(frozen=True)
class ApprovalObject:
    """An IncidentApproval as the operator reads it."""

    name: str
    uid: str
    created: datetime | None
    spec: IncidentApprovalSpec
    status: IncidentApprovalStatus

    @property
    def spent(self) -> bool:
        return self.status.spent_at is not None

    @property
    def sort_key(self) -> tuple[str, str]:
        return (self.created.isoformat() if self.created else "", self.name)


def parse(obj: Mapping[str, Any]) -> ApprovalObject:
    """An ApprovalObject from a raw object (``ValueError`` if its spec is invalid)."""
    metadata = obj.get("metadata") or {}
    stamp = metadata.get("creationTimestamp")
    created = datetime.fromisoformat(str(stamp)) if stamp else None
    return ApprovalObject(
        name=str(metadata.get("name") or ""),
        uid=str(metadata.get("uid") or ""),
        created=created,
        spec=IncidentApprovalSpec.model_validate(obj.get("spec") or {}),
        status=IncidentApprovalStatus.model_validate(obj.get("status") or {}),
    )


def unspent(approvals: Iterable[ApprovalObject], incident: str) -> list[ApprovalObject]:
    """The Incident's approvals that may still count, oldest first."""
    return sorted(
        (a for a in approvals if a.spec.incident == incident and not a.spent),
        key=lambda a: a.sort_key,
    )


def counts_from(approval: ApprovalObject, *, now: datetime) -> datetime:
    """When the approval's TTL started: the operator's first sight of it."""
    seen = approval.status.seen_at
    if seen is None or seen > now + CLOCK_SLACK:
        return now
    if approval.created is not None and seen < approval.created - CLOCK_SLACK:
        return now
    return seen


def expired(approval: ApprovalObject, *, now: datetime, ttl: timedelta) -> bool:
    """Whether the approval's TTL, counted on the operator's clock, has run out."""
    return now - counts_from(approval, now=now) > ttl


def predates_proposal(approval: ApprovalObject, diagnosed_time: datetime | None) -> bool:
    """Made before the diagnosis that proposed the action: approved unseen."""
    if diagnosed_time is None or approval.created is None:
        return False
    return approval.created < diagnosed_time - CLOCK_SLACK


def separation_problem(*, approver: str, reporter: str | None, required: bool) -> str | None:
    """Why this approver may not approve this Incident under separation of duties, or None."""
    if not required:
        return None
    if reporter is None:
        return (
            "the policy sets `requireDistinctApprover` but the Incident has no "
            "`spec.reportedBy`, so nobody can show they did not report it; re-create it "
            "with `reportedBy` set"
        )
    if approver == reporter:
        return (
            f"'{approver}' reported this Incident and the policy sets "
            "`requireDistinctApprover`: someone else must approve"
        )
    return None


def scope_problem(
    action: Action, *, incident_namespace: str, incident_target: TargetRef, operator_namespace: str
) -> str | None:
    """Why ``action`` reaches outside the Incident's scope, or None."""
    if incident_target.kind is TargetKind.NODE and action.type not in NODE_INCIDENT_ACTIONS:
        return (
            f"an Incident about a Node may only propose CordonNode and Escalate, "
            f"not {action.type.value}"
        )
    namespace = action.target.namespace
    if namespace is None:
        if action.type is ActionType.ESCALATE or incident_namespace == operator_namespace:
            return None
        return (
            f"{action.target.kind}/{action.target.name} is cluster-scoped: only Incidents in "
            f"the operator's namespace '{operator_namespace}' may act on it, not one in "
            f"'{incident_namespace}'"
        )
    if namespace != incident_namespace:
        return (
            f"{action.target.kind}/{namespace}/{action.target.name} is outside the "
            f"Incident's namespace '{incident_namespace}'"
        )
    return None


def proposable(target: TargetRef, actions: Sequence[Action]) -> list[Action]:
    """The actions an Incident about ``target`` may list (see the CRD's root rule)."""
    if target.kind is TargetKind.NODE:
        return [a for a in actions if a.type in NODE_INCIDENT_ACTIONS]
    return list(actions)
