"""The Alertmanager webhook receiver: ``POST /alertmanager`` and ``GET /healthz`` (aiohttp).

Runs inside the operator process on every replica (creates are idempotent, see
:mod:`kubemedic.service.alert_intake`), so the Service in front of the replicas can send a
notification to any of them and ingestion survives the loss of one.

Answers, in the order they are checked:

- **401** without ``Authorization: Bearer <token>`` or with a wrong token (compared with
  :func:`hmac.compare_digest`). The token is read from a file (a mounted Secret) and
  re-read when the file changes, so rotating the Secret needs no restart.
- **413** for a body over the configured size (``Content-Length``, or while reading a
  chunked body), or a notification holding more alerts than ``webhook_max_alerts`` (the
  message names the limit and the setting). Nothing is created.
- **400** for a body that is not JSON (also: nested too deeply for the parser, a number too
  long to convert) or not Alertmanager's webhook payload version 4; the message names the
  field. Nothing is created. NB: Alertmanager does not retry a 4xx, which is right: the
  same body would fail the same way.
- **503** if the API server failed for some alert: Alertmanager retries the notification,
  and the alerts already written are deduplicated on the retry. An alert about a namespace
  or object that does not exist is *not* such a failure (it is answered ``Skipped``).
- **200** with ``{"alerts": [{"fingerprint", "alertname", "status", "outcome",
  "incident", "message", "reason"}], "outcomes": {"<outcome>": <count>}}``: what each
  alert did, in the order received (``incident``, ``message`` and ``reason`` only when
  they apply; ``outcomes`` was added after ``alerts`` and sums them up).

:func:`start_alert_ingestion` starts what the settings enable — this server and/or the
Prometheus poller (:func:`kubemedic.service.alert_intake.poll_alerts`) — after checking that the
settings can work (a port needs a readable token file; polling needs a Prometheus URL).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from aiohttp import web
from pydantic import ValidationError

from kubemedic import metrics
from kubemedic.clients.cluster import load_api_client
from kubemedic.clients.incidents import IncidentStore
from kubemedic.clients.kube import KubeReader
from kubemedic.clients.prometheus import PrometheusClient
from kubemedic.domain import alert_mapping as alerts
from kubemedic.domain.policy import BUILTIN_PROTECTED_NAMESPACES
from kubemedic.models.alertmanager import WEBHOOK_VERSION, WebhookPayload
from kubemedic.service.alert_intake import (
    DEFAULT_CONCURRENCY,
    AlertIngestor,
    IngestError,
    IntakeRules,
    poll_alerts,
)
from kubemedic.settings import OperatorSettings

logger = logging.getLogger(__name__)

WEBHOOK_PATH: Final = "/alertmanager"
HEALTH_PATH: Final = "/healthz"
#: Validation errors listed in a 400 answer at most.
MAX_ERRORS_SHOWN: Final = 5


class TokenFile:
    """A bearer token in a file, read again whenever the file's mtime or size changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[float, int] | None = None
        self._token = b""

    def token(self) -> bytes:
        """The current token; raises OSError if the file cannot be read."""
        stat = os.stat(self.path)
        stamp = (stat.st_mtime, stat.st_size)
        if stamp != self._stamp:
            token = self.path.read_bytes().strip()
            if not token:
                msg = f"token file {self.path} is empty"
                raise OSError(msg)
            self._token, self._stamp = token, stamp
        return self._token


