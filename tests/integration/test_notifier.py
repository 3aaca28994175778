"""We test these aspects: the notification webhook client against a real HTTP receiver.

A real aiohttp server on a free 127.0.0.1 port (its own thread and event loop) answers as
each test scripts it and records what it received. No cluster is needed.

- the generic format arrives as the exact ``kubemedic.dev/notification/v1`` payload, the
  Slack format as ``text`` + ``blocks``; JSON content type and a kubemedic User-Agent;
- the bearer token is read from its file (and re-read, so a rotated token is used); an
  unreadable token file fails without a request;
- retries: 503 twice then 200 succeeds on the third request; a receiver that keeps
  answering 503 gets exactly ``max_attempts`` requests; 429 honours ``Retry-After`` within
  the cap; a 400 is not retried; a redirect is not followed (the token stays put);
- a receiver slower than the timeout, and one that is down, end in a failure with a reason,
  never an exception; the reason never contains the URL's path (Slack's secret);
- ``notify_transition`` end to end: the message is received and ``status.notifications``
  records it; a failed delivery is recorded as a failure; the same event is not sent twice;
  ``Remediated`` within the cooldown is held back (and counted) while ``Resolved`` is sent.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from kubemedic.clients.webhook_notifier import DeliveryResult, NotifyFormat, WebhookNotifier
from kubemedic.domain.notification_rules import (
    NotificationEvent,
    NotificationPayload,
    build_payload,
)
from kubemedic.models.conditions import Condition
from kubemedic.models.incident import IncidentStatus, Phase
from kubemedic.service.notifications import notify_transition
from support.notifications import NOW, condition, spec, status

SLACK_PATH = "/services/T0001/B0001/SECRETPATHxyz"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Answer:
    status: int = 200
    text: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Receiver:
    """What the receiver got, and the answers it gives next (then 200 'ok')."""

    base_url: str
    received: list[Received] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)

    def url(self, path: str = "/hook") -> str:
        return f"{self.base_url}{path}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    state = Receiver(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}")

    async def handle(request: web.Request) -> web.Response:
        state.received.append(
            Received(path=request.path, headers=dict(request.headers), body=await request.json())
        )
        answer = state.answers.pop(0) if state.answers else Answer()
        if answer.delay:
            await asyncio.sleep(answer.delay)
        return web.Response(status=answer.status, text=answer.text, headers=answer.headers)

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.SockSite(runner, sock).start())
    thread = threading.Thread(target=loop.run_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
        sock.close()


def sample_payload(event: NotificationEvent = NotificationEvent.OPENED) -> NotificationPayload:
    return build_payload(
        incident_name="web-oom",
        incident_namespace="shop",
        incident_uid="uid-1",
        spec=spec(),
        status=status(),
        event=event,
        now=NOW,
        console_url=None,
    )


def fast(url: str, **options: Any) -> WebhookNotifier:
    """A notifier with short backoffs, so retry tests take milliseconds."""
    return WebhookNotifier(url, backoff_seconds=0.01, max_backoff_seconds=0.05, **options)


def send(notifier: WebhookNotifier, payload: NotificationPayload | None = None) -> DeliveryResult:
    return asyncio.run(notifier.send(payload or sample_payload()))


# --- formats and headers ---------------------------------------------------------------------


def test_generic_format_delivers_the_payload_itself(receiver: Receiver) -> None:
    payload = sample_payload()
    result = send(fast(receiver.url()), payload)
    assert result == DeliveryResult(ok=True, reason="delivered", attempts=1, status=200)
    [got] = receiver.received
    assert got.path == "/hook"
    assert got.body == json.loads(json.dumps(payload))
    assert list(got.body) == list(payload)
    assert got.headers["Content-Type"].startswith("application/json")
    assert got.headers["User-Agent"].startswith("kubemedic/")
    assert "Authorization" not in got.headers


def test_slack_format_delivers_text_and_blocks(receiver: Receiver) -> None:
    result = send(fast(receiver.url(SLACK_PATH), format=NotifyFormat.SLACK))
    assert result.ok
    [got] = receiver.received
    assert got.path == SLACK_PATH
    assert set(got.body) == {"text", "blocks"}
    assert got.body["text"].startswith(":red_circle: [Critical] Incident shop/web-oom opened")
    assert got.body["blocks"][0]["type"] == "header"


def test_bearer_token_is_read_from_its_file_each_time(receiver: Receiver, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("first-token\n")
    notifier = fast(receiver.url(), token_file=token_file)
    assert send(notifier).ok
    token_file.write_text("rotated-token")
    assert send(notifier).ok
    assert [r.headers["Authorization"] for r in receiver.received] == [
        "Bearer first-token",
        "Bearer rotated-token",
    ]


@pytest.mark.parametrize("content", [None, "  \n"], ids=["missing", "empty"])
def test_unusable_token_file_fails_without_a_request(
    receiver: Receiver, tmp_path: Path, content: str | None
) -> None:
    token_file = tmp_path / "token"
    if content is not None:
        token_file.write_text(content)
    result = send(fast(receiver.url(), token_file=token_file))
    assert not result.ok
    assert result.attempts == 0
    assert f"cannot read the token file {token_file}" in result.reason
    assert receiver.received == []


# --- retries ---------------------------------------------------------------------------------


def test_retries_503_then_succeeds(receiver: Receiver) -> None:
    receiver.answers = [Answer(503), Answer(503)]
    result = send(fast(receiver.url(), max_attempts=3))
    assert result == DeliveryResult(ok=True, reason="delivered", attempts=3, status=200)
    assert len(receiver.received) == 3
    assert len({json.dumps(r.body) for r in receiver.received}) == 1  # the same message


def test_retries_are_bounded(receiver: Receiver) -> None:
    receiver.answers = [Answer(503, text="upstream down")] * 10
    result = send(fast(receiver.url(), max_attempts=3))
    assert not result.ok
    assert result.status == 503
    assert result.attempts == 3
    assert result.reason == "HTTP 503 after 3 attempts: upstream down"
    assert len(receiver.received) == 3


def test_429_waits_as_told_within_the_cap(receiver: Receiver) -> None:
    receiver.answers = [Answer(429, headers={"Retry-After": "3600"})]
    notifier = WebhookNotifier(receiver.url(), backoff_seconds=0.01, max_backoff_seconds=0.3)
    started = time.monotonic()
    result = send(notifier)
    elapsed = time.monotonic() - started
    assert result.ok
    assert result.attempts == 2
    assert 0.3 <= elapsed < 5  # waited the cap, not an hour


def test_client_errors_are_not_retried(receiver: Receiver) -> None:
    receiver.answers = [Answer(400, text="invalid_payload")]
    result = send(fast(receiver.url(SLACK_PATH), format=NotifyFormat.SLACK))
    assert not result.ok
    assert result.reason == "HTTP 400: invalid_payload"
    assert result.attempts == 1
    assert len(receiver.received) == 1


def test_redirects_are_not_followed(receiver: Receiver, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret")
    receiver.answers = [Answer(302, headers={"Location": receiver.url("/elsewhere")})]
    result = send(fast(receiver.url(), token_file=token_file))
    assert not result.ok
    assert result.status == 302
    assert "redirects are not followed" in result.reason
    assert [r.path for r in receiver.received] == ["/hook"]


# --- failures --------------------------------------------------------------------------------


def test_slow_receiver_times_out(receiver: Receiver) -> None:
    receiver.answers = [Answer(delay=1.0), Answer(delay=1.0)]
    notifier = fast(receiver.url(SLACK_PATH), timeout_seconds=0.2, max_attempts=2)
    started = time.monotonic()
    result = send(notifier)
    assert time.monotonic() - started < 1.0
    assert not result.ok
    assert result.status is None
    assert result.reason == "no answer within 0.2s, 2 attempts"
    assert len(receiver.received) == 2


def test_receiver_down_is_a_failure_not_an_exception() -> None:
    url = f"http://127.0.0.1:{free_port()}{SLACK_PATH}"
    result = send(fast(url, max_attempts=2))
    assert not result.ok
    assert result.attempts == 2
    assert result.reason.startswith("cannot connect to http://127.0.0.1:")
    assert "SECRETPATH" not in result.reason
    assert "SECRETPATH" not in repr(fast(url))


def test_malformed_url_is_refused_at_construction_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="must be an absolute 'http' or 'https' URL") as info:
        WebhookNotifier("hooks.slack.com/services/T/B/SECRETPATH")
    assert "SECRETPATH" not in str(info.value)


# --- notify_transition end to end ------------------------------------------------------------


def transition(
    notifier: WebhookNotifier | None, old: IncidentStatus, new: IncidentStatus
) -> IncidentStatus:
    return asyncio.run(
        notify_transition(
            notifier,
            incident_name="web-oom",
            incident_namespace="shop",
            incident_uid="uid-1",
            spec=spec(),
            old_status=old,
            new_status=new,
            now=NOW,
            cooldown_seconds=300,
        )
    )


def test_notify_transition_sends_once_and_records_it(receiver: Receiver) -> None:
    notifier = fast(receiver.url())
    pending = IncidentStatus(phase=Phase.PENDING)
    diagnosed = transition(notifier, pending, status())
    record = diagnosed.notifications
    assert record is not None
    assert record.sent_events == ["Opened"]
    assert record.last_sent_time == NOW
    assert [r.body["event"] for r in receiver.received] == ["Opened"]
    # The handler runs again (a retry after a conflict): nothing new is sent.
    again = transition(notifier, pending, diagnosed)
    assert again == diagnosed
    assert len(receiver.received) == 1


def test_notify_transition_records_a_failed_delivery() -> None:
    notifier = fast(f"http://127.0.0.1:{free_port()}/hook", max_attempts=2)
    new = transition(notifier, IncidentStatus(phase=Phase.PENDING), status())
    record = new.notifications
    assert record is not None
    assert record.failures == 1
    assert record.sent_events == []
    assert (record.last_error or "").startswith("cannot connect to http://127.0.0.1:")
    assert new.model_copy(update={"notifications": None}) == status()


def test_notify_transition_without_a_notifier_changes_nothing() -> None:
    new = status()
    assert transition(None, IncidentStatus(phase=Phase.PENDING), new) is new


def sample_count(event: str, outcome: str) -> float:
    labels = {"event": event, "outcome": outcome}
    return REGISTRY.get_sample_value("kubemedic_notifications_total", labels) or 0.0


def test_notify_transition_holds_back_remediated_within_the_cooldown(receiver: Receiver) -> None:
    notifier = fast(receiver.url())
    opened = transition(notifier, IncidentStatus(phase=Phase.PENDING), status())
    remediating = opened.model_copy(update={"phase": Phase.REMEDIATING})
    remediated = remediating.model_copy(
        update={"conditions": [Condition.model_validate(condition("Remediated", "True"))]}
    )
    held_back = sample_count("Remediated", "suppressed")
    assert transition(notifier, remediating, remediated) == remediated
    assert sample_count("Remediated", "suppressed") == held_back + 1
    # Resolved is never held back; its message carries the whole state.
    sent = sample_count("Resolved", "sent")
    resolved = transition(
        notifier, remediated, remediated.model_copy(update={"phase": Phase.RESOLVED})
    )
    assert sample_count("Resolved", "sent") == sent + 1
    assert [r.body["event"] for r in receiver.received] == ["Opened", "Resolved"]
    assert resolved.notifications is not None
    assert resolved.notifications.sent_events == ["Opened", "Resolved"]
