"""PromQL over Prometheus' HTTP API (aiohttp), for evidence and polling.

Two calls, ``POST /api/v1/query`` and ``POST /api/v1/query_range`` (form-encoded, so a long
``pod=~"..."`` regex never meets a URL length limit), answered with the API's ``data``
(``{"resultType", "result"}``), which is what an IncidentBundle's ``metrics`` store.

Why not prometheus-api-client (used before): it is synchronous (every caller had to hop to
a thread), it keeps no status code (a 503 had to be parsed out of its exception message),
its default retries had to be switched off (three retries with backoff turn an outage into
~10 s per query), and it brought requests and dateparser for two GETs that aiohttp, already
a dependency, does natively.

Errors a caller can act on:

- :class:`PrometheusUnavailableError`: connection refused, timeout, 5xx, 401/403, an answer
  that is not the API's (a proxy's error page) or an unreadable token file — stop asking,
  say so, diagnose without metrics;
- :class:`PromQLError`: any other 4xx (``bad_data``: this query is wrong; the others may be
  fine).

No retries: one failed query is reported, the caller decides. A bearer token is re-read
from its file for every query (a rotated, mounted token works). Each query has its own
short-lived session: the client holds no connection, so it needs no closing and works
from any event loop (the operator's, or the one ``kubemedic bundle`` starts).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import aiohttp

logger = logging.getLogger(__name__)

_SERVER_ERROR: Final = 500
_CLIENT_ERROR: Final = 400
_UNAUTHORIZED: Final = frozenset({401, 403})
#: Characters of an error body quoted in a message.
_QUOTED: Final = 300


class PrometheusUnavailableError(RuntimeError):
    """Prometheus did not answer usefully (connection, timeout, 5xx, refused credentials)."""


class PromQLError(ValueError):
    """Prometheus rejected the query (4xx): the message has its error text."""


class PrometheusClient:
    """Instant and range queries against one Prometheus."""

    def __init__(
        self, url: str, *, timeout_seconds: float = 5.0, token_file: Path | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.token_file = token_file

    async def query(self, promql: str, *, at: datetime | None = None) -> dict[str, Any]:
        """An instant query; Prometheus' ``data`` (``resultType`` vector or scalar)."""
        form = {"query": promql, "time": f"{(at or datetime.now(UTC)).timestamp():.3f}"}
        return await self._post("/api/v1/query", form, promql)

    async def query_range(
        self, promql: str, *, start: datetime, end: datetime, step_seconds: int
    ) -> dict[str, Any]:
        """A range query; Prometheus' ``data`` (``resultType`` matrix)."""
        form = {
            "query": promql,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": f"{step_seconds}s",
        }
        return await self._post("/api/v1/query_range", form, promql)

    def _headers(self) -> dict[str, str]:
        if self.token_file is None:
            return {}
        try:
            token = self.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            msg = f"cannot read the Prometheus token file {self.token_file}: {exc}"
            raise PrometheusUnavailableError(msg) from exc
        return {"Authorization": f"Bearer {token}"}

    async def _post(self, path: str, form: dict[str, str], promql: str) -> dict[str, Any]:
        headers = self._headers()
        timeout = aiohttp.ClientTimeout(total=self.timeout_seconds)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(f"{self.url}{path}", data=form, headers=headers) as response,
            ):
                status, text = response.status, await response.text(errors="replace")
        except (aiohttp.ClientError, TimeoutError) as exc:
            msg = f"Prometheus at {self.url} did not answer: {type(exc).__name__}"
            raise PrometheusUnavailableError(msg) from exc
        return self._data(status, text, promql)

    def _data(self, status: int, text: str, promql: str) -> dict[str, Any]:
        if status >= _SERVER_ERROR:
            msg = f"Prometheus at {self.url} failed: HTTP {status}: {text[:_QUOTED]}"
            raise PrometheusUnavailableError(msg)
        if status in _UNAUTHORIZED:
            msg = (
                f"Prometheus at {self.url} refused the credentials (HTTP {status}); check "
                "KUBEMEDIC_PROMETHEUS_TOKEN_FILE"
            )
            raise PrometheusUnavailableError(msg)
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            if status >= _CLIENT_ERROR:
                msg = f"Prometheus rejected {promql!r}: HTTP {status}: {text[:_QUOTED]}"
                raise PromQLError(msg)
            msg = f"Prometheus at {self.url} answered something that is not its API: {text[:80]!r}"
            raise PrometheusUnavailableError(msg)
        if status >= _CLIENT_ERROR or body.get("status") != "success":
            error = f"{body.get('errorType', 'error')}: {body.get('error', '')}"
            msg = f"Prometheus rejected {promql!r}: HTTP {status}: {error[:_QUOTED]}"
            raise PromQLError(msg)
        data = body.get("data")
        if not isinstance(data, dict):
            msg = f"Prometheus at {self.url} answered without `data`"
            raise PrometheusUnavailableError(msg)
        result = data.get("result")
        return {
            "resultType": str(data.get("resultType", "")),
            "result": result if isinstance(result, list) else [],
        }
