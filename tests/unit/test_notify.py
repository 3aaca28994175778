"""We test these aspects: the pure notification logic (kubemedic.domain.notification_rules).

- which status change announces which event, for every phase, and the Remediated
  condition turning True; a phase added later must be mapped or declared silent;
- the ``kubemedic.dev/notification/v1`` payload: its exact keys at every level, values
  taken from spec and status (target defaults, decisions recorded from IncidentApprovals, action states), RFC 3339 UTC
  time, the same bytes for the same input whatever order params came in;
- the payload never carries evidence, logs, runbook, description, alert labels or
  annotations, condition messages or action results, even when they hold a secret;
- the Slack message: fallback text with severity emoji, blocks within Slack's limits,
  the action list, the approve command only when approval is needed, markup escaped;
- the cooldown rule: never the same event twice, urgent events always, others only after
  the cooldown; the record of sent and failed deliveries stays within the CRD's bounds.
"""

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from kubemedic.domain.notification_rules import (
    PHASE_EVENTS,
    URGENT_EVENTS,
    NotificationEvent,
    NotificationPayload,
    build_payload,
    event_for_transition,
    record_failed,
    record_sent,
    should_send,
    slack_message,
)
from kubemedic.models.conditions import Condition
from kubemedic.models.incident import (
    MAX_NOTIFICATION_ERROR,
    IncidentSpec,
    IncidentStatus,
    NotificationRecord,
    Phase,
)
from support.notifications import NOW, RESTART, SECRET, SET_RESOURCES, condition, spec, status

ROOT = Path(__file__).resolve().parents[2]
E = NotificationEvent


def conditions(*raw: dict[str, Any]) -> list[Condition]:
    return [Condition.model_validate(c) for c in raw]


REMEDIATED_TRUE = conditions(condition("Remediated", "True"))
REMEDIATED_FALSE = conditions(condition("Remediated", "False", reason="InProgress"))

# --- transitions -----------------------------------------------------------------------------

TRANSITIONS: list[tuple[Phase | None, Phase | None, list[Condition], list[Condition], E | None]] = [
    (None, Phase.PENDING, [], [], None),
    (Phase.PENDING, Phase.DIAGNOSING, [], [], None),
    (None, Phase.DIAGNOSED, [], [], E.OPENED),
    (Phase.PENDING, Phase.DIAGNOSED, [], [], E.OPENED),
    (Phase.DIAGNOSING, Phase.DIAGNOSED, [], [], E.OPENED),
    (Phase.DIAGNOSED, Phase.DIAGNOSED, [], [], None),  # re-diagnosed after a spec change
    (Phase.DIAGNOSED, Phase.AWAITING_APPROVAL, [], [], E.NEEDS_APPROVAL),
    (Phase.PENDING, Phase.AWAITING_APPROVAL, [], [], E.NEEDS_APPROVAL),  # in one write
    (Phase.AWAITING_APPROVAL, Phase.REMEDIATING, [], REMEDIATED_FALSE, None),
    (Phase.REMEDIATING, Phase.REMEDIATING, REMEDIATED_FALSE, REMEDIATED_TRUE, E.REMEDIATED),
    (Phase.REMEDIATING, Phase.REMEDIATING, [], REMEDIATED_TRUE, E.REMEDIATED),
    (Phase.REMEDIATING, Phase.REMEDIATING, REMEDIATED_TRUE, REMEDIATED_TRUE, None),
    (Phase.REMEDIATING, Phase.REMEDIATING, [], REMEDIATED_FALSE, None),
    (Phase.REMEDIATING, Phase.RESOLVED, REMEDIATED_TRUE, REMEDIATED_TRUE, E.RESOLVED),
    (Phase.REMEDIATING, Phase.RESOLVED, REMEDIATED_FALSE, REMEDIATED_TRUE, E.RESOLVED),
    (Phase.DIAGNOSED, Phase.RESOLVED, [], [], E.RESOLVED),  # the alert resolved by itself
    (Phase.REMEDIATING, Phase.FAILED, [], REMEDIATED_FALSE, E.FAILED),
    (Phase.AWAITING_APPROVAL, Phase.ESCALATED, [], [], E.ESCALATED),
    (Phase.RESOLVED, Phase.RESOLVED, [], [], None),
    (Phase.DIAGNOSED, None, [], [], None),
]


