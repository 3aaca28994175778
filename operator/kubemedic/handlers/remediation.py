"""Remediation: one step of an Incident's state machine each time the leader's loop visits it.

The loop (handlers/incidents.py, ``IncidentLoop``) visits an Incident when it changes and
on every tick, because the state machine must also move when nothing about the Incident
changes — a rollout finishing, a verification deadline passing — and it runs at most one
task per Incident, so transitions are serial per Incident. Transitions are written with
optimistic concurrency, so leader failover or a restart cannot apply an action twice
(service/remediation/).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import kopf

from kubemedic.service.notifications import notify_transition
from kubemedic.service.remediation import RemediationDeps, reconcile_remediation
from kubemedic.settings import OperatorSettings


async def advance(*, body: kopf.Body, memo: kopf.Memo) -> None:
    """Advance the Incident's remediation by one step (called by the leader's loop)."""
    deps: RemediationDeps = memo["remediation_deps"]
    namespace, name = str(body.metadata.namespace), str(body.metadata.name)
    # NB: the index's copy of the Incident, not a fresh read; a stale copy's write is refused.
    result = await asyncio.to_thread(
        reconcile_remediation, deps, namespace=namespace, name=name, incident=dict(body)
    )
    if result.before is not None and result.after is not None and result.spec is not None:
        settings: OperatorSettings = memo["settings"]
        notified = await notify_transition(
            memo.get("notifier"),
            incident_name=name,
            incident_namespace=namespace,
            incident_uid=result.uid,
            spec=result.spec,
            old_status=result.before,
            new_status=result.after,
            now=datetime.now(UTC),
            cooldown_seconds=settings.notify_cooldown_seconds,
        )
        record = notified.notifications
        if record is not None and record != result.after.notifications and result.resource_version:
            await asyncio.to_thread(
                deps.remediator.write_incident_status,
                namespace,
                name,
                status={
                    "notifications": record.model_dump(
                        mode="json", by_alias=True, exclude_none=True
                    )
                },
                resource_version=result.resource_version,
            )
    recorder = memo["events"]
    for event in result.events:
        await asyncio.to_thread(
            recorder.post, dict(body), type=event.type, reason=event.reason, message=event.message
        )
        if event.on_target is not None:
            await asyncio.to_thread(
                recorder.post,
                event.on_target,
                type=event.type,
                reason=event.reason,
                message=event.message,
            )
