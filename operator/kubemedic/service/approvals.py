"""Deciding on a proposed action: what ``kubemedic approve`` and ``kubemedic reject`` do.

A decision is a new IncidentApproval object, never an edit of the Incident:

1. read the Incident and pick the action (the one named, else the one awaiting approval);
2. ask the API server who the caller is (SelfSubjectReview, as ``kubectl auth whoami``):
   the approver is never taken from a flag or the environment, and admission refuses any
   other name anyway;
3. create the IncidentApproval; RBAC on ``incidentapprovals`` and the admission policy
   decide, and their refusal is reported in the API server's own words.

The operator then takes the decision on its own clock (see :mod:`kubemedic.domain.approvals`).
"""

from __future__ import annotations

from dataclasses import dataclass

from kubemedic.clients.approvals import ApprovalClient
from kubemedic.clients.kube import RawObject
from kubemedic.constants import API_GROUP, API_VERSION, INCIDENT_PLURAL
from kubemedic.models.approval import APPROVAL_KIND, Decision
from kubemedic.models.audit_trail import ActionState
from kubemedic.models.diagnosis import ActionType
from kubemedic.models.incident import IncidentStatus


class DecisionInputError(ValueError):
    """The Incident or action named cannot be decided on (bad input: exit code 2)."""


class IncidentMissingError(LookupError):
    """The Incident does not exist."""


@dataclass(frozen=True)
class Decided:
    """What was created."""

    name: str
    action_id: str
    approver: str


def pick_action(status: IncidentStatus, *, incident: str, action: str | None, verb: str) -> str:
    """The action ID to decide on: the one named, else the one awaiting approval, else the
    first proposed action that applies something."""
    if action:
        if status.proposed_action(action) is None:
            known = ", ".join(a.id for a in status.proposed_actions) or "none"
            raise DecisionInputError(
                f"--action '{action}' is not a proposed action of {incident}; proposed: {known}"
            )
        return action
    waiting = [r.id for r in status.actions if r.state is ActionState.AWAITING_APPROVAL]
    if waiting:
        return waiting[0]
    candidates = [a.id for a in status.proposed_actions if a.type is not ActionType.ESCALATE]
    if not candidates:
        raise DecisionInputError(f"Incident {incident} proposes no action that can be {verb}")
    return candidates[0]


def approval_body(
    *, incident: str, action_id: str, decision: Decision, approver: str, reason: str | None
) -> RawObject:
    """The IncidentApproval to create (the API server names it: ``generateName``)."""
    spec: RawObject = {
        "incident": incident,
        "actionID": action_id,
        "decision": decision.value,
        "approver": approver,
    }
    if reason:
        spec["reason"] = reason
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": APPROVAL_KIND,
        "metadata": {"generateName": f"{incident[:200]}-{decision.value.lower()}-"},
        "spec": spec,
    }


def decide(
    approvals: ApprovalClient,
    *,
    namespace: str,
    incident: str,
    action: str | None,
    decision: Decision,
    reason: str | None,
) -> Decided:
    """Create the decision as the calling user (see the module docstring)."""
    verb = "approved" if decision is Decision.APPROVE else "rejected"
    body = approvals.reader.get(
        f"/apis/{API_GROUP}/{API_VERSION}/namespaces/{namespace}/{INCIDENT_PLURAL}/{incident}"
    )
    if body is None:
        raise IncidentMissingError(f"Incident {namespace}/{incident} not found")
    status = IncidentStatus.model_validate(body.get("status") or {})
    action_id = pick_action(status, incident=incident, action=action, verb=verb)
    approver = approvals.whoami()
    created = approvals.create(
        namespace,
        approval_body(
            incident=incident,
            action_id=action_id,
            decision=decision,
            approver=approver,
            reason=reason,
        ),
    )
    name = str((created.get("metadata") or {}).get("name") or "")
    return Decided(name=name, action_id=action_id, approver=approver)
