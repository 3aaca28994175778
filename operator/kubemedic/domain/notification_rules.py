"""Incident notifications: which state change is worth a message, what the message says,
and whether to send it now. Pure: the webhook client is :mod:`kubemedic.clients.webhook_notifier`.

One message per state change of an Incident goes to one webhook, as a versioned JSON
payload (``kubemedic.dev/notification/v1``, documented in ``docs/notifications.md``) or
rendered for a Slack incoming webhook. Within ``v1`` fields are only ever added, never
renamed, removed or retyped; every key is always present (``null`` when it has no value),
so a receiver can rely on the shape.

What is deliberately left out of the payload: evidence, log lines, event messages, the
runbook, the Incident's ``description``, alert labels and annotations, action results.
They quote raw cluster and alert data (a log line may hold a token, an env var a password)
and text an attacker can influence (prompt or Slack-markup injection through a log line or
an annotation). A notification leaves the cluster for a chat tool with a wider audience
than ``kubectl get incident``, so it carries only fields kubemedic itself produces or that
are bounded identifiers: names, enums, IDs, the two summaries and typed action params. The
message links to the Incident for everything else. Nothing therefore needs redacting here.

The cooldown rule (:func:`should_send`):

1. each event is sent once per Incident (recorded in ``status.notifications.sentEvents``);
2. a different event within ``cooldownSeconds`` of the last message is sent only if it is
   :data:`URGENT_EVENTS`: ``NeedsApproval`` (a human must act: suppressing it would let the
   approval expire unseen) and the terminal ``Resolved``, ``Escalated`` and ``Failed``;
3. so the cooldown only ever holds back ``Remediated`` (and ``Opened``, which is always
   first anyway): an auto-approved fix that resolves quickly sends "opened" and "resolved",
   not three messages in a minute. A held-back event is dropped, not delayed; the next
   message carries the whole current state (phase and every action's state).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final, TypedDict

from kubemedic.models.audit_trail import ActionRecord, DecisionOutcome
from kubemedic.models.conditions import Condition, ConditionType, is_condition_true
from kubemedic.models.incident import (
    MAX_NOTIFICATION_ERROR,
    MAX_NOTIFICATION_EVENTS,
    TRUNCATION_MARK,
    IncidentSpec,
    IncidentStatus,
    NotificationRecord,
    Phase,
)

NOTIFICATION_API_VERSION: Final = "kubemedic.dev/notification/v1"
NOTIFICATION_KIND: Final = "IncidentNotification"


class NotificationEvent(StrEnum):
    """The state changes that send a message. Stable names: receivers route on them."""

    #: The Incident was diagnosed (phase Diagnosed): what is wrong and what kubemedic proposes.
    OPENED = "Opened"
    #: Proposed actions wait for a human (phase AwaitingApproval).
    NEEDS_APPROVAL = "NeedsApproval"
    #: An approved action was applied and verified (condition Remediated turned True).
    REMEDIATED = "Remediated"
    #: The target is healthy again (phase Resolved).
    RESOLVED = "Resolved"
    #: kubemedic handed the Incident to a human (phase Escalated).
    ESCALATED = "Escalated"
    #: Remediation failed (phase Failed).
    FAILED = "Failed"


#: Events the cooldown never holds back: a human must act, or the Incident is over.
URGENT_EVENTS: Final = frozenset(
    {
        NotificationEvent.NEEDS_APPROVAL,
        NotificationEvent.RESOLVED,
        NotificationEvent.ESCALATED,
        NotificationEvent.FAILED,
    }
)

#: The event a phase change announces; phases not listed (Pending, Diagnosing,
#: Remediating) are steps on the way and send nothing.
PHASE_EVENTS: Final[Mapping[Phase, NotificationEvent]] = {
    Phase.DIAGNOSED: NotificationEvent.OPENED,
    Phase.AWAITING_APPROVAL: NotificationEvent.NEEDS_APPROVAL,
    Phase.RESOLVED: NotificationEvent.RESOLVED,
    Phase.ESCALATED: NotificationEvent.ESCALATED,
    Phase.FAILED: NotificationEvent.FAILED,
}


def event_for_transition(
    old_phase: Phase | None,
    new_phase: Phase | None,
    *,
    old_conditions: Sequence[Condition] = (),
    new_conditions: Sequence[Condition] = (),
) -> NotificationEvent | None:
    """The event one status write announces, or ``None`` when it announces nothing.

    A phase change maps through :data:`PHASE_EVENTS`; the ``Remediated`` condition turning
    ``True`` (the phase may stay Remediating) is the ``Remediated`` event. One write yields
    at most one event; when both happen at once the more important one wins: a terminal
    phase, then ``NeedsApproval``, then ``Remediated``, then ``Opened``.
    """
    phase_event = PHASE_EVENTS.get(new_phase) if new_phase and new_phase != old_phase else None
    if phase_event in URGENT_EVENTS:
        return phase_event
    remediated_now = is_condition_true(
        new_conditions, ConditionType.REMEDIATED
    ) and not is_condition_true(old_conditions, ConditionType.REMEDIATED)
    if remediated_now:
        return NotificationEvent.REMEDIATED
    return phase_event


def should_send(
    record: NotificationRecord | None,
    *,
    event: NotificationEvent,
    now: datetime,
    cooldown_seconds: float,
) -> bool:
    """Whether to send ``event`` now, given what was sent before (rule in the module docstring)."""
    if record is None:
        return True
    if event.value in record.sent_events:
        return False
    if event in URGENT_EVENTS or record.last_sent_time is None:
        return True
    return now - record.last_sent_time >= timedelta(seconds=cooldown_seconds)


def record_sent(
    record: NotificationRecord | None, *, event: NotificationEvent, now: datetime
) -> NotificationRecord:
    """The record after ``event`` was delivered."""
    record = record or NotificationRecord()
    sent = [e for e in record.sent_events if e != event.value] + [event.value]
    return record.model_copy(
        update={
            "last_event": event.value,
            "last_sent_time": now.replace(microsecond=0),
            "sent_events": sent[-MAX_NOTIFICATION_EVENTS:],
            "last_error": None,
        }
    )


def record_failed(record: NotificationRecord | None, *, error: str) -> NotificationRecord:
    """The record after a delivery failed (after its retries): counted, the error kept.

    The event is not marked sent, but it is not retried either: it was announced by one
    status write, and the next event's message carries the whole state.
    """
    record = record or NotificationRecord()
    if len(error) > MAX_NOTIFICATION_ERROR:
        error = error[: MAX_NOTIFICATION_ERROR - len(TRUNCATION_MARK)] + TRUNCATION_MARK
    return record.model_copy(update={"failures": record.failures + 1, "last_error": error})


# --- the payload (kubemedic.dev/notification/v1) --------------------------------------------
# NB: TypedDicts, not models: the payload is a raw JSON body whose key order is part of
# "deterministic", and these classes document its shape for mypy and for readers.


class TargetInfo(TypedDict):
    """The Incident's target, with defaults filled in."""

    apiVersion: str | None
    kind: str
    namespace: str | None
    name: str


