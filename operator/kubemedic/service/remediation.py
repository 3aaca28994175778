"""Remediation, the state machine: decide, approve, dry-run, record intent, apply, verify, revert.

One call of :func:`reconcile_remediation` makes at most one durable transition of one
Incident and writes it with optimistic concurrency (the Incident's resourceVersion), so a
retry, a restart or a second replica can never make the same transition twice. The order
that makes actions exactly-once (see domain/remediation.py for the patch side)::

    Approved ──(dry-run ok)──▶ write intent {Applying, key}
        ──▶ apply patch (+ marker, generation test)
        ──▶ write {Verifying}  ──▶ verify ──▶ Verified / (revert) Reverted / Failed

A crash between "write intent" and "write Verifying" leaves an Applying record: the next
reconcile reads the target, finds the marker (applied) or not (apply now), and goes on.

Runs in a worker thread (the Kubernetes client is synchronous); returns the Events to
post so the kopf handler posts them from its own context.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from kubemedic import metrics
from kubemedic.clients.evidence import TargetNotFoundError, gather_bundle
from kubemedic.clients.kube import ConflictError, PatchRejectedError, RawObject
from kubemedic.clients.remediation import Remediator
from kubemedic.domain import lifecycle, policy, view
from kubemedic.domain import remediation as rem
from kubemedic.domain.scheduling import needs_remediation
from kubemedic.models.conditions import (
    ConditionReason,
    ConditionStatus,
    ConditionType,
    is_condition_true,
)
from kubemedic.models.diagnosis import Action, ActionType
from kubemedic.models.incident import (
    Decision,
    IncidentSpec,
    IncidentStatus,
    Phase,
    ProposedAction,
    Source,
)
from kubemedic.models.remediation import (
    TERMINAL_STATES,
    ActionRecord,
    ActionState,
    DecisionOutcome,
    PolicyDecisionRecord,
)
from kubemedic.models.target import TargetKind, TargetRef

logger = logging.getLogger(__name__)

#: Test hook (only with KUBEMEDIC_ENABLE_FAULT_INJECTION=true): crash at this point.
FAULT_ENV: Final = "KUBEMEDIC_FAULT_CRASH_AT"
IN_FLIGHT: Final = (
    ActionState.APPROVED,
    ActionState.APPLYING,
    ActionState.VERIFYING,
    ActionState.REVERTING,
)
ALERT_RESOLVED: Final = "AlertResolved"


@dataclass(frozen=True)
class RemediationDeps:
    remediator: Remediator
    operator_namespace: str
    extra_protected: tuple[str, ...] = ()
    verify_timeout: timedelta = timedelta(seconds=120)
    default_approval_ttl_seconds: int = 3600
    #: Checked before every write: a replica that lost the lead must not write.
    is_leader: Callable[[], bool] = field(default=lambda: True)


@dataclass(frozen=True)
class EventSpec:
    """An Event to post on the Incident (and on the target when ``on_target`` is given)."""

    type: str
    reason: str
    message: str
    on_target: RawObject | None = None


@dataclass
class _Ctx:
    deps: RemediationDeps
    incident: RawObject
    spec: IncidentSpec
    status: IncidentStatus
    now: datetime
    events: list[EventSpec] = field(default_factory=list)

    @property
    def name(self) -> str:
        return view.name_of(self.incident)

    @property
    def namespace(self) -> str:
        return view.namespace_of(self.incident)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def generation(self) -> int | None:
        return view.get_int(self.incident, "metadata", "generation")

    def history(self, step: str, message: str, action_id: str | None = None) -> None:
        self.status = lifecycle.with_history(
            self.status, step=step, message=message, now=self.now, action_id=action_id
        )

    def condition(self, type_: str, status: ConditionStatus, reason: str, message: str) -> None:
        self.status = lifecycle.with_condition(
            self.status,
            type=type_,
            condition_status=status,
            reason=reason,
            message=message,
            generation=self.generation,
            now=self.now,
        )

    def record(self, record: ActionRecord) -> None:
        self.status = lifecycle.with_record(self.status, record)

    def phase(self, phase: Phase) -> None:
        self.status = self.status.model_copy(update={"phase": phase})

    def event(
        self, type_: str, reason: str, message: str, on_target: RawObject | None = None
    ) -> None:
        self.events.append(EventSpec(type_, reason, message[:1024], on_target))

    def announce(
        self,
        step: str,
        message: str,
        *,
        condition: tuple[str, ConditionStatus, str] | None = None,
        escalate: str | None = None,
        warning: bool = False,
        action_id: str | None = None,
    ) -> None:
        """One step, told everywhere: a condition (same message), a history entry and an Event
        with the step as reason; ``escalate`` also hands the Incident to a person."""
        if condition is not None:
            self.condition(condition[0], condition[1], condition[2], message)
        if escalate is not None:
            self.phase(Phase.ESCALATED)
            self.condition(
                ConditionType.RESOLVED, ConditionStatus.FALSE, ConditionReason.ESCALATED, escalate
            )
        self.history(step, message, action_id)
        self.event("Warning" if warning else "Normal", step, message)

    def write(self) -> None:
        """Persist the status; ConflictError if someone else wrote first (nothing is lost)."""
        if not self.deps.is_leader():
            raise ConflictError("this replica is no longer the leader")
        written = self.deps.remediator.incidents.patch_status(
            self.namespace,
            self.name,
            status=lifecycle.status_patch(self.status),
            resource_version=str(view.get(self.incident, "metadata", "resourceVersion")),
        )
        self.incident = written


@dataclass(frozen=True)
class ReconcileResult:
    """Events to post, and the status before and after (for notifications)."""

    events: list[EventSpec]
    before: IncidentStatus | None = None
    after: IncidentStatus | None = None
    spec: IncidentSpec | None = None
    uid: str = ""
    resource_version: str | None = None


def reconcile_remediation(
    deps: RemediationDeps, *, namespace: str, name: str, now: datetime | None = None
) -> ReconcileResult:
    """Make at most one transition of the Incident's remediation; return Events to post."""
    incident = deps.remediator.incidents.get(namespace, name)
    if incident is None:
        return ReconcileResult(events=[])
    spec = IncidentSpec.model_validate(incident.get("spec") or {})
    status = IncidentStatus.model_validate(incident.get("status") or {})
    ctx = _Ctx(deps=deps, incident=incident, spec=spec, status=status, now=now or datetime.now(UTC))
    if not needs_remediation(status, spec):
        return ReconcileResult(events=[])
    try:
        _step(ctx)
    except ConflictError:
        logger.info("Incident %s changed while reconciling; will retry", ctx.ref)
        return ReconcileResult(events=ctx.events)
    return ReconcileResult(
        events=ctx.events,
        before=status,
        after=ctx.status,
        spec=spec,
        uid=view.uid_of(incident),
        resource_version=str(view.get(ctx.incident, "metadata", "resourceVersion") or "") or None,
    )


