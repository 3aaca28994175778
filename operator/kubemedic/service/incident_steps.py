"""One step of an Incident, as the leader's loop takes it: diagnose it, or advance its fix.

Each step computes the new status (``service/diagnosis_pipeline.py``, ``service/remediation/``),
sends the notification the transition calls for, writes the status with optimistic
concurrency and posts the step's Events. Nothing is written by a replica that lost the lead.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from kubemedic.domain import scheduling
from kubemedic.domain.lifecycle import status_patch
from kubemedic.models.conditions import ConditionType, find_condition
from kubemedic.models.incident import IncidentSpec, IncidentStatus
from kubemedic.service.diagnosis_pipeline import diagnose_incident
from kubemedic.service.notifications import notify_transition
from kubemedic.service.remediation import reconcile_remediation
from kubemedic.service.runtime import OperatorRuntime

logger = logging.getLogger(__name__)

#: An Incident as the watch delivered it (kopf's body: ``metadata``, ``spec``, ``status``).
Body = Any


async def diagnose(runtime: OperatorRuntime, *, body: Body, status: IncidentStatus) -> None:
    """Diagnose one Incident and write its status (optimistic concurrency)."""
    namespace, name = str(body.metadata.namespace), str(body.metadata.name)
    try:
        parsed = IncidentSpec.model_validate(dict(body.spec))
    except ValidationError as exc:
        # The API server validates the spec; this only fires for a CRD older than the operator.
        await _post(
            runtime,
            dict(body),
            type_="Warning",
            reason="InvalidSpec",
            message=f"spec is invalid: {exc.errors()[0]['msg']}",
        )
        return
    outcome = await diagnose_incident(
        runtime.diagnosis,
        spec=parsed,
        status=status,
        incident_namespace=namespace,
        generation=body.metadata.get("generation"),
    )
    if scheduling.still_unknown(status, outcome.diagnosis.category if outcome.diagnosis else None):
        # NB: a young Unknown Incident is looked at again; while nothing new shows, only
        # the time of the look is recorded (no history, Event or notification each time).
        quiet = status.model_copy(
            update={"diagnosed_time": datetime.now(UTC).replace(microsecond=0)}
        )
        await _write(runtime, body, quiet)
        return
    new_status = await notify_transition(
        runtime.notifier,
        incident_name=name,
        incident_namespace=namespace,
        incident_uid=str(body.metadata.uid),
        spec=parsed,
        old_status=status,
        new_status=outcome.status,
        now=datetime.now(UTC),
        cooldown_seconds=runtime.settings.notify_cooldown_seconds,
    )
    if not runtime.leadership.is_leader:
        return  # NB: never write after losing the lead; the new leader diagnoses again
    await _write(runtime, body, new_status)
    if not outcome.target_found:
        if find_condition(status.conditions, ConditionType.TARGET_FOUND) is None:
            retry = scheduling.MISSING_TARGET_RETRY_SECONDS
            message = f"{outcome.status.target} does not exist; retrying every {retry:.0f}s"
            await _post(
                runtime, dict(body), type_="Warning", reason="TargetNotFound", message=message
            )
        return
    diagnosis = outcome.diagnosis
    assert diagnosis is not None
    actions = ", ".join(a.type.value for a in diagnosis.actions) or "none"
    message = (
        f"{diagnosis.category.value} ({diagnosis.confidence:.0%}): {diagnosis.summary} "
        f"Proposed actions: {actions}."
    )
    await _post(runtime, dict(body), type_="Normal", reason="Diagnosed", message=message[:1024])


async def advance(runtime: OperatorRuntime, *, body: Body) -> None:
    """Advance the Incident's remediation by one step."""
    deps = runtime.remediation
    namespace, name = str(body.metadata.namespace), str(body.metadata.name)
    # NB: the index's copy of the Incident, not a fresh read; a stale copy's write is refused.
    result = await asyncio.to_thread(
        reconcile_remediation, deps, namespace=namespace, name=name, incident=dict(body)
    )
    if result.before is not None and result.after is not None and result.spec is not None:
        notified = await notify_transition(
            runtime.notifier,
            incident_name=name,
            incident_namespace=namespace,
            incident_uid=result.uid,
            spec=result.spec,
            old_status=result.before,
            new_status=result.after,
            now=datetime.now(UTC),
            cooldown_seconds=runtime.settings.notify_cooldown_seconds,
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
    for event in result.events:
        await _post(
            runtime, dict(body), type_=event.type, reason=event.reason, message=event.message
        )
        if event.on_target is not None:
            await _post(
                runtime,
                event.on_target,
                type_=event.type,
                reason=event.reason,
                message=event.message,
            )


async def _write(runtime: OperatorRuntime, body: Body, status: IncidentStatus) -> None:
    """Write the Incident's status if nobody wrote it since the watch delivered ``body``."""
    await asyncio.to_thread(
        runtime.remediation.remediator.write_incident_status,
        str(body.metadata.namespace),
        str(body.metadata.name),
        status=status_patch(status),
        resource_version=str(body.metadata.get("resourceVersion")),
    )


async def _post(
    runtime: OperatorRuntime, obj: dict[str, Any], *, type_: str, reason: str, message: str
) -> None:
    await asyncio.to_thread(runtime.events.post, obj, type=type_, reason=reason, message=message)
