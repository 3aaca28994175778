"""Incident handlers: diagnose on create/resume; look again for a target that was missing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import kopf
from pydantic import ValidationError

from kubemedic.constants import API_GROUP, API_VERSION, INCIDENT_PLURAL
from kubemedic.domain.lifecycle import status_patch
from kubemedic.models.conditions import ConditionStatus, ConditionType, find_condition
from kubemedic.models.incident import IncidentSpec, IncidentStatus, Phase
from kubemedic.service.diagnosis import diagnose_incident
from kubemedic.service.notifications import notify_transition
from kubemedic.settings import OperatorSettings

RESOURCE = (API_GROUP, API_VERSION, INCIDENT_PLURAL)
#: How often to look again for a target that does not exist (yet).
MISSING_TARGET_RETRY_SECONDS: Final = 10.0


def _needs_diagnosis_again(status: kopf.Status, **_: Any) -> bool:
    """The target was missing, or it changed after the diagnosis (remediation refused)."""
    current = IncidentStatus.model_validate(dict(status))
    found = find_condition(current.conditions, ConditionType.TARGET_FOUND)
    if found is not None and found.status is ConditionStatus.FALSE:
        return True
    diagnosed = find_condition(current.conditions, ConditionType.DIAGNOSED)
    return (
        current.phase is Phase.DIAGNOSING
        and diagnosed is not None
        and diagnosed.reason == "TargetChanged"
    )


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
async def diagnose(
    body: kopf.Body,
    spec: kopf.Spec,
    status: kopf.Status,
    patch: kopf.Patch,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    current = IncidentStatus.model_validate(dict(status))
    generation = body.metadata.get("generation")
    if current.diagnosis is not None and current.observed_generation == generation:
        return  # resumed after a restart: already diagnosed for this spec
    await _diagnose(body=body, spec=spec, status=current, patch=patch, memo=memo)


@kopf.timer(
    *RESOURCE, interval=MISSING_TARGET_RETRY_SECONDS, initial_delay=5.0, when=_needs_diagnosis_again
)
async def retry_missing_target(
    body: kopf.Body,
    spec: kopf.Spec,
    status: kopf.Status,
    patch: kopf.Patch,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    await _diagnose(
        body=body,
        spec=spec,
        status=IncidentStatus.model_validate(dict(status)),
        patch=patch,
        memo=memo,
    )


async def _diagnose(
    *, body: kopf.Body, spec: kopf.Spec, status: IncidentStatus, patch: kopf.Patch, memo: kopf.Memo
) -> None:
    try:
        parsed = IncidentSpec.model_validate(dict(spec))
    except ValidationError as exc:
        # The API server validates the spec; this only fires for a CRD older than the operator.
        kopf.event(
            body,
            type="Warning",
            reason="InvalidSpec",
            message=f"spec is invalid: {exc.errors()[0]['msg']}",
        )
        raise kopf.PermanentError(f"invalid spec: {exc}") from exc
    outcome = await diagnose_incident(
        memo["diagnosis_deps"],
        spec=parsed,
        status=status,
        incident_namespace=str(body.metadata.namespace),
        generation=body.metadata.get("generation"),
    )
    settings: OperatorSettings = memo["settings"]
    new_status = await notify_transition(
        memo.get("notifier"),
        incident_name=str(body.metadata.name),
        incident_namespace=str(body.metadata.namespace),
        incident_uid=str(body.metadata.uid),
        spec=parsed,
        old_status=status,
        new_status=outcome.status,
        now=datetime.now(UTC),
        cooldown_seconds=settings.notify_cooldown_seconds,
    )
    patch.setdefault("status", {}).update(status_patch(new_status))
    if not outcome.target_found:
        if find_condition(status.conditions, ConditionType.TARGET_FOUND) is None:
            kopf.event(
                body,
                type="Warning",
                reason="TargetNotFound",
                message=f"{outcome.status.target} does not exist; retrying every "
                f"{MISSING_TARGET_RETRY_SECONDS:.0f}s",
            )
        return
    diagnosis = outcome.diagnosis
    assert diagnosis is not None
    actions = ", ".join(a.type.value for a in diagnosis.actions) or "none"
    kopf.event(
        body,
        type="Normal",
        reason="Diagnosed",
        message=f"{diagnosis.category.value} ({diagnosis.confidence:.0%}): {diagnosis.summary} "
        f"Proposed actions: {actions}."[:1024],
    )