def _actionable(status: IncidentStatus) -> list[ProposedAction]:
    return [a for a in status.proposed_actions if a.type is not ActionType.ESCALATE]


def _step(ctx: _Ctx) -> None:
    in_flight = next((r for r in ctx.status.actions if r.state in IN_FLIGHT), None)
    if in_flight is not None:
        _advance(ctx, in_flight)
        return
    if ctx.status.phase is Phase.DIAGNOSED:
        _decide_primary(ctx)
        return
    if ctx.status.phase is Phase.REMEDIATING and _all_verified_waiting_for_alert(ctx):
        return
    _process_approvals(ctx)


# -- deciding -------------------------------------------------------------------------


def _decision_inputs(
    ctx: _Ctx, action: Action
) -> tuple[RawObject | None, policy.PolicyDecision, list[policy.NamedPolicy]]:
    remediator = ctx.deps.remediator
    live = remediator.read(
        kind=action.target.kind, namespace=action.target.namespace, name=action.target.name
    )
    policies = remediator.policies()
    decision = policy.decide(
        action,
        policies=policies,
        target_namespace=action.target.namespace,
        namespace_labels=remediator.namespace_labels(action.target.namespace),
        target_labels=view.labels_of(live) if live else {},
        operator_namespace=ctx.deps.operator_namespace,
        extra_protected=ctx.deps.extra_protected,
    )
    return live, decision, policies


