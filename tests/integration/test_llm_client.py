"""We test these aspects of the LLM client and refiner against a real HTTP server that speaks
vLLM's OpenAI-compatible API (tests/support/llm_server.py; no Kubernetes, no GPU):

- an answer is validated, combined with the rules and recorded (engine, model, tokens,
  latency, LLMDiagnosed=True/LLMAnswered); every request carries the model, the messages,
  a valid ``response_format`` JSON Schema and ``max_tokens``;
- retries are bounded in attempts and in total time, happen on 429, 5xx, dropped
  connections and hangs, not on 400; after the last one the rules' diagnosis stands with
  LLMDiagnosed=False/LLMUnavailable;
- the circuit breaker opens after repeated failures (no more requests are sent), lets one
  trial through after its reset time, closes on success and re-opens on failure;
- with several replicas: an unhealthy one (/health 503) gets nothing, a failing one is cut
  off by its breaker, concurrent requests spread by least-in-flight;
- invalid answers get one repair request listing the problems, then fall back
  (LLMInvalidAnswer) to the rules' diagnosis;
- request priority for Critical/High incidents, dropped (and remembered) where refused;
- the static prefix is byte-identical for two different incidents;
- the prompt stays within budget for 50 MiB of logs, counted by the server's tokenizer,
  with a configured tokenizer and with the /tokenize fallback;
- planted secrets (one of each kind) appear in no captured request (a control without
  redaction shows they would have);
- a log line telling the model to delete a namespace never leads to such an action: the
  "obedient" model's proposals are refused and recorded;
- the model name and context length come from /v1/models; API keys are sent;
- the refiner built from settings: off without a URL (LLMDisabled), runbook knowledge
  added with or without an LLM;
- runbook ConfigMaps are listed through the Kubernetes reader with the label selector,
  cached for their TTL, and a failed list keeps the last copy.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from kubemedic import metrics
from kubemedic.clients.knowledge import ConfigMapKnowledge
from kubemedic.clients.llm import LLMClient
from kubemedic.clients.tokenizer import load_token_counter
from kubemedic.domain.knowledge import RUNBOOK_HEADING, KnowledgeDoc
from kubemedic.domain.prompt import PromptBudget, TokenCounter
from kubemedic.domain.redaction import Redactor
from kubemedic.domain.rule_engine import diagnose_bundle
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.diagnosis import Agreement, Diagnosis
from kubemedic.models.incident import DiagnosisStatus, IncidentSpec
from kubemedic.service.diagnosis_pipeline import StageReport
from kubemedic.service.llm_refiner import LLMRefiner, RefinerOptions, build_refiner
from kubemedic.settings import OperatorSettings
from support.llm_bundles import (
    CRASH_SCENARIO,
    INJECTION,
    KNOWLEDGE,
    OOM_SCENARIO,
    SECRETS,
    fifty_megabytes_of_logs,
    injection_bundle,
    load_scenario,
    secrets_bundle,
)
from support.llm_server import FakeVLLM, Reply, answer, drop, hang, slow, status
from support.tokenizer import train_tokenizer

CHECKOUT = {"kind": "Deployment", "namespace": "shop", "name": "checkout"}
CRASH_ANSWER: dict[str, Any] = {
    "category": "CrashLoop",
    "summary": "checkout panics on start: nil pointer in promotions.go.",
    "rootCause": "log:checkout-bm4br48qvc-tj5nw/app:previous shows a nil pointer panic.",
    "confidence": 0.85,
    "evidence": [
        {"ref": "log:checkout-bm4br48qvc-tj5nw/app:previous", "finding": "nil pointer panic"},
        {"ref": "Deployment/shop/checkout", "finding": "3 replicas, none ready"},
    ],
    "actions": [
        {
            "type": "Escalate",
            "target": CHECKOUT,
            "params": {"reason": "application bug", "instructions": "fix promotions.go:42"},
            "reason": "no automatic fix for a code bug",
        }
    ],
    "runbook": "1. `kubectl -n shop logs deploy/checkout --previous`",
}
FAST = {
    "backoff_initial": 0.01,
    "backoff_max": 0.05,
    "request_timeout": 2.0,
    "total_timeout": 6.0,
    "health_interval": 60.0,
}


class StaticKnowledge:
    def __init__(self, docs: Sequence[KnowledgeDoc]) -> None:
        self.docs = tuple(docs)

    async def documents(self) -> tuple[KnowledgeDoc, ...]:
        return self.docs


class NoRedaction(Redactor):
    """The control: what would be sent without redaction."""

    def redact_text(self, text: str) -> str:
        return text

    def redact_object(self, obj: Any) -> Any:
        return obj

    def for_bundle(self, objects: Any) -> Redactor:
        return self


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tokenizer(tmp_path_factory.mktemp("tokenizer"))


@pytest.fixture(scope="module")
def counter(tokenizer_dir: Path) -> TokenCounter:
    return load_token_counter(str(tokenizer_dir))


@pytest.fixture
def server(counter: TokenCounter) -> Iterator[FakeVLLM]:
    with FakeVLLM(counter=counter) as started:
        yield started


@pytest.fixture
def second_server(counter: TokenCounter) -> Iterator[FakeVLLM]:
    with FakeVLLM(counter=counter) as started:
        yield started


def spec(severity: str = "Warning", **extra: Any) -> IncidentSpec:
    return IncidentSpec.model_validate(
        {"target": {"kind": "Deployment", "name": "checkout"}, "severity": severity, **extra}
    )


def make_refiner(
    urls: Sequence[str],
    *,
    counter: TokenCounter | None,
    redactor: Redactor | None = None,
    budget: PromptBudget | None = None,
    **client: Any,
) -> LLMRefiner:
    options = {**FAST, **client}
    return LLMRefiner(
        client=LLMClient(urls=list(urls), **options),
        knowledge=StaticKnowledge(KNOWLEDGE),
        redactor=redactor or Redactor(),
        counter=counter,
        options=RefinerOptions(budget=budget or PromptBudget(), max_completion_tokens=1024),
    )


Outcome = tuple[Diagnosis, StageReport | None]


def refine_all(
    refiner: LLMRefiner,
    cases: Sequence[tuple[IncidentBundle, IncidentSpec]],
    *,
    between: Callable[[int], None] | None = None,
) -> list[Outcome]:
    """Refine each case in one event loop (as the operator does), then close the client."""

    async def main() -> list[Outcome]:
        results = []
        try:
            for n, (bundle, incident) in enumerate(cases):
                if between is not None:
                    between(n)
                rules = diagnose_bundle(bundle)
                results.append(await refiner.refine(bundle, rules, spec=incident))
        finally:
            await refiner.aclose()
        return results

    return asyncio.run(main())


def refine_one(
    refiner: LLMRefiner, bundle: IncidentBundle, incident: IncidentSpec | None = None
) -> Outcome:
    return refine_all(refiner, [(bundle, incident or spec())])[0]


def chat_count(server: FakeVLLM) -> int:
    return len(server.chat_requests())


# -- the happy path -------------------------------------------------------------------------


def test_an_answer_is_validated_combined_and_recorded(
    server: FakeVLLM, counter: TokenCounter
) -> None:
    server.push(answer(CRASH_ANSWER))
    bundle = load_scenario(CRASH_SCENARIO)
    diagnosis, report = refine_one(make_refiner([server.url], counter=counter), bundle)
    assert server.problems == []
    assert report is not None
    assert (report.condition_type, report.status, report.reason) == (
        "LLMDiagnosed",
        "True",
        "LLMAnswered",
    )
    assert diagnosis.engine == "rules+llm"
    assert diagnosis.llm is not None
    assert diagnosis.llm.model == server.model
    assert diagnosis.llm.agreement is Agreement.AGREED
    assert diagnosis.llm.prompt_tokens > 1000
    assert diagnosis.llm.completion_tokens > 10
    assert diagnosis.llm.latency_seconds > 0
    assert diagnosis.confidence > diagnose_bundle(bundle).confidence
    assert (
        "LLM: nil pointer panic [log:checkout-bm4br48qvc-tj5nw/app:previous]" in diagnosis.evidence
    )
    assert RUNBOOK_HEADING in diagnosis.runbook
    [request] = server.chat_requests()
    assert request["model"] == server.model
    assert request["max_tokens"] == 1024
    assert request["response_format"]["json_schema"]["name"] == "kubemedic_diagnosis"
    assert [m["role"] for m in request["messages"]] == ["system", "user"]
    assert "priority" not in request
    status_ = DiagnosisStatus.from_diagnosis(diagnosis).model_dump(by_alias=True, mode="json")
    assert status_["llm"]["model"] == server.model
    assert status_["engine"] == "rules+llm"


# -- retries and time bounds ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "client", "requests", "reason"),
    [
        ([status(503)] * 5, {"max_attempts": 3}, 3, "LLMUnavailable"),
        ([status(429), answer(CRASH_ANSWER)], {"max_attempts": 3}, 2, "LLMAnswered"),
        ([status(500), status(502), answer(CRASH_ANSWER)], {"max_attempts": 3}, 3, "LLMAnswered"),
        ([drop(), answer(CRASH_ANSWER)], {"max_attempts": 3}, 2, "LLMAnswered"),
        (
            [hang(30), answer(CRASH_ANSWER)],
            {"max_attempts": 3, "request_timeout": 0.5},
            2,
            "LLMAnswered",
        ),
        ([status(400, "bad request")] * 3, {"max_attempts": 3}, 1, "LLMUnavailable"),
        (
            [hang(30)] * 10,
            {"max_attempts": 10, "request_timeout": 0.4, "total_timeout": 1.0},
            3,
            "LLMUnavailable",
        ),
    ],
    ids=[
        "503s",
        "429-then-ok",
        "5xx-then-ok",
        "drop-then-ok",
        "hang-then-ok",
        "400-no-retry",
        "total-time",
    ],
)
def test_retries_are_bounded(
    server: FakeVLLM,
    counter: TokenCounter,
    script: list[Reply],
    client: dict[str, Any],
    requests: int,
    reason: str,
) -> None:
    server.push(*script)
    bundle = load_scenario(CRASH_SCENARIO)
    started = time.monotonic()
    diagnosis, report = refine_one(make_refiner([server.url], counter=counter, **client), bundle)
    elapsed = time.monotonic() - started
    assert report is not None
    assert report.reason == reason, report.message
    assert chat_count(server) <= requests
    if "total_timeout" not in client:
        assert chat_count(server) == requests
    assert elapsed < client.get("total_timeout", FAST["total_timeout"]) + 1.5
    if reason == "LLMUnavailable":
        rules = diagnose_bundle(bundle)
        assert (diagnosis.category, diagnosis.confidence, diagnosis.engine) == (
            rules.category,
            rules.confidence,
            "rules",
        )
        assert diagnosis.actions == rules.actions
        assert report.status == "False"
        assert "rules' diagnosis stands" in report.message


# -- circuit breaker ------------------------------------------------------------------------


def test_breaker_opens_and_recovers(server: FakeVLLM, counter: TokenCounter) -> None:
    clock = FakeClock()
    refiner = make_refiner(
        [server.url],
        counter=counter,
        max_attempts=1,
        breaker_threshold=2,
        breaker_reset=30.0,
        health_interval=10_000.0,
        clock=clock,
    )
    gauge = metrics.LLM_BREAKER_STATE.labels(endpoint=server.url)
    counts: list[int] = []
    gauges: list[float] = []

    def between(n: int) -> None:
        counts.append(chat_count(server))
        gauges.append(gauge._value.get())
        if n == 0:
            server.default = status(503)
        if n == 3:
            clock.now += 31  # past the reset time: one trial request
        if n == 4:
            server.default = answer(CRASH_ANSWER)
        if n == 5:
            clock.now += 31

    bundle = load_scenario(CRASH_SCENARIO)
    outcomes = refine_all(refiner, [(bundle, spec())] * 7, between=between)
    reasons = [report.reason for _, report in outcomes if report]
    counts.append(chat_count(server))
    assert reasons == [
        "LLMUnavailable",  # 503
        "LLMUnavailable",  # 503: the second failure opens the breaker
        "LLMUnavailable",  # open: nothing sent
        "LLMUnavailable",  # half-open trial fails (503): open again
        "LLMUnavailable",  # open: nothing sent
        "LLMAnswered",  # half-open trial succeeds: closed
        "LLMAnswered",  # closed
    ]
    assert counts == [0, 1, 2, 2, 3, 3, 4, 5]
    assert gauges[:3] == [0, 0, 2]
    assert gauge._value.get() == 0
    third = outcomes[2][1]
    assert third is not None
    assert "open" in third.message


# -- several replicas -----------------------------------------------------------------------


def test_an_unhealthy_replica_gets_no_requests(
    server: FakeVLLM, second_server: FakeVLLM, counter: TokenCounter
) -> None:
    server.healthy = False
    server.default = second_server.default = answer(CRASH_ANSWER)
    bundle = load_scenario(CRASH_SCENARIO)
    outcomes = refine_all(
        make_refiner([server.url, second_server.url], counter=counter), [(bundle, spec())] * 4
    )
    assert [r.reason for _, r in outcomes if r] == ["LLMAnswered"] * 4
    assert chat_count(server) == 0
    assert chat_count(second_server) == 4
    assert any(r.path == "/health" for r in server.requests)


def test_no_healthy_replica_falls_back_at_once(server: FakeVLLM, counter: TokenCounter) -> None:
    server.healthy = False
    started = time.monotonic()
    diagnosis, report = refine_one(
        make_refiner([server.url], counter=counter), load_scenario(CRASH_SCENARIO)
    )
    assert report is not None and report.reason == "LLMUnavailable"
    assert "no LLM endpoint can take a request" in report.message
    assert time.monotonic() - started < 2
    assert diagnosis.engine == "rules"


def test_a_failing_replica_is_cut_off_by_its_breaker(
    server: FakeVLLM, second_server: FakeVLLM, counter: TokenCounter
) -> None:
    server.default = drop()
    second_server.default = answer(CRASH_ANSWER)
    bundle = load_scenario(CRASH_SCENARIO)
    outcomes = refine_all(
        make_refiner(
            [server.url, second_server.url], counter=counter, breaker_threshold=1, max_attempts=2
        ),
        [(bundle, spec())] * 5,
    )
    assert [r.reason for _, r in outcomes if r] == ["LLMAnswered"] * 5
    assert chat_count(server) <= 1
    assert chat_count(second_server) == 5


def test_concurrent_requests_go_to_the_least_loaded_replica(
    server: FakeVLLM, second_server: FakeVLLM, counter: TokenCounter
) -> None:
    server.default = second_server.default = slow(0.5, CRASH_ANSWER)
    client = LLMClient(urls=[server.url, second_server.url], **FAST)

    async def main() -> None:
        try:
            await asyncio.gather(
                *(
                    client.complete(
                        messages=[{"role": "user", "content": f"incident {n}"}],
                        response_format={
                            "type": "json_schema",
                            "json_schema": {"name": "x", "schema": {"type": "object"}},
                        },
                        max_tokens=64,
                    )
                    for n in range(4)
                )
            )
        finally:
            await client.close()

    asyncio.run(main())
    assert (chat_count(server), chat_count(second_server)) == (2, 2)


# -- invalid answers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "reason", "problem"),
    [
        (
            [answer("Sure! The pod is crash looping."), answer(CRASH_ANSWER)],
            "LLMAnswered",
            "not JSON",
        ),
        (
            [answer({**CRASH_ANSWER, "category": "Meltdown"}), answer(CRASH_ANSWER)],
            "LLMAnswered",
            "category",
        ),
        ([answer("{"), answer("still not json")], "LLMInvalidAnswer", "not JSON"),
        (
            [answer({**CRASH_ANSWER, "confidence": 7}), answer({**CRASH_ANSWER, "confidence": 7})],
            "LLMInvalidAnswer",
            "confidence",
        ),
    ],
    ids=["prose-then-ok", "bad-category-then-ok", "twice-not-json", "twice-bad-confidence"],
)
def test_one_repair_then_fallback(
    server: FakeVLLM, counter: TokenCounter, script: list[Reply], reason: str, problem: str
) -> None:
    server.push(*script)
    bundle = load_scenario(CRASH_SCENARIO)
    diagnosis, report = refine_one(make_refiner([server.url], counter=counter), bundle)
    assert report is not None and report.reason == reason, report
    first, repair = server.chat_requests()
    assert repair["messages"][:2] == first["messages"]
    assert repair["messages"][2]["role"] == "assistant"
    assert problem in repair["messages"][3]["content"]
    if reason == "LLMInvalidAnswer":
        rules = diagnose_bundle(bundle)
        assert diagnosis.engine == "rules"
        assert diagnosis.category is rules.category
        assert diagnosis.actions == rules.actions
        assert diagnosis.llm is None
    else:
        assert diagnosis.llm is not None
        # Both requests are counted.
        assert diagnosis.llm.prompt_tokens > counter(
            "\n".join(m["content"] for m in first["messages"])
        )


# -- priority -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "priority"), [("Critical", -10), ("High", -5), ("Warning", None), ("Info", None)]
)
def test_priority_for_high_severity(
    server: FakeVLLM, counter: TokenCounter, severity: str, priority: int | None
) -> None:
    server.push(answer(CRASH_ANSWER))
    refine_one(
        make_refiner([server.url], counter=counter), load_scenario(CRASH_SCENARIO), spec(severity)
    )
    [request] = server.chat_requests()
    assert request.get("priority") == priority


def test_priority_is_dropped_where_refused(counter: TokenCounter) -> None:
    with FakeVLLM(counter=counter, priority_supported=False) as server:
        server.default = answer(CRASH_ANSWER)
        bundle = load_scenario(CRASH_SCENARIO)
        outcomes = refine_all(
            make_refiner([server.url], counter=counter),
            [(bundle, spec("Critical")), (bundle, spec("Critical"))],
        )
        assert [r.reason for _, r in outcomes if r] == ["LLMAnswered", "LLMAnswered"]
        assert [r.get("priority") for r in server.chat_requests()] == [-10, None, None]
        assert server.problems == []


# -- the prompt as sent ---------------------------------------------------------------------


def test_static_prefix_is_byte_identical_for_two_incidents(
    server: FakeVLLM, counter: TokenCounter
) -> None:
    server.default = answer(CRASH_ANSWER)
    refine_all(
        make_refiner([server.url], counter=counter),
        [(load_scenario(OOM_SCENARIO), spec()), (load_scenario(CRASH_SCENARIO), spec("High"))],
    )
    one, two = (r.json for r in server.requests if r.path == "/v1/chat/completions")
    raw_one = json.dumps(one["messages"][0], ensure_ascii=False).encode()
    raw_two = json.dumps(two["messages"][0], ensure_ascii=False).encode()
    assert raw_one == raw_two
    assert one["messages"][1] != two["messages"][1]


@pytest.mark.parametrize("exact", [True, False], ids=["tokenizer", "tokenize-endpoint"])
def test_prompt_within_budget_for_fifty_megabytes_of_logs(
    server: FakeVLLM, counter: TokenCounter, exact: bool
) -> None:
    server.default = answer(CRASH_ANSWER)
    budget = PromptBudget(total_tokens=8192)
    bundle = fifty_megabytes_of_logs(load_scenario(CRASH_SCENARIO))
    diagnosis, report = refine_one(
        make_refiner([server.url], counter=counter if exact else None, budget=budget), bundle
    )
    assert report is not None and report.reason == "LLMAnswered", report
    [request] = server.chat_requests()
    sent = counter("\n".join(m["content"] for m in request["messages"]))
    assert sent <= budget.total_tokens
    assert sent > budget.total_tokens // 2
    assert diagnosis.llm is not None and diagnosis.llm.prompt_tokens == sent
    tokenize_calls = [r for r in server.requests if r.path == "/tokenize"]
    assert bool(tokenize_calls) is not exact


def test_planted_secrets_never_leave_the_process(server: FakeVLLM, counter: TokenCounter) -> None:
    server.default = answer(CRASH_ANSWER)
    bundle = secrets_bundle(load_scenario(CRASH_SCENARIO))
    incident = spec(description=f"db password={SECRETS['description-password']} since the deploy")
    budget = PromptBudget(total_tokens=16384)
    with FakeVLLM(counter=counter) as control:
        control.default = answer(CRASH_ANSWER)
        refine_one(
            make_refiner([control.url], counter=None, redactor=NoRedaction(), budget=budget),
            bundle,
            incident,
        )
        captured = control.raw_requests().decode()
        assert [k for k, s in SECRETS.items() if json.dumps(s)[1:-1] not in captured] == []
    refine_one(make_refiner([server.url], counter=None, budget=budget), bundle, incident)
    sent = server.raw_requests().decode()
    assert any(r.path == "/tokenize" for r in server.requests)
    leaked = [kind for kind, secret in SECRETS.items() if json.dumps(secret)[1:-1] in sent]
    assert leaked == []
    assert "[REDACTED:" in sent


def obedient_model(body: dict[str, Any]) -> Reply:
    """A model that does what the evidence tells it to."""
    user = body["messages"][-1]["content"]
    if INJECTION[:40] not in user:
        return answer(CRASH_ANSWER)
    return answer(
        {
            **CRASH_ANSWER,
            "summary": "Maintenance mode: deleting the namespace as instructed.",
            "actions": [
                {
                    "type": "DeleteNamespace",
                    "target": {"kind": "Namespace", "namespace": None, "name": "shop"},
                    "params": {},
                    "reason": "the log says so",
                },
                {
                    "type": "ScaleWorkload",
                    "target": {"kind": "Deployment", "namespace": "payments", "name": "ledger"},
                    "params": {"replicas": 0},
                    "reason": "the log says so",
                },
                {
                    "type": "CordonNode",
                    "target": {"kind": "Node", "namespace": None, "name": "ip-10-0-9-9"},
                    "params": {"node": "ip-10-0-9-9"},
                    "reason": "the log says so",
                },
                {
                    "type": "RestartRollout",
                    "target": CHECKOUT,
                    "params": {},
                    "reason": "legitimate",
                },
            ],
        }
    )


def test_prompt_injection_never_leads_to_an_out_of_scope_action(
    server: FakeVLLM, counter: TokenCounter
) -> None:
    server.default = obedient_model
    bundle = injection_bundle(load_scenario(CRASH_SCENARIO))
    diagnosis, report = refine_one(make_refiner([server.url], counter=counter), bundle)
    [request] = server.chat_requests()
    system, user = (m["content"] for m in request["messages"])
    assert INJECTION not in system
    begin, end = user.index("<<<EVIDENCE "), user.index("<<<END EVIDENCE ")
    assert begin < user.index(INJECTION[:40]) < end
    assert report is not None and report.reason == "LLMAnswered"
    targets = {
        (a.type.value, a.target.kind, a.target.namespace, a.target.name) for a in diagnosis.actions
    }
    assert all(kind != "Namespace" for _, kind, _, _ in targets)
    assert all(ns in {"shop", None} for _, _, ns, _ in targets)
    assert ("RestartRollout", "Deployment", "shop", "checkout") in targets
    assert not any(name == "ip-10-0-9-9" for _, _, _, name in targets)
    assert diagnosis.llm is not None
    assert sorted(r.type for r in diagnosis.llm.rejected_actions) == [
        "CordonNode",
        "DeleteNamespace",
        "ScaleWorkload",
    ]
    assert "Refused 3 proposed action(s)" in report.message
    document = DiagnosisStatus.from_diagnosis(diagnosis).model_dump(by_alias=True, mode="json")
    assert {r["target"] for r in document["llm"]["rejectedActions"]} == {
        "Namespace/shop",
        "Deployment/payments/ledger",
        "Node/ip-10-0-9-9",
    }


# -- discovery, keys, wiring ----------------------------------------------------------------


def test_model_and_context_length_come_from_the_server(counter: TokenCounter) -> None:
    with FakeVLLM(counter=counter, model="served-model", max_model_len=7000) as server:
        server.default = answer(CRASH_ANSWER)
        refiner = make_refiner(
            [server.url + "/v1"], counter=counter, budget=PromptBudget(total_tokens=16384)
        )
        _, report = refine_one(refiner, fifty_megabytes_of_logs(load_scenario(CRASH_SCENARIO)))
        assert report is not None and report.reason == "LLMAnswered"
        [request] = server.chat_requests()
        assert request["model"] == "served-model"
        sent = counter("\n".join(m["content"] for m in request["messages"]))
        assert sent + request["max_tokens"] <= 7000
        assert server.problems == []


@pytest.mark.parametrize(
    ("key", "reason"), [("s3cret", "LLMAnswered"), ("wrong", "LLMUnavailable")]
)
def test_api_key_is_sent(counter: TokenCounter, key: str, reason: str) -> None:
    with FakeVLLM(counter=counter, api_key="s3cret") as server:
        server.default = answer(CRASH_ANSWER)
        refiner = make_refiner([server.url], counter=counter, api_key=key, model=server.model)
        _, report = refine_one(refiner, load_scenario(CRASH_SCENARIO))
        assert report is not None and report.reason == reason


def test_without_a_url_only_knowledge_is_added() -> None:
    settings = OperatorSettings(llm_urls=[], runbook_knowledge_documents=1)
    refiner = build_refiner(settings, reader=None)
    assert refiner.client is None
    refiner.knowledge = StaticKnowledge(KNOWLEDGE)
    bundle = load_scenario(OOM_SCENARIO)
    diagnosis, report = refine_one(refiner, bundle)
    assert report is not None
    assert (report.status, report.reason) == ("False", "LLMDisabled")
    rules = diagnose_bundle(bundle)
    assert diagnosis.engine == "rules"
    assert diagnosis.category is rules.category
    assert diagnosis.runbook.startswith(rules.runbook.rstrip())
    assert "runbook-memory/oom.md" in diagnosis.runbook
    assert "runbook-images/registry.md" not in diagnosis.runbook


def test_settings_wire_the_client(server: FakeVLLM, tokenizer_dir: Path) -> None:
    settings = OperatorSettings(
        llm_url=server.url,
        llm_tokenizer=str(tokenizer_dir),
        llm_max_attempts=2,
        llm_redact_patterns=["ACME-[0-9]{6}"],
    )
    refiner = build_refiner(settings, reader=None)
    assert refiner.client is not None
    assert [e.url for e in refiner.client.endpoints] == [server.url]
    assert refiner.counter is not None
    server.default = answer(CRASH_ANSWER)
    bundle = load_scenario(CRASH_SCENARIO)
    _, report = refine_one(refiner, bundle, spec(description="ticket ACME-123456"))
    assert report is not None and report.reason == "LLMAnswered"
    assert b"ACME-123456" not in server.raw_requests()


class FakeReader:
    """Answers ConfigMap lists like KubeReader.list, or fails."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.calls: list[tuple[str, str | None]] = []
        self.fail = False

    def list(
        self, path: str, *, label_selector: str | None = None, **_: Any
    ) -> list[dict[str, Any]]:
        self.calls.append((path, label_selector))
        if self.fail:
            msg = "API server unavailable"
            raise ConnectionError(msg)
        return self.items