@dataclass
class WebhookReceiver:
    """The request handlers; :meth:`app` wires them into an aiohttp application."""

    ingestor: AlertIngestor
    token: TokenFile
    max_bytes: int
    max_alerts: int = 1000

    def app(self) -> web.Application:
        # NB: client_max_size makes aiohttp itself refuse (413) a chunked body that grows
        # past the limit while it is read; Content-Length is checked before reading.
        application = web.Application(client_max_size=self.max_bytes)
        application.router.add_post(WEBHOOK_PATH, self.alertmanager)
        application.router.add_get(HEALTH_PATH, self.healthz)
        return application

    async def healthz(self, request: web.Request) -> web.Response:
        del request
        return web.json_response({"status": "ok"})

    async def alertmanager(self, request: web.Request) -> web.Response:
        response = await self._handle(request)
        metrics.WEBHOOK_REQUESTS.labels(code=str(response.status)).inc()
        return response

    async def _handle(self, request: web.Request) -> web.Response:
        payload = self._authenticate(request) or await self._read_payload(request)
        if isinstance(payload, web.Response):
            return payload
        started = time.perf_counter()
        try:
            results = await self.ingestor.ingest(
                alerts.alerts_from_webhook(payload), source="webhook"
            )
        except IngestError as exc:
            body = {"error": str(exc), "alerts": [r.to_json() for r in exc.results]}
            return web.json_response(body, status=503)
        if payload.truncated_alerts:
            logger.warning(
                "webhook %s: Alertmanager left out %d alerts of the group (its max_alerts)",
                payload.group_key[:120],
                payload.truncated_alerts,
            )
        counts = Counter(r.outcome.value for r in results)
        logger.info(
            "webhook %s: %d alerts (%s) in %.0f ms",
            payload.group_key[:120],
            len(results),
            ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "none",
            (time.perf_counter() - started) * 1000,
        )
        return web.json_response(
            {"alerts": [r.to_json() for r in results], "outcomes": dict(sorted(counts.items()))}
        )

    async def _read_payload(self, request: web.Request) -> WebhookPayload | web.Response:
        """The validated payload, or the 413/400 answer saying what is wrong with it."""
        too_large = f"over the limit of {self.max_bytes} bytes (KUBEMEDIC_WEBHOOK_MAX_BYTES)"
        if request.content_length is not None and request.content_length > self.max_bytes:
            return _error(413, f"body of {request.content_length} bytes is {too_large}")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"body is {too_large}")
        try:
            data = json.loads(raw)
        except RecursionError:
            return _error(400, "body is not valid JSON: nested too deeply")
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, over-long integers
            return _error(400, f"body is not valid JSON: {exc}")
        if not isinstance(data, dict):
            return _error(
                400,
                f"body must be a JSON object (Alertmanager's webhook payload version "
                f"{WEBHOOK_VERSION}), got {type(data).__name__}",
            )
        # NB: counted before validating, so a huge notification costs no model building.
        received = data.get("alerts")
        if isinstance(received, list) and len(received) > self.max_alerts:
            return _error(
                413,
                f"the notification holds {len(received)} alerts, over the limit of "
                f"{self.max_alerts} (KUBEMEDIC_WEBHOOK_MAX_ALERTS); set `max_alerts` in "
                f"Alertmanager's webhook_config to at most {self.max_alerts}",
            )
        try:
            return WebhookPayload.model_validate(data)
        except ValidationError as exc:
            return _error(400, _describe(exc))
        except RecursionError:
            return _error(400, "not an Alertmanager webhook payload: nested too deeply")

    def _authenticate(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        scheme, _, provided = header.partition(" ")
        if scheme.lower() != "bearer" or not provided.strip():
            return _error(401, "missing 'Authorization: Bearer <token>' header", bearer=True)
        try:
            expected = self.token.token()
        except OSError as exc:
            logger.error("cannot read the webhook token file: %s", exc)
            return _error(503, "the receiver cannot read its token file; see the operator log")
        if not hmac.compare_digest(provided.strip().encode(), expected):
            return _error(401, "wrong bearer token", bearer=True)
        return None


def _describe(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors()[:MAX_ERRORS_SHOWN]:
        location = ".".join(str(part) for part in err["loc"]) or "(body)"
        problems.append(f"`{location}`: {err['msg']}")
    more = len(exc.errors()) - MAX_ERRORS_SHOWN
    suffix = f"; and {more} more" if more > 0 else ""
    return (
        f"not an Alertmanager webhook payload (version {WEBHOOK_VERSION}): "
        + "; ".join(problems)
        + suffix
    )


def _error(status: int, message: str, *, bearer: bool = False) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="kubemedic"'} if bearer else None
    body: dict[str, Any] = {"error": message}
    return web.json_response(body, status=status, headers=headers)


async def start_server(
    receiver: WebhookReceiver, *, host: str, port: int
) -> tuple[web.AppRunner, int]:
    """Serve ``receiver`` on ``host:port``; returns the runner (to stop) and the bound port."""
    runner = web.AppRunner(receiver.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host=host, port=port)
    await site.start()
    # runner.addresses: the sockets' bound addresses (host, port[, ...]); port 0 picks one.
    ports = [a[1] for a in runner.addresses if isinstance(a, tuple) and len(a) >= 2]
    return runner, int(ports[0]) if ports else port


@dataclass
class AlertIngestion:
    """The running alert intake of one operator process: webhook server and/or poller."""

    ingestor: AlertIngestor
    runner: web.AppRunner | None = None
    port: int | None = None
    poller: asyncio.Task[None] | None = None
    prometheus: PrometheusClient | None = None

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish, stop polling."""
        if self.poller is not None:
            self.poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.poller
        if self.runner is not None:
            await self.runner.cleanup()
        self.ingestor.close()


def check_settings(settings: OperatorSettings) -> None:
    """Raise ValueError naming the setting if the alert settings cannot work together."""
    if settings.webhook_port and settings.webhook_token_file is None:
        msg = (
            "KUBEMEDIC_WEBHOOK_TOKEN_FILE must name a file holding the bearer token when "
            "KUBEMEDIC_WEBHOOK_PORT is set (the webhook never runs unauthenticated)"
        )
        raise ValueError(msg)
    if settings.webhook_token_file is not None and settings.webhook_port:
        TokenFile(settings.webhook_token_file).token()  # OSError names the file
    if settings.alert_poll_interval_seconds and not settings.prometheus_url:
        msg = "KUBEMEDIC_PROMETHEUS_URL must be set when KUBEMEDIC_ALERT_POLL_INTERVAL_SECONDS is"
        raise ValueError(msg)


def intake_rules(settings: OperatorSettings) -> IntakeRules:
    """Which alerts may open Incidents, from the settings.

    The protected namespaces are the remediation policy's floor plus the operator's
    ``protected_namespaces``: alerts there would open Incidents that may never be acted on.
    """
    protected = frozenset(BUILTIN_PROTECTED_NAMESPACES) | frozenset(settings.protected_namespaces)
    return IntakeRules(
        trust_label_overrides=settings.alert_label_overrides,
        skip_namespaces=protected if settings.alert_skip_protected_namespaces else frozenset(),
        limits=alerts.RateLimits(
            window=timedelta(seconds=settings.alert_rate_limit_window_seconds),
            per_namespace=settings.alert_max_incidents_per_namespace,
            per_target=settings.alert_max_incidents_per_target,
        ),
    )


async def start_alert_ingestion(settings: OperatorSettings) -> AlertIngestion | None:
    """Start what the settings enable (webhook, polling); ``None`` if neither is."""
    check_settings(settings)
    polling = bool(settings.alert_poll_interval_seconds and settings.prometheus_url)
    if not settings.webhook_port and not polling:
        return None
    api = load_api_client(settings.kubeconfig, pool_size=DEFAULT_CONCURRENCY)
    ingestion = AlertIngestion(
        ingestor=AlertIngestor(
            incidents=IncidentStore(api),
            reader=KubeReader(api),
            alert_namespace=settings.alert_namespace,
            cooldown=timedelta(seconds=settings.alert_cooldown_seconds),
            rules=intake_rules(settings),
        )
    )
    await ingestion.ingestor.start(namespaces=settings.namespaces)
    if settings.webhook_port and settings.webhook_token_file is not None:
        receiver = WebhookReceiver(
            ingestor=ingestion.ingestor,
            token=TokenFile(settings.webhook_token_file),
            max_bytes=settings.webhook_max_bytes,
            max_alerts=settings.webhook_max_alerts,
        )
        ingestion.runner, ingestion.port = await start_server(
            receiver, host=settings.bind_address, port=settings.webhook_port
        )
        logger.info(
            "Alertmanager webhook on http://%s:%d%s",
            settings.bind_address,
            ingestion.port,
            WEBHOOK_PATH,
        )
    if polling and settings.prometheus_url:
        ingestion.prometheus = PrometheusClient(
            settings.prometheus_url,
            timeout_seconds=settings.prometheus_timeout_seconds,
            token_file=settings.prometheus_token_file,
        )
        ingestion.poller = asyncio.create_task(
            poll_alerts(
                prometheus=ingestion.prometheus,
                ingestor=ingestion.ingestor,
                interval_seconds=settings.alert_poll_interval_seconds,
            ),
            name="kubemedic-alert-poller",
        )
        logger.info(
            "polling %s for firing alerts every %gs",
            settings.prometheus_url,
            settings.alert_poll_interval_seconds,
        )
    return ingestion