def _decide_primary(ctx: _Ctx) -> None:
    actionable = _actionable(ctx.status)
    if not actionable:
        ctx.announce(
            "Escalated",
            "nothing kubemedic can apply was proposed; a person must act (see the runbook)",
            condition=(
                ConditionType.APPROVED,
                ConditionStatus.FALSE,
                ConditionReason.NOTHING_TO_APPROVE,
            ),
            escalate="escalated to a person",
            warning=True,
        )
        metrics.ACTIONS.labels(type="Escalate", outcome="escalated").inc()
        ctx.write()
        return
    proposed = actionable[0]
    action = proposed.to_action()
    _live, decision, _policies = _decision_inputs(ctx, action)
    record = ActionRecord(
        id=proposed.id,
        type=proposed.type,
        state=ActionState.AWAITING_APPROVAL,
        decision=PolicyDecisionRecord(
            outcome=decision.outcome, policy=decision.policy, rule=decision.rule, time=ctx.now
        ),
        target_fingerprint=ctx.status.target_fingerprint,
    )
    describe = _describe(action, proposed.id)
    via = f" (policy {decision.policy})" if decision.policy else ""
    if decision.outcome is DecisionOutcome.AUTO_APPROVED:
        ctx.record(record.model_copy(update={"state": ActionState.APPROVED}))
        ctx.phase(Phase.REMEDIATING)
        ctx.announce(
            "AutoApproved",
            f"{describe} auto-approved{via}: {decision.rule}",
            condition=(ConditionType.APPROVED, ConditionStatus.TRUE, ConditionReason.AUTO_APPROVED),
            action_id=proposed.id,
        )
    elif decision.outcome is DecisionOutcome.REQUIRES_APPROVAL:
        ctx.record(record)
        ctx.phase(Phase.AWAITING_APPROVAL)
        hint = f"kubemedic approve {ctx.name} -n {ctx.namespace} --action {proposed.id}"
        ctx.announce(
            "AwaitingApproval",
            f"{describe} needs approval{via}: {decision.rule}. Approve with: {hint}",
            condition=(
                ConditionType.APPROVED,
                ConditionStatus.FALSE,
                ConditionReason.AWAITING_APPROVAL,
            ),
            action_id=proposed.id,
        )
    elif decision.outcome is DecisionOutcome.DRY_RUN_ONLY:
        result = _dry_run(ctx, action)
        ctx.record(
            record.model_copy(
                update={"state": ActionState.DRY_RUN, "dry_run": result, "finished_time": ctx.now}
            )
        )
        ctx.announce(
            "DryRun",
            f"{describe}: dry-run only{via}; server-side dry-run {result}; nothing applied",
            condition=(ConditionType.REMEDIATED, ConditionStatus.FALSE, ConditionReason.DRY_RUN),
            escalate="dry-run only: a person must apply the fix",
            action_id=proposed.id,
        )
        metrics.ACTIONS.labels(type=proposed.type.value, outcome="dry_run").inc()
    else:
        _deny(ctx, record, describe, decision.rule, via)
    ctx.write()


def _deny(ctx: _Ctx, record: ActionRecord, describe: str, rule: str, via: str) -> None:
    ctx.record(
        record.model_copy(
            update={"state": ActionState.DENIED, "finished_time": ctx.now, "result": rule}
        )
    )
    ctx.announce(
        "PolicyDenied",
        f"{describe} denied{via}: {rule}; nothing changed",
        condition=(ConditionType.APPROVED, ConditionStatus.FALSE, ConditionReason.POLICY_DENIED),
        escalate="the proposed action is not allowed; a person must act",
        warning=True,
        action_id=record.id,
    )
    metrics.ACTIONS.labels(type=record.type.value, outcome="denied").inc()


def _dry_run(ctx: _Ctx, action: Action) -> str:
    remediator = ctx.deps.remediator
    live = remediator.read(
        kind=action.target.kind, namespace=action.target.namespace, name=action.target.name
    )
    if live is None:
        return "failed: the target no longer exists"
    try:
        plan = _plan(ctx, action, live, key="dry-run")
        if plan.delete_pod_uid:
            remediator.delete_pod(
                namespace=str(action.target.namespace),
                name=action.target.name,
                uid=plan.delete_pod_uid,
                dry_run=True,
            )
        else:
            remediator.json_patch(
                kind=action.target.kind,
                namespace=action.target.namespace,
                name=action.target.name,
                ops=plan.ops,
                dry_run=True,
            )
    except (rem.RemediationError, PatchRejectedError) as exc:
        return f"failed: {exc}"
    return "passed"


