"""Approvals: what a person decided in an IncidentApproval, and actions nobody decided on.

Approvals are objects of their own (``incidentapprovals``): RBAC decides who may create one,
admission makes ``spec.approver`` the creating user and freezes the spec. This module takes
them on the operator's own terms (the rules are pure, in domain/approvals.py):

- every step reads the Incident's approvals from the API server and stamps ``status.seenAt``
  on those it has not seen: the policy's ``approvalTTLSeconds`` counts from there, never
  from a time a client wrote;
- one unspent approval is acted on per step, oldest first; acting on it *spends* it
  (``status.spentAt`` and ``outcome``), after the Incident's own transition is written, so
  a decision counts at most once and never for an action proposed again later;
- an approval naming an action that was never proposed, one created before the diagnosis
  that proposed the action, one that already existed when that diagnosis was decided
  (:func:`ignore_premature`), or one for an action already decided is reported and spent;
- separation of duties: with a covering policy's ``requireDistinctApprover`` the Incident's
  ``spec.reportedBy`` may not approve it (refused and spent; the action keeps waiting);
- an approval is acted on only if the target is still the object that was diagnosed (its
  fingerprint), else the action is refused and re-diagnosed.

An action awaiting approval waits at most the same TTL (``approvalTTLSeconds`` of the policy
that decided it, else the operator's default): then it expires and the Incident escalates
to a person, instead of waiting forever.
"""

from __future__ import annotations

import logging
from datetime import datetime

from kubemedic.domain import approvals as rules
from kubemedic.domain import patches as rem
from kubemedic.domain import policy, view
from kubemedic.models.approval import ApprovalOutcome, Decision
from kubemedic.models.audit_trail import (
    ActionRecord,
    ActionState,
    DecisionOutcome,
    PolicyDecisionRecord,
)
from kubemedic.models.incident import ProposedAction
from kubemedic.service.remediation.context import Context, RemediationDeps, describe
from kubemedic.service.remediation.decide import actionable, decision_inputs, deny
from kubemedic.service.remediation.transitions import Move, announce

logger = logging.getLogger(__name__)


