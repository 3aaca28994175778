"""The remediation audit trail in an Incident's status: one record per action, and a history.

``status.actions[]`` records, per proposed action ID, the policy decision, the approval,
the intent (written *before* anything is applied, with the idempotency key that is also
stamped on the target), the result, the verification and any revert. With
``status.history[]`` (every step with its time) it is the audit trail a reviewer reads.

Status models are lenient (see models/conditions.py): a newer operator may add fields.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, Field

from kubemedic.models.conditions import StatusModel
from kubemedic.models.diagnosis import ActionType

MAX_ACTION_RECORDS = 16
MAX_HISTORY = 64
MAX_MESSAGE = 1024


class ActionState(StrEnum):
    """Where one action is. Terminal: Verified, Reverted, Failed, Rejected, Denied, Expired,
    Refused, DryRun, Superseded."""

    AWAITING_APPROVAL = "AwaitingApproval"
    APPROVED = "Approved"
    APPLYING = "Applying"  # intent recorded; the change may or may not be on the target yet
    VERIFYING = "Verifying"  # applied; waiting for the target to be healthy
    VERIFIED = "Verified"
    REVERTING = "Reverting"
    REVERTED = "Reverted"
    FAILED = "Failed"
    REJECTED = "Rejected"
    DENIED = "Denied"
    EXPIRED = "Expired"
    REFUSED = "Refused"
    DRY_RUN = "DryRun"
    SUPERSEDED = "Superseded"


TERMINAL_STATES: frozenset[ActionState] = frozenset(
    {
        ActionState.VERIFIED,
        ActionState.REVERTED,
        ActionState.FAILED,
        ActionState.REJECTED,
        ActionState.DENIED,
        ActionState.EXPIRED,
        ActionState.REFUSED,
        ActionState.DRY_RUN,
        ActionState.SUPERSEDED,
    }
)


class DecisionOutcome(StrEnum):
    """What policy (or a person) decided for an action."""

    AUTO_APPROVED = "AutoApproved"
    MANUALLY_APPROVED = "ManuallyApproved"
    REQUIRES_APPROVAL = "RequiresApproval"
    REJECTED = "Rejected"
    DENIED = "Denied"
    DRY_RUN_ONLY = "DryRunOnly"


class PolicyDecisionRecord(StatusModel):
    """The decision and the rule that made it."""

    outcome: DecisionOutcome
    policy: str | None = Field(
        default=None, max_length=253, description="namespace/name of the policy"
    )
    rule: str = Field(max_length=MAX_MESSAGE, description="the rule that decided, in words")
    decided_by: str | None = Field(
        default=None, max_length=253, description="approver, for manual decisions"
    )
    time: AwareDatetime


class ActionRecord(StatusModel):
    """Everything that happened to one proposed action."""

    id: str = Field(max_length=63)
    type: ActionType
    state: ActionState
    decision: PolicyDecisionRecord | None = None
    idempotency_key: str | None = Field(default=None, max_length=64)
    target_fingerprint: str | None = Field(default=None, max_length=128)
    approval_observed_time: AwareDatetime | None = None
    intent_time: AwareDatetime | None = None
    applied_time: AwareDatetime | None = None
    applied_generation: int | None = None
    verify_deadline: AwareDatetime | None = None
    finished_time: AwareDatetime | None = None
    dry_run: str | None = Field(
        default=None, max_length=MAX_MESSAGE, description="server-side dry-run result"
    )
    result: str | None = Field(default=None, max_length=MAX_MESSAGE)
    revert_patch: list[dict[str, Any]] | None = Field(
        default=None, description="JSON patch that undoes the change, captured before applying"
    )


class HistoryEntry(StatusModel):
    """One step of the incident's life, for humans."""

    time: AwareDatetime
    step: str = Field(max_length=63, description="CamelCase step name, e.g. 'ActionApplied'")
    message: str = Field(max_length=MAX_MESSAGE)
    action_id: str | None = Field(default=None, alias="actionID", max_length=63)
