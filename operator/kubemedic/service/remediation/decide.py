"""Deciding what happens to a diagnosis' first actionable proposal: the policy decides.

Auto-approved → Approved (apply.py takes it from there); requires approval → AwaitingApproval
(approvals.py); dry-run only → a server-side dry-run, reported, nothing applied; denied →
escalated. Nothing actionable proposed (only Escalate) → escalated at once.
"""

from __future__ import annotations

from typing import Any

from kubemedic.clients.kube import PatchRejectedError, RawObject
from kubemedic.domain import approvals as approval_rules
from kubemedic.domain import patches as rem
from kubemedic.domain import policy, view
from kubemedic.models.audit_trail import (
    ActionRecord,
    ActionState,
    DecisionOutcome,
    PolicyDecisionRecord,
)
from kubemedic.models.diagnosis import Action, ActionType
from kubemedic.models.incident import IncidentStatus, ProposedAction
from kubemedic.service.remediation.context import Context, describe
from kubemedic.service.remediation.transitions import Move, announce


def actionable(status: IncidentStatus) -> list[ProposedAction]:
    """The proposals kubemedic could apply (all but Escalate)."""
    return [a for a in status.proposed_actions if a.type is not ActionType.ESCALATE]


def decision_inputs(
    ctx: Context, action: Action
) -> tuple[RawObject | None, policy.PolicyDecision, list[policy.NamedPolicy]]:
    """The live target, the policies, and what they decide for ``action``."""
    live = ctx.live(action)
    policies = ctx.client.policies()
    out_of_scope = scope_problem(ctx, action)
    if out_of_scope is not None:
        # NB: admission keeps an Incident's target in its namespace; this keeps its actions there.
        return live, policy.PolicyDecision(DecisionOutcome.DENIED, None, out_of_scope), policies
    decision = policy.decide(
        action,
        policies=policies,
        target_namespace=action.target.namespace,
        namespace_labels=ctx.client.namespace_labels(action.target.namespace),
        target_labels=view.labels_of(live) if live else {},
        operator_namespace=ctx.deps.operator_namespace,
        extra_protected=ctx.deps.extra_protected,
    )
    return live, decision, policies


def scope_problem(ctx: Context, action: Action) -> str | None:
    """Why ``action`` reaches outside this Incident's scope (domain/approvals.py), or None."""
    return approval_rules.scope_problem(
        action,
        incident_namespace=ctx.namespace,
        incident_target=ctx.spec.resolved_target(ctx.namespace),
        operator_namespace=ctx.deps.operator_namespace,
    )


def decide_primary(ctx: Context) -> None:
    """Decide the first actionable proposal of a fresh diagnosis, and write."""
    proposals = actionable(ctx.status)
    if not proposals:
        announce(
            ctx,
            Move.ESCALATED,
            "nothing kubemedic can apply was proposed; a person must act (see the runbook)",
        )
        ctx.write()
        return
    proposed = proposals[0]
    action = proposed.to_action()
    live, decision, _policies = decision_inputs(ctx, action)
    record = ActionRecord(
        id=proposed.id,
        type=proposed.type,
        state=ActionState.AWAITING_APPROVAL,
        decision=PolicyDecisionRecord(
            outcome=decision.outcome, policy=decision.policy, rule=decision.rule, time=ctx.now
        ),
        target_fingerprint=ctx.fingerprint_for(action, live),
    )
    what = describe(action, proposed.id)
    via = f" (policy {decision.policy})" if decision.policy else ""
    updates: dict[str, Any] = {}
    if decision.outcome is DecisionOutcome.AUTO_APPROVED:
        move, message = Move.AUTO_APPROVED, f"{what} auto-approved{via}: {decision.rule}"
    elif decision.outcome is DecisionOutcome.REQUIRES_APPROVAL:
        hint = f"kubemedic approve {ctx.name} -n {ctx.namespace} --action {proposed.id}"
        move = Move.AWAITING_APPROVAL
        message = f"{what} needs approval{via}: {decision.rule}. Approve with: {hint}"
    elif decision.outcome is DecisionOutcome.DRY_RUN_ONLY:
        updates["dry_run"] = result = dry_run(ctx, action, live)
        move = Move.DRY_RUN
        message = f"{what}: dry-run only{via}; server-side dry-run {result}; nothing applied"
    else:
        deny(ctx, record, what, decision.rule, via)
        ctx.write()
        return
    announce(ctx, move, message, record=record, updates=updates)
    ctx.write()


def deny(ctx: Context, record: ActionRecord, what: str, rule: str, via: str) -> None:
    """The policy does not allow the action: record it and escalate (the caller writes)."""
    announce(
        ctx,
        Move.POLICY_DENIED,
        f"{what} denied{via}: {rule}; nothing changed",
        record=record,
        updates={"result": rule},
    )


def dry_run(ctx: Context, action: Action, live: RawObject | None) -> str:
    """``passed``, or ``failed: <why>``: a server-side dry-run of the action on ``live``."""
    if live is None:
        return "failed: the target no longer exists"
    try:
        patch = plan(ctx, action, live, key="dry-run")
        if patch.delete_pod_uid:
            ctx.client.delete_pod(
                namespace=str(action.target.namespace),
                name=action.target.name,
                uid=patch.delete_pod_uid,
                dry_run=True,
            )
        else:
            ctx.client.json_patch(
                kind=action.target.kind,
                namespace=action.target.namespace,
                name=action.target.name,
                ops=patch.ops,
                dry_run=True,
            )
    except (rem.RemediationError, PatchRejectedError) as exc:
        return f"failed: {exc}"
    return "passed"


def plan(ctx: Context, action: Action, live: RawObject, *, key: str) -> rem.PatchPlan:
    """The patch (and its revert) for ``action`` on ``live``; RemediationError if none."""
    template = None
    if action.type is ActionType.ROLLBACK_ROLLOUT:
        template = ctx.client.revision_template(live, int(action.params["toRevision"]))
        if template is None:
            raise rem.RemediationError(
                f"revision {action.params['toRevision']} of {view.cite(live)} no longer exists"
            )
    return rem.build_patch(
        action, live, key=key, incident=ctx.ref, now=ctx.now, rollback_template=template
    )
