"""What the leader's loop should do with an Incident now: pure decisions on its status.

The loop (handlers/incidents.py) visits Incidents; these functions say whether one has
anything left to do, whether it must be diagnosed (again), and whether its remediation
state machine has a step to take. Times are passed in: ``now`` (wall clock, for times
written in status) and ``now_monotonic`` (for the process's own bookkeeping).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Final

from kubemedic.models.audit_trail import TERMINAL_STATES
from kubemedic.models.conditions import (
    ConditionReason,
    ConditionStatus,
    ConditionType,
    find_condition,
)
from kubemedic.models.diagnosis import Category
from kubemedic.models.incident import IncidentStatus, Phase

#: How often to look again for a target that does not exist (yet).
MISSING_TARGET_RETRY_SECONDS: Final = 10.0
#: An Unknown diagnosis is tried again this often while the Incident is young: an Incident
#: (or an alert) often arrives before the failure shows in the pods' statuses.
UNKNOWN_RETRY_SECONDS: Final = 15.0
UNKNOWN_RETRY_WINDOW_SECONDS: Final = 600.0
FINISHED: Final = frozenset({Phase.RESOLVED, Phase.FAILED})
#: Phases in which the remediation state machine may have a step to take.
REMEDIATION_PHASES: Final = frozenset(
    {Phase.DIAGNOSED, Phase.AWAITING_APPROVAL, Phase.REMEDIATING, Phase.ESCALATED}
)


def young_unknown(status: IncidentStatus, *, now: datetime) -> bool:
    """An Unknown diagnosis of a young Incident with nothing in flight, due for another look."""
    if status.diagnosis is None or status.diagnosis.category is not Category.UNKNOWN:
        return False
    if status.detected_time is None or status.diagnosed_time is None:
        return False
    if any(r.state not in TERMINAL_STATES for r in status.actions):
        return False
    young = (now - status.detected_time).total_seconds() < UNKNOWN_RETRY_WINDOW_SECONDS
    return young and (now - status.diagnosed_time).total_seconds() >= UNKNOWN_RETRY_SECONDS


def needs_remediation(status: IncidentStatus, approved_ids: Collection[str]) -> bool:
    """Is there anything for the remediation state machine to do?

    ``approved_ids``: the action IDs named by the Incident's unspent IncidentApprovals. In
    Escalated, only such an approval that has not been acted on yet (a person approving an
    alternative after the first proposal was denied or rejected) needs it.
    """
    if status.phase not in REMEDIATION_PHASES:
        return False
    if status.phase is Phase.ESCALATED:
        return any(_undecided(status, action_id) for action_id in approved_ids)
    return True


def _undecided(status: IncidentStatus, action_id: str) -> bool:
    record = status.action_record(action_id)
    return record is None or record.state not in TERMINAL_STATES


def is_open(status: IncidentStatus, approved_ids: Collection[str], *, now: datetime) -> bool:
    """Whether an Incident has anything left for the operator to do."""
    if status.phase in FINISHED:
        return False
    if status.phase is Phase.ESCALATED:
        return young_unknown(status, now=now) or needs_remediation(status, approved_ids)
    return True


def needs_diagnosis(
    status: IncidentStatus, *, last_target_check: float | None, now_monotonic: float, now: datetime
) -> bool:
    """Never diagnosed; target missing (looked for every 10 s); the target changed; or the
    diagnosis is Unknown and the Incident young (tried again every 15 s for 10 minutes)."""
    if target_missing(status):
        return (
            last_target_check is None
            or now_monotonic - last_target_check >= MISSING_TARGET_RETRY_SECONDS
        )
    if status.diagnosis is None or young_unknown(status, now=now):
        return True
    diagnosed = find_condition(status.conditions, ConditionType.DIAGNOSED)
    return (
        status.phase is Phase.DIAGNOSING
        and diagnosed is not None
        and diagnosed.reason == ConditionReason.TARGET_CHANGED
    )


def target_missing(status: IncidentStatus) -> bool:
    """The last look found no target."""
    found = find_condition(status.conditions, ConditionType.TARGET_FOUND)
    return found is not None and found.status is ConditionStatus.FALSE


def still_unknown(before: IncidentStatus, after_category: Category | None) -> bool:
    """Another look at a young Unknown Incident found nothing new (record only the time)."""
    return (
        before.phase is Phase.ESCALATED
        and before.diagnosis is not None
        and before.diagnosis.category is Category.UNKNOWN
        and after_category is Category.UNKNOWN
    )
