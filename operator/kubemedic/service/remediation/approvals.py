"""Approvals: what a person decided in ``spec.approvals``, and actions nobody decided on.

One approval is acted on per step, in the order of ``spec.approvals``. An approval naming an
action that was never proposed is reported once; one older than the current diagnosis (or
already refused) is spent and reported once; an approval older than the policy's
``approvalTTLSeconds`` expires. An approval is acted on only if the target is still the
object that was diagnosed (its fingerprint), else the action is refused and re-diagnosed.

An action awaiting approval waits at most the same TTL (``approvalTTLSeconds`` of the policy
that decided it, else the operator's default): then it expires and the Incident escalates
to a person, instead of waiting forever.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from kubemedic.domain import policy
from kubemedic.domain import remediation as rem
from kubemedic.models.incident import Decision, IncidentStatus, ProposedAction
from kubemedic.models.remediation import (
    TERMINAL_STATES,
    ActionRecord,
    ActionState,
    DecisionOutcome,
    PolicyDecisionRecord,
)
from kubemedic.service.remediation.context import Context, describe
from kubemedic.service.remediation.decide import actionable, decision_inputs, deny
from kubemedic.service.remediation.transitions import TABLE, Move, announce


def process_approvals(ctx: Context) -> bool:
    """Act on the first approval that needs it; whether a transition was written."""
    proposed_ids = {a.id: a for a in actionable(ctx.status)}
    all_ids = {a.id for a in ctx.status.proposed_actions}
    for approval in ctx.spec.approvals:
        action_id = approval.action_id
        if action_id not in all_ids:
            if _reported(ctx.status, Move.UNKNOWN_APPROVAL, action_id):
                continue
            known = ", ".join(sorted(proposed_ids)) or "none"
            announce(
                ctx,
                Move.UNKNOWN_APPROVAL,
                f"`spec.approvals` names action '{action_id}', which was not "
                f"proposed (proposed: {known}); ignored",
                detail=f"approval for unknown action '{action_id}' ignored; "
                f"proposed actions: {known}",
                action_id=action_id,
            )
            ctx.write()
            return True
        if action_id not in proposed_ids:
            continue  # an Escalate action: nothing to approve
        record = ctx.status.action_record(action_id)
        if record is not None and record.state in TERMINAL_STATES:
            continue
        observed = (
            record.approval_observed_time if record and record.approval_observed_time else ctx.now
        )
        decided_at = approval.approved_at or observed
        if _stale(ctx.status, action_id, decided_at):
            if _reported(ctx.status, Move.STALE_APPROVAL, action_id):
                continue
            announce(
                ctx,
                Move.STALE_APPROVAL,
                f"approval of '{action_id}' predates the current diagnosis; approve again",
                action_id=action_id,
            )
            ctx.write()
            return True
        _decide(
            ctx,
            proposed_ids[action_id],
            decision=approval.decision,
            approved_by=approval.approved_by,
            reason=approval.reason,
            decided_at=decided_at,
            record=record,
        )
        return True
    return False


def _reported(status: IncidentStatus, move: Move, action_id: str) -> bool:
    step = TABLE[move].step
    return any(h.step == step and h.action_id == action_id for h in status.history)


def _stale(status: IncidentStatus, action_id: str, decided_at: datetime) -> bool:
    """An approval given before the current diagnosis, or one already refused, is spent.

    NB: an action keeps its ID when it is proposed again after the target changed; without
    this, the approval that was refused would approve the new proposal. Times in status
    have whole seconds, so an approval in the same second as the refusal counts as spent.
    """
    if status.diagnosed_time and decided_at < status.diagnosed_time - timedelta(seconds=1):
        return True
    step = TABLE[Move.TARGET_CHANGED].step
    refused = [h.time for h in status.history if h.step == step and h.action_id == action_id]
    return bool(refused) and decided_at <= max(refused)


def _decide(
    ctx: Context,
    proposed: ProposedAction,
    *,
    decision: Decision,
    approved_by: str | None,
    reason: str | None,
    decided_at: datetime,
    record: ActionRecord | None,
) -> None:
    who = approved_by or "a person"
    action = proposed.to_action()
    what = describe(action, proposed.id)
    base = record or ActionRecord(
        id=proposed.id,
        type=proposed.type,
        state=ActionState.AWAITING_APPROVAL,
        target_fingerprint=ctx.status.target_fingerprint,
    )
    base = base.model_copy(
        update={"approval_observed_time": base.approval_observed_time or ctx.now}
    )
    said = f"by {who}" + (f": {reason}" if reason else "")
    if decision is Decision.REJECT:
        rule = f"rejected {said}"
        announce(
            ctx,
            Move.REJECTED,
            f"{what} {rule}; escalated",
            record=base,
            updates={
                "decision": PolicyDecisionRecord(
                    outcome=DecisionOutcome.REJECTED,
                    rule=rule,
                    decided_by=approved_by,
                    time=ctx.now,
                )
            },
        )
        ctx.write()
        return
    live, policy_decision, policies = decision_inputs(ctx, action)
    via = f" (policy {policy_decision.policy})" if policy_decision.policy else ""
    if policy_decision.outcome is DecisionOutcome.DENIED:
        deny(
            ctx, base, what, f"{policy_decision.rule} (a manual approval cannot override this)", via
        )
        ctx.write()
        return
    ttl = policy.approval_ttl(
        policies, policy_decision.policy, ctx.deps.default_approval_ttl_seconds
    )
    if ctx.now - decided_at > ttl:
        message = f"approval of {what} expired ({int(ttl.total_seconds())}s TTL); approve again"
        announce(ctx, Move.APPROVAL_EXPIRED, message, record=base, updates={"result": message})
        ctx.write()
        return
    if live is None or rem.target_fingerprint(live) != ctx.status.target_fingerprint:
        refuse_target_changed(ctx, base, what)
        return
    announce(
        ctx,
        Move.APPROVED,
        f"{what} approved by {who}",
        record=base,
        updates={
            "decision": PolicyDecisionRecord(
                outcome=DecisionOutcome.MANUALLY_APPROVED,
                policy=policy_decision.policy,
                rule=f"approved {said}",
                decided_by=approved_by,
                time=ctx.now,
            )
        },
    )
    ctx.write()


def refuse_target_changed(ctx: Context, record: ActionRecord, what: str) -> None:
    """The target is not the object that was diagnosed: refuse, re-diagnose, and write."""
    message = (
        f"{what} refused: the target changed since it was diagnosed; "
        "re-diagnosing (approve the new proposal)"
    )
    announce(ctx, Move.TARGET_CHANGED, message, record=record, updates={"result": message})
    ctx.write()


def expire_unapproved(ctx: Context) -> bool:
    """Expire the first action that waited for approval longer than its TTL; whether one did."""
    waiting = [
        (r, r.decision)
        for r in ctx.status.actions
        if r.state is ActionState.AWAITING_APPROVAL and r.decision is not None
    ]
    if not waiting:
        return False
    policies = ctx.client.policies()
    for record, decided in waiting:
        ttl = policy.approval_ttl(policies, decided.policy, ctx.deps.default_approval_ttl_seconds)
        if ctx.now - decided.time <= ttl:
            continue
        proposed = ctx.status.proposed_action(record.id)
        what = describe(proposed.to_action(), record.id) if proposed else f"action [{record.id}]"
        message = (
            f"{what} waited for approval longer than {int(ttl.total_seconds())}s "
            "(approvalTTLSeconds) and expired; nothing was applied"
        )
        announce(ctx, Move.APPROVAL_TIMED_OUT, message, record=record, updates={"result": message})
        ctx.write()
        return True
    return False