class IncidentInfo(TypedDict):
    """Which Incident, how bad, and where it stands."""

    name: str
    namespace: str
    uid: str
    severity: str
    summary: str
    target: TargetInfo
    phase: str | None
    source: str
    alertFingerprint: str | None


class DiagnosisInfo(TypedDict):
    """The diagnosis without its evidence and runbook (see the module docstring)."""

    category: str
    summary: str
    confidence: float
    engine: str | None


class ActionTargetInfo(TypedDict):
    """The object an action applies to."""

    kind: str
    namespace: str | None
    name: str


class ActionInfo(TypedDict):
    """One proposed action, the human decision on it and how far it got."""

    id: str
    type: str
    risk: str
    target: ActionTargetInfo
    params: dict[str, Any]
    decision: str | None
    state: str | None


class LinksInfo(TypedDict):
    """Where to read more."""

    console: str | None
    alert: str | None


class NotificationPayload(TypedDict):
    """The whole message, ``kubemedic.dev/notification/v1``."""

    apiVersion: str
    kind: str
    id: str
    event: str
    time: str
    incident: IncidentInfo
    diagnosis: DiagnosisInfo | None
    actions: list[ActionInfo]
    links: LinksInfo


def build_payload(
    *,
    incident_name: str,
    incident_namespace: str,
    incident_uid: str,
    spec: IncidentSpec,
    status: IncidentStatus,
    event: NotificationEvent,
    now: datetime,
    console_url: str | None,
) -> NotificationPayload:
    """The message for ``event`` about the Incident in the state ``status`` describes.

    The same inputs give the same payload, keys in the same order (params sorted), so a
    receiver (or a test) can compare messages byte for byte. ``id`` is the same for every
    delivery of one event of one Incident: receivers may deduplicate on it.
    """
    target = spec.resolved_target(incident_namespace)
    diagnosis: DiagnosisInfo | None = None
    if status.diagnosis is not None:
        diagnosis = {
            "category": status.diagnosis.category.value,
            "summary": status.diagnosis.summary,
            "confidence": status.diagnosis.confidence,
            "engine": status.diagnosis.engine,
        }
    actions: list[ActionInfo] = []
    for proposed in status.proposed_actions:
        record = status.action_record(proposed.id)
        actions.append(
            {
                "id": proposed.id,
                "type": proposed.type.value,
                "risk": proposed.risk.value,
                "target": {
                    "kind": proposed.target.kind,
                    "namespace": proposed.target.namespace,
                    "name": proposed.target.name,
                },
                "params": _sorted_keys(proposed.params),
                "decision": _decision_of(record),
                "state": record.state.value if record else None,
            }
        )
    return {
        "apiVersion": NOTIFICATION_API_VERSION,
        "kind": NOTIFICATION_KIND,
        "id": f"{incident_uid}/{event.value}",
        "event": event.value,
        "time": _rfc3339(now),
        "incident": {
            "name": incident_name,
            "namespace": incident_namespace,
            "uid": incident_uid,
            "severity": spec.severity.value,
            "summary": spec.summary,
            "target": {
                "apiVersion": target.api_version,
                "kind": target.kind.value,
                "namespace": target.namespace,
                "name": target.name,
            },
            "phase": status.phase.value if status.phase else None,
            "source": spec.source.value,
            "alertFingerprint": spec.alert.fingerprint if spec.alert else None,
        },
        "diagnosis": diagnosis,
        "actions": actions,
        "links": {
            "console": console_url,
            "alert": spec.alert.generator_url if spec.alert else None,
        },
    }