def _plan(ctx: _Ctx, action: Action, live: RawObject, *, key: str) -> rem.PatchPlan:
    template = None
    if action.type is ActionType.ROLLBACK_ROLLOUT:
        template = ctx.deps.remediator.revision_template(live, int(action.params["toRevision"]))
        if template is None:
            raise rem.RemediationError(
                f"revision {action.params['toRevision']} of {view.cite(live)} no longer exists"
            )
    return rem.build_patch(
        action, live, key=key, incident=ctx.ref, now=ctx.now, rollback_template=template
    )


# -- approvals ------------------------------------------------------------------------


def _process_approvals(ctx: _Ctx) -> None:
    proposed_ids = {a.id: a for a in _actionable(ctx.status)}
    all_ids = {a.id for a in ctx.status.proposed_actions}
    for approval in ctx.spec.approvals:
        action_id = approval.action_id
        if action_id not in all_ids:
            if not any(
                h.step == "UnknownApproval" and h.action_id == action_id for h in ctx.status.history
            ):
                known = ", ".join(sorted(proposed_ids)) or "none"
                ctx.history(
                    "UnknownApproval",
                    f"`spec.approvals` names action '{action_id}', which was not "
                    f"proposed (proposed: {known}); ignored",
                    action_id,
                )
                ctx.event(
                    "Warning",
                    "UnknownAction",
                    f"approval for unknown action '{action_id}' ignored; proposed actions: {known}",
                )
                ctx.write()
                return
            continue
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
            if not any(
                h.step == "StaleApproval" and h.action_id == action_id for h in ctx.status.history
            ):
                ctx.history(
                    "StaleApproval",
                    f"approval of '{action_id}' predates the current diagnosis; approve again",
                    action_id,
                )
                ctx.write()
                return
            continue
        _decide_approval(
            ctx,
            proposed_ids[action_id],
            decision=approval.decision,
            approved_by=approval.approved_by,
            reason=approval.reason,
            decided_at=decided_at,
            record=record,
        )
        return


def _stale(status: IncidentStatus, action_id: str, decided_at: datetime) -> bool:
    """An approval given before the current diagnosis, or one already refused, is spent.

    NB: an action keeps its ID when it is proposed again after the target changed; without
    this, the approval that was refused would approve the new proposal. Times in status
    have whole seconds, so an approval in the same second as the refusal counts as spent.
    """
    if status.diagnosed_time and decided_at < status.diagnosed_time - timedelta(seconds=1):
        return True
    refused = [h.time for h in status.history if h.step == "Refused" and h.action_id == action_id]
    return bool(refused) and decided_at <= max(refused)


