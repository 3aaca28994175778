"""What the leader's loop does with an Incident (domain/scheduling.py).

We test these aspects:
- finished Incidents (Resolved, Failed) are left alone; Escalated ones only when a person
  approved something not yet acted on, or while a young Unknown diagnosis is looked at again;
- diagnosis is needed when there is none, every 10 s while the target is missing, after the
  target changed (TargetChanged), and every 15 s for 10 minutes while it is Unknown;
- a repeated Unknown is recorded quietly; anything else is a real new diagnosis;
- the remediation state machine runs only in its phases.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kubemedic.domain import scheduling
from kubemedic.models.diagnosis import Category
from kubemedic.models.incident import IncidentStatus

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def status(**fields: Any) -> IncidentStatus:
    return IncidentStatus.model_validate(fields)


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def diagnosis(category: str) -> dict[str, Any]:
    return {"category": category, "summary": "s", "confidence": 0.5}


def condition(type_: str, status_: str, reason: str) -> dict[str, Any]:
    return {
        "type": type_,
        "status": status_,
        "reason": reason,
        "message": "m",
        "lastTransitionTime": stamp(NOW),
    }


YOUNG_UNKNOWN = {
    "phase": "Escalated",
    "diagnosis": diagnosis("Unknown"),
    "detectedTime": stamp(NOW - timedelta(minutes=2)),
    "diagnosedTime": stamp(NOW - timedelta(seconds=20)),
}
RECORD_DENIED = {"id": "set-resources-1", "type": "SetResources", "state": "Denied"}


@pytest.mark.parametrize(
    ("fields", "approved_ids", "expected"),
    [
        pytest.param({}, None, True, id="new"),
        pytest.param({"phase": "AwaitingApproval"}, None, True, id="awaiting approval"),
        pytest.param({"phase": "Remediating"}, None, True, id="remediating"),
        pytest.param({"phase": "Resolved"}, None, False, id="resolved"),
        pytest.param({"phase": "Failed"}, None, False, id="failed"),
        pytest.param(
            {"phase": "Escalated", "diagnosis": diagnosis("ProbeFailure")},
            None,
            False,
            id="escalated",
        ),
        pytest.param(
            {"phase": "Escalated", "actions": [RECORD_DENIED]},
            ["restart-rollout-2"],
            True,
            id="escalated, an alternative approved",
        ),
        pytest.param(
            {"phase": "Escalated", "actions": [RECORD_DENIED]},
            ["set-resources-1"],
            False,
            id="escalated, the denied action approved again",
        ),
        pytest.param(YOUNG_UNKNOWN, None, True, id="escalated, young Unknown"),
        pytest.param(
            {**YOUNG_UNKNOWN, "detectedTime": stamp(NOW - timedelta(minutes=11))},
            None,
            False,
            id="escalated, old Unknown",
        ),
    ],
)
def test_is_open(fields: dict[str, Any], approved_ids: list[str] | None, expected: bool) -> None:
    # approved_ids: the action IDs named by the Incident's unspent IncidentApprovals
    assert scheduling.is_open(status(**fields), approved_ids or [], now=NOW) is expected


@pytest.mark.parametrize(
    ("fields", "last_check", "expected"),
    [
        pytest.param({}, None, True, id="never diagnosed"),
        pytest.param(
            {"phase": "Diagnosed", "diagnosis": diagnosis("OOMKilled")}, None, False, id="diagnosed"
        ),
        pytest.param(
            {"conditions": [condition("TargetFound", "False", "NotFound")]},
            None,
            True,
            id="missing, never looked",
        ),
        pytest.param(
            {"conditions": [condition("TargetFound", "False", "NotFound")]},
            95.0,
            False,
            id="missing, looked 5 s ago",
        ),
        pytest.param(
            {"conditions": [condition("TargetFound", "False", "NotFound")]},
            89.0,
            True,
            id="missing, looked 11 s ago",
        ),
        pytest.param(
            {
                "phase": "Diagnosing",
                "diagnosis": diagnosis("OOMKilled"),
                "conditions": [condition("Diagnosed", "False", "TargetChanged")],
            },
            None,
            True,
            id="target changed",
        ),
        pytest.param(YOUNG_UNKNOWN, None, True, id="young Unknown, 20 s since"),
        pytest.param(
            {**YOUNG_UNKNOWN, "diagnosedTime": stamp(NOW - timedelta(seconds=5))},
            None,
            False,
            id="young Unknown, 5 s",
        ),
        pytest.param(
            {
                **YOUNG_UNKNOWN,
                "actions": [{"id": "a", "type": "RestartRollout", "state": "Applying"}],
            },
            None,
            False,
            id="Unknown but an action in flight",
        ),
    ],
)
def test_needs_diagnosis(fields: dict[str, Any], last_check: float | None, expected: bool) -> None:
    result = scheduling.needs_diagnosis(
        status(**fields), last_target_check=last_check, now_monotonic=100.0, now=NOW
    )
    assert result is expected


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (YOUNG_UNKNOWN, Category.UNKNOWN, True),
        (YOUNG_UNKNOWN, Category.BAD_ROLLOUT, False),
        ({"phase": "Diagnosed", "diagnosis": diagnosis("Unknown")}, Category.UNKNOWN, False),
        ({}, Category.UNKNOWN, False),
    ],
)
def test_still_unknown(before: dict[str, Any], after: Category, expected: bool) -> None:
    assert scheduling.still_unknown(status(**before), after) is expected


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        ("Pending", False),
        ("Diagnosing", False),
        ("Diagnosed", True),
        ("AwaitingApproval", True),
        ("Remediating", True),
        ("Resolved", False),
        ("Failed", False),
    ],
)
def test_remediation_runs_only_in_its_phases(phase: str, expected: bool) -> None:
    assert scheduling.needs_remediation(status(phase=phase), []) is expected