def _decision_of(record: ActionRecord | None) -> str | None:
    """A person's decision on the action, as the operator recorded it from an
    IncidentApproval (approvals are objects of their own, not part of the Incident)."""
    outcome = record.decision.outcome if record and record.decision else None
    if outcome is DecisionOutcome.MANUALLY_APPROVED:
        return "Approve"
    if outcome is DecisionOutcome.REJECTED:
        return "Reject"
    return None


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _sorted_keys(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [_sorted_keys(v) for v in value]
    return value


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# --- Slack ---------------------------------------------------------------------------------

SEVERITY_EMOJI: Final[Mapping[str, str]] = {
    "Critical": ":red_circle:",
    "High": ":large_orange_circle:",
    "Warning": ":large_yellow_circle:",
    "Info": ":large_blue_circle:",
}
EVENT_WORDS: Final[Mapping[str, str]] = {
    NotificationEvent.OPENED: "opened",
    NotificationEvent.NEEDS_APPROVAL: "needs approval",
    NotificationEvent.REMEDIATED: "remediated",
    NotificationEvent.RESOLVED: "resolved",
    NotificationEvent.ESCALATED: "escalated to a human",
    NotificationEvent.FAILED: "remediation failed",
}
# Slack's limits: header text 150 characters, section text 3000, a field 2000.
SLACK_HEADER_MAX: Final = 150
SLACK_TEXT_MAX: Final = 3000
SLACK_FIELD_MAX: Final = 2000


def slack_message(payload: NotificationPayload) -> dict[str, Any]:
    """The payload as a Slack incoming-webhook message: ``text`` (the notification line and
    fallback) and Block Kit ``blocks``.

    Text from the payload is escaped for Slack's markup (``&``, ``<``, ``>``), so a summary
    cannot ping ``<!channel>`` or disguise a link.
    """
    incident = payload["incident"]
    diagnosis = payload["diagnosis"]
    ref = f"{incident['namespace']}/{incident['name']}"
    emoji = SEVERITY_EMOJI.get(incident["severity"], ":white_circle:")
    words = EVENT_WORDS.get(payload["event"], payload["event"])
    target = incident["target"]
    target_text = "/".join(
        part for part in (target["kind"], target["namespace"], target["name"]) if part
    )
    headline = f"Incident {ref} {words}"
    if diagnosis:
        headline += f": {diagnosis['category']}"
    text = f"{emoji} [{incident['severity']}] {_escape(headline)} ({_escape(target_text)})"

    fields = [
        f"*Severity*\n{emoji} {incident['severity']}",
        f"*Phase*\n{incident['phase'] or 'Pending'}",
        f"*Target*\n{_escape(target_text)}",
    ]
    if diagnosis:
        fields.append(f"*Diagnosis*\n{diagnosis['category']} ({diagnosis['confidence']:.0%})")
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(headline, SLACK_HEADER_MAX)},
        },
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": _cut(f, SLACK_FIELD_MAX)} for f in fields],
        },
    ]
    summaries = [f"*Reported:* {_escape(incident['summary'])}"] if incident["summary"] else []
    if diagnosis:
        summaries.append(f"*Diagnosis:* {_escape(diagnosis['summary'])}")
    if summaries:
        blocks.append(_section("\n".join(summaries)))
    if payload["actions"]:
        blocks.append(
            _section("*Actions*\n" + "\n".join(_action_line(a) for a in payload["actions"]))
        )
    # NB: an action a policy approved by itself has a state but no human decision.
    undecided = [
        a
        for a in payload["actions"]
        if a["decision"] is None and a["state"] in (None, "AwaitingApproval")
    ]
    if payload["event"] == NotificationEvent.NEEDS_APPROVAL and undecided:
        hints = [
            f"`kubemedic approve {incident['name']} -n {incident['namespace']} --action {a['id']}`"
            for a in undecided
        ]
        blocks.append(_section("*To approve*\n" + "\n".join(hints)))
    context = [f"kubemedic · {payload['event']} · {payload['time']}"]
    links = payload["links"]
    if links["console"] and _is_web_url(links["console"]):
        context.append(f"<{_escape(links['console'])}|Open incident>")
    if links["alert"] and _is_web_url(links["alert"]):
        context.append(f"<{_escape(links['alert'])}|Alert source>")
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]}
    )
    return {"text": _cut(text, SLACK_TEXT_MAX), "blocks": blocks}


