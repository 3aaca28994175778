"""Remediation handlers: a timer advances each active Incident's state machine.

NB: a timer (not a change handler) because the state machine must also move when nothing
about the Incident changes — a rollout finishing, a verification deadline passing — and
because kopf never runs two timers of one object at once, so transitions are serial per
Incident. Transitions are written with optimistic concurrency, so leader failover or a
restart cannot apply an action twice (service/remediation.py).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, Final, cast

import kopf

from kubemedic.handlers.incidents import RESOURCE
from kubemedic.models.incident import IncidentSpec, IncidentStatus
from kubemedic.service.notifications import notify_transition
from kubemedic.service.remediation import RemediationDeps, needs_remediation, reconcile_remediation
from kubemedic.settings import OperatorSettings

#: Read once at import: kopf decorators take constants.
INTERVAL_SECONDS: Final = OperatorSettings().remediation_interval_seconds


def _active(spec: kopf.Spec, status: kopf.Status, **_: Any) -> bool:
    try:
        return needs_remediation(
            IncidentStatus.model_validate(dict(status)), IncidentSpec.model_validate(dict(spec))
        )
    except ValueError:
        return False


@kopf.timer(*RESOURCE, interval=INTERVAL_SECONDS, when=_active)
async def remediate(body: kopf.Body, memo: kopf.Memo, patch: kopf.Patch, **_: Any) -> None:
    deps: RemediationDeps = memo["remediation_deps"]
    result = await asyncio.to_thread(
        reconcile_remediation,
        deps,
        namespace=str(body.metadata.namespace),
        name=str(body.metadata.name),
    )
    if result.before is not None and result.after is not None and result.spec is not None:
        settings: OperatorSettings = memo["settings"]
        notified = await notify_transition(
            memo.get("notifier"),
            incident_name=str(body.metadata.name),
            incident_namespace=str(body.metadata.namespace),
            incident_uid=result.uid,
            spec=result.spec,
            old_status=result.before,
            new_status=result.after,
            now=datetime.now(UTC),
            cooldown_seconds=settings.notify_cooldown_seconds,
        )
        if (
            notified.notifications is not None
            and notified.notifications != result.after.notifications
        ):
            patch.setdefault("status", {})["notifications"] = notified.notifications.model_dump(
                mode="json", by_alias=True, exclude_none=True
            )
    for event in result.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)
        if event.on_target is not None:
            kopf.event(
                cast(kopf.Body, event.on_target),
                type=event.type,
                reason=event.reason,
                message=event.message,
            )
