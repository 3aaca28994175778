"""An OpenAI-compatible test server that behaves like vLLM where kubemedic depends on it.

A real HTTP server (aiohttp, 127.0.0.1, a free port, its own thread and event loop) with
``/v1/chat/completions``, ``/v1/models``, ``/health`` and ``/tokenize``. It checks every chat
request the way vLLM would reject it (unknown model → 404; prompt plus ``max_tokens`` over
``max_model_len`` → 400; ``priority`` without priority scheduling → 400) and what kubemedic
promises to send (messages, a valid ``response_format`` JSON Schema, ``max_tokens``); a
broken promise is recorded in :attr:`FakeVLLM.problems` and answered with 400, so a test
that asserts ``problems == []`` fails on it. Every request is recorded raw.

Answers come from a script (:meth:`FakeVLLM.push`), then from :attr:`FakeVLLM.default`:
:func:`answer` (a JSON answer or any text), :func:`status` (429, 503, ...), :func:`hang`
(no answer until the client gives up), :func:`slow` (an answer that takes a while),
:func:`drop` (the connection is closed mid-request),
or a callable that looks at the request and returns one of those (a model that "obeys"
whatever the prompt says).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
from aiohttp import web

Counter = Callable[[str], int]


@dataclasses.dataclass(frozen=True)
class Reply:
    """One scripted reaction to a chat request."""

    kind: str
    content: str = ""
    status: int = 200
    message: str = ""
    seconds: float = 0.0
    prompt_tokens: int | None = None


def answer(content: str | dict[str, Any], *, prompt_tokens: int | None = None) -> Reply:
    """A completion whose message is ``content`` (dicts are sent as JSON)."""
    text = content if isinstance(content, str) else json.dumps(content)
    return Reply("answer", content=text, prompt_tokens=prompt_tokens)


def status(code: int, message: str = "") -> Reply:
    """An HTTP error in vLLM's error format."""
    return Reply("status", status=code, message=message or f"scripted HTTP {code}")


def hang(seconds: float = 30.0) -> Reply:
    """No answer for ``seconds`` (or until the server stops)."""
    return Reply("hang", seconds=seconds)


def slow(seconds: float, content: str | dict[str, Any]) -> Reply:
    """An answer that takes ``seconds``."""
    return dataclasses.replace(answer(content), kind="slow", seconds=seconds)


def drop() -> Reply:
    """Close the connection without answering."""
    return Reply("drop")


Script = Reply | Callable[[dict[str, Any]], Reply]


