"""Applying an approved action exactly once: checks, dry-run, intent, patch.

Approved ──(scope, bounds, rate limits, dry-run ok)──▶ write intent {Applying, key}
    ──▶ apply the patch (+ marker, generation test) ──▶ write {Verifying}

A crash between "write intent" and "write Verifying" leaves an Applying record: the next
step reads the target, finds the marker (applied) or not (apply now), and goes on. The
target is read once per step and that read serves the checks, the dry-run and the patch;
the patch's generation test makes a change in between fail instead of applying twice.
"""

from __future__ import annotations

from kubemedic.clients.kube import ConflictError, PatchRejectedError
from kubemedic.domain import bounds, policy, view
from kubemedic.domain import patches as rem
from kubemedic.models.audit_trail import ActionRecord
from kubemedic.models.diagnosis import Action, ActionType
from kubemedic.service.remediation.approvals import refuse_target_changed
from kubemedic.service.remediation.context import Context, describe, fault, fingerprint_uid
from kubemedic.service.remediation.decide import deny, dry_run, plan, scope_problem
from kubemedic.service.remediation.transitions import TABLE, Move, announce


def fail(ctx: Context, record: ActionRecord, message: str) -> None:
    """The action failed before or while being applied: record it, fail the Incident, write."""
    announce(ctx, Move.FAILED, message, record=record, updates={"result": message})
    ctx.write()


def _bounds_context(
    ctx: Context, action: Action, policies: list[policy.NamedPolicy], decided_by: str | None
) -> bounds.BoundsContext:
    namespace = action.target.namespace
    bounded = action.type in (ActionType.SCALE_WORKLOAD, ActionType.SET_RESOURCES)
    diagnosis = ctx.status.diagnosis
    return bounds.BoundsContext(
        hpas=ctx.client.hpas(namespace) if namespace and bounded else [],
        limit_ranges=ctx.client.limit_ranges(namespace) if namespace and bounded else [],
        max_memory_factor=policy.memory_increase_limit(policies, decided_by),
        allow_scale_to_zero=policy.allows_scale_to_zero(policies, decided_by),
        # NB: "rules" only: a model took part in any other engine's answer.
        rules_only=diagnosis is not None and diagnosis.engine == "rules",
    )


def apply_approved(ctx: Context, record: ActionRecord, action: Action) -> None:
    """Check, dry-run and record the intent of an approved action, then apply it."""
    what = describe(action, record.id)
    live = ctx.live(action)
    if live is None:
        fail(ctx, record, f"{what}: the target no longer exists")
        return
    if record.target_fingerprint and rem.target_fingerprint(live) != record.target_fingerprint:
        refuse_target_changed(ctx, record, what)
        return
    policies = ctx.client.policies()
    decided_by = record.decision.policy if record.decision else None
    # NB: scope and bounds again, just before the dry-run, on the object as it is now:
    # whoever proposed the action (rules or model) and whoever approved it.
    problem = scope_problem(ctx, action) or bounds.check_bounds(
        action, live=live, context=_bounds_context(ctx, action, policies, decided_by)
    )
    if problem:
        deny(ctx, record, what, problem, "")
        ctx.write()
        return
    limited = policy.check_rate_limits(
        limits=policy.rate_limits_for(policies, decided_by),
        recent_action_times=rem.marker_times(live),
        in_flight_in_namespace=ctx.client.remediating_in(
            action.target.namespace, excluding=ctx.name
        )
        if action.target.namespace
        else 0,
        now=ctx.now,
    )
    if limited:
        last = ctx.status.history[-1] if ctx.status.history else None
        told = TABLE[Move.RATE_LIMITED].step
        if not (last and last.step == told and last.action_id == record.id):
            announce(ctx, Move.RATE_LIMITED, f"{what} waits: {limited}", action_id=record.id)
            ctx.write()
        return
    key = rem.idempotency_key(view.uid_of(ctx.incident), record.id)
    try:
        patch = plan(ctx, action, live, key=key)
    except rem.RemediationError as exc:
        fail(ctx, record, f"{what}: {exc}")
        return
    dry = dry_run(ctx, action, live)
    if dry != "passed":
        fail(ctx, record, f"{what}: server-side dry-run {dry}; nothing applied")
        return
    intent = announce(
        ctx,
        Move.INTENT_RECORDED,
        f"server-side dry-run passed; applying {what} (idempotency key {key})",
        record=record,
        updates={
            "idempotency_key": key,
            "intent_time": ctx.now,
            "dry_run": dry,
            "revert_patch": patch.revert,
        },
        detail=f"applying {what}",
    )
    ctx.write()  # NB: the intent is durable before anything touches the target.
    fault("after-intent")
    if intent is not None:
        apply(ctx, intent, action)


def apply(ctx: Context, record: ActionRecord, action: Action) -> None:
    """Apply the action whose intent is recorded (or find it applied), then write Verifying."""
    if not ctx.deps.is_leader():
        raise ConflictError("this replica is no longer the leader")
    what = describe(action, record.id)
    key = str(record.idempotency_key)
    live = ctx.live(action)
    applied_generation: int | None = None
    recovered = False
    if action.type is ActionType.DELETE_POD:
        if live is None or view.uid_of(live) != fingerprint_uid(record.target_fingerprint):
            recovered = True
        else:
            ctx.client.delete_pod(
                namespace=str(action.target.namespace),
                name=action.target.name,
                uid=view.uid_of(live),
                dry_run=False,
            )
    elif live is not None and rem.has_marker(live, key):
        recovered = True
        applied_generation = view.get_int(live, "metadata", "generation")
    elif live is None:
        fail(ctx, record, f"{what}: the target no longer exists")
        return
    else:
        try:
            patch = plan(ctx, action, live, key=key)
            if (
                record.target_fingerprint
                and rem.target_fingerprint(live) != record.target_fingerprint
            ):
                raise rem.RemediationError("the target changed after the intent was recorded")
            result = ctx.patch(action, patch.ops)
        except (rem.RemediationError, PatchRejectedError) as exc:
            fail(ctx, record, f"{what}: not applied: {exc}")
            return
        applied_generation = view.get_int(result, "metadata", "generation")
    fault("after-apply")
    how = "found already applied (marker on the target) after a restart" if recovered else "applied"
    announce(
        ctx,
        Move.APPLIED,
        f"{what} {how}",
        record=record,
        updates={
            "applied_time": record.applied_time or ctx.now,
            "applied_generation": applied_generation,
            "verify_deadline": ctx.now + ctx.deps.verify_timeout,
            "result": f"{how}; verifying",
        },
        target=live,
    )
    ctx.write()
