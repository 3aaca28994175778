"""LLM client overhead: what kubemedic itself spends per LLM diagnosis, and prompt sizes.

Run: ``.venv/bin/python bench/llm_overhead.py [--rounds 10]``.

Method: a byte-level BPE tokenizer is trained locally (tests/support/tokenizer.py; nothing
is downloaded) and loaded with tokenizers, as ``KUBEMEDIC_LLM_TOKENIZER`` would load a
model's. Every bundle in tests/scenarios/ is parsed and diagnosed by the rules once (not
measured). Then, ``--rounds`` times per bundle, in a shuffled order per round, the
client-side work of one LLM diagnosis is timed with ``time.perf_counter_ns``:

1. knowledge: BM25 ranking of a small runbook library for the incident;
2. prompt: the incident's scope, then ``build_prompt`` — object pruning, log selection,
   token counting with the tokenizer, and redaction (timed on its own too); measured cold:
   no token count or log preparation is remembered from an earlier diagnosis;
3. validation: parsing a realistic answer (the rules' diagnosis written as the LLM would,
   plus one out-of-scope action), checking its actions and evidence, combining.

The model server's time is not included (it depends on the GPU, not on kubemedic). Reported:
median / p99 / max of the total per diagnosis and the median of each phase; per scenario
the prompt's tokens and the share of them that is the static prefix (what vLLM's prefix
cache can reuse); and the time to build a prompt from a bundle with 50 MiB of logs.
Writes bench/results/llm.json and prints a table.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
# NB: the package lives under operator/ (no __init__.py there); the tokenizer trainer and
# the bundle helpers are the tests' own.
sys.path.insert(0, str(ROOT / "operator"))
sys.path.insert(0, str(ROOT / "tests"))

from kubemedic.clients.tokenizer import load_token_counter
from kubemedic.domain import knowledge, llm_output
from kubemedic.domain.prompt import PromptBudget, TokenCounter, build_prompt
from kubemedic.domain.prompt import logs as prompt_logs
from kubemedic.domain.redaction import Redactor
from kubemedic.domain.rule_engine import diagnose_bundle
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.diagnosis import Diagnosis
from support.llm_bundles import (
    CRASH_SCENARIO,
    KNOWLEDGE,
    fifty_megabytes_of_logs,
    load_scenario,
    scenario_names,
)
from support.tokenizer import train_tokenizer

RESULT: Final = ROOT / "bench" / "results" / "llm.json"
BUDGET: Final = PromptBudget()

_REDACTION_NS: list[int] = [0]


class TimedRedactor(Redactor):
    """The real redactor, with the time spent in it added up."""

    def redact_text(self, text: str) -> str:
        started = time.perf_counter_ns()
        try:
            return super().redact_text(text)
        finally:
            _REDACTION_NS[0] += time.perf_counter_ns() - started

    def redact_object(self, obj: Any) -> Any:
        started = time.perf_counter_ns()
        try:
            # NB: the structural pass calls redact_text per string; don't count those twice.
            before = _REDACTION_NS[0]
            return super().redact_object(obj)
        finally:
            _REDACTION_NS[0] = before + time.perf_counter_ns() - started


def cold(tokenizer: TokenCounter) -> TokenCounter:
    """A counter with nothing remembered, and the log cache emptied: every diagnosis is
    measured cold (the refiner remembers the static prefix's count across incidents, so
    these numbers are an upper bound)."""
    prompt_logs._prepare_log.cache_clear()
    return functools.lru_cache(maxsize=256)(tokenizer)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def answer_text(rules: Diagnosis, bundle: IncidentBundle) -> str:
    """What a model would answer: the rules' opinion in the answer schema, plus one action
    on an object outside the scope (so the rejection path is exercised)."""
    actions = [
        {
            "type": a.type.value,
            "target": a.target.model_dump(by_alias=True),
            "params": a.params,
            "reason": "as the evidence shows",
        }
        for a in rules.actions
    ]
    actions.append(
        {
            "type": "ScaleWorkload",
            "target": {"kind": "Deployment", "namespace": "other", "name": "ledger"},
            "params": {"replicas": 0},
            "reason": "injected",
        }
    )
    return json.dumps(
        {
            "category": rules.category.value,
            "summary": rules.summary[:1000],
            "rootCause": " ".join(rules.evidence)[:3000],
            "confidence": 0.8,
            "evidence": [
                {"ref": bundle.target.display(), "finding": line[:900]}
                for line in rules.evidence[:8]
            ],
            "actions": actions[:8],
            "runbook": rules.runbook[:15000],
        }
    )


def one_diagnosis(
    bundle: IncidentBundle, rules: Diagnosis, counter: TokenCounter
) -> tuple[dict[str, int], Any]:
    """The client-side work of one LLM diagnosis, timed per phase (nanoseconds)."""
    times: dict[str, int] = {}
    _REDACTION_NS[0] = 0
    started = time.perf_counter_ns()
    ranked = knowledge.rank_knowledge(
        KNOWLEDGE, category=rules.category, query=knowledge.incident_query(rules)
    )
    times["knowledge"] = time.perf_counter_ns() - started
    started = time.perf_counter_ns()
    scope = llm_output.action_scope(bundle)
    prompt = build_prompt(
        bundle,
        rules=rules,
        spec=None,
        scope=scope,
        knowledge=[r.doc for r in ranked],
        counter=counter,
        redactor=TimedRedactor(),
        budget=BUDGET,
    )
    times["prompt"] = time.perf_counter_ns() - started
    times["redaction"] = _REDACTION_NS[0]
    text = answer_text(rules, bundle)
    started = time.perf_counter_ns()
    answer = llm_output.parse_answer(text)
    accepted, rejected = llm_output.check_actions(answer.actions, scope)
    evidence, _ = llm_output.check_evidence(answer.evidence, prompt.refs)
    llm_output.combine(
        rules,
        answer,
        accepted=accepted,
        rejected=rejected,
        evidence=evidence,
        usage=llm_output.Usage("bench", prompt.total_tokens, 500, 0.0),
    )
    times["validation"] = time.perf_counter_ns() - started
    times["total"] = times["knowledge"] + times["prompt"] + times["validation"]
    return times, prompt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="diagnoses per bundle (default 10)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = load_token_counter(str(train_tokenizer(Path(tmp) / "tokenizer")))
    names = scenario_names()
    bundles = {name: load_scenario(name) for name in names}
    rules = {name: diagnose_bundle(bundle) for name, bundle in bundles.items()}

    samples: dict[str, list[float]] = {
        k: [] for k in ("knowledge", "prompt", "redaction", "validation", "total")
    }
    per_scenario: dict[str, dict[str, Any]] = {}
    rng = random.Random(5)
    for _ in range(args.rounds):
        order = list(names)
        rng.shuffle(order)
        for name in order:
            times, prompt = one_diagnosis(bundles[name], rules[name], cold(tokenizer))
            for key, value in times.items():
                samples[key].append(value / 1e6)
            entry = per_scenario.setdefault(
                name,
                {
                    "promptTokens": prompt.total_tokens,
                    "staticTokens": prompt.static_tokens,
                    "staticShare": round(prompt.static_share, 3),
                    "omitted": dict(prompt.omitted),
                    "totalMs": [],
                },
            )
            entry["totalMs"].append(times["total"] / 1e6)

    big = fifty_megabytes_of_logs(load_scenario(CRASH_SCENARIO))
    big_rules = diagnose_bundle(big)
    big_ms = []
    for _ in range(3):
        times, big_prompt = one_diagnosis(big, big_rules, cold(tokenizer))
        big_ms.append(times["total"] / 1e6)

    totals = samples["total"]
    shares = [e["staticShare"] for e in per_scenario.values()]
    tokens = [e["promptTokens"] for e in per_scenario.values()]
    result = {
        "method": "client-side work per LLM diagnosis (knowledge ranking, prompt build with "
        "redaction and token counting, answer validation and combining); model server time "
        "excluded; locally trained BPE tokenizer via tokenizers",
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "rounds": args.rounds,
        "scenarios": len(names),
        "promptTokenBudget": BUDGET.total_tokens,
        "overheadMs": {
            "median": round(statistics.median(totals), 2),
            "p99": round(percentile(totals, 0.99), 2),
            "max": round(max(totals), 2),
        },
        "phaseMedianMs": {
            key: round(statistics.median(values), 2)
            for key, values in samples.items()
            if key != "total"
        },
        "promptTokens": {
            "median": statistics.median(tokens),
            "min": min(tokens),
            "max": max(tokens),
        },
        "staticPrefixTokens": next(iter(per_scenario.values()))["staticTokens"],
        "staticShare": {
            "median": round(statistics.median(shares), 3),
            "min": round(min(shares), 3),
            "max": round(max(shares), 3),
        },
        "fiftyMiBLogs": {
            "medianMs": round(statistics.median(big_ms), 1),
            "promptTokens": big_prompt.total_tokens,
        },
        "perScenario": {
            name: {
                "promptTokens": e["promptTokens"],
                "staticShare": e["staticShare"],
                "medianMs": round(statistics.median(e["totalMs"]), 2),
                "omitted": e["omitted"],
            }
            for name, e in sorted(per_scenario.items())
        },
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")

    print(f"{'scenario':45} {'tokens':>7} {'static':>7} {'ms':>7}")
    for name, e in result["perScenario"].items():
        print(f"{name:45} {e['promptTokens']:7d} {e['staticShare']:7.0%} {e['medianMs']:7.2f}")
    o = result["overheadMs"]
    print(
        f"\noverhead per LLM diagnosis: median {o['median']} ms, p99 {o['p99']} ms, "
        f"max {o['max']} ms ({len(totals)} diagnoses)"
    )
    print(
        "phase medians (ms): " + ", ".join(f"{k} {v}" for k, v in result["phaseMedianMs"].items())
    )
    print(
        f"prompt tokens: median {result['promptTokens']['median']}, static prefix "
        f"{result['staticPrefixTokens']} tokens = {result['staticShare']['median']:.0%} of the "
        f"median prompt ({result['staticShare']['min']:.0%}-{result['staticShare']['max']:.0%})"
    )
    print(
        f"50 MiB of logs: {result['fiftyMiBLogs']['medianMs']} ms, "
        f"{result['fiftyMiBLogs']['promptTokens']} prompt tokens"
    )
    print(f"wrote {RESULT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
