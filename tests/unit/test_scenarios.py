"""We test these aspects of the scenario suite (tests/scenarios/*.yaml, index.yaml):

- every bundle file is listed in the index and every index entry has a file;
- the suite is large enough: at least 32 bundles, at least 2 per category and 3 for the
  common ones (OOMKilled, CrashLoop, BadRollout, ImagePullError, ConfigError);
- every bundle is a valid IncidentBundle whose objects look like the API's (uids,
  resourceVersions, controller owner references, revision annotations, event counts);
- each bundle's diagnosis has the expected category, first action type and first action
  params, cites evidence, and ships a runbook with kubectl commands;
- overall accuracy on the suite is 100%.
"""

import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubemedic.domain import analyzers
from kubemedic.domain import rule_engine as diagnose
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.diagnosis import Category, Diagnosis

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
INDEX: list[dict[str, Any]] = yaml.safe_load((SCENARIOS / "index.yaml").read_text())["scenarios"]
COMMON = {
    Category.OOM_KILLED,
    Category.CRASH_LOOP,
    Category.BAD_ROLLOUT,
    Category.IMAGE_PULL_ERROR,
    Category.CONFIG_ERROR,
}


@functools.cache
def load(file: str) -> IncidentBundle:
    return IncidentBundle.model_validate(yaml.safe_load((SCENARIOS / file).read_text()))


def matches(entry: dict[str, Any], result: Diagnosis) -> bool:
    first = result.actions[0]
    expected_params = entry.get("firstActionParams") or {}
    return (
        result.category.value == entry["category"]
        and first.type.value == entry["firstAction"]
        and all(first.params.get(key) == value for key, value in expected_params.items())
    )


def test_index_and_files_agree() -> None:
    files = {path.name for path in SCENARIOS.glob("*.yaml")} - {"index.yaml"}
    listed = [entry["file"] for entry in INDEX]
    assert len(listed) == len(set(listed)), "an index entry is duplicated"
    assert set(listed) == files


def test_suite_covers_every_category() -> None:
    counts = dict.fromkeys(Category, 0)
    for entry in INDEX:
        counts[Category(entry["category"])] += 1
    assert len(INDEX) >= 32
    too_few = {c.value: n for c, n in counts.items() if n < (3 if c in COMMON else 2)}
    assert not too_few, f"categories with too few scenarios: {too_few}"


@pytest.mark.parametrize("entry", INDEX, ids=[entry["file"] for entry in INDEX])
def test_bundle_objects_look_like_the_api(entry: dict[str, Any]) -> None:
    incident = load(entry["file"])
    for obj in incident.objects:
        metadata = obj["metadata"]
        where = f"{entry['file']}: {obj['kind']} {metadata.get('name')}"
        assert obj["apiVersion"], where
        for field in ("name", "uid", "resourceVersion", "creationTimestamp"):
            assert metadata.get(field), f"{where}: metadata.{field} missing"
        for owner in metadata.get("ownerReferences", []):
            assert owner["controller"] is True, where
            assert owner["uid"], where
        if obj["kind"] == "ReplicaSet":
            assert metadata["annotations"]["deployment.kubernetes.io/revision"].isdigit(), where
            assert "pod-template-hash" in metadata["labels"], where
        if obj["kind"] == "Event":
            assert obj["reason"], where
            assert obj.get("message") or obj.get("note"), where
            assert obj.get("count") or obj.get("series", {}).get("count"), where
            assert obj.get("involvedObject") or obj.get("regarding"), where


@pytest.mark.parametrize("entry", INDEX, ids=[entry["file"] for entry in INDEX])
def test_scenario_diagnosis(entry: dict[str, Any]) -> None:
    result = diagnose.diagnose_bundle(load(entry["file"]))
    first = result.actions[0]
    assert result.category.value == entry["category"], result.summary
    assert first.type.value == entry["firstAction"], [a.type.value for a in result.actions]
    for key, value in (entry.get("firstActionParams") or {}).items():
        assert first.params.get(key) == value, (key, first.params)
    assert result.evidence, "a diagnosis must cite evidence"
    assert all(action.risk is analyzers.ACTION_RISKS[action.type] for action in result.actions)
    assert "kubectl " in result.runbook
    assert result.engine == "rules"
    if result.category is not Category.UNKNOWN:
        assert result.confidence >= diagnose.STRONG_CONFIDENCE


def test_overall_accuracy_is_perfect() -> None:
    wrong = [
        entry["file"]
        for entry in INDEX
        if not matches(entry, diagnose.diagnose_bundle(load(entry["file"])))
    ]
    accuracy = 1 - len(wrong) / len(INDEX)
    assert accuracy == 1.0, f"accuracy {accuracy:.1%}; misdiagnosed: {wrong}"
