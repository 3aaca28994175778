"""After the change: verify it, revert it when verification fails, resolve the Incident.

Verifying ──▶ Verified ──▶ Resolved (or AwaitingAlertResolution until an alert resolves)
          └─▶ VerificationFailed ──▶ Reverted / RevertFailed  (when a revert patch exists)
          └─▶ Failed                                          (no automatic revert)

Verification stays pending until the target is healthy, clearly failing, or the deadline
passed. A revert is written as Reverting first, so a crash in between reverts on restart.
"""

from __future__ import annotations

from kubemedic import metrics
from kubemedic.clients.kube import PatchRejectedError, RawObject
from kubemedic.domain import patches as rem
from kubemedic.domain import view
from kubemedic.models.audit_trail import ActionRecord, ActionState
from kubemedic.models.conditions import ConditionType, is_condition_true
from kubemedic.models.diagnosis import Action, ActionType
from kubemedic.models.incident import Source
from kubemedic.models.target import TargetKind, TargetRef
from kubemedic.service.remediation.context import Context, describe, fingerprint_uid
from kubemedic.service.remediation.transitions import Move, announce


def _verdict(ctx: Context, record: ActionRecord, action: Action) -> rem.Verdict:
    bundle = None
    deleted_gone = False
    if action.type is ActionType.DELETE_POD:
        live = ctx.live(action)
        deleted_gone = live is None or view.uid_of(live) != fingerprint_uid(
            record.target_fingerprint
        )
    else:
        target = TargetRef(
            kind=TargetKind(action.target.kind),
            namespace=action.target.namespace,
            name=action.target.name,
        )
        bundle = ctx.client.gather(target, now=ctx.now)
    return rem.verify_action(
        action,
        bundle=bundle,
        applied_generation=record.applied_generation,
        deleted_pod_gone=deleted_gone,
    )


def verify(ctx: Context, record: ActionRecord, action: Action) -> None:
    """Verify an applied action; on a verdict, write Verified (and maybe Resolved) or fail."""
    what = describe(action, record.id)
    verdict = _verdict(ctx, record, action)
    deadline = record.verify_deadline
    if verdict.state is rem.VerdictState.PENDING and (deadline is None or ctx.now < deadline):
        return
    if verdict.state is rem.VerdictState.PASSED:
        announce(
            ctx,
            Move.VERIFIED,
            f"{what} verified: {verdict.message}",
            record=record,
            updates={"result": f"verified: {verdict.message}"},
            detail=f"{what} applied and verified: {verdict.message}",
        )
        ctx.status = ctx.status.model_copy(
            update={"remediated_time": ctx.now.replace(microsecond=0)}
        )
        start = record.approval_observed_time or (record.decision.time if record.decision else None)
        if start is not None:
            seconds = (ctx.now - start).total_seconds()
            ctx.after_write(lambda: metrics.TIME_TO_REMEDIATE.observe(seconds))
        resolve_if_done(ctx)
        ctx.write()
        return
    reason = (
        verdict.message
        if verdict.state is rem.VerdictState.FAILED
        else f"not healthy in time: {verdict.message}"
    )
    if record.revert_patch:
        reverting = announce(
            ctx,
            Move.VERIFICATION_FAILED,
            f"{what}: {reason}; reverting",
            record=record,
            updates={"result": reason},
        )
        ctx.write()
        if reverting is not None:
            revert(ctx, reverting, action, reason=reason)
        return
    message = f"{what}: verification failed: {reason} (no automatic revert for {action.type.value})"
    announce(
        ctx,
        Move.FAILED_UNVERIFIED,
        message,
        record=record,
        updates={"result": message},
        detail=reason,
    )
    ctx.write()


def revert(ctx: Context, record: ActionRecord, action: Action, *, reason: str) -> None:
    """Apply the revert patch captured before the change; write Reverted or RevertFailed."""
    what = describe(action, record.id)
    reverted: RawObject | None
    try:
        reverted = ctx.patch(action, list(record.revert_patch or []))
        move, outcome = Move.REVERTED, "reverted"
    except PatchRejectedError as exc:
        reverted = ctx.live(action)
        move, outcome = Move.REVERT_FAILED, f"revert failed: {exc}"
    message = f"{what}: verification failed ({reason}); {outcome}"
    announce(
        ctx,
        move,
        message,
        record=record,
        updates={"result": message},
        detail=reason,
        target=reverted,
    )
    ctx.write()


def all_verified_waiting_for_alert(ctx: Context) -> bool:
    """A verified fix waits for its alert: resolve once it resolved; whether one waits."""
    if not any(r.state is ActionState.VERIFIED for r in ctx.status.actions):
        return False
    if resolve_if_done(ctx):
        ctx.write()
    return True


def resolve_if_done(ctx: Context) -> bool:
    """Resolved when verification passed and the alert (if any) resolved."""
    from_alert = ctx.spec.source is Source.ALERT
    if from_alert and not is_condition_true(ctx.status.conditions, ConditionType.ALERT_RESOLVED):
        announce(ctx, Move.AWAITING_ALERT_RESOLUTION, "")
        return False
    announce(
        ctx,
        Move.RESOLVED,
        "the incident is resolved",
        detail="the fix was verified" + (" and the alert resolved" if from_alert else ""),
    )
    ctx.status = ctx.status.model_copy(update={"resolved_time": ctx.now.replace(microsecond=0)})
    if ctx.status.detected_time:
        seconds = (ctx.now - ctx.status.detected_time).total_seconds()
        ctx.after_write(lambda: metrics.MTTR.observe(seconds))
    return True