def _decide_approval(
    ctx: _Ctx,
    proposed: ProposedAction,
    *,
    decision: Decision,
    approved_by: str | None,
    reason: str | None,
    decided_at: datetime,
    record: ActionRecord | None,
) -> None:
    who = approved_by or "a person"
    describe = (
        f"{proposed.type.value} {proposed.target.kind}/{proposed.target.name} [{proposed.id}]"
    )
    base = record or ActionRecord(
        id=proposed.id,
        type=proposed.type,
        state=ActionState.AWAITING_APPROVAL,
        target_fingerprint=ctx.status.target_fingerprint,
    )
    base = base.model_copy(
        update={"approval_observed_time": base.approval_observed_time or ctx.now}
    )
    if decision is Decision.REJECT:
        rule = f"rejected by {who}" + (f": {reason}" if reason else "")
        ctx.record(
            base.model_copy(
                update={
                    "state": ActionState.REJECTED,
                    "finished_time": ctx.now,
                    "decision": PolicyDecisionRecord(
                        outcome=DecisionOutcome.REJECTED,
                        rule=rule,
                        decided_by=approved_by,
                        time=ctx.now,
                    ),
                }
            )
        )
        ctx.announce(
            "Rejected",
            f"{describe} {rule}; escalated",
            condition=(ConditionType.APPROVED, ConditionStatus.FALSE, ConditionReason.REJECTED),
            escalate="the proposed action was rejected; a person must act",
            action_id=proposed.id,
        )
        metrics.ACTIONS.labels(type=proposed.type.value, outcome="rejected").inc()
        ctx.write()
        return
    action = proposed.to_action()
    live, policy_decision, policies = _decision_inputs(ctx, action)
    via = f" (policy {policy_decision.policy})" if policy_decision.policy else ""
    if policy_decision.outcome is DecisionOutcome.DENIED:
        _deny(
            ctx,
            base,
            describe,
            f"{policy_decision.rule} (a manual approval cannot override this)",
            via,
        )
        ctx.write()
        return
    ttl = policy.approval_ttl(
        policies, policy_decision.policy, ctx.deps.default_approval_ttl_seconds
    )
    if ctx.now - decided_at > ttl:
        _finish(
            ctx,
            base,
            state=ActionState.EXPIRED,
            phase=Phase.ESCALATED,
            condition=ConditionType.APPROVED,
            reason=ConditionReason.APPROVAL_EXPIRED,
            message=f"approval of {describe} expired ({int(ttl.total_seconds())}s TTL); approve again",
        )
        ctx.write()
        return
    if live is None or rem.target_fingerprint(live) != ctx.status.target_fingerprint:
        _refuse_target_changed(ctx, base, describe)
        return
    ctx.record(
        base.model_copy(
            update={
                "state": ActionState.APPROVED,
                "decision": PolicyDecisionRecord(
                    outcome=DecisionOutcome.MANUALLY_APPROVED,
                    policy=policy_decision.policy,
                    rule=f"approved by {who}" + (f": {reason}" if reason else ""),
                    decided_by=approved_by,
                    time=ctx.now,
                ),
            }
        )
    )
    ctx.phase(Phase.REMEDIATING)
    ctx.announce(
        "Approved",
        f"{describe} approved by {who}",
        condition=(ConditionType.APPROVED, ConditionStatus.TRUE, ConditionReason.MANUALLY_APPROVED),
        action_id=proposed.id,
    )
    ctx.write()


def _refuse_target_changed(ctx: _Ctx, record: ActionRecord, describe: str) -> None:
    message = (
        f"{describe} refused: the target changed since it was diagnosed; "
        "re-diagnosing (approve the new proposal)"
    )
    ctx.record(
        record.model_copy(
            update={"state": ActionState.REFUSED, "finished_time": ctx.now, "result": message}
        )
    )
    ctx.phase(Phase.DIAGNOSING)
    ctx.condition(ConditionType.APPROVED, ConditionStatus.FALSE, "TargetChanged", message)
    ctx.condition(
        ConditionType.DIAGNOSED,
        ConditionStatus.FALSE,
        "TargetChanged",
        "the target changed since the diagnosis; diagnosing again",
    )
    ctx.history("Refused", message, record.id)
    ctx.event("Warning", "TargetChanged", message)
    metrics.ACTIONS.labels(type=record.type.value, outcome="refused").inc()
    ctx.write()


# -- applying, verifying, reverting ---------------------------------------------------------


def _advance(ctx: _Ctx, record: ActionRecord) -> None:
    proposed = ctx.status.proposed_action(record.id)
    if proposed is None:
        _fail(ctx, record, f"action {record.id} is no longer proposed")
        return
    action = proposed.to_action()
    if record.state is ActionState.APPROVED:
        _apply_approved(ctx, record, action)
    elif record.state is ActionState.APPLYING:
        _apply(ctx, record, action)
    elif record.state is ActionState.VERIFYING:
        _verify(ctx, record, action)
    elif record.state is ActionState.REVERTING:
        _revert(ctx, record, action, reason=record.result or "verification failed")


def _describe(action: Action, action_id: str) -> str:
    return f"{action.type.value} {action.target.kind}/{action.target.name} [{action_id}]"