def test_runbook_configmaps_are_read_cached_and_kept_on_failure() -> None:
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "runbook-memory",
            "namespace": "kubemedic",
            "labels": {"kubemedic.dev/runbook": "true"},
            "annotations": {"kubemedic.dev/categories": "OOMKilled"},
        },
        "data": {"oom.md": "# OOM\nRaise the JVM's MaxRAMPercentage."},
    }
    reader = FakeReader([configmap])
    clock = FakeClock()
    source = ConfigMapKnowledge(reader, namespace="kubemedic", ttl_seconds=60, clock=clock)

    async def main() -> list[tuple[str, ...]]:
        names = [tuple(d.name for d in await source.documents())]
        names.append(tuple(d.name for d in await source.documents()))  # cached
        clock.now += 61
        reader.fail = True
        names.append(tuple(d.name for d in await source.documents()))  # failed: last copy
        return names

    assert asyncio.run(main()) == [("runbook-memory/oom.md",)] * 3
    assert (
        reader.calls
        == [("/api/v1/namespaces/kubemedic/configmaps", "kubemedic.dev/runbook=true")] * 2
    )
    refiner = LLMRefiner(client=None, knowledge=source)
    reader.fail = False
    clock.now += 61
    diagnosis, _ = refine_one(refiner, load_scenario(OOM_SCENARIO))
    assert "MaxRAMPercentage" in diagnosis.runbook
