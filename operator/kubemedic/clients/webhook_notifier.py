"""The notification webhook client: POSTs one Incident notification, as JSON, to one URL.

:class:`WebhookNotifier` sends the ``kubemedic.dev/notification/v1`` payload as it is
(``format: generic``) or rendered for a Slack incoming webhook (``format: slack``), with an
optional bearer token read from a file (a mounted Secret; re-read on every message, so a
rotated token is picked up without a restart).

Its one promise: :meth:`WebhookNotifier.send` never raises (except for cancellation). A
notification is a side effect of a status change; a webhook that is down must not fail,
delay forever or retry the handler that writes the status. It returns a
:class:`DeliveryResult` with a reason instead, which the caller records in
``status.notifications`` and in metrics.

Retries are bounded (``max_attempts``, exponential backoff capped at ``max_backoff_seconds``,
honouring a ``Retry-After`` up to the same cap) and only for what a retry can fix: connection
errors, timeouts, 5xx and 429. Any other answer is final. The worst case a handler waits is
about ``max_attempts * timeout_seconds`` plus the backoffs (17 s with the defaults).

NB: the URL is a secret for Slack (the path is the credential), so it never appears in a
log line or a reason; :attr:`WebhookNotifier.display_url` (scheme, host, port) does instead.
Redirects are not followed, so the bearer token is only ever sent to the configured URL.
"""

from __future__ import annotations

import errno
import json
import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
)

from kubemedic import __version__
from kubemedic.domain.notification_rules import NotificationPayload, slack_message

logger = logging.getLogger(__name__)

USER_AGENT: Final = f"kubemedic/{__version__}"
#: How much of an error response's body goes into a reason.
MAX_BODY_EXCERPT: Final = 200
RETRYABLE_STATUS: Final = frozenset({429, 500, 502, 503, 504})


class NotifyFormat(StrEnum):
    """The shape of the request body."""

    #: The ``kubemedic.dev/notification/v1`` payload itself.
    GENERIC = "generic"
    #: A Slack incoming-webhook message (``text`` and ``blocks``).
    SLACK = "slack"


@dataclass(frozen=True)
class DeliveryResult:
    """How one :meth:`WebhookNotifier.send` ended."""

    ok: bool
    #: ``"delivered"``, or why not, in words (never the URL or the token).
    reason: str
    #: HTTP requests made (0 when none could be made, e.g. an unreadable token file).
    attempts: int
    #: The last HTTP status received, if any.
    status: int | None = None


class _RetryableStatusError(Exception):
    """A 5xx or 429 answer: worth another attempt."""

    def __init__(self, status: int, body: str, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.retry_after = retry_after


class WebhookNotifier:
    """Sends notification payloads to one webhook. Cheap to build; holds no connections.

    NB: a new ``aiohttp.ClientSession`` per message, not one for the operator's life:
    notifications are rare (a few per Incident), and nothing is left for the handlers to
    close at shutdown or to bind to the wrong event loop.
    """

    def __init__(
        self,
        url: str,
        *,
        format: NotifyFormat = NotifyFormat.GENERIC,
        token_file: Path | None = None,
        timeout_seconds: float = 5.0,
        max_attempts: int = 3,
        backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 5.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            # NB: do not echo the URL: for Slack it is the credential.
            msg = "the notification webhook URL must be an absolute 'http' or 'https' URL"
            raise ValueError(msg)
        if max_attempts < 1:
            msg = f"`max_attempts` must be at least 1, not {max_attempts}"
            raise ValueError(msg)
        self._url = url
        self.format = NotifyFormat(format)
        self.token_file = token_file
        self.timeout_seconds = timeout_seconds
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        port = f":{parts.port}" if parts.port else ""
        self.display_url: Final = f"{parts.scheme}://{parts.hostname}{port}"

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.display_url!r}, format={self.format.value!r})"

    async def send(self, payload: NotificationPayload) -> DeliveryResult:
        """POST ``payload`` (in this notifier's format); never raises except on cancellation."""
        try:
            return await self._send(payload)
        except Exception as exc:
            # NB: the promise: a notification never fails the handler that writes the status.
            logger.exception("unexpected error notifying %s", self.display_url)
            return DeliveryResult(
                ok=False, reason=f"unexpected error: {type(exc).__name__}", attempts=0
            )

    async def _send(self, payload: NotificationPayload) -> DeliveryResult:
        try:
            headers = self._headers()
        except OSError as exc:
            reason = f"cannot read the token file {self.token_file}: {exc.strerror}"
            return DeliveryResult(ok=False, reason=reason, attempts=0)
        body: Any = slack_message(payload) if self.format is NotifyFormat.SLACK else payload
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        attempts, status, text = 0, 0, ""
        failure: str | None = None
        try:
            async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_seconds)
            ) as session:
                retrying = AsyncRetrying(
                    stop=stop_after_attempt(self.max_attempts),
                    wait=self._wait,
                    retry=retry_if_exception_type(
                        (aiohttp.ClientError, TimeoutError, _RetryableStatusError)
                    ),
                    reraise=True,
                )
                async for attempt in retrying:
                    with attempt:
                        attempts = attempt.retry_state.attempt_number
                        status, text = await self._post(session, data, headers)
        except _RetryableStatusError as exc:
            status = exc.status
            failure = f"HTTP {exc.status} after {attempts} attempts{_excerpt(exc.body)}"
        except TimeoutError:
            failure = f"no answer within {self.timeout_seconds:g}s, {attempts} attempts"
        except aiohttp.ClientError as exc:
            failure = f"{self._describe(exc)}, {attempts} attempts"
        if failure is None and 200 <= status < 300:
            return DeliveryResult(ok=True, reason="delivered", attempts=attempts, status=status)
        if failure is None:
            hint = " (redirects are not followed)" if 300 <= status < 400 else ""
            failure = f"HTTP {status}{hint}{_excerpt(text)}"
        return DeliveryResult(ok=False, reason=failure, attempts=attempts, status=status or None)

    async def _post(
        self, session: aiohttp.ClientSession, data: bytes, headers: dict[str, str]
    ) -> tuple[int, str]:
        async with session.post(
            self._url, data=data, headers=headers, allow_redirects=False
        ) as response:
            raw = await response.content.read(MAX_BODY_EXCERPT)
            text = raw.decode("utf-8", errors="replace")
            if response.status in RETRYABLE_STATUS:
                raise _RetryableStatusError(
                    response.status, text, _retry_after(response.headers.get("Retry-After"))
                )
            return response.status, text

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
        if self.token_file is not None:
            token = self.token_file.read_text(encoding="utf-8").strip()
            if not token:
                raise OSError(errno.ENODATA, "the file is empty")
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _wait(self, state: RetryCallState) -> float:
        backoff = self.backoff_seconds * 2.0 ** (state.attempt_number - 1)
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _RetryableStatusError) and error.retry_after is not None:
            backoff = error.retry_after
        return min(backoff, self.max_backoff_seconds)

    def _describe(self, exc: aiohttp.ClientError) -> str:
        if isinstance(exc, aiohttp.ClientConnectorError):
            return f"cannot connect to {self.display_url}: {exc.os_error.strerror or exc.os_error}"
        return f"{type(exc).__name__}: {exc}".replace(self._url, self.display_url)


def _retry_after(value: str | None) -> float | None:
    # Only the delay-seconds form; an HTTP-date falls back to the backoff.
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())


def _excerpt(body: str) -> str:
    body = " ".join(body.split())
    return f": {body}" if body else ""


__all__ = ["DeliveryResult", "NotifyFormat", "WebhookNotifier"]