def _apply_approved(ctx: _Ctx, record: ActionRecord, action: Action) -> None:
    remediator = ctx.deps.remediator
    describe = _describe(action, record.id)
    live = remediator.read(
        kind=action.target.kind, namespace=action.target.namespace, name=action.target.name
    )
    if live is None:
        _fail(ctx, record, f"{describe}: the target no longer exists")
        return
    if record.target_fingerprint and rem.target_fingerprint(live) != record.target_fingerprint:
        _refuse_target_changed(ctx, record, describe)
        return
    policies = remediator.policies()
    decided_by = record.decision.policy if record.decision else None
    bound = policy.check_bounds(
        action, live=live, max_memory_factor=policy.memory_increase_limit(policies, decided_by)
    )
    if bound:
        _deny(ctx, record, describe, bound, "")
        ctx.write()
        return
    limited = policy.check_rate_limits(
        limits=policy.rate_limits_for(policies, decided_by),
        recent_action_times=rem.marker_times(live),
        in_flight_in_namespace=remediator.remediating_in(
            action.target.namespace, excluding=ctx.name
        )
        if action.target.namespace
        else 0,
        now=ctx.now,
    )
    if limited:
        last = ctx.status.history[-1] if ctx.status.history else None
        if not (last and last.step == "RateLimited" and last.action_id == record.id):
            ctx.condition(
                ConditionType.REMEDIATED,
                ConditionStatus.FALSE,
                ConditionReason.RATE_LIMITED,
                f"{describe} waits: {limited}",
            )
            ctx.history("RateLimited", f"{describe} waits: {limited}", record.id)
            ctx.event("Normal", "RateLimited", f"{describe} waits: {limited}")
            ctx.write()
        return
    key = rem.idempotency_key(view.uid_of(ctx.incident), record.id)
    try:
        plan = _plan(ctx, action, live, key=key)
    except rem.RemediationError as exc:
        _fail(ctx, record, f"{describe}: {exc}")
        return
    dry = _dry_run(ctx, action)
    if dry != "passed":
        _fail(ctx, record, f"{describe}: server-side dry-run {dry}; nothing applied")
        return
    intent = record.model_copy(
        update={
            "state": ActionState.APPLYING,
            "idempotency_key": key,
            "intent_time": ctx.now,
            "dry_run": dry,
            "revert_patch": plan.revert,
        }
    )
    ctx.record(intent)
    ctx.condition(
        ConditionType.REMEDIATED,
        ConditionStatus.FALSE,
        ConditionReason.IN_PROGRESS,
        f"applying {describe}",
    )
    ctx.history(
        "IntentRecorded",
        f"server-side dry-run passed; applying {describe} (idempotency key {key})",
        record.id,
    )
    ctx.write()  # NB: the intent is durable before anything touches the target.
    _fault("after-intent")
    _apply(ctx, intent, action)


def _apply(ctx: _Ctx, record: ActionRecord, action: Action) -> None:
    if not ctx.deps.is_leader():
        raise ConflictError("this replica is no longer the leader")
    remediator = ctx.deps.remediator
    describe = _describe(action, record.id)
    key = str(record.idempotency_key)
    live = remediator.read(
        kind=action.target.kind, namespace=action.target.namespace, name=action.target.name
    )
    applied_generation: int | None = None
    recovered = False
    if action.type is ActionType.DELETE_POD:
        if live is None or view.uid_of(live) != _uid_from_fingerprint(record.target_fingerprint):
            recovered = True
        else:
            remediator.delete_pod(
                namespace=str(action.target.namespace),
                name=action.target.name,
                uid=view.uid_of(live),
                dry_run=False,
            )
    elif live is not None and rem.has_marker(live, key):
        recovered = True
        applied_generation = view.get_int(live, "metadata", "generation")
    elif live is None:
        _fail(ctx, record, f"{describe}: the target no longer exists")
        return
    else:
        try:
            plan = _plan(ctx, action, live, key=key)
            if (
                record.target_fingerprint
                and rem.target_fingerprint(live) != record.target_fingerprint
            ):
                raise rem.RemediationError("the target changed after the intent was recorded")
            result = remediator.json_patch(
                kind=action.target.kind,
                namespace=action.target.namespace,
                name=action.target.name,
                ops=plan.ops,
                dry_run=False,
            )
        except (rem.RemediationError, PatchRejectedError) as exc:
            _fail(ctx, record, f"{describe}: not applied: {exc}")
            return
        applied_generation = view.get_int(result, "metadata", "generation")
    _fault("after-apply")
    how = "found already applied (marker on the target) after a restart" if recovered else "applied"
    ctx.record(
        record.model_copy(
            update={
                "state": ActionState.VERIFYING,
                "applied_time": record.applied_time or ctx.now,
                "applied_generation": applied_generation,
                "verify_deadline": ctx.now + ctx.deps.verify_timeout,
                "result": f"{how}; verifying",
            }
        )
    )
    ctx.history("ActionApplied", f"{describe} {how}", record.id)
    ctx.event(
        "Normal",
        "ActionApplied",
        f"{describe} {how} by kubemedic for Incident {ctx.ref}",
        on_target=live if live is not None else None,
    )
    if not recovered:
        metrics.ACTIONS.labels(type=action.type.value, outcome="applied").inc()
    ctx.write()


