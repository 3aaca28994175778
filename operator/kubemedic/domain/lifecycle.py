"""Incident status transitions: pure functions from (old status, observation) to new status.

The handlers only gather evidence and write what these functions return, so the whole
lifecycle is testable without a cluster. Conditions go through ``set_condition`` so
``lastTransitionTime`` means "since when", as the API conventions ask.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from kubemedic.domain.approvals import proposable
from kubemedic.models.audit_trail import (
    MAX_ACTION_RECORDS,
    MAX_HISTORY,
    TERMINAL_STATES,
    ActionRecord,
    ActionState,
    HistoryEntry,
)
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.conditions import (
    Condition,
    ConditionReason,
    ConditionStatus,
    ConditionType,
    set_condition,
)
from kubemedic.models.diagnosis import Category, Diagnosis
from kubemedic.models.incident import DiagnosisStatus, IncidentStatus, Phase, ProposedAction
from kubemedic.models.target import TargetRef

#: Records a new diagnosis must not cancel: the change may be on the target already, so
#: verification (or the revert) must finish.
_NOT_SUPERSEDED = frozenset({ActionState.APPLYING, ActionState.VERIFYING, ActionState.REVERTING})


def bundle_digest(bundle: IncidentBundle) -> str:
    """A digest of the evidence (not of when it was collected): same evidence, same digest."""
    content = bundle.model_dump(mode="json", by_alias=True, exclude={"collected_at"})
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def resolve_target(target: TargetRef, *, incident_namespace: str) -> TargetRef:
    """The target with its namespace defaulted to the Incident's (never for a Node)."""
    if target.kind.value == "Node" or target.namespace:
        return target
    return target.model_copy(update={"namespace": incident_namespace})


def status_detected(status: IncidentStatus, *, target: TargetRef, now: datetime) -> IncidentStatus:
    """First sight of an Incident: record when, and what it is about."""
    return status.model_copy(
        update={
            "detected_time": status.detected_time or now.replace(microsecond=0),
            "target": target.display(),
            "phase": status.phase or Phase.PENDING,
        }
    )


def _target_found(
    status: IncidentStatus,
    *,
    target: TargetRef,
    found: bool,
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    """The conditions with TargetFound set: read, or missing and retried."""
    if found:
        state, reason = ConditionStatus.TRUE, ConditionReason.FOUND
        message = f"{target.display()} was read"
    else:
        state, reason = ConditionStatus.FALSE, ConditionReason.NOT_FOUND
        message = f"{target.display()} does not exist; kubemedic retries until it appears"
    return set_condition(
        status.conditions,
        type=ConditionType.TARGET_FOUND,
        status=state,
        reason=reason,
        message=message,
        observed_generation=generation,
        now=now,
    )


def status_target_missing(
    status: IncidentStatus, *, target: TargetRef, generation: int | None, now: datetime
) -> IncidentStatus:
    """The target does not exist: say so in a condition; the Incident stays Pending."""
    conditions = _target_found(status, target=target, found=False, generation=generation, now=now)
    return status.model_copy(update={"conditions": conditions, "phase": Phase.PENDING})


def status_diagnosed(
    status: IncidentStatus,
    *,
    target: TargetRef,
    diagnosis: Diagnosis,
    digest: str,
    generation: int | None,
    now: datetime,
    target_fingerprint: str | None = None,
) -> IncidentStatus:
    """Record a diagnosis, its evidence and the proposed actions with stable IDs.

    A new diagnosis starts a new decision round: records still in flight from an earlier
    round are marked Superseded (their history stays).
    """
    conditions = _target_found(status, target=target, found=True, generation=generation, now=now)
    matched = diagnosis.category is not Category.UNKNOWN
    conditions = set_condition(
        conditions,
        type=ConditionType.DIAGNOSED,
        status=ConditionStatus.TRUE,
        reason=(
            ConditionReason.NO_RULE_MATCHED
            if not matched
            else ConditionReason.LLM_ANSWERED
            if diagnosis.engine == "llm"
            else ConditionReason.RULE_MATCHED
        ),
        message=f"{diagnosis.category.value} ({diagnosis.confidence:.0%}): {diagnosis.summary}"[
            :1024
        ],
        observed_generation=generation,
        now=now,
    )
    superseded = [
        r
        if r.state in TERMINAL_STATES or r.state in _NOT_SUPERSEDED
        else r.model_copy(
            update={"state": ActionState.SUPERSEDED, "finished_time": now.replace(microsecond=0)}
        )
        for r in status.actions
    ]
    status = with_history(
        status,
        step="Diagnosed",
        message=f"{diagnosis.category.value} ({diagnosis.confidence:.0%}) by {diagnosis.engine}; "
        f"proposed: {', '.join(a.type.value for a in diagnosis.actions) or 'nothing'}",
        now=now,
    )
    return status.model_copy(
        update={
            "conditions": conditions,
            "actions": superseded,
            "target_fingerprint": target_fingerprint,
            "phase": Phase.DIAGNOSED,
            "observed_generation": generation,
            "diagnosed_time": now.replace(microsecond=0),
            "target": target.display(),
            "diagnosis": DiagnosisStatus.from_diagnosis(diagnosis, bundle_digest=digest),
            # NB: a Node Incident lists only CordonNode and Escalate (the CRD refuses more).
            "proposed_actions": [
                ProposedAction.from_action(a) for a in proposable(target, diagnosis.actions)
            ],
        }
    )


def status_with_reports(
    status: IncidentStatus,
    *,
    reports: list[tuple[str, ConditionStatus, ConditionReason, str]],
    generation: int | None,
    now: datetime,
) -> IncidentStatus:
    """Record the conditions optional stages reported: (type, status, reason, message)."""
    conditions = status.conditions
    for condition_type, condition_status, reason, message in reports:
        conditions = set_condition(
            conditions,
            type=condition_type,
            status=condition_status,
            reason=reason,
            message=message,
            observed_generation=generation,
            now=now,
        )
    return status.model_copy(update={"conditions": conditions})


def status_patch(status: IncidentStatus) -> dict[str, object]:
    """The JSON form to write as the Incident's status (camelCase, no nulls)."""
    return status.model_dump(mode="json", by_alias=True, exclude_none=True)


def with_history(
    status: IncidentStatus, *, step: str, message: str, now: datetime, action_id: str | None = None
) -> IncidentStatus:
    """Append a history entry (the newest MAX_HISTORY are kept)."""
    entry = HistoryEntry(
        time=now.replace(microsecond=0), step=step, message=message[:1024], action_id=action_id
    )
    return status.model_copy(update={"history": [*status.history, entry][-MAX_HISTORY:]})


def with_record(status: IncidentStatus, record: ActionRecord) -> IncidentStatus:
    """Insert or replace the record with the same action ID."""
    others = [r for r in status.actions if r.id != record.id]
    return status.model_copy(update={"actions": [*others, record][-MAX_ACTION_RECORDS:]})


def with_condition(
    status: IncidentStatus,
    *,
    type: str,
    condition_status: ConditionStatus,
    reason: ConditionReason,
    message: str,
    generation: int | None,
    now: datetime,
) -> IncidentStatus:
    """Set one condition (``lastTransitionTime`` moves only when its status changes)."""
    conditions = set_condition(
        status.conditions,
        type=type,
        status=condition_status,
        reason=reason,
        message=message[:1024],
        observed_generation=generation,
        now=now,
    )
    return status.model_copy(update={"conditions": conditions})