def _action_line(action: ActionInfo) -> str:
    target = action["target"]
    where = "/".join(part for part in (target["kind"], target["namespace"], target["name"]) if part)
    params = " ".join(f"{k}={_flat(v)}" for k, v in action["params"].items())
    status = action["state"] or {"Approve": "Approved", "Reject": "Rejected"}.get(
        action["decision"] or "", "Proposed"
    )
    line = f"• `{action['id']}` {action['type']} on {where} (risk {action['risk']}, {status})"
    if params:
        line += f" `{_code(params)}`"
    return _escape(line)


def _flat(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SLACK_TEXT_MAX)}}


def _escape(text: str) -> str:
    # NB: the three characters Slack asks apps to escape; it renders them back as text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    # A backtick in a param value would end the code span early.
    return text.replace("`", "'")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(TRUNCATION_MARK)] + TRUNCATION_MARK


def _is_web_url(url: str) -> bool:
    return url.startswith(("https://", "http://")) and "|" not in url


__all__ = [
    "NOTIFICATION_API_VERSION",
    "NOTIFICATION_KIND",
    "PHASE_EVENTS",
    "URGENT_EVENTS",
    "ActionInfo",
    "DiagnosisInfo",
    "IncidentInfo",
    "NotificationEvent",
    "NotificationPayload",
    "build_payload",
    "event_for_transition",
    "record_failed",
    "record_sent",
    "should_send",
    "slack_message",
]