def _uid_from_fingerprint(fingerprint: str | None) -> str:
    return (fingerprint or "").split("/", 1)[0]


def _verify(ctx: _Ctx, record: ActionRecord, action: Action) -> None:
    describe = _describe(action, record.id)
    bundle = None
    kind = action.target.kind
    deleted_gone = False
    if action.type is ActionType.DELETE_POD:
        live = ctx.deps.remediator.read(
            kind=kind, namespace=action.target.namespace, name=action.target.name
        )
        deleted_gone = live is None or view.uid_of(live) != _uid_from_fingerprint(
            record.target_fingerprint
        )
    else:
        target = TargetRef(
            kind=TargetKind(kind), namespace=action.target.namespace, name=action.target.name
        )
        try:
            bundle = gather_bundle(ctx.deps.remediator.reader, target, now=ctx.now)
        except TargetNotFoundError:
            bundle = None
    verdict = rem.verify_action(
        action,
        bundle=bundle,
        applied_generation=record.applied_generation,
        deleted_pod_gone=deleted_gone,
    )
    deadline = record.verify_deadline
    if verdict.state is rem.VerdictState.PENDING and (deadline is None or ctx.now < deadline):
        return
    if verdict.state is rem.VerdictState.PASSED:
        ctx.record(
            record.model_copy(
                update={
                    "state": ActionState.VERIFIED,
                    "finished_time": ctx.now,
                    "result": f"verified: {verdict.message}",
                }
            )
        )
        ctx.condition(
            ConditionType.REMEDIATED,
            ConditionStatus.TRUE,
            ConditionReason.ACTION_APPLIED,
            f"{describe} applied and verified: {verdict.message}",
        )
        ctx.status = ctx.status.model_copy(
            update={"remediated_time": ctx.now.replace(microsecond=0)}
        )
        ctx.history("Verified", f"{describe} verified: {verdict.message}", record.id)
        ctx.event("Normal", "Verified", f"{describe} verified: {verdict.message}")
        metrics.ACTIONS.labels(type=action.type.value, outcome="verified").inc()
        if record.approval_observed_time or record.decision:
            start = record.approval_observed_time or (
                record.decision.time if record.decision else ctx.now
            )
            metrics.TIME_TO_REMEDIATE.observe((ctx.now - start).total_seconds())
        _resolve_if_done(ctx)
        ctx.write()
        return
    reason = (
        verdict.message
        if verdict.state is rem.VerdictState.FAILED
        else f"not healthy in time: {verdict.message}"
    )
    if record.revert_patch:
        reverting = record.model_copy(update={"state": ActionState.REVERTING, "result": reason})
        ctx.record(reverting)
        ctx.history("VerificationFailed", f"{describe}: {reason}; reverting", record.id)
        ctx.write()
        _revert(ctx, reverting, action, reason=reason)
        return
    _finish(
        ctx,
        record,
        state=ActionState.FAILED,
        phase=Phase.FAILED,
        condition=ConditionType.REMEDIATED,
        reason=ConditionReason.ACTION_FAILED,
        message=f"{describe}: verification failed: {reason} (no automatic revert for {action.type.value})",
    )
    ctx.condition(
        ConditionType.RESOLVED, ConditionStatus.FALSE, ConditionReason.STILL_FAILING, reason
    )
    ctx.write()


