"""PromQL over Prometheus' HTTP API (prometheus-api-client), for evidence and polling.

Synchronous (``requests``): callers run it in a thread. What it adds to the library:

- answers in the shape of the HTTP API's ``data`` (``{"resultType", "result"}``), which is
  what an IncidentBundle's ``metrics`` store; the library returns only ``result``;
- two errors a caller can act on: :class:`PrometheusUnavailableError` (connection refused,
  timeout, 5xx: stop asking, say so, diagnose without metrics) and :class:`PromQLError`
  (4xx: this query is wrong, the others may be fine);
- no retries. NB: the library's default retries 3 times with backoff, which turns a
  Prometheus outage into ~10 s per query — the diagnosis must not wait for that;
- a bearer token re-read from its file for every query (a rotated, mounted token works).
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import requests
from prometheus_api_client.exceptions import PrometheusApiClientException
from prometheus_api_client.prometheus_connect import PrometheusConnect
from urllib3.util.retry import Retry

logger = logging.getLogger(__name__)

_SCALAR_PAIR: Final = 2
_SERVER_ERROR: Final = 500


class PrometheusUnavailableError(RuntimeError):
    """Prometheus did not answer (connection, timeout, 5xx)."""


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
        # NB: the library types timeouts as int; requests takes whole seconds just as well.
        self._timeout = max(1, math.ceil(timeout_seconds))
        self._prometheus = PrometheusConnect(
            url=self.url, retry=Retry(total=0, connect=0, read=0, status=0)
        )

    def close(self) -> None:
        self._prometheus.close()

    def _auth(self) -> None:
        if self.token_file is None:
            return
        try:
            token = self.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            msg = f"cannot read the Prometheus token file {self.token_file}: {exc}"
            raise PrometheusUnavailableError(msg) from exc
        self._prometheus.headers = {"Authorization": f"Bearer {token}"}

    def query(self, promql: str, *, at: datetime | None = None) -> dict[str, Any]:
        """An instant query; Prometheus' ``data`` (``resultType`` vector or scalar)."""
        params = {"time": f"{(at or datetime.now(UTC)).timestamp():.3f}"}
        result = self._call(
            lambda: self._prometheus.custom_query(promql, params=params, timeout=self._timeout),
            promql,
        )
        if (
            isinstance(result, list)
            and len(result) == _SCALAR_PAIR
            and not isinstance(result[0], dict)
        ):
            return {"resultType": "scalar", "result": result}
        return {"resultType": "vector", "result": result if isinstance(result, list) else []}

    def query_range(
        self, promql: str, *, start: datetime, end: datetime, step_seconds: int
    ) -> dict[str, Any]:
        """A range query; Prometheus' ``data`` (``resultType`` matrix)."""
        result = self._call(
            lambda: self._prometheus.custom_query_range(
                promql,
                start_time=start,
                end_time=end,
                step=f"{step_seconds}s",
                timeout=self._timeout,
            ),
            promql,
        )
        return {"resultType": "matrix", "result": result if isinstance(result, list) else []}

    def _call(self, run: Any, promql: str) -> Any:
        self._auth()
        try:
            return run()
        except requests.RequestException as exc:
            msg = f"Prometheus at {self.url} did not answer: {type(exc).__name__}"
            raise PrometheusUnavailableError(msg) from exc
        except PrometheusApiClientException as exc:
            text = str(exc)
            if _status_of(text) >= _SERVER_ERROR:
                msg = f"Prometheus at {self.url} failed: {text[:300]}"
                raise PrometheusUnavailableError(msg) from exc
            msg = f"Prometheus rejected {promql!r}: {text[:300]}"
            raise PromQLError(msg) from exc
        except ValueError as exc:  # a body that is not JSON: a proxy's error page
            msg = f"Prometheus at {self.url} answered something that is not its API: {exc}"
            raise PrometheusUnavailableError(msg) from exc


def _status_of(text: str) -> int:
    # NB: the library's message is "HTTP Status Code 503 (b'...')"; it keeps no status field.
    words = text.split()
    for index, word in enumerate(words[:-1]):
        if word == "Code" and words[index + 1].isdigit():
            return int(words[index + 1])
    return _SERVER_ERROR
