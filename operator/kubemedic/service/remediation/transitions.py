"""Every remediation transition and what it announces, in one table.

A transition is told in up to six places: the action record's new ``state``, the Incident's
``phase``, its conditions, a ``status.history`` entry, a Kubernetes Event (on the Incident,
and on the target when the target changed) and ``kubemedic_actions_total{type,outcome}``.
Notifications follow from the phase (domain/notification_rules.py maps phases to notification events),
so the ``phase`` column decides them. :func:`announce` is the only place that applies a row,
and each step calls it once per transition, so no transition is counted or announced twice
(a revert used to be: once as "Failed"/"Reverted" by the generic finish and once by itself).
The Event and the metric wait for the status write (see context.py).

Messages are templates: ``{message}`` is the step's sentence (also the history entry),
``{detail}`` a second text the caller passes (a condition that says it differently),
``{incident}`` the Incident's ``namespace/name``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from kubemedic import metrics
from kubemedic.clients.kube import RawObject
from kubemedic.models.audit_trail import MAX_MESSAGE, TERMINAL_STATES, ActionRecord, ActionState
from kubemedic.models.conditions import ConditionReason, ConditionStatus, ConditionType
from kubemedic.models.incident import Phase
from kubemedic.service.remediation.context import Context

_F: Final = ConditionStatus.FALSE
_T: Final = ConditionStatus.TRUE


@dataclass(frozen=True)
class Cond:
    """A condition a transition sets; ``message`` is a template (see the module docstring)."""

    type: ConditionType
    status: ConditionStatus
    reason: ConditionReason
    message: str = "{message}"


def _escalated(why: str) -> Cond:
    """The Resolved condition of an Incident handed to a person."""
    return Cond(ConditionType.RESOLVED, _F, ConditionReason.ESCALATED, why)


_STILL_FAILING: Final = Cond(ConditionType.RESOLVED, _F, ConditionReason.STILL_FAILING, "{detail}")
_ACTION_FAILED: Final = Cond(ConditionType.REMEDIATED, _F, ConditionReason.ACTION_FAILED)


@dataclass(frozen=True)
class Transition:
    """One row: what a transition changes and how it is told."""

    #: The history step (CamelCase); also the Event's reason unless ``event_reason`` is set.
    step: str
    #: The action record's new state (None: no record changes).
    state: ActionState | None = None
    #: The Incident's new phase (None: unchanged); a phase change may send a notification.
    phase: Phase | None = None
    conditions: tuple[Cond, ...] = ()
    #: ``Normal`` or ``Warning``; None: no Event.
    event: str | None = None
    event_reason: str | None = None
    event_message: str = "{message}"
    #: Post the Event on the target too (it was changed).
    on_target: bool = False
    #: ``outcome`` label of ``kubemedic_actions_total`` (None: not counted).
    outcome: str | None = None
    #: Whether the step is written to ``status.history``.
    history: bool = True


class Move(Enum):
    """The transitions of the remediation state machine (rows of :data:`TABLE`)."""

    ESCALATED = "Escalated"
    AUTO_APPROVED = "AutoApproved"
    AWAITING_APPROVAL = "AwaitingApproval"
    DRY_RUN = "DryRun"
    POLICY_DENIED = "PolicyDenied"
    UNKNOWN_APPROVAL = "UnknownApproval"
    STALE_APPROVAL = "StaleApproval"
    APPROVAL_REFUSED = "ApprovalRefused"
    REJECTED = "Rejected"
    APPROVAL_EXPIRED = "ApprovalExpired"
    APPROVAL_TIMED_OUT = "ApprovalTimedOut"
    TARGET_CHANGED = "TargetChanged"
    APPROVED = "Approved"
    RATE_LIMITED = "RateLimited"
    INTENT_RECORDED = "IntentRecorded"
    APPLIED = "ActionApplied"
    VERIFIED = "Verified"
    VERIFICATION_FAILED = "VerificationFailed"
    FAILED = "Failed"
    FAILED_UNVERIFIED = "FailedUnverified"
    REVERTED = "Reverted"
    REVERT_FAILED = "RevertFailed"
    AWAITING_ALERT_RESOLUTION = "AwaitingAlertResolution"
    RESOLVED = "Resolved"


TABLE: Final[dict[Move, Transition]] = {
    # -- deciding (decide.py) --------------------------------------------------------------
    Move.ESCALATED: Transition(
        "Escalated",
        phase=Phase.ESCALATED,
        conditions=(
            Cond(ConditionType.APPROVED, _F, ConditionReason.NOTHING_TO_APPROVE),
            _escalated("escalated to a person"),
        ),
        event="Warning",
        outcome="escalated",
    ),
    Move.AUTO_APPROVED: Transition(
        "AutoApproved",
        state=ActionState.APPROVED,
        phase=Phase.REMEDIATING,
        conditions=(Cond(ConditionType.APPROVED, _T, ConditionReason.AUTO_APPROVED),),
        event="Normal",
    ),
    Move.AWAITING_APPROVAL: Transition(
        "AwaitingApproval",
        state=ActionState.AWAITING_APPROVAL,
        phase=Phase.AWAITING_APPROVAL,
        conditions=(Cond(ConditionType.APPROVED, _F, ConditionReason.AWAITING_APPROVAL),),
        event="Normal",
    ),
    Move.DRY_RUN: Transition(
        "DryRun",
        state=ActionState.DRY_RUN,
        phase=Phase.ESCALATED,
        conditions=(
            Cond(ConditionType.REMEDIATED, _F, ConditionReason.DRY_RUN),
            _escalated("dry-run only: a person must apply the fix"),
        ),
        event="Normal",
        outcome="dry_run",
    ),
    Move.POLICY_DENIED: Transition(
        "PolicyDenied",
        state=ActionState.DENIED,
        phase=Phase.ESCALATED,
        conditions=(
            Cond(ConditionType.APPROVED, _F, ConditionReason.POLICY_DENIED),
            _escalated("the proposed action is not allowed; a person must act"),
        ),
        event="Warning",
        outcome="denied",
    ),
    # -- approvals (approvals.py) ----------------------------------------------------------
    Move.UNKNOWN_APPROVAL: Transition(
        "UnknownApproval", event="Warning", event_reason="UnknownAction", event_message="{detail}"
    ),
    Move.STALE_APPROVAL: Transition("StaleApproval"),
    Move.APPROVAL_REFUSED: Transition("ApprovalRefused", event="Warning"),
    Move.REJECTED: Transition(
        "Rejected",
        state=ActionState.REJECTED,
        phase=Phase.ESCALATED,
        conditions=(
            Cond(ConditionType.APPROVED, _F, ConditionReason.REJECTED),
            _escalated("the proposed action was rejected; a person must act"),
        ),
        event="Normal",
        outcome="rejected",
    ),
    Move.APPROVAL_EXPIRED: Transition(
        "Expired",
        state=ActionState.EXPIRED,
        phase=Phase.ESCALATED,
        conditions=(Cond(ConditionType.APPROVED, _F, ConditionReason.APPROVAL_EXPIRED),),
        event="Warning",
        outcome="expired",
    ),
    Move.APPROVAL_TIMED_OUT: Transition(
        "ApprovalTimedOut",
        state=ActionState.EXPIRED,
        phase=Phase.ESCALATED,
        conditions=(
            Cond(ConditionType.APPROVED, _F, ConditionReason.APPROVAL_TIMED_OUT),
            _escalated("nobody approved the proposed action in time; a person must act"),
        ),
        event="Warning",
        outcome="expired",
    ),
    Move.TARGET_CHANGED: Transition(
        "Refused",
        state=ActionState.REFUSED,
        phase=Phase.DIAGNOSING,
        conditions=(
            Cond(ConditionType.APPROVED, _F, ConditionReason.TARGET_CHANGED),
            Cond(
                ConditionType.DIAGNOSED,
                _F,
                ConditionReason.TARGET_CHANGED,
                "the target changed since the diagnosis; diagnosing again",
            ),
        ),
        event="Warning",
        event_reason="TargetChanged",
        outcome="refused",
    ),
    Move.APPROVED: Transition(
        "Approved",
        state=ActionState.APPROVED,
        phase=Phase.REMEDIATING,
        conditions=(Cond(ConditionType.APPROVED, _T, ConditionReason.MANUALLY_APPROVED),),
        event="Normal",
    ),
    # -- applying (apply.py) ---------------------------------------------------------------
    Move.RATE_LIMITED: Transition(
        "RateLimited",
        conditions=(Cond(ConditionType.REMEDIATED, _F, ConditionReason.RATE_LIMITED),),
        event="Normal",
    ),
    Move.INTENT_RECORDED: Transition(
        "IntentRecorded",
        state=ActionState.APPLYING,
        conditions=(Cond(ConditionType.REMEDIATED, _F, ConditionReason.IN_PROGRESS, "{detail}"),),
    ),
    Move.APPLIED: Transition(
        "ActionApplied",
        state=ActionState.VERIFYING,
        event="Normal",
        event_message="{message} by kubemedic for Incident {incident}",
        on_target=True,
        outcome="applied",
    ),
    Move.FAILED: Transition(
        "Failed",
        state=ActionState.FAILED,
        phase=Phase.FAILED,
        conditions=(_ACTION_FAILED,),
        event="Warning",
        outcome="failed",
    ),
    # -- verifying, reverting, finishing (finish.py) ----------------------------------------
    Move.VERIFIED: Transition(
        "Verified",
        state=ActionState.VERIFIED,
        conditions=(
            Cond(ConditionType.REMEDIATED, _T, ConditionReason.ACTION_APPLIED, "{detail}"),
        ),
        event="Normal",
        outcome="verified",
    ),
    Move.VERIFICATION_FAILED: Transition("VerificationFailed", state=ActionState.REVERTING),
    Move.FAILED_UNVERIFIED: Transition(
        "Failed",
        state=ActionState.FAILED,
        phase=Phase.FAILED,
        conditions=(_ACTION_FAILED, _STILL_FAILING),
        event="Warning",
        outcome="failed",
    ),
    Move.REVERTED: Transition(
        "Reverted",
        state=ActionState.REVERTED,
        phase=Phase.FAILED,
        conditions=(_ACTION_FAILED, _STILL_FAILING),
        event="Warning",
        on_target=True,
        outcome="reverted",
    ),
    Move.REVERT_FAILED: Transition(
        "RevertFailed",
        state=ActionState.FAILED,
        phase=Phase.FAILED,
        conditions=(_ACTION_FAILED, _STILL_FAILING),
        event="Warning",
        on_target=True,
        outcome="revert_failed",
    ),
    Move.AWAITING_ALERT_RESOLUTION: Transition(
        "AwaitingAlertResolution",
        phase=Phase.REMEDIATING,
        conditions=(
            Cond(
                ConditionType.RESOLVED,
                _F,
                ConditionReason.AWAITING_ALERT_RESOLUTION,
                "the fix is verified; waiting for the alert to resolve",
            ),
        ),
        history=False,
    ),
    Move.RESOLVED: Transition(
        "Resolved",
        phase=Phase.RESOLVED,
        conditions=(Cond(ConditionType.RESOLVED, _T, ConditionReason.RECOVERED, "{detail}"),),
        event="Normal",
        event_message="the fix was verified; the incident is resolved",
    ),
}


def announce(
    ctx: Context,
    move: Move,
    message: str,
    *,
    record: ActionRecord | None = None,
    updates: dict[str, Any] | None = None,
    detail: str = "",
    target: RawObject | None = None,
    action_id: str | None = None,
) -> ActionRecord | None:
    """Apply one row of :data:`TABLE` to ``ctx``; return the record in its new state.

    ``record`` (with ``updates``) is the action the transition moves; a terminal state also
    stamps ``finishedTime``. ``target`` is the changed object the Event is also posted on;
    ``action_id`` names the action in the history when there is no record.
    """
    row = TABLE[move]
    texts = {"message": message, "detail": detail, "incident": ctx.ref}
    moved = record
    if record is not None and row.state is not None:
        changes: dict[str, Any] = {"state": row.state, **(updates or {})}
        if row.state in TERMINAL_STATES:
            changes.setdefault("finished_time", ctx.now)
        if isinstance(changes.get("result"), str):
            changes["result"] = changes["result"][:MAX_MESSAGE]
        moved = record.model_copy(update=changes)
        ctx.record(moved)
    if row.phase is not None:
        ctx.phase(row.phase)
    for cond in row.conditions:
        ctx.condition(cond.type, cond.status, cond.reason, cond.message.format(**texts))
    action_id = record.id if record is not None else action_id
    if row.history:
        ctx.history(row.step, message, action_id)
    if row.event is not None:
        ctx.event(
            row.event,
            row.event_reason or row.step,
            row.event_message.format(**texts),
            on_target=target if row.on_target else None,
        )
    if row.outcome is not None:
        counter = metrics.ACTIONS.labels(
            type=record.type.value if record is not None else "Escalate", outcome=row.outcome
        )
        ctx.after_write(counter.inc)
    return moved