def _revert(ctx: _Ctx, record: ActionRecord, action: Action, *, reason: str) -> None:
    describe = _describe(action, record.id)
    try:
        ctx.deps.remediator.json_patch(
            kind=action.target.kind,
            namespace=action.target.namespace,
            name=action.target.name,
            ops=list(record.revert_patch or []),
            dry_run=False,
        )
        outcome, state = "reverted", ActionState.REVERTED
    except PatchRejectedError as exc:
        outcome, state = f"revert failed: {exc}", ActionState.FAILED
    message = f"{describe}: verification failed ({reason}); {outcome}"
    _finish(
        ctx,
        record,
        state=state,
        phase=Phase.FAILED,
        condition=ConditionType.REMEDIATED,
        reason=ConditionReason.ACTION_FAILED,
        message=message,
    )
    ctx.condition(
        ConditionType.RESOLVED, ConditionStatus.FALSE, ConditionReason.STILL_FAILING, reason
    )
    ctx.event(
        "Warning",
        "Reverted" if state is ActionState.REVERTED else "RevertFailed",
        message,
        on_target=ctx.deps.remediator.read(
            kind=action.target.kind, namespace=action.target.namespace, name=action.target.name
        ),
    )
    metrics.ACTIONS.labels(
        type=action.type.value, outcome=outcome.split(":")[0].replace(" ", "_")
    ).inc()
    ctx.write()


def _fail(ctx: _Ctx, record: ActionRecord, message: str) -> None:
    """The action failed before or while being applied: record it, fail the Incident, write."""
    _finish(
        ctx,
        record,
        state=ActionState.FAILED,
        phase=Phase.FAILED,
        condition=ConditionType.REMEDIATED,
        reason=ConditionReason.ACTION_FAILED,
        message=message,
    )
    ctx.write()


def _finish(
    ctx: _Ctx,
    record: ActionRecord,
    *,
    state: ActionState,
    phase: Phase,
    condition: str,
    reason: str,
    message: str,
) -> None:
    ctx.record(
        record.model_copy(
            update={"state": state, "finished_time": ctx.now, "result": message[:1024]}
        )
    )
    ctx.phase(phase)
    ctx.condition(condition, ConditionStatus.FALSE, reason, message)
    ctx.history(state.value, message, record.id)
    ctx.event("Warning", state.value, message)
    metrics.ACTIONS.labels(type=record.type.value, outcome=state.value.lower()).inc()


def _all_verified_waiting_for_alert(ctx: _Ctx) -> bool:
    verified = any(r.state is ActionState.VERIFIED for r in ctx.status.actions)
    if not verified:
        return False
    if _resolve_if_done(ctx):
        ctx.write()
    return True


def _resolve_if_done(ctx: _Ctx) -> bool:
    """Resolved when verification passed and the alert (if any) resolved."""
    alert_pending = ctx.spec.source is Source.ALERT and not is_condition_true(
        ctx.status.conditions, ALERT_RESOLVED
    )
    if alert_pending:
        ctx.phase(Phase.REMEDIATING)
        ctx.condition(
            ConditionType.RESOLVED,
            ConditionStatus.FALSE,
            "AwaitingAlertResolution",
            "the fix is verified; waiting for the alert to resolve",
        )
        return False
    ctx.phase(Phase.RESOLVED)
    ctx.condition(
        ConditionType.RESOLVED,
        ConditionStatus.TRUE,
        ConditionReason.RECOVERED,
        "the fix was verified"
        + (" and the alert resolved" if ctx.spec.source is Source.ALERT else ""),
    )
    ctx.status = ctx.status.model_copy(update={"resolved_time": ctx.now.replace(microsecond=0)})
    ctx.history("Resolved", "the incident is resolved")
    ctx.event("Normal", "Resolved", "the fix was verified; the incident is resolved")
    if ctx.status.detected_time:
        metrics.MTTR.observe((ctx.now - ctx.status.detected_time).total_seconds())
    return True


def _fault(point: str) -> None:
    # NB: a test hook to prove exactly-once under crashes; inert unless explicitly enabled.
    enabled = os.environ.get("KUBEMEDIC_ENABLE_FAULT_INJECTION") == "true"
    chance = float(os.environ.get("KUBEMEDIC_FAULT_PROBABILITY", "1"))
    if enabled and os.environ.get(FAULT_ENV) == point and random.random() < chance:  # noqa: S311
        logger.warning("fault injection: crashing %s", point)
        os._exit(137)


__all__ = [
    "EventSpec",
    "ReconcileResult",
    "RemediationDeps",
    "reconcile_remediation",
]
