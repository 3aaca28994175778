"""We test redaction end to end on a corpus (tests/unit/redaction_corpus.py):

- at least 150 planted secrets of at least 40 kinds, in every place a bundle carries text
  (logs, env, args, probes, events, annotations, ConfigMaps, alerts, the Incident's
  description, metric labels), leak neither whole nor in part into the prompt the operator
  builds (:func:`kubemedic.service.llm_refiner.incident_prompt`), at the default token budget and at
  a budget large enough for every section to be sent whole;
- at most 2 % of the benign lines (digests, hashes, UUIDs, trace IDs, token counts, error
  phrases, REST paths) are changed, and all of them reach the large prompt verbatim;
- detect-secrets, an independent detector, flags nothing in the prompt (and does flag the
  raw planted lines, so the oracle is not vacuous);
- the evidence document stays valid JSON.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from detect_secrets import SecretsCollection
from detect_secrets.settings import default_settings
from redaction_corpus import BENIGN, KINDS, LOCATIONS, Planted, corpus_bundle, planted

from kubemedic.domain.prompt import Prompt, PromptBudget
from kubemedic.domain.redaction import Redactor, unescape
from kubemedic.domain.rule_engine import diagnose_bundle
from kubemedic.service.llm_refiner import estimate_counter, incident_prompt

DEFAULT_BUDGET = PromptBudget()
LARGE_BUDGET = PromptBudget(total_tokens=400_000)
PLANTS = planted()


def build(budget: PromptBudget) -> Prompt:
    bundle, spec = corpus_bundle(PLANTS)
    return incident_prompt(
        bundle,
        rules=diagnose_bundle(bundle),
        spec=spec,
        knowledge=(),
        counter=estimate_counter(3.0),
        redactor=Redactor(),
        budget=budget,
    )


def prompt_text(prompt: Prompt) -> str:
    return "\n".join(m["content"] for m in prompt.messages)


def leaks(text: str, plants: list[Planted]) -> list[Planted]:
    # NB: searched in the text as sent and with its JSON escapes undone.
    haystack = text + "\n" + unescape(text)
    return [p for p in plants if any(needle in haystack for needle in p.needles())]


def detect_secrets_flags(text: str, tmp_path: Path) -> list[tuple[str, str]]:
    path = tmp_path / "prompt.txt"
    path.write_text(text)
    with default_settings():
        collection = SecretsCollection()
        collection.scan_file(str(path))
        return [(s.type, str(s.secret_value)) for _, s in collection]


def test_the_corpus_is_big_and_varied() -> None:
    assert len(PLANTS) >= 150
    assert len({p.kind for p in PLANTS}) == len(KINDS) >= 40
    assert {p.location for p in PLANTS} == set(LOCATIONS)
    assert len(BENIGN) >= 100


@pytest.mark.parametrize("budget", [DEFAULT_BUDGET, LARGE_BUDGET], ids=["default", "large"])
def test_no_planted_secret_reaches_the_prompt(budget: PromptBudget) -> None:
    prompt = build(budget)
    assert prompt.total_tokens <= budget.total_tokens
    leaked = leaks(prompt_text(prompt), PLANTS)
    assert leaked == [], [(p.kind, p.location, p.line[:80]) for p in leaked]


def test_the_large_prompt_carries_every_location() -> None:
    """At the large budget nothing is cut: the secrets were sent, and redacted."""
    prompt = build(LARGE_BUDGET)
    assert not prompt.omitted
    text = prompt_text(prompt)
    for marker in ("[REDACTED:env-value]", "[REDACTED:args]", "[REDACTED:command]"):
        assert marker in text
    assert "[REDACTED:header]" in text
    assert "corpus-config" in text
    assert "CorpusEvent" in text


def test_benign_lines_are_kept() -> None:
    redactor = Redactor()
    changed = [line for line in BENIGN if redactor.redact_text(line) != line]
    assert len(changed) <= 0.02 * len(BENIGN), changed
    text = prompt_text(build(LARGE_BUDGET))
    missing = [
        line
        for line in BENIGN
        if line not in changed and json.dumps(line, ensure_ascii=False)[1:-1] not in text
    ]
    assert missing == []


@pytest.mark.parametrize("budget", [DEFAULT_BUDGET, LARGE_BUDGET], ids=["default", "large"])
def test_detect_secrets_flags_nothing_in_the_prompt(budget: PromptBudget, tmp_path: Path) -> None:
    assert detect_secrets_flags(prompt_text(build(budget)), tmp_path) == []


def test_detect_secrets_flags_the_raw_corpus(tmp_path: Path) -> None:
    """The oracle works: unredacted, it finds many of the planted secrets."""
    raw = "\n".join(p.line for p in PLANTS)
    assert len(detect_secrets_flags(raw, tmp_path)) >= 20


@pytest.mark.parametrize("budget", [DEFAULT_BUDGET, LARGE_BUDGET], ids=["default", "large"])
def test_the_evidence_stays_valid_json(budget: PromptBudget) -> None:
    user = build(budget).messages[1]["content"]
    body = re.search(r"<<<EVIDENCE (\w+)>>>\n(.*)\n<<<END EVIDENCE \1>>>", user, re.DOTALL)
    assert body is not None
    document = json.loads(body.group(2))
    assert set(document) >= {"incident", "logs", "objects", "events", "alerts", "metrics"}


def test_each_kind_is_caught_alone() -> None:
    """Every kind's line, on its own, loses its secret (not only thanks to the context)."""
    redactor = Redactor()
    missed = [p.kind for p in PLANTS if p.secret in unescape(redactor.redact_text(p.line))]
    assert missed == []


def test_a_secret_at_a_truncation_point_is_redacted_before_the_cut() -> None:
    """An event message is cut at 512 characters; a token straddling the cut would not
    look like one any more, so redaction comes first."""
    token = "ghp_" + "A1b2C3d4E5" * 4
    bundle, spec = corpus_bundle([Planted("github-ghp", token, "x" * 500 + f" {token}", "event")])
    prompt = incident_prompt(
        bundle,
        rules=diagnose_bundle(bundle),
        spec=spec,
        knowledge=(),
        counter=estimate_counter(3.0),
        redactor=Redactor(),
        budget=LARGE_BUDGET,
    )
    assert "ghp_A1b2" not in prompt_text(prompt)
    assert "x" * 500 in prompt_text(prompt)
