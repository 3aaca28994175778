"""One step of an Incident's remediation state machine: :func:`reconcile_remediation`.

One call makes at most one durable transition of one Incident (two when an intent is
followed at once by its apply, or a failed verification by its revert: each is written
before the next begins) and writes each with optimistic concurrency (the Incident's
resourceVersion), so a retry, a restart or a second replica can never make the same
transition twice. Which step runs depends only on the status:

- an action in flight (Approved, Applying, Verifying, Reverting) moves on (apply.py, finish.py);
- a fresh diagnosis is decided by policy (decide.py); approvals that already exist then
  were not made from its proposal and are ignored;
- a verified fix waits for its alert to resolve (finish.py);
- otherwise approvals (IncidentApproval objects, read from the API server and stamped with
  the operator's clock when first seen) are acted on, and an action nobody approved in time
  expires (approvals.py).

Runs in a worker thread (the Kubernetes client is synchronous); returns the Events to
post so the leader's loop posts them from its own task (service/incident_steps.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from kubemedic.clients.kube import ConflictError, RawObject
from kubemedic.domain import view
from kubemedic.domain.scheduling import REMEDIATION_PHASES, needs_remediation
from kubemedic.models.audit_trail import ActionRecord, ActionState
from kubemedic.models.incident import IncidentSpec, IncidentStatus, Phase
from kubemedic.service.remediation.apply import apply, apply_approved, fail
from kubemedic.service.remediation.approvals import (
    expire_unapproved,
    ignore_premature,
    load_approvals,
    process_approvals,
)
from kubemedic.service.remediation.context import Context, EventSpec, RemediationDeps
from kubemedic.service.remediation.decide import decide_primary
from kubemedic.service.remediation.finish import all_verified_waiting_for_alert, revert, verify

logger = logging.getLogger(__name__)

IN_FLIGHT: Final = (
    ActionState.APPROVED,
    ActionState.APPLYING,
    ActionState.VERIFYING,
    ActionState.REVERTING,
)


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
    deps: RemediationDeps,
    *,
    namespace: str,
    name: str,
    now: datetime | None = None,
    incident: RawObject | None = None,
) -> ReconcileResult:
    """Make at most one transition of the Incident's remediation; return Events to post.

    ``incident`` is the Incident as the caller's index holds it; without it the Incident
    is read. A stale copy is harmless: its write is refused (conflict) and retried.
    """
    if incident is None:
        incident = deps.remediator.read_incident(namespace, name)
    if incident is None:
        return ReconcileResult(events=[])
    spec = IncidentSpec.model_validate(incident.get("spec") or {})
    status = IncidentStatus.model_validate(incident.get("status") or {})
    if status.phase not in REMEDIATION_PHASES:
        return ReconcileResult(events=[])
    at = now or datetime.now(UTC)
    pending = load_approvals(deps, namespace=namespace, incident=name, now=at)
    if not needs_remediation(status, [a.spec.action_id for a in pending]):
        return ReconcileResult(events=[])
    ctx = Context(deps=deps, incident=incident, spec=spec, status=status, now=at, approvals=pending)
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


def _step(ctx: Context) -> None:
    in_flight = next((r for r in ctx.status.actions if r.state in IN_FLIGHT), None)
    if in_flight is not None:
        _advance(ctx, in_flight)
        return
    if ctx.status.phase is Phase.DIAGNOSED:
        ignore_premature(ctx)
        decide_primary(ctx)
        return
    if ctx.status.phase is Phase.REMEDIATING and all_verified_waiting_for_alert(ctx):
        return
    if not process_approvals(ctx):
        expire_unapproved(ctx)


def _advance(ctx: Context, record: ActionRecord) -> None:
    proposed = ctx.status.proposed_action(record.id)
    if proposed is None:
        fail(ctx, record, f"action {record.id} is no longer proposed")
        return
    action = proposed.to_action()
    if record.state is ActionState.APPROVED:
        apply_approved(ctx, record, action)
    elif record.state is ActionState.APPLYING:
        apply(ctx, record, action)
    elif record.state is ActionState.VERIFYING:
        verify(ctx, record, action)
    elif record.state is ActionState.REVERTING:
        revert(ctx, record, action, reason=record.result or "verification failed")