@pytest.mark.parametrize(
    ("old", "new", "old_conditions", "new_conditions", "expected"),
    TRANSITIONS,
    ids=[f"{t[0]}->{t[1]}:{len(t[2])}{len(t[3])}" for t in TRANSITIONS],
)
def test_event_for_transition(
    old: Phase | None,
    new: Phase | None,
    old_conditions: list[Condition],
    new_conditions: list[Condition],
    expected: E | None,
) -> None:
    event = event_for_transition(
        old, new, old_conditions=old_conditions, new_conditions=new_conditions
    )
    assert event == expected


def test_every_phase_is_mapped_or_deliberately_silent() -> None:
    silent = {Phase.PENDING, Phase.DIAGNOSING, Phase.REMEDIATING}
    assert set(PHASE_EVENTS) | silent == set(Phase)
    assert not set(PHASE_EVENTS) & silent
    announced = {*PHASE_EVENTS.values(), E.REMEDIATED}
    assert announced == set(E)


# --- payload ---------------------------------------------------------------------------------


def payload(
    *,
    incident_spec: IncidentSpec | None = None,
    incident_status: IncidentStatus | None = None,
    event: E = E.OPENED,
    now: datetime = NOW,
    console_url: str | None = "https://console.example/incidents/shop/web-oom",
) -> NotificationPayload:
    return build_payload(
        incident_name="web-oom",
        incident_namespace="shop",
        incident_uid="0b9a6c1e-2f43-4a8e-9d7c-1234567890ab",
        spec=incident_spec or spec(),
        status=incident_status or status(),
        event=event,
        now=now,
        console_url=console_url,
    )


def test_payload_shape_and_values() -> None:
    body = payload()
    assert list(body) == [
        "apiVersion",
        "kind",
        "id",
        "event",
        "time",
        "incident",
        "diagnosis",
        "actions",
        "links",
    ]
    assert body["apiVersion"] == "kubemedic.dev/notification/v1"
    assert body["kind"] == "IncidentNotification"
    assert body["id"] == "0b9a6c1e-2f43-4a8e-9d7c-1234567890ab/Opened"
    assert body["event"] == "Opened"
    assert body["time"] == "2025-01-01T10:05:00Z"
    assert body["incident"] == {
        "name": "web-oom",
        "namespace": "shop",
        "uid": "0b9a6c1e-2f43-4a8e-9d7c-1234567890ab",
        "severity": "Critical",
        "summary": "web pods are OOMKilled",
        "target": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "namespace": "shop",
            "name": "web",
        },
        "phase": "Diagnosed",
        "source": "Alert",
        "alertFingerprint": "c0ffee1234567890",
    }
    assert list(body["incident"]) == [
        "name",
        "namespace",
        "uid",
        "severity",
        "summary",
        "target",
        "phase",
        "source",
        "alertFingerprint",
    ]
    assert body["diagnosis"] == {
        "category": "OOMKilled",
        "summary": "Container 'app' is killed for exceeding its 256Mi memory limit.",
        "confidence": 0.9,
        "engine": "rules",
    }
    assert body["actions"] == [
        {
            "id": SET_RESOURCES.id,
            "type": "SetResources",
            "risk": "Medium",
            "target": {"kind": "Deployment", "namespace": "shop", "name": "web"},
            "params": {"container": "app", "memoryLimit": "512Mi"},
            "decision": None,
            "state": None,
        },
        {
            "id": RESTART.id,
            "type": "RestartRollout",
            "risk": "Low",
            "target": {"kind": "Deployment", "namespace": "shop", "name": "web"},
            "params": {},
            "decision": None,
            "state": None,
        },
    ]
    assert body["links"] == {
        "console": "https://console.example/incidents/shop/web-oom",
        "alert": "https://prometheus.example/graph?g0.expr=up",
    }


def test_payload_is_deterministic() -> None:
    first = json.dumps(payload())
    # Params in another order, a time in another zone with microseconds: the same bytes.
    reordered = status().model_dump(by_alias=True, mode="json")
    reordered["proposedActions"][0]["params"] = {"memoryLimit": "512Mi", "container": "app"}
    same_moment = NOW.astimezone(timezone(timedelta(hours=2))).replace(microsecond=999)
    second = json.dumps(
        payload(incident_status=IncidentStatus.model_validate(reordered), now=same_moment)
    )
    assert first == second
    assert list(json.loads(first)["actions"][0]["params"]) == ["container", "memoryLimit"]


