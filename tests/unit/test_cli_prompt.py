"""We test ``kubemedic prompt`` (run in-process through ``cli.main``):

- ``-o json`` prints ``{"messages": [{"role", "content"}], "total_tokens": N}`` and the
  messages are exactly those of the operator's own builder
  (:func:`kubemedic.service.llm_refiner.incident_prompt`) for the same bundle, Incident and budget;
- ``--max-tokens`` bounds the prompt; ``-o text`` prints every message;
- the redaction corpus passes through the command: no planted secret in its output;
- bad input (missing file, invalid bundle field, invalid Incident field, out-of-range
  budget) exits 2 with a message naming the file and the field, and prints no prompt.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from redaction_corpus import corpus_bundle, planted

from kubemedic import cli
from kubemedic.domain.prompt import PromptBudget
from kubemedic.domain.redaction import Redactor, unescape
from kubemedic.domain.rule_engine import diagnose_bundle
from kubemedic.service.llm_refiner import DEFAULT_CHARS_PER_TOKEN, estimate_counter, incident_prompt
from support.llm_bundles import CRASH_SCENARIO, SCENARIOS


@pytest.fixture(autouse=True)
def _plain_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # NB: the command reads KUBEMEDIC_* settings; the test's environment must not change them.
    for name in [n for n in os.environ if n.startswith("KUBEMEDIC_")]:
        monkeypatch.delenv(name)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def write_corpus(tmp_path: Path) -> tuple[Path, Path]:
    bundle, spec = corpus_bundle(planted())
    bundle_file = tmp_path / "bundle.json"
    bundle_file.write_text(bundle.model_dump_json(by_alias=True, exclude_none=True))
    incident_file = tmp_path / "incident.yaml"
    incident_file.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kubemedic.dev/v1alpha1",
                "kind": "Incident",
                "metadata": {"name": "checkout", "namespace": "shop"},
                "spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
            }
        )
    )
    return bundle_file, incident_file


def test_json_output_is_the_operators_prompt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle_file, incident_file = write_corpus(tmp_path)
    code, out, _ = run(
        ["prompt", "--bundle", str(bundle_file), "--incident", str(incident_file), "-o", "json"],
        capsys,
    )
    assert code == 0
    printed = json.loads(out)
    assert set(printed) == {"messages", "total_tokens"}
    assert [set(m) for m in printed["messages"]] == [{"role", "content"}] * 2
    bundle, spec = corpus_bundle(planted())
    expected = incident_prompt(
        bundle,
        rules=diagnose_bundle(bundle),
        spec=spec,
        knowledge=(),
        counter=estimate_counter(DEFAULT_CHARS_PER_TOKEN),
        redactor=Redactor(),
        budget=PromptBudget(),
    )
    assert printed["messages"] == [dict(m) for m in expected.messages]
    assert printed["total_tokens"] == expected.total_tokens <= PromptBudget().total_tokens


@pytest.mark.parametrize("max_tokens", [4096, 400_000])
def test_the_corpus_does_not_leak_through_the_command(
    max_tokens: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle_file, incident_file = write_corpus(tmp_path)
    code, out, _ = run(
        [
            "prompt",
            "--bundle",
            str(bundle_file),
            "--incident",
            str(incident_file),
            "--max-tokens",
            str(max_tokens),
            "-o",
            "json",
        ],
        capsys,
    )
    assert code == 0
    printed = json.loads(out)
    assert printed["total_tokens"] <= max_tokens
    text = "\n".join(m["content"] for m in printed["messages"])
    haystack = text + "\n" + unescape(text)
    leaked = [p.kind for p in planted() if any(n in haystack for n in p.needles())]
    assert leaked == []


def test_text_output_prints_every_message(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["prompt", "--bundle", str(SCENARIOS / CRASH_SCENARIO)], capsys)
    assert code == 0
    assert "=== system ===\nYou are kubemedic" in out
    assert "=== user ===\nDiagnose this incident." in out
    assert "<<<END EVIDENCE " in out


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("missing-bundle", ["nope.yaml", "no such file"]),
        ("bad-bundle-field", ["bundle.yaml", "target.kind"]),
        ("bad-incident-field", ["incident.yaml", "spec.severity"]),
        ("incident-not-a-mapping", ["incident.yaml", "must be a mapping"]),
        ("budget-too-small", ["--max-tokens", "10"]),
    ],
)
def test_bad_input_exits_2_naming_the_file_and_field(
    case: str, words: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = yaml.safe_load((SCENARIOS / CRASH_SCENARIO).read_text())
    bundle_file = tmp_path / "bundle.yaml"
    bundle_file.write_text(yaml.safe_dump(good))
    incident_file = tmp_path / "incident.yaml"
    incident_file.write_text(
        yaml.safe_dump({"kind": "Incident", "spec": {"target": good["target"], "severity": "Meh"}})
    )
    argv = ["prompt", "--bundle", str(bundle_file)]
    match case:
        case "missing-bundle":
            argv = ["prompt", "--bundle", str(tmp_path / "nope.yaml")]
        case "bad-bundle-field":
            bad = dict(good, target=dict(good["target"], kind="Teapot"))
            bundle_file.write_text(yaml.safe_dump(bad))
        case "bad-incident-field":
            argv += ["--incident", str(incident_file)]
        case "incident-not-a-mapping":
            incident_file.write_text("- just\n- a list\n")
            argv += ["--incident", str(incident_file)]
        case "budget-too-small":
            argv += ["--max-tokens", "10"]
    code, out, err = run(argv, capsys)
    assert code == 2
    assert out == ""
    for word in words:
        assert word in err