def _stamp(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def load_approvals(
    deps: RemediationDeps, *, namespace: str, incident: str, now: datetime
) -> list[rules.ApprovalObject]:
    """The Incident's unspent approvals, oldest first; first sight is stamped ``seenAt``.

    An approval whose spec cannot be parsed (the CRD schema should make that impossible) is
    logged and skipped.
    """
    parsed = []
    for obj in deps.remediator.approvals(namespace):
        try:
            parsed.append(rules.parse(obj))
        except ValueError as exc:
            logger.warning("ignoring invalid IncidentApproval %s: %s", view.cite(obj), exc)
    pending = rules.unspent(parsed, incident)
    for approval in pending:
        if approval.status.seen_at is None or rules.counts_from(approval, now=now) == now:
            # NB: first sight, or a recorded time the operator does not believe.
            deps.remediator.write_approval_status(
                namespace,
                approval.name,
                status={"seenAt": _stamp(now), "outcome": ApprovalOutcome.PENDING.value},
            )
    return pending


def _spend(
    ctx: Context, approval: rules.ApprovalObject, outcome: ApprovalOutcome, message: str
) -> None:
    ctx.client.write_approval_status(
        ctx.namespace,
        approval.name,
        status={
            "seenAt": _stamp(rules.counts_from(approval, now=ctx.now)),
            "spentAt": _stamp(ctx.now),
            "outcome": outcome.value,
            "message": message[:1024],
        },
    )


def _spend_after_write(
    ctx: Context, approval: rules.ApprovalObject, outcome: ApprovalOutcome, message: str
) -> None:
    """Spend the approval once the Incident's transition is written (not if it is refused)."""
    ctx.after_write(lambda: _spend(ctx, approval, outcome, message))


def ignore_premature(ctx: Context) -> None:
    """Spend, as ignored, every approval that exists when a fresh diagnosis is decided.

    Action IDs are predictable, so an approval can be written before its proposal exists;
    :func:`~kubemedic.domain.approvals.predates_proposal` compares timestamps of two clocks
    with whole seconds and lets one written just before the diagnosis through. This rule
    needs no clock: the diagnosis is decided in the step right after it is written, so an
    approval already there was made before anyone could read the proposal. (A person quick
    enough to approve in between is told to approve again.) The caller writes.
    """
    for approval in ctx.approvals:
        message = (
            f"IncidentApproval {approval.name} of '{approval.spec.action_id}' existed before "
            "the current diagnosis was decided, so it was not made from the proposal; "
            "approve again"
        )
        announce(ctx, Move.STALE_APPROVAL, message, action_id=approval.spec.action_id)
        _spend_after_write(ctx, approval, ApprovalOutcome.IGNORED, message)


def process_approvals(ctx: Context) -> bool:
    """Act on the first approval that needs it; whether a transition was written."""
    proposed_ids = {a.id: a for a in actionable(ctx.status)}
    all_ids = {a.id for a in ctx.status.proposed_actions}
    for approval in ctx.approvals:
        action_id = approval.spec.action_id
        if action_id not in all_ids:
            known = ", ".join(sorted(proposed_ids)) or "none"
            message = (
                f"IncidentApproval {approval.name} names action '{action_id}', which was not "
                f"proposed (proposed: {known}); ignored"
            )
            announce(
                ctx,
                Move.UNKNOWN_APPROVAL,
                message,
                detail=f"approval for unknown action '{action_id}' ignored; "
                f"proposed actions: {known}",
                action_id=action_id,
            )
            _spend_after_write(ctx, approval, ApprovalOutcome.IGNORED, message)
            ctx.write()
            return True
        record = ctx.status.action_record(action_id)
        if action_id not in proposed_ids or (
            record is not None and record.state is not ActionState.AWAITING_APPROVAL
        ):
            state = record.state.value if record else "Escalate: nothing to apply"
            _spend(
                ctx, approval, ApprovalOutcome.IGNORED, f"the action was already decided ({state})"
            )
            continue
        if rules.predates_proposal(approval, ctx.status.diagnosed_time):
            message = (
                f"IncidentApproval {approval.name} of '{action_id}' was created before the "
                "current diagnosis proposed it; approve again"
            )
            announce(ctx, Move.STALE_APPROVAL, message, action_id=action_id)
            _spend_after_write(ctx, approval, ApprovalOutcome.IGNORED, message)
            ctx.write()
            return True
        _decide(ctx, proposed_ids[action_id], approval=approval, record=record)
        return True
    return False


def _decide(
    ctx: Context,
    proposed: ProposedAction,
    *,
    approval: rules.ApprovalObject,
    record: ActionRecord | None,
) -> None:
    spec = approval.spec
    who = spec.approver
    action = proposed.to_action()
    what = describe(action, proposed.id)
    live, policy_decision, policies = decision_inputs(ctx, action)
    base = record or ActionRecord(
        id=proposed.id,
        type=proposed.type,
        state=ActionState.AWAITING_APPROVAL,
        target_fingerprint=ctx.fingerprint_for(action, live),
    )
    base = base.model_copy(
        update={"approval_observed_time": rules.counts_from(approval, now=ctx.now)}
    )
    said = f"by {who}" + (f": {spec.reason}" if spec.reason else "")
    if spec.decision is Decision.REJECT:
        rule = f"rejected {said}"
        announce(
            ctx,
            Move.REJECTED,
            f"{what} {rule}; escalated",
            record=base,
            updates={
                "decision": PolicyDecisionRecord(
                    outcome=DecisionOutcome.REJECTED, rule=rule, decided_by=who, time=ctx.now
                )
            },
        )
        _spend_after_write(ctx, approval, ApprovalOutcome.REJECTED, rule)
        ctx.write()
        return
    # NB: separation of duties is about approving; anyone who may decide may reject.
    distinct = policy.requires_distinct_approver(
        policies,
        target_namespace=action.target.namespace,
        namespace_labels=ctx.client.namespace_labels(action.target.namespace),
        target_labels=view.labels_of(live) if live else {},
        operator_namespace=ctx.deps.operator_namespace,
    )
    refused = rules.separation_problem(
        approver=who, reporter=ctx.spec.reported_by, required=distinct
    )
    if refused is not None:
        message = f"IncidentApproval {approval.name} of {what} refused: {refused}"
        announce(ctx, Move.APPROVAL_REFUSED, message, action_id=proposed.id)
        _spend_after_write(ctx, approval, ApprovalOutcome.REFUSED, refused)
        ctx.write()
        return
    via = f" (policy {policy_decision.policy})" if policy_decision.policy else ""
    if policy_decision.outcome is DecisionOutcome.DENIED:
        rule = f"{policy_decision.rule} (a manual approval cannot override this)"
        deny(ctx, base, what, rule, via)
        _spend_after_write(ctx, approval, ApprovalOutcome.REFUSED, rule)
        ctx.write()
        return
    ttl = policy.approval_ttl(
        policies, policy_decision.policy, ctx.deps.default_approval_ttl_seconds
    )
    if rules.expired(approval, now=ctx.now, ttl=ttl):
        message = f"approval of {what} expired ({int(ttl.total_seconds())}s TTL); approve again"
        announce(ctx, Move.APPROVAL_EXPIRED, message, record=base, updates={"result": message})
        _spend_after_write(ctx, approval, ApprovalOutcome.EXPIRED, message)
        ctx.write()
        return
    # NB: a record written without a fingerprint (an older operator) is checked as if it
    # were decided now: against the diagnosis for the Incident's own target.
    expected = base.target_fingerprint or ctx.fingerprint_for(action, live)
    if live is None or rem.target_fingerprint(live) != expected:
        _spend_after_write(ctx, approval, ApprovalOutcome.REFUSED, "the target changed")
        refuse_target_changed(ctx, base, what)
        return
    announce(
        ctx,
        Move.APPROVED,
        f"{what} approved {said}",
        record=base,
        updates={
            "decision": PolicyDecisionRecord(
                outcome=DecisionOutcome.MANUALLY_APPROVED,
                policy=policy_decision.policy,
                rule=f"approved {said}",
                decided_by=who,
                time=ctx.now,
            )
        },
    )
    _spend_after_write(ctx, approval, ApprovalOutcome.APPLIED, f"approved {what}")
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
