"""The only module that talks to the model server: vLLM's OpenAI-compatible API.

What makes it survive a GPU deployment that misbehaves:

- **Retries are ours.** The ``openai`` client runs with ``max_retries=0`` (its default of 2
  retries, 600 s timeout would stall a diagnosis for half an hour); tenacity retries with
  random exponential backoff, capped both in attempts (``max_attempts``) and in total time
  (``total_timeout``), and only on what a retry can fix: connection errors, timeouts, 429
  and 5xx. A 400 (e.g. a prompt over ``max_model_len``) is not retried.
- **Every attempt is bounded.** ``asyncio.timeout`` around the request, so a server that
  accepts the connection and never answers costs ``request_timeout``, never more, and never
  more than what is left of ``total_timeout``.
- **Several replicas.** Each base URL is an :class:`Endpoint` with its own circuit breaker,
  in-flight count and ``/health`` state. Each attempt goes to the healthy endpoint with the
  fewest requests in flight (ties rotate), so a retry lands on another replica and one bad
  replica does not stall diagnoses. ``/health`` is polled lazily, at most every
  ``health_interval`` per endpoint; 503 (vLLM's "engine dead") or no answer takes the
  endpoint out until the next check; a 404 (a proxy without ``/health``) counts as healthy.
- **Circuit breakers.** ``breaker_threshold`` consecutive failures (connection errors,
  timeouts, 429, 5xx) open an endpoint's breaker: no request goes there for
  ``breaker_reset`` seconds, then one trial request (half-open) closes it again or re-opens
  it. With every breaker open, :meth:`LLMClient.complete` fails at once and the diagnosis
  falls back to the rules.
- **Concurrency limit.** At most ``max_concurrency`` requests in flight from this operator,
  so a storm of incidents queues here instead of in the GPU's KV cache.
- **Priority.** High-severity incidents send vLLM's ``priority`` (lower is served first; it
  needs ``--scheduling-policy priority``). A server that refuses it (400 naming
  ``priority``) is remembered and asked again without it.

Token counting: :meth:`LLMClient.count_tokens` calls vLLM's ``/tokenize`` (the fallback when
no tokenizer is configured).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import itertools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, cast

import aiohttp
import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from kubemedic import metrics

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

HEALTH_TIMEOUT_SECONDS: Final = 2.0
TOKENIZE_TIMEOUT_SECONDS: Final = 10.0


class LLMUnavailableError(Exception):
    """No answer from any model server: breakers open, unhealthy, or retries exhausted."""


class LLMRequestError(Exception):
    """The model server refused the request itself (4xx other than 429): not retried."""


class _RetryableError(Exception):
    """An attempt failed in a way another attempt may fix; ``outcome`` for metrics."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