def test_payload_of_a_manual_incident_before_diagnosis() -> None:
    manual = IncidentSpec.model_validate({"target": {"kind": "Node", "name": "node-1"}})
    body = payload(
        incident_spec=manual,
        incident_status=IncidentStatus(phase=Phase.PENDING),
        console_url=None,
    )
    assert body["incident"]["target"] == {
        "apiVersion": "v1",
        "kind": "Node",
        "namespace": None,
        "name": "node-1",
    }
    assert body["incident"]["severity"] == "Warning"
    assert body["incident"]["source"] == "Manual"
    assert body["incident"]["alertFingerprint"] is None
    assert body["diagnosis"] is None
    assert body["actions"] == []
    assert body["links"] == {"console": None, "alert": None}


def decided(action_id: str, type_: str, state: str, outcome: str) -> dict[str, Any]:
    """An action record with a decision, as the operator records an IncidentApproval."""
    return {
        "id": action_id,
        "type": type_,
        "state": state,
        "decision": {"outcome": outcome, "rule": "r", "time": "2026-01-01T00:00:00Z"},
    }


def test_payload_shows_decisions_and_action_states() -> None:
    applied = status(
        phase="Remediating",
        actions=[
            decided(SET_RESOURCES.id, "SetResources", "Verifying", "ManuallyApproved"),
            decided(RESTART.id, "RestartRollout", "Rejected", "Rejected"),
        ],
    )
    body = payload(incident_status=applied, event=E.REMEDIATED)
    assert [(a["decision"], a["state"]) for a in body["actions"]] == [
        ("Approve", "Verifying"),
        ("Reject", "Rejected"),
    ]


def test_a_policys_own_approval_is_no_persons_decision() -> None:
    auto = status(
        phase="Remediating",
        actions=[decided(SET_RESOURCES.id, "SetResources", "Approved", "AutoApproved")],
    )
    body = payload(incident_status=auto, event=E.REMEDIATED)
    assert [a["decision"] for a in body["actions"]] == [None, None]


def test_no_evidence_logs_or_free_text_in_payloads() -> None:
    rejected = status(
        phase="Failed",
        actions=[
            {
                "id": SET_RESOURCES.id,
                "type": "SetResources",
                "state": "Failed",
                "result": f"admission webhook said: {SECRET}",
                "dryRun": f"dry-run: {SECRET}",
            }
        ],
    )
    for incident_status in (status(), rejected):
        for event in E:
            body = payload(incident_status=incident_status, event=event)
            for rendered in (json.dumps(body), json.dumps(slack_message(body))):
                assert SECRET not in rendered
                assert "ignore previous instructions" not in rendered
                assert "lastState.terminated" not in rendered  # evidence
    # ...and the test can fail: the secret is really in the inputs.
    assert SECRET in status().model_dump_json() + spec().model_dump_json()


# --- Slack -----------------------------------------------------------------------------------


def slack(**kwargs: Any) -> dict[str, Any]:
    return slack_message(payload(**kwargs))


def texts(message: dict[str, Any]) -> str:
    """All text of a message, as a person would read it."""
    return json.dumps(message, ensure_ascii=False)


