"""We test these aspects of the LLM settings (``KUBEMEDIC_LLM_*`` in kubemedic.settings):

- base URLs come from ``KUBEMEDIC_LLM_URL`` (one), ``KUBEMEDIC_LLM_URLS`` (comma-separated or
  a JSON list, as the Helm chart writes it) or both, without duplicates; none means off;
- extra redaction patterns are a JSON list or one per line (commas belong to regexes);
- the allow-lists (env values, containers whose commands are sent, runbook namespaces)
  are comma-separated or JSON lists, and by default send no commands and read runbooks
  only from the operator's namespace;
- mistakes are refused with a message naming the setting: a bad regex, a URL without
  a scheme, a knowledge budget over half the prompt budget, a prompt budget below 4096.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kubemedic.settings import OperatorSettings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "KUBEMEDIC_LLM_URL",
        "KUBEMEDIC_LLM_URLS",
        "KUBEMEDIC_LLM_REDACT_PATTERNS",
        "KUBEMEDIC_LLM_SEND_ENV_VALUES",
        "KUBEMEDIC_LLM_SEND_COMMANDS",
        "KUBEMEDIC_RUNBOOK_KNOWLEDGE_NAMESPACES",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("env", "urls"),
    [
        ({}, []),
        ({"KUBEMEDIC_LLM_URL": "http://vllm:8000"}, ["http://vllm:8000"]),
        (
            {"KUBEMEDIC_LLM_URLS": "http://a:8000, http://b:8000/v1"},
            ["http://a:8000", "http://b:8000/v1"],
        ),
        ({"KUBEMEDIC_LLM_URLS": '["http://a.ns.svc:8000/v1"]'}, ["http://a.ns.svc:8000/v1"]),
        (
            {
                "KUBEMEDIC_LLM_URL": "http://a:8000",
                "KUBEMEDIC_LLM_URLS": "http://a:8000,http://b:8000",
            },
            ["http://a:8000", "http://b:8000"],
        ),
    ],
    ids=["off", "one", "comma-list", "json-list", "both"],
)
def test_urls(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], urls: list[str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert OperatorSettings().llm_urls == urls


@pytest.mark.parametrize(
    ("value", "patterns"),
    [
        ('["ACME-[0-9]{6}", "tok_[a-z]+"]', ["ACME-[0-9]{6}", "tok_[a-z]+"]),
        ("ACME-[0-9]{1,6}\ntok_[a-z]+\n", ["ACME-[0-9]{1,6}", "tok_[a-z]+"]),
    ],
    ids=["json", "lines"],
)
def test_redact_patterns(monkeypatch: pytest.MonkeyPatch, value: str, patterns: list[str]) -> None:
    monkeypatch.setenv("KUBEMEDIC_LLM_REDACT_PATTERNS", value)
    assert OperatorSettings().llm_redact_patterns == patterns


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"llm_redact_patterns": ["([unclosed"]}, "`llm_redact_patterns`"),
        ({"llm_urls": ["vllm:8000"]}, "must start with 'http://' or 'https://'"),
        (
            {"llm_prompt_token_budget": 8192, "llm_knowledge_token_budget": 5000},
            "`llm_knowledge_token_budget` must be at most half",
        ),
        ({"llm_prompt_token_budget": 2048}, "greater than or equal to 4096"),
    ],
    ids=["bad-regex", "no-scheme", "knowledge-budget", "small-budget"],
)
def test_mistakes_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        OperatorSettings(**kwargs)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("KUBEMEDIC_LLM_SEND_ENV_VALUES", "LOG_*, TZ", ["LOG_*", "TZ"]),
        ("KUBEMEDIC_LLM_SEND_COMMANDS", '["app", "sidecar-*"]', ["app", "sidecar-*"]),
        ("KUBEMEDIC_RUNBOOK_KNOWLEDGE_NAMESPACES", "sre,platform", ["sre", "platform"]),
    ],
)
def test_allow_lists(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: list[str]
) -> None:
    monkeypatch.setenv(name, value)
    settings = OperatorSettings()
    assert getattr(settings, name.removeprefix("KUBEMEDIC_").lower()) == expected


def test_allow_list_defaults_send_no_commands_and_read_only_the_operators_runbooks() -> None:
    settings = OperatorSettings()
    assert settings.llm_send_commands == []
    assert settings.runbook_knowledge_namespaces == []
    assert "LOG_LEVEL" in settings.llm_send_env_values
    assert not any("PASS" in name or "SECRET" in name for name in settings.llm_send_env_values)