class BreakerState(enum.IntEnum):
    """Breaker states; the numbers are the ``kubemedic_llm_breaker_state`` gauge values."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    """Closed → (``threshold`` consecutive failures) → open → (``reset_seconds``) →
    half-open: one trial request → closed on success, open again on failure."""

    def __init__(
        self,
        *,
        threshold: int,
        reset_seconds: float,
        clock: Clock = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        self.threshold = threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._on_change = on_change
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False
        self._state = BreakerState.CLOSED

    @property
    def state(self) -> BreakerState:
        if (
            self._state is BreakerState.OPEN
            and self._opened_at is not None
            and self._clock() - self._opened_at >= self.reset_seconds
        ):
            self._set(BreakerState.HALF_OPEN)
        return self._state

    def available(self) -> bool:
        """Whether :meth:`acquire` would let a request through now."""
        state = self.state
        return state is BreakerState.CLOSED or (
            state is BreakerState.HALF_OPEN and not self._trial_in_flight
        )

    def acquire(self) -> bool:
        """Take the right to send one request (the only one while half-open)."""
        if not self.available():
            return False
        if self._state is BreakerState.HALF_OPEN:
            self._trial_in_flight = True
        return True

    def record_success(self) -> None:
        self._failures = 0
        self._trial_in_flight = False
        self._opened_at = None
        self._set(BreakerState.CLOSED)

    def record_failure(self) -> None:
        self._trial_in_flight = False
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or self._failures >= self.threshold:
            self._opened_at = self._clock()
            self._set(BreakerState.OPEN)

    def release(self) -> None:
        """The request ended without telling anything about the server (e.g. cancelled)."""
        self._trial_in_flight = False

    def _set(self, state: BreakerState) -> None:
        if state is not self._state:
            self._state = state
            if self._on_change is not None:
                self._on_change(state)


def normalise_base_url(url: str) -> tuple[str, str]:
    """``(root, api)``: the server root (``/health``, ``/tokenize``) and the ``/v1`` base."""
    root = url.strip().rstrip("/")
    root = root.removesuffix("/v1")
    return root, f"{root}/v1"


@dataclasses.dataclass
class Endpoint:
    """One model server replica."""

    url: str
    api: openai.AsyncOpenAI
    breaker: CircuitBreaker
    in_flight: int = 0
    healthy: bool = True
    checked_at: float | None = None
    supports_priority: bool = True

    @property
    def root(self) -> str:
        return normalise_base_url(self.url)[0]


@dataclasses.dataclass(frozen=True)
class ChatResult:
    """One completion: the text and what it cost."""

    content: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_seconds: float
    endpoint: str
    attempts: int
    finish_reason: str


@dataclasses.dataclass(frozen=True)
class ServerInfo:
    """What ``/v1/models`` says: the model to ask and its context length (if reported)."""

    model: str
    max_model_len: int | None


class LLMClient:
    """An OpenAI-compatible chat client over one or more vLLM replicas (see module docstring)."""

    def __init__(
        self,
        *,
        urls: Sequence[str],
        model: str | None = None,
        api_key: str | None = None,
        request_timeout: float = 60.0,
        total_timeout: float = 120.0,
        max_attempts: int = 3,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        max_concurrency: int = 4,
        breaker_threshold: int = 5,
        breaker_reset: float = 30.0,
        health_interval: float = 15.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if not urls:
            msg = "LLMClient needs at least one base URL"
            raise ValueError(msg)
        self._model = model or None
        self._api_key = api_key or "EMPTY"
        self.request_timeout = request_timeout
        self.total_timeout = total_timeout
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.health_interval = health_interval
        self._clock = clock
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._rotation = itertools.count()
        self._info: ServerInfo | None = None
        self._session: aiohttp.ClientSession | None = None
        self.endpoints = [
            self._endpoint(url, threshold=breaker_threshold, reset=breaker_reset) for url in urls
        ]

    def _endpoint(self, url: str, *, threshold: int, reset: float) -> Endpoint:
        _, api_base = normalise_base_url(url)
        gauge = metrics.LLM_BREAKER_STATE.labels(endpoint=url)
        gauge.set(BreakerState.CLOSED)
        breaker = CircuitBreaker(
            threshold=threshold,
            reset_seconds=reset,
            clock=self._clock,
            on_change=lambda state: _breaker_changed(url, state),
        )
        api = openai.AsyncOpenAI(
            base_url=api_base,
            api_key=self._api_key,
            max_retries=0,
            timeout=self.request_timeout,
        )
        return Endpoint(url=url, api=api, breaker=breaker)

    async def close(self) -> None:
        """Close every HTTP connection (the client cannot be used afterwards)."""
        for endpoint in self.endpoints:
            await endpoint.api.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    # -- plain HTTP: /health, /tokenize -----------------------------------------------------

    def _http(self) -> aiohttp.ClientSession:
        # NB: created on first use, inside the running event loop, as aiohttp requires.
        if self._session is None or self._session.closed:
            headers = {"Authorization": f"Bearer {self._api_key}"}
            self._session = aiohttp.ClientSession(headers=headers)
        return self._session

    async def check_health(self, endpoint: Endpoint) -> bool:
        """GET ``/health``: 200 (or 404, no such route) is healthy; 5xx or no answer is not."""
        try:
            async with self._http().get(
                f"{endpoint.root}/health",
                timeout=aiohttp.ClientTimeout(total=HEALTH_TIMEOUT_SECONDS),
            ) as response:
                healthy = response.status < 500 and response.status != 429
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            logger.info("LLM endpoint %s failed its health check: %r", endpoint.url, exc)
            healthy = False
        if healthy != endpoint.healthy:
            logger.warning(
                "LLM endpoint %s is now %s", endpoint.url, "healthy" if healthy else "unhealthy"
            )
        endpoint.healthy = healthy
        endpoint.checked_at = self._clock()
        metrics.LLM_ENDPOINT_HEALTHY.labels(endpoint=endpoint.url).set(1 if healthy else 0)
        return healthy

    async def _refresh_health(self) -> None:
        now = self._clock()
        stale = [
            e
            for e in self.endpoints
            if e.checked_at is None or now - e.checked_at >= self.health_interval
        ]
        if stale:
            await asyncio.gather(*(self.check_health(e) for e in stale))

    async def count_tokens(self, text: str) -> int | None:
        """Tokens in ``text`` by the server's tokenizer (vLLM ``/tokenize``); None if unknown."""
        model = self._model or (self._info.model if self._info else None)
        for endpoint in self._ordered_candidates():
            payload: dict[str, Any] = {"prompt": text, "add_special_tokens": False}
            if model:
                payload["model"] = model
            try:
                async with self._http().post(
                    f"{endpoint.root}/tokenize",
                    json=payload,
                    timeout=aiohttp.ClientTimeout(total=TOKENIZE_TIMEOUT_SECONDS),
                ) as response:
                    if response.status != 200:
                        continue
                    body = await response.json()
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
                logger.debug("tokenize on %s failed: %r", endpoint.url, exc)
                continue
            count = body.get("count") if isinstance(body, dict) else None
            if isinstance(count, int):
                return count
            tokens = body.get("tokens") if isinstance(body, dict) else None
            if isinstance(tokens, list):
                return len(tokens)
        return None

    # -- endpoint choice --------------------------------------------------------------------

    def _ordered_candidates(self) -> list[Endpoint]:
        """Healthy endpoints with a breaker that lets a request through, least loaded first."""
        turn = next(self._rotation)
        count = len(self.endpoints)
        ranked = sorted(
            range(count),
            key=lambda i: (self.endpoints[i].in_flight, (i - turn) % count),
        )
        return [
            self.endpoints[i]
            for i in ranked
            if self.endpoints[i].healthy and self.endpoints[i].breaker.available()
        ]

    async def _pick(self) -> Endpoint:
        await self._refresh_health()
        for endpoint in self._ordered_candidates():
            if endpoint.breaker.acquire():
                return endpoint
        states = ", ".join(
            f"{e.url}: {'unhealthy' if not e.healthy else e.breaker.state.name.lower()}"
            for e in self.endpoints
        )
        metrics.LLM_REQUESTS.labels(endpoint="none", outcome="no_endpoint").inc()
        msg = f"no LLM endpoint can take a request ({states})"
        raise LLMUnavailableError(msg)

    # -- model discovery --------------------------------------------------------------------

    async def server_info(self) -> ServerInfo:
        """The model to use (configured, or the first ``/v1/models`` lists) and its context
        length. Cached after the first success; with a configured model a failure to list
        models is not an error."""
        if self._info is not None:
            return self._info
        last_error: Exception | None = None
        for endpoint in self._ordered_candidates():
            try:
                async with asyncio.timeout(self.request_timeout):
                    page = await endpoint.api.models.list()
            except (openai.OpenAIError, TimeoutError) as exc:
                last_error = exc
                continue
            models = list(page.data)
            chosen = next((m for m in models if m.id == self._model), None) if self._model else None
            chosen = chosen or (models[0] if models else None)
            if chosen is None:
                continue
            extra = chosen.model_extra or {}
            max_len = extra.get("max_model_len")
            self._info = ServerInfo(
                model=self._model or chosen.id,
                max_model_len=max_len if isinstance(max_len, int) else None,
            )
            return self._info
        if self._model:
            return ServerInfo(model=self._model, max_model_len=None)
        msg = f"cannot learn the model name from /v1/models: {last_error!r}"
        raise LLMUnavailableError(msg)

    # -- chat completions -------------------------------------------------------------------

    async def complete(
        self,
        *,
        messages: Sequence[Mapping[str, object]],
        response_format: Mapping[str, Any],
        max_tokens: int,
        priority: int | None = None,
        temperature: float = 0.0,
    ) -> ChatResult:
        """One chat completion with retries, failover and breakers (see module docstring).

        Raises :class:`LLMUnavailableError` when no endpoint answered in time and
        :class:`LLMRequestError` when the server refused the request.
        """
        info = await self.server_info()
        request = _Request(
            model=info.model,
            messages=[{"role": str(m["role"]), "content": str(m["content"])} for m in messages],
            response_format=dict(response_format),
            max_tokens=max_tokens,
            priority=priority,
            temperature=temperature,
        )
        deadline = self._clock() + self.total_timeout
        started = time.perf_counter()
        attempts = 0
        result: ChatResult | None = None

        def log_retry(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            logger.info("LLM attempt %d failed (%s); retrying", state.attempt_number, error)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts) | stop_after_delay(self.total_timeout),
            wait=wait_random_exponential(multiplier=self.backoff_initial, max=self.backoff_max),
            retry=retry_if_exception(lambda exc: isinstance(exc, _RetryableError)),
            before_sleep=log_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    remaining = deadline - self._clock()
                    if remaining <= 0:
                        msg = f"no answer within {self.total_timeout:g}s"
                        raise _RetryableError("timeout", msg)
                    result = await self._attempt(
                        request, time_limit=min(self.request_timeout, remaining)
                    )
        except _RetryableError as exc:
            msg = f"no answer after {attempts} attempt(s): {exc}"
            raise LLMUnavailableError(msg) from exc
        if result is None:  # pragma: no cover - tenacity either returns a result or raises
            msg = "no answer"
            raise LLMUnavailableError(msg)
        latency = time.perf_counter() - started
        metrics.LLM_REQUEST_SECONDS.observe(latency)
        return dataclasses.replace(result, latency_seconds=latency, attempts=attempts)

    async def _attempt(self, request: _Request, *, time_limit: float) -> ChatResult:
        try:
            async with asyncio.timeout(time_limit):
                await self._semaphore.acquire()
        except TimeoutError:
            msg = f"waited {time_limit:g}s for a free request slot"
            raise _RetryableError("timeout", msg) from None
        try:
            endpoint = await self._pick()
            return await self._send(endpoint, request, time_limit=time_limit)
        finally:
            self._semaphore.release()

    async def _send(
        self, endpoint: Endpoint, request: _Request, *, time_limit: float
    ) -> ChatResult:
        """One request to one endpoint, classified for retries, the breaker and metrics."""
        endpoint.in_flight += 1
        gauge = metrics.LLM_IN_FLIGHT.labels(endpoint=endpoint.url)
        gauge.inc()
        started = time.perf_counter()
        outcome = "success"
        try:
            response = await self._create(endpoint, request, time_limit=time_limit)
        except (TimeoutError, openai.APITimeoutError) as exc:
            outcome = "timeout"
            endpoint.breaker.record_failure()
            msg = f"{endpoint.url}: no answer within {time_limit:g}s"
            raise _RetryableError(outcome, msg) from exc
        except openai.APIConnectionError as exc:
            outcome = "connection_error"
            endpoint.breaker.record_failure()
            raise _RetryableError(outcome, f"{endpoint.url}: {exc}") from exc
        except openai.APIStatusError as exc:
            if exc.status_code == 429 or exc.status_code >= 500:
                outcome = "rate_limited" if exc.status_code == 429 else "server_error"
                endpoint.breaker.record_failure()
                msg = f"{endpoint.url}: HTTP {exc.status_code}"
                raise _RetryableError(outcome, msg) from exc
            outcome = "client_error"
            endpoint.breaker.record_success()
            msg = f"{endpoint.url}: HTTP {exc.status_code}: {_short(str(exc))}"
            raise LLMRequestError(msg) from exc
        except BaseException:
            outcome = "cancelled"
            endpoint.breaker.release()
            raise
        finally:
            endpoint.in_flight -= 1
            gauge.dec()
            metrics.LLM_REQUESTS.labels(endpoint=endpoint.url, outcome=outcome).inc()
        endpoint.breaker.record_success()
        return _chat_result(response, endpoint=endpoint.url, model=request.model, started=started)

    async def _create(
        self, endpoint: Endpoint, request: _Request, *, time_limit: float
    ) -> ChatCompletion:
        """The HTTP request; once more without ``priority`` if the server refuses it."""
        while True:
            use_priority = request.priority is not None and endpoint.supports_priority
            try:
                async with asyncio.timeout(time_limit):
                    return await endpoint.api.chat.completions.create(
                        model=request.model,
                        messages=cast("list[ChatCompletionMessageParam]", request.messages),
                        max_tokens=request.max_tokens,
                        temperature=request.temperature,
                        response_format=cast("ResponseFormatJSONSchema", request.response_format),
                        extra_body={"priority": request.priority} if use_priority else None,
                        timeout=time_limit,
                        stream=False,
                    )
            except openai.BadRequestError as exc:
                if not (use_priority and "priority" in str(exc).lower()):
                    raise
                # NB: vLLM without --scheduling-policy priority refuses the field (HTTP 400).
                logger.warning(
                    "LLM endpoint %s does not support request priority; sending without it",
                    endpoint.url,
                )
                endpoint.supports_priority = False


