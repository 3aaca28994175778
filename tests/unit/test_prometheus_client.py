"""The PromQL client against a loopback HTTP server that answers as Prometheus' API does.

(The real Prometheus is exercised in tests/integration/test_alertmanager_e2e.py; this covers
the answers a healthy Prometheus will not give on demand.)

We test these aspects:
- instant and range queries are form-POSTed with the query, times and step, and return the
  API's ``data`` as is (vector, matrix, scalar);
- a 4xx ``bad_data`` is a :class:`PromQLError` quoting Prometheus' error; 5xx, 401/403, a
  body that is not the API's, a refused connection and a timeout are
  :class:`PrometheusUnavailableError` — each raised once, without retries;
- the bearer token is re-read from its file for every query; an unreadable file is
  ``PrometheusUnavailableError`` naming it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from kubemedic.clients.prometheus import (
    PrometheusClient,
    PrometheusUnavailableError,
    PromQLError,
)

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
VECTOR = {"resultType": "vector", "result": [{"metric": {"pod": "web-1"}, "value": [1, "2"]}]}

Answer = Callable[[dict[str, str]], web.StreamResponse]


def serve(answer: Answer, scenario: Callable[[str, list[dict[str, Any]]], Any]) -> Any:
    """Run ``scenario(base_url, requests)`` against a server answering with ``answer``."""
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        form = dict(await request.post())
        seen.append(
            {"path": request.path, "form": form, "auth": request.headers.get("Authorization")}
        )
        response = answer({k: str(v) for k, v in form.items()})
        if isinstance(response, web.Response) and response.text == "slow":
            await asyncio.sleep(2)
        return response

    async def main() -> Any:
        app = web.Application()
        app.router.add_post("/api/v1/query", handler)
        app.router.add_post("/api/v1/query_range", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        try:
            return await scenario(f"http://127.0.0.1:{port}/", seen)
        finally:
            await runner.cleanup()

    return asyncio.run(main())


def ok(data: dict[str, Any]) -> Answer:
    return lambda _: web.json_response({"status": "success", "data": data})


def test_queries_post_the_form_and_return_the_data() -> None:
    async def scenario(url: str, seen: list[dict[str, Any]]) -> None:
        client = PrometheusClient(url)
        assert await client.query("up", at=T0) == VECTOR
        got = await client.query_range(
            'rate(x{pod=~"a|b"}[5m])', start=T0 - timedelta(minutes=30), end=T0, step_seconds=15
        )
        assert got == VECTOR
        assert seen[0] == {
            "path": "/api/v1/query",
            "form": {"query": "up", "time": f"{T0.timestamp():.3f}"},
            "auth": None,
        }
        assert seen[1]["path"] == "/api/v1/query_range"
        assert seen[1]["form"] == {
            "query": 'rate(x{pod=~"a|b"}[5m])',
            "start": f"{(T0 - timedelta(minutes=30)).timestamp():.3f}",
            "end": f"{T0.timestamp():.3f}",
            "step": "15s",
        }

    serve(ok(VECTOR), scenario)


def test_a_scalar_answer_is_kept() -> None:
    async def scenario(url: str, _: list[dict[str, Any]]) -> None:
        got = await PrometheusClient(url).query("scalar(up)")
        assert got == {"resultType": "scalar", "result": [1, "1"]}

    serve(ok({"resultType": "scalar", "result": [1, "1"]}), scenario)


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        (lambda _: web.json_response({"status": "error", "errorType": "bad_data",
                                      "error": "parse error at char 3"}, status=400),
         PromQLError, "bad_data: parse error at char 3"),
        (lambda _: web.json_response({"status": "error", "errorType": "execution",
                                      "error": "query timed out"}, status=422),
         PromQLError, "HTTP 422: execution: query timed out"),
        (lambda _: web.Response(status=503, text="overloaded"), PrometheusUnavailableError,
         "HTTP 503: overloaded"),
        (lambda _: web.Response(status=401, text="no"), PrometheusUnavailableError,
         "KUBEMEDIC_PROMETHEUS_TOKEN_FILE"),
        (lambda _: web.Response(status=200, text="<html>proxy</html>"),
         PrometheusUnavailableError, "not its API"),
        (lambda _: web.json_response({"status": "success"}), PrometheusUnavailableError,
         "without `data`"),
        (lambda _: web.Response(text="slow"), PrometheusUnavailableError, "TimeoutError"),
    ],
)  # fmt: skip
def test_failures_are_told_apart_and_not_retried(
    answer: Answer, error: type[Exception], message: str
) -> None:
    async def scenario(url: str, seen: list[dict[str, Any]]) -> None:
        client = PrometheusClient(url, timeout_seconds=0.5)
        with pytest.raises(error, match=message):
            await client.query("up")
        assert len(seen) == 1

    serve(answer, scenario)


def test_an_unreachable_prometheus_is_unavailable() -> None:
    async def scenario(url: str, _: list[dict[str, Any]]) -> None:
        del url
        dead = PrometheusClient("http://127.0.0.1:9", timeout_seconds=1)
        with pytest.raises(PrometheusUnavailableError, match="did not answer"):
            await dead.query("up")

    serve(ok(VECTOR), scenario)


def test_the_token_is_read_for_every_query(tmp_path: Path) -> None:
    token = tmp_path / "token"

    async def scenario(url: str, seen: list[dict[str, Any]]) -> None:
        client = PrometheusClient(url, token_file=token)
        token.write_text("first\n")
        await client.query("up")
        token.write_text("second\n")
        await client.query("up")
        assert [s["auth"] for s in seen] == ["Bearer first", "Bearer second"]
        token.unlink()
        with pytest.raises(PrometheusUnavailableError, match=str(token)):
            await client.query("up")

    serve(ok(VECTOR), scenario)
