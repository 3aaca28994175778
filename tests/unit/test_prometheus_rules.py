"""kubemedic's Prometheus alert rules, checked and unit-tested by Prometheus' own promtool.

We test these aspects:
- ``promtool check rules`` accepts deploy/prometheus/kubemedic-rules.yaml;
- ``promtool test rules`` passes tests/prometheus/kubemedic-rules.test.yaml: each rule fires
  on synthetic kube-state-metrics series with exactly the expected labels and annotations,
  and stays silent where it must (a rollout in progress, an HPA pinned at min == max);
- every rule has a test in which it fires, a known severity and a summary;
- every expected alert's labels map to the target kind kubemedic should diagnose, through the
  same function the webhook uses — the rules and the mapping cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kubemedic.domain import alert_mapping as alerts
from kubemedic.models.target import TargetKind
from monitoring import RULES_FILE, MonitoringError, promtool

TESTS_FILE = Path(__file__).resolve().parents[1] / "prometheus" / "kubemedic-rules.test.yaml"

#: The kind each alert must map to (pod alerts resolve to their workload later, with I/O).
EXPECTED_KIND = {
    "KubemedicPodCrashLooping": TargetKind.POD,
    "KubemedicContainerOOMKilled": TargetKind.POD,
    "KubemedicImagePullFailing": TargetKind.POD,
    "KubemedicContainerConfigError": TargetKind.POD,
    "KubemedicPodPending": TargetKind.POD,
    "KubemedicPodNotReady": TargetKind.POD,
    "KubemedicPodEvicted": TargetKind.POD,
    "KubemedicDeploymentReplicasMismatch": TargetKind.DEPLOYMENT,
    "KubemedicStatefulSetReplicasMismatch": TargetKind.STATEFULSET,
    "KubemedicDaemonSetUnavailable": TargetKind.DAEMONSET,
    "KubemedicHPAMaxedOut": TargetKind.HORIZONTAL_POD_AUTOSCALER,
    "KubemedicPersistentVolumeClaimPending": TargetKind.PERSISTENT_VOLUME_CLAIM,
    "KubemedicServiceNoEndpoints": TargetKind.SERVICE,
    "KubemedicNodeNotReady": TargetKind.NODE,
}


def _run(*args: str) -> str:
    try:
        done = promtool(*args)
    except MonitoringError as exc:
        pytest.fail(str(exc))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES_FILE.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _expected_alerts() -> list[tuple[str, dict[str, str]]]:
    found = []
    for test in yaml.safe_load(TESTS_FILE.read_text())["tests"]:
        for case in test.get("alert_rule_test", []):
            for expected in case.get("exp_alerts") or []:
                found.append((case["alertname"], {"alertname": case["alertname"],
                                                  **expected["exp_labels"]}))  # fmt: skip
    return found


def test_promtool_accepts_the_rules() -> None:
    output = _run("check", "rules", str(RULES_FILE))
    assert f"SUCCESS: {len(_rules())} rules found" in output


def test_promtool_unit_tests_pass() -> None:
    # NB: promtool resolves rule_files relative to the test file.
    output = _run("test", "rules", str(TESTS_FILE))
    assert "SUCCESS" in output


def test_every_rule_is_tested_and_described() -> None:
    fired = {name for name, _ in _expected_alerts()}
    for rule in _rules():
        name = rule["alert"]
        assert name in fired, f"{name} has no promtool test in which it fires"
        assert name in EXPECTED_KIND, f"{name}: add the target kind it maps to"
        assert rule["labels"]["severity"] in alerts.SEVERITIES, name
        assert rule["annotations"].get("summary"), name
        assert rule["annotations"].get("description"), name


@pytest.mark.parametrize(("alertname", "labels"), _expected_alerts())
def test_alert_labels_map_to_the_expected_target(alertname: str, labels: dict[str, str]) -> None:
    hint = alerts.target_from_labels(labels)
    assert hint.target.kind is EXPECTED_KIND[alertname], labels
    assert hint.target.name in labels.values()
    if hint.target.kind is not TargetKind.NODE:
        assert hint.target.namespace == labels["namespace"]