@dataclasses.dataclass(frozen=True)
class _Request:
    model: str
    messages: list[dict[str, str]]
    response_format: dict[str, Any]
    max_tokens: int
    priority: int | None
    temperature: float


def _chat_result(
    response: ChatCompletion, *, endpoint: str, model: str, started: float
) -> ChatResult:
    choice = response.choices[0] if response.choices else None
    usage = response.usage
    prompt_tokens = usage.prompt_tokens if usage else 0
    completion_tokens = usage.completion_tokens if usage else 0
    metrics.LLM_TOKENS.labels(kind="prompt").inc(prompt_tokens)
    metrics.LLM_TOKENS.labels(kind="completion").inc(completion_tokens)
    return ChatResult(
        content=(choice.message.content or "") if choice else "",
        model=response.model or model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        latency_seconds=time.perf_counter() - started,
        endpoint=endpoint,
        attempts=1,
        finish_reason=str(choice.finish_reason) if choice else "",
    )


def _breaker_changed(url: str, state: BreakerState) -> None:
    metrics.LLM_BREAKER_STATE.labels(endpoint=url).set(state)
    log = logger.warning if state is BreakerState.OPEN else logger.info
    log("LLM endpoint %s: circuit breaker %s", url, state.name.lower().replace("_", "-"))


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = [
    "BreakerState",
    "ChatResult",
    "CircuitBreaker",
    "Endpoint",
    "LLMClient",
    "LLMRequestError",
    "LLMUnavailableError",
    "ServerInfo",
    "normalise_base_url",
]