@dataclasses.dataclass(frozen=True)
class Recorded:
    """One request as received."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    time: float

    @property
    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None


class FakeVLLM:
    """The server; use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(
        self,
        *,
        model: str = "kubemedic-test-model",
        max_model_len: int = 32768,
        counter: Counter | None = None,
        priority_supported: bool = True,
        api_key: str | None = None,
    ) -> None:
        self.model = model
        self.max_model_len = max_model_len
        self.counter: Counter = counter or (lambda text: max(1, len(text) // 4))
        self.priority_supported = priority_supported
        self.api_key = api_key
        self.healthy = True
        self.default: Script | None = None
        self.requests: list[Recorded] = []
        self.problems: list[str] = []
        self._script: deque[Script] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self.port = 0

    # -- control -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def push(self, *replies: Script) -> None:
        with self._lock:
            self._script.extend(replies)

    def chat_requests(self) -> list[dict[str, Any]]:
        """Bodies of the chat requests received, oldest first."""
        with self._lock:
            return [r.json for r in self.requests if r.path == "/v1/chat/completions"]

    def raw_requests(self) -> bytes:
        """Everything received (all paths), concatenated."""
        with self._lock:
            return b"\n".join(r.raw for r in self.requests)

    def start(self) -> FakeVLLM:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-vllm", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None

    def __enter__(self) -> FakeVLLM:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        app.router.add_post("/tokenize", self._tokenize)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- handlers ----------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> bytes:
        raw = await request.read()
        with self._lock:
            self.requests.append(
                Recorded(request.method, request.path, dict(request.headers), raw, time.monotonic())
            )
        return raw

    def _unauthorised(self, request: web.Request) -> web.Response | None:
        if self.api_key and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"error": "Unauthorized"}, status=401)
        return None

    async def _health(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.Response(status=200 if self.healthy else 503)

    async def _models(self, request: web.Request) -> web.Response:
        await self._record(request)
        if refused := self._unauthorised(request):
            return refused
        card = {
            "id": self.model,
            "object": "model",
            "created": 0,
            "owned_by": "vllm",
            "root": self.model,
            "max_model_len": self.max_model_len,
        }
        return web.json_response({"object": "list", "data": [card]})

    async def _tokenize(self, request: web.Request) -> web.Response:
        raw = await self._record(request)
        body = json.loads(raw)
        count = self.counter(str(body.get("prompt", "")))
        return web.json_response(
            {"count": count, "max_model_len": self.max_model_len, "tokens": list(range(count))}
        )

    def _error(self, code: int, message: str) -> web.Response:
        kind = {400: "BadRequestError", 404: "NotFoundError"}.get(code, "ServerError")
        return web.json_response(
            {"error": {"message": message, "type": kind, "param": None, "code": code}},
            status=code,
        )

    def _check(self, body: Any) -> tuple[int, str] | None:
        """Why vLLM would refuse this request, or a broken promise of kubemedic's."""
        if not isinstance(body, dict):
            return 400, "the body must be a JSON object"
        if body.get("model") != self.model:
            return 404, f"The model `{body.get('model')}` does not exist."
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return 400, "`messages` must be a non-empty list"
        for message in messages:
            if (
                not isinstance(message, dict)
                or message.get("role") not in {"system", "user", "assistant"}
                or not isinstance(message.get("content"), str)
            ):
                return 400, f"bad message {str(message)[:200]}"
        response_format = body.get("response_format")
        if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
            return 400, "`response_format` must be {'type': 'json_schema', ...}"
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict) or not spec.get("name") or "schema" not in spec:
            return 400, "`response_format.json_schema` needs `name` and `schema`"
        try:
            jsonschema.Draft202012Validator.check_schema(spec["schema"])
        except jsonschema.SchemaError as exc:
            return 400, f"invalid response schema: {exc.message}"
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or max_tokens <= 0:
            return 400, "`max_tokens` must be a positive integer"
        prompt_tokens = self.counter("\n".join(m["content"] for m in messages))
        if prompt_tokens + max_tokens > self.max_model_len:
            return 400, (
                f"This model's maximum context length is {self.max_model_len} tokens. However, "
                f"you requested {prompt_tokens + max_tokens} tokens ({prompt_tokens} in the "
                f"messages, {max_tokens} in the completion)."
            )
        if "priority" in body and not self.priority_supported:
            return 400, (f"Got priority {body['priority']} but Priority scheduling is not enabled.")
        return None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        raw = await self._record(request)
        if refused := self._unauthorised(request):
            return refused
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            body = None
        problem = self._check(body)
        if problem is not None:
            code, message = problem
            if not message.startswith(("The model", "This model's", "Got priority")):
                with self._lock:
                    self.problems.append(message)
            return self._error(code, message)
        with self._lock:
            script = self._script.popleft() if self._script else self.default
        if script is None:
            with self._lock:
                self.problems.append("a chat request arrived with nothing scripted")
            return self._error(500, "nothing scripted")
        reply = script if isinstance(script, Reply) else script(body)
        return await self._play(request, body, reply)

    async def _play(self, request: web.Request, body: Any, reply: Reply) -> web.StreamResponse:
        match reply.kind:
            case "status":
                return self._error(reply.status, reply.message)
            case "hang":
                assert self._stopping is not None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=reply.seconds)
                return self._error(504, "hung")
            case "slow":
                await asyncio.sleep(reply.seconds)
                return await self._play(request, body, dataclasses.replace(reply, kind="answer"))
            case "drop":
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=200)
            case _:
                prompt = "\n".join(m["content"] for m in body["messages"])
                prompt_tokens = reply.prompt_tokens or self.counter(prompt)
                completion_tokens = self.counter(reply.content)
                return web.json_response(
                    {
                        "id": f"chatcmpl-{len(self.requests)}",
                        "object": "chat.completion",
                        "created": 0,
                        "model": self.model,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": reply.content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": prompt_tokens,
                            "completion_tokens": completion_tokens,
                            "total_tokens": prompt_tokens + completion_tokens,
                        },
                    }
                )


def running(**kwargs: Any) -> Iterator[FakeVLLM]:
    """A started server (for fixtures); stopped afterwards."""
    server = FakeVLLM(**kwargs).start()
    try:
        yield server
    finally:
        server.stop()