def test_slack_message_for_an_opened_incident() -> None:
    message = slack()
    assert message["text"] == (
        ":red_circle: [Critical] Incident shop/web-oom opened: OOMKilled (Deployment/shop/web)"
    )
    blocks = message["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "section", "section", "context"]
    assert blocks[0]["text"] == {
        "type": "plain_text",
        "text": "Incident shop/web-oom opened: OOMKilled",
    }
    fields = [f["text"] for f in blocks[1]["fields"]]
    assert fields == [
        "*Severity*\n:red_circle: Critical",
        "*Phase*\nDiagnosed",
        "*Target*\nDeployment/shop/web",
        "*Diagnosis*\nOOMKilled (90%)",
    ]
    assert "Container 'app' is killed" in blocks[2]["text"]["text"]
    actions = blocks[3]["text"]["text"]
    assert (
        f"`{SET_RESOURCES.id}` SetResources on Deployment/shop/web (risk Medium, Proposed)"
        in actions
    )
    assert "`container=app memoryLimit=512Mi`" in actions
    assert f"`{RESTART.id}` RestartRollout" in actions
    assert "kubemedic approve" not in texts(message)
    context = blocks[4]["elements"][0]["text"]
    assert "<https://console.example/incidents/shop/web-oom|Open incident>" in context
    assert "<https://prometheus.example/graph?g0.expr=up|Alert source>" in context


@pytest.mark.parametrize(
    ("severity", "emoji"),
    [
        ("Critical", ":red_circle:"),
        ("High", ":large_orange_circle:"),
        ("Warning", ":large_yellow_circle:"),
        ("Info", ":large_blue_circle:"),
    ],
)
def test_slack_severity_emoji(severity: str, emoji: str) -> None:
    assert slack(incident_spec=spec(severity=severity))["text"].startswith(f"{emoji} [{severity}]")


WAITING = {"id": SET_RESOURCES.id, "type": "SetResources", "state": "AwaitingApproval"}


@pytest.mark.parametrize(
    ("records", "restart_shown_as"),
    [
        ([WAITING, decided(RESTART.id, "RestartRollout", "Rejected", "Rejected")], "Rejected"),
        (
            [WAITING, {"id": RESTART.id, "type": "RestartRollout", "state": "Approved"}],
            "Approved",
        ),
    ],
    ids=["other-rejected-by-a-human", "other-auto-approved-by-policy"],
)
def test_slack_approve_hint_names_only_actions_awaiting_approval(
    records: list[dict[str, Any]], restart_shown_as: str
) -> None:
    message = slack(
        incident_status=status(phase="AwaitingApproval", actions=records),
        event=E.NEEDS_APPROVAL,
    )
    assert "needs approval" in message["text"]
    hint = message["blocks"][-2]["text"]["text"]
    assert hint == (
        f"*To approve*\n`kubemedic approve web-oom -n shop --action {SET_RESOURCES.id}`"
    )
    restart = f"`{RESTART.id}` RestartRollout on Deployment/shop/web (risk Low, {restart_shown_as})"
    assert restart in texts(message)


def test_slack_escapes_markup_from_summaries() -> None:
    hostile = spec(summary="<!channel> see <http://evil.example|the fix> & run it")
    message = slack(incident_spec=hostile, console_url="javascript:alert(1)")
    rendered = texts(message)
    assert "<!channel>" not in rendered
    assert "<http://evil.example" not in rendered
    assert "&lt;!channel&gt; see &lt;http://evil.example|the fix&gt; &amp; run it" in rendered
    assert "javascript:" not in rendered


def test_slack_blocks_stay_within_slack_limits() -> None:
    long_name = "a" * 253
    actions = [
        {
            "id": f"escalate-{i:08x}",
            "type": "Escalate",
            "target": {"kind": "Deployment", "namespace": "shop", "name": long_name},
            "params": {"reason": "x" * 1024, "instructions": "`y`" * 1000},
            "risk": "Low",
        }
        for i in range(16)
    ]
    big = status(proposedActions=actions)
    message = slack_message(
        build_payload(
            incident_name=long_name,
            incident_namespace="shop",
            incident_uid="u",
            spec=spec(target={"kind": "Deployment", "name": long_name}, summary="s" * 256),
            status=big,
            event=E.NEEDS_APPROVAL,
            now=NOW,
            console_url=None,
        )
    )
    assert len(message["text"]) <= 3000
    assert len(message["blocks"]) <= 50
    for block in message["blocks"]:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
        for field in block.get("fields", []):
            assert len(field["text"]) <= 2000


# --- cooldown --------------------------------------------------------------------------------


def sent(*events: E, at: datetime = NOW) -> NotificationRecord:
    return NotificationRecord(
        last_event=events[-1].value,
        last_sent_time=at,
        sent_events=[e.value for e in events],
    )


COOLDOWN = 300.0
SOON = NOW + timedelta(seconds=10)
LATER = NOW + timedelta(seconds=COOLDOWN)

SHOULD_SEND: list[tuple[str, NotificationRecord | None, E, datetime, bool]] = [
    ("first message", None, E.OPENED, SOON, True),
    ("first message is urgent", None, E.FAILED, SOON, True),
    ("same event soon", sent(E.OPENED), E.OPENED, SOON, False),
    ("same event much later", sent(E.OPENED), E.OPENED, NOW + timedelta(days=1), False),
    ("terminal event only once", sent(E.OPENED, E.RESOLVED), E.RESOLVED, LATER, False),
    ("remediated within cooldown", sent(E.OPENED), E.REMEDIATED, SOON, False),
    ("remediated at the end of cooldown", sent(E.OPENED), E.REMEDIATED, LATER, True),
    ("needs approval within cooldown", sent(E.OPENED), E.NEEDS_APPROVAL, SOON, True),
    ("resolved within cooldown", sent(E.OPENED, E.REMEDIATED), E.RESOLVED, SOON, True),
    ("escalated within cooldown", sent(E.NEEDS_APPROVAL), E.ESCALATED, SOON, True),
    ("failed within cooldown", sent(E.NEEDS_APPROVAL), E.FAILED, SOON, True),
    ("only failures so far", NotificationRecord(failures=2), E.REMEDIATED, SOON, True),
]


@pytest.mark.parametrize(
    ("record", "event", "now", "expected"),
    [case[1:] for case in SHOULD_SEND],
    ids=[case[0] for case in SHOULD_SEND],
)
def test_should_send(
    record: NotificationRecord | None, event: E, now: datetime, expected: bool
) -> None:
    assert should_send(record, event=event, now=now, cooldown_seconds=COOLDOWN) is expected


def test_no_cooldown_sends_every_new_event() -> None:
    record = sent(E.OPENED)
    assert should_send(record, event=E.REMEDIATED, now=NOW, cooldown_seconds=0)
    assert not should_send(record, event=E.OPENED, now=NOW, cooldown_seconds=0)


def test_urgent_events_are_the_documented_ones() -> None:
    assert {E.NEEDS_APPROVAL, E.RESOLVED, E.ESCALATED, E.FAILED} == URGENT_EVENTS


# --- the record in status --------------------------------------------------------------------


def notifications_schema() -> dict[str, Any]:
    crd = yaml.safe_load((ROOT / "crds" / "incident.yaml").read_text())
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema["properties"]["status"]["properties"]["notifications"]


def test_record_sent_and_failed() -> None:
    record = record_sent(None, event=E.OPENED, now=NOW.replace(microsecond=123))
    assert record == NotificationRecord(
        last_event="Opened", last_sent_time=NOW, sent_events=["Opened"], failures=0
    )
    record = record_failed(record, error="HTTP 503 after 3 attempts")
    assert record.failures == 1
    assert record.last_error == "HTTP 503 after 3 attempts"
    assert record.sent_events == ["Opened"]
    assert record.last_event == "Opened"
    record = record_sent(record, event=E.RESOLVED, now=LATER)
    assert record.sent_events == ["Opened", "Resolved"]
    assert record.last_event == "Resolved"
    assert record.last_sent_time == LATER
    assert record.failures == 1
    assert record.last_error is None


def test_record_stays_within_the_crd_bounds() -> None:
    record: NotificationRecord | None = None
    for i in range(40):
        record = record_failed(record, error="e" * 5000)
        record = record_sent(record, event=list(E)[i % len(E)], now=NOW)
    record = record_failed(record, error="x" * 5000)
    assert record is not None
    assert len(record.last_error or "") == MAX_NOTIFICATION_ERROR
    assert sorted(record.sent_events) == sorted(e.value for e in E)
    dumped = record.model_dump(by_alias=True, mode="json", exclude_none=True)
    jsonschema.validate(dumped, notifications_schema())
    # Read back as the operator reads status.
    assert IncidentStatus.model_validate({"notifications": dumped}).notifications == record


def test_an_older_operator_reads_events_it_does_not_know() -> None:
    raw = {"lastEvent": "Reopened", "sentEvents": ["Opened", "Reopened"], "failures": 0}
    record = IncidentStatus.model_validate({"notifications": raw}).notifications
    assert record is not None
    assert not should_send(
        record, event=E.OPENED, now=datetime(2030, 1, 1, tzinfo=UTC), cooldown_seconds=0
    )


# --- docs ------------------------------------------------------------------------------------


def test_the_documented_example_is_what_build_payload_makes() -> None:
    text = (ROOT / "docs" / "notifications.md").read_text(encoding="utf-8")
    [example] = re.findall(r"### Example\n\n```json\n(.*?)```", text, re.DOTALL)
    waiting = status(
        phase="AwaitingApproval",
        proposedActions=[status().proposed_actions[0].model_dump(by_alias=True, mode="json")],
        actions=[{"id": SET_RESOURCES.id, "type": "SetResources", "state": "AwaitingApproval"}],
    )
    built = payload(incident_status=waiting, event=E.NEEDS_APPROVAL, console_url=None)
    assert json.loads(example) == built
    assert json.dumps(json.loads(example)) == json.dumps(built)  # key order too
