"""We test these aspects: the Incident and RemediationPolicy models and their helpers.

- ``set_condition`` follows the API conventions: ``lastTransitionTime`` moves only when
  ``status`` changes; other conditions, their order and unknown fields are kept; the input
  is not changed; a naive ``now`` or a bad reason is refused;
- ``ProposedAction.from_action`` gives the stable ``Action.id`` and ``to_action`` refuses a
  proposed action whose content no longer matches its ``id``;
- a diagnosis always fits the CRD's bounds in status;
- spec models are strict (an unknown field is an error that names it), status models keep
  unknown fields on a round trip;
- target defaulting, no `spec.approvals` any more, auto-approval levels and label selectors;
- ``hack/gen_bundle_schema.py``: the committed schema is up to date, ``--check`` fails on
  drift, and the schema validates a real bundle.
"""

import importlib.util
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from kubemedic.models.conditions import (
    Condition,
    ConditionReason,
    ConditionStatus,
    ConditionType,
    find_condition,
    is_condition_true,
    set_condition,
)
from kubemedic.models.diagnosis import Action, ActionType, Category, Diagnosis, Risk
from kubemedic.models.incident import (
    MAX_EVIDENCE_ITEM,
    MAX_EVIDENCE_ITEMS,
    MAX_RUNBOOK,
    DiagnosisStatus,
    Incident,
    IncidentSpec,
    IncidentStatus,
    ProposedAction,
)
from kubemedic.models.policy import AutoApproveLevel, LabelSelector, RemediationPolicySpec

ROOT = Path(__file__).resolve().parents[2]


def _load_generator() -> ModuleType:
    # NB: hack/ holds scripts, not a package; load the script from its path.
    spec = importlib.util.spec_from_file_location(
        "gen_bundle_schema", ROOT / "hack" / "gen_bundle_schema.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_bundle_schema = _load_generator()

T0 = datetime(2025, 1, 1, 10, 0, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)

TRUE, FALSE, UNKNOWN = ConditionStatus.TRUE, ConditionStatus.FALSE, ConditionStatus.UNKNOWN


def set_diagnosed(
    conditions: list[Condition],
    status: ConditionStatus,
    *,
    now: datetime,
    reason: str = ConditionReason.RULE_MATCHED,
    message: str = "Container app was OOMKilled.",
    generation: int = 1,
) -> list[Condition]:
    return set_condition(
        conditions,
        type=ConditionType.DIAGNOSED,
        status=status,
        reason=reason,
        message=message,
        observed_generation=generation,
        now=now,
    )


# --- conditions ------------------------------------------------------------------------------


def test_set_condition_adds_a_new_condition_at_now() -> None:
    [condition] = set_diagnosed([], TRUE, now=T0)
    assert condition.type == "Diagnosed"
    assert condition.status is TRUE
    assert condition.reason == "RuleMatched"
    assert condition.message == "Container app was OOMKilled."
    assert condition.observed_generation == 1
    assert condition.last_transition_time == T0


def test_same_status_keeps_transition_time_but_updates_the_rest() -> None:
    before = set_diagnosed([], FALSE, now=T0, reason=ConditionReason.DIAGNOSING)
    [after] = set_diagnosed(
        before,
        FALSE,
        now=T1,
        reason=ConditionReason.NO_RULE_MATCHED,
        message="No rule.",
        generation=2,
    )
    assert after.last_transition_time == T0
    assert (after.reason, after.message, after.observed_generation) == (
        "NoRuleMatched",
        "No rule.",
        2,
    )


@pytest.mark.parametrize(
    ("old", "new"), [(FALSE, TRUE), (TRUE, FALSE), (UNKNOWN, TRUE), (TRUE, UNKNOWN)]
)
def test_status_change_moves_transition_time(old: ConditionStatus, new: ConditionStatus) -> None:
    [after] = set_diagnosed(set_diagnosed([], old, now=T0), new, now=T1)
    assert after.status is new
    assert after.last_transition_time == T1


def test_other_conditions_order_and_input_are_untouched() -> None:
    conditions = set_condition(
        [],
        type=ConditionType.TARGET_FOUND,
        status=TRUE,
        reason=ConditionReason.FOUND,
        message="Deployment shop/web exists.",
        observed_generation=1,
        now=T0,
    )
    conditions = set_diagnosed(conditions, FALSE, now=T0)
    conditions = set_condition(
        conditions,
        type=ConditionType.RESOLVED,
        status=FALSE,
        reason=ConditionReason.STILL_FAILING,
        message="Pods still restart.",
        observed_generation=1,
        now=T0,
    )
    snapshot = [c.model_dump() for c in conditions]
    updated = set_diagnosed(conditions, TRUE, now=T1)
    assert [c.model_dump() for c in conditions] == snapshot
    assert [c.type for c in updated] == ["TargetFound", "Diagnosed", "Resolved"]
    assert updated[0] == conditions[0]
    assert updated[2] == conditions[2]


def test_set_condition_keeps_fields_this_version_does_not_know() -> None:
    existing = Condition.model_validate(
        {
            "type": "Diagnosed",
            "status": "False",
            "reason": "Diagnosing",
            "message": "",
            "lastTransitionTime": "2025-01-01T10:00:00Z",
            "severity": "Info",
        }
    )
    [after] = set_diagnosed([existing], TRUE, now=T1)
    assert after.model_dump(by_alias=True)["severity"] == "Info"


def test_set_condition_truncates_to_seconds_like_metav1_time() -> None:
    [condition] = set_diagnosed([], TRUE, now=T0.replace(microsecond=123456))
    assert condition.last_transition_time == T0


def test_set_condition_accepts_any_timezone() -> None:
    cest = timezone(timedelta(hours=2))
    [condition] = set_diagnosed([], TRUE, now=T0.astimezone(cest))
    assert condition.last_transition_time == T0


def test_set_condition_refuses_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        set_diagnosed([], TRUE, now=datetime(2025, 1, 1))


@pytest.mark.parametrize("reason", ["", "rule matched", "Rule-Matched", "9Lives"])
def test_set_condition_refuses_a_reason_that_is_not_one_camel_case_word(reason: str) -> None:
    with pytest.raises(ValidationError, match="reason"):
        set_diagnosed([], TRUE, now=T0, reason=reason)


def test_find_condition_and_is_condition_true() -> None:
    conditions = set_diagnosed([], TRUE, now=T0)
    assert find_condition(conditions, ConditionType.DIAGNOSED) == conditions[0]
    assert find_condition(conditions, ConditionType.RESOLVED) is None
    assert is_condition_true(conditions, ConditionType.DIAGNOSED)
    assert not is_condition_true(set_diagnosed(conditions, FALSE, now=T1), ConditionType.DIAGNOSED)
    assert not is_condition_true(conditions, ConditionType.RESOLVED)


def test_condition_reasons_and_types_are_camel_case_words() -> None:
    for value in [*ConditionType, *ConditionReason]:
        Condition(type=value, status=TRUE, reason=value, message="", last_transition_time=T0)


# --- proposed actions ------------------------------------------------------------------------


def set_memory(limit: str, *, name: str = "web") -> Action:
    return Action.model_validate(
        {
            "type": "SetResources",
            "target": {"kind": "Deployment", "namespace": "shop", "name": name},
            "params": {"container": "app", "memoryLimit": limit},
            "risk": "Medium",
        }
    )


def test_from_action_uses_the_stable_action_id() -> None:
    proposed = ProposedAction.from_action(set_memory("512Mi"))
    assert proposed.id == set_memory("512Mi").id
    assert proposed.id.startswith("set-resources-")
    assert ProposedAction.from_action(set_memory("1Gi")).id != proposed.id
    assert ProposedAction.from_action(set_memory("512Mi", name="api")).id != proposed.id


def test_proposed_action_round_trips_through_the_api_server_shape() -> None:
    action = set_memory("512Mi")
    wire = ProposedAction.from_action(action).model_dump(
        by_alias=True, mode="json", exclude_none=True
    )
    assert wire == {
        "id": action.id,
        "type": "SetResources",
        "target": {"kind": "Deployment", "namespace": "shop", "name": "web"},
        "params": {"container": "app", "memoryLimit": "512Mi"},
        "risk": "Medium",
    }
    assert ProposedAction.model_validate(wire).to_action() == action


def test_cluster_scoped_action_round_trips() -> None:
    cordon = Action.model_validate(
        {
            "type": "CordonNode",
            "target": {"kind": "Node", "name": "n1"},
            "params": {"node": "n1"},
            "risk": "High",
        }
    )
    wire = ProposedAction.from_action(cordon).model_dump(
        by_alias=True, mode="json", exclude_none=True
    )
    assert "namespace" not in wire["target"]
    assert ProposedAction.model_validate(wire).to_action() == cordon


def test_to_action_refuses_content_edited_after_it_was_proposed() -> None:
    wire = ProposedAction.from_action(set_memory("512Mi")).model_dump(by_alias=True, mode="json")
    wire["params"]["memoryLimit"] = "64Gi"
    with pytest.raises(ValueError, match="does not match its content"):
        ProposedAction.model_validate(wire).to_action()


def test_to_action_validates_params() -> None:
    wire = ProposedAction.from_action(set_memory("512Mi")).model_dump(by_alias=True, mode="json")
    wire["params"] = {"container": "app"}
    with pytest.raises(ValidationError, match="SetResources must change at least one"):
        ProposedAction.model_validate(wire).to_action()


# --- diagnosis in status ---------------------------------------------------------------------


def test_diagnosis_status_fits_crd_bounds() -> None:
    diagnosis = Diagnosis(
        category=Category.OOM_KILLED,
        summary="OOMKilled",
        confidence=0.8,
        evidence=[f"restart {i}: " + "x" * 2000 for i in range(40)],
        runbook="y" * (MAX_RUNBOOK + 10),
        engine="rules+llm",
    )
    status = DiagnosisStatus.from_diagnosis(diagnosis, bundle_digest="sha256:abc")
    assert len(status.evidence) == MAX_EVIDENCE_ITEMS
    assert all(len(e) == MAX_EVIDENCE_ITEM and e.endswith("…") for e in status.evidence)
    assert status.evidence[0].startswith("restart 0: ")
    assert len(status.runbook) == MAX_RUNBOOK
    assert (status.category, status.engine, status.bundle_digest) == (
        "OOMKilled",
        "rules+llm",
        "sha256:abc",
    )


def test_short_diagnosis_is_kept_as_is() -> None:
    diagnosis = Diagnosis(
        category=Category.CRASH_LOOP, summary="s", confidence=1.0, evidence=["e"], runbook="r"
    )
    status = DiagnosisStatus.from_diagnosis(diagnosis)
    assert (status.summary, status.evidence, status.runbook) == ("s", ["e"], "r")


# --- strict spec, lenient status -------------------------------------------------------------


def test_unknown_spec_field_is_an_error_that_names_it() -> None:
    with pytest.raises(ValidationError, match="dryRun"):
        IncidentSpec.model_validate({"target": {"kind": "Pod", "name": "p"}, "dryRun": True})
    with pytest.raises(ValidationError, match="autoApprove"):
        RemediationPolicySpec.model_validate(
            {"allowedActions": ["Escalate"], "autoApprove": "High"}
        )


def test_unknown_status_fields_survive_a_round_trip() -> None:
    wire: dict[str, Any] = {
        "phase": "Diagnosed",
        "fromTheFuture": {"a": 1},
        "diagnosis": {"category": "Unknown", "summary": "s", "confidence": 0.1, "model": "x"},
        "proposedActions": [
            ProposedAction.from_action(set_memory("512Mi")).model_dump(by_alias=True, mode="json")
            | {"note": "n"}
        ],
    }
    dumped = IncidentStatus.model_validate(wire).model_dump(by_alias=True, mode="json")
    assert dumped["fromTheFuture"] == {"a": 1}
    assert dumped["diagnosis"]["model"] == "x"
    assert dumped["proposedActions"][0]["note"] == "n"


def test_incident_without_status_gets_an_empty_one() -> None:
    incident = Incident.model_validate(
        {
            "apiVersion": "kubemedic.dev/v1alpha1",
            "kind": "Incident",
            "metadata": {"name": "i", "namespace": "shop"},
            "spec": {"target": {"kind": "Deployment", "name": "web"}},
        }
    )
    assert incident.status == IncidentStatus()
    assert incident.status.phase is None


# --- spec helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ({"kind": "Deployment", "name": "web"}, ("apps/v1", "shop")),
        ({"kind": "Deployment", "namespace": "db", "name": "web"}, ("apps/v1", "db")),
        ({"kind": "Node", "name": "n1"}, ("v1", None)),
        (
            {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "name": "h"},
            ("autoscaling/v1", "shop"),
        ),
    ],
)
def test_resolved_target_fills_defaults(
    target: dict[str, str], expected: tuple[str, str | None]
) -> None:
    resolved = IncidentSpec.model_validate({"target": target}).resolved_target("shop")
    assert (resolved.api_version, resolved.namespace) == expected


def test_incident_spec_has_no_approvals_any_more() -> None:
    # NB: approvals are IncidentApproval objects (v1alpha1 removed `spec.approvals`).
    with pytest.raises(ValidationError, match="approvals"):
        IncidentSpec.model_validate(
            {
                "target": {"kind": "Deployment", "name": "web"},
                "approvals": [{"actionID": "restart-rollout-1234abcd", "decision": "Approve"}],
            }
        )


@pytest.mark.parametrize(
    ("level", "approved"),
    [
        (AutoApproveLevel.NONE, []),
        (AutoApproveLevel.LOW, [Risk.LOW]),
        (AutoApproveLevel.MEDIUM, [Risk.LOW, Risk.MEDIUM]),
        (AutoApproveLevel.HIGH, [Risk.LOW, Risk.MEDIUM, Risk.HIGH]),
    ],
)
def test_auto_approve_level_covers_risks_up_to_itself(
    level: AutoApproveLevel, approved: list[Risk]
) -> None:
    assert [risk for risk in Risk if level.covers(risk)] == approved


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ({}, {}, True),
        ({"matchLabels": {"team": "shop"}}, {"team": "shop", "env": "prod"}, True),
        ({"matchLabels": {"team": "shop"}}, {"team": "pay"}, False),
        (
            {"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]},
            {"env": "prod"},
            True,
        ),
        ({"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}, {}, False),
        ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]}, {}, True),
        (
            {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]},
            {"env": "dev"},
            False,
        ),
        ({"matchExpressions": [{"key": "skip", "operator": "Exists"}]}, {"skip": ""}, True),
        ({"matchExpressions": [{"key": "skip", "operator": "DoesNotExist"}]}, {"skip": ""}, False),
        (
            {
                "matchLabels": {"team": "shop"},
                "matchExpressions": [{"key": "skip", "operator": "DoesNotExist"}],
            },
            {"team": "shop"},
            True,
        ),
    ],
)
def test_label_selector_matches_like_kubernetes(
    selector: dict[str, Any], labels: dict[str, str], matches: bool
) -> None:
    assert LabelSelector.model_validate(selector).matches(labels) is matches


def test_policy_defaults_protect_system_namespaces() -> None:
    spec = RemediationPolicySpec.model_validate({"allowedActions": ["RestartRollout"]})
    assert spec.protected_namespaces == ["kube-system", "kube-public", "kube-node-lease"]
    assert spec.auto_approve_up_to is AutoApproveLevel.NONE
    assert spec.allows(ActionType.RESTART_ROLLOUT)
    assert not spec.allows(ActionType.DELETE_POD)
    assert (spec.rate_limits.max_actions_per_target_per_hour, spec.approval_ttl_seconds) == (
        3,
        3600,
    )


# --- the IncidentBundle JSON Schema ----------------------------------------------------------


def test_committed_bundle_schema_is_up_to_date() -> None:
    assert (
        gen_bundle_schema.SCHEMA_PATH.read_text(encoding="utf-8")
        == gen_bundle_schema.render_schema()
    )
    assert gen_bundle_schema.main(["--check"]) == 0


def test_check_fails_on_drift_and_write_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "incidentbundle.schema.json"
    assert gen_bundle_schema.main(["--check", "--output", str(output)]) == 1
    assert gen_bundle_schema.main(["--output", str(output)]) == 0
    assert gen_bundle_schema.main(["--check", "--output", str(output)]) == 0
    output.write_text(output.read_text().replace('"IncidentBundle"', '"Bundle"', 1))
    assert gen_bundle_schema.main(["--check", "--output", str(output)]) == 1
    assert "out of date" in capsys.readouterr().err


def test_bundle_schema_is_deterministic_and_documented() -> None:
    text = gen_bundle_schema.render_schema()
    assert text == gen_bundle_schema.render_schema()
    assert text.endswith("}\n")
    schema = json.loads(text)
    assert schema["$id"].startswith("https://kubemedic.dev/")
    assert schema["title"] == "IncidentBundle"
    assert schema["description"]
    assert list(schema) == sorted(schema)


def test_bundle_schema_validates_bundles() -> None:
    schema = json.loads(gen_bundle_schema.SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    validator.check_schema(schema)
    bundle = {
        "apiVersion": "kubemedic.dev/v1alpha1",
        "kind": "IncidentBundle",
        "target": {"kind": "Deployment", "namespace": "shop", "name": "web"},
        "collectedAt": "2025-01-01T10:00:00Z",
        "alerts": [{"status": "firing", "labels": {"alertname": "KubePodCrashLooping"}}],
        "objects": [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}],
        "logs": [{"namespace": "shop", "pod": "web-1", "container": "app", "text": "OOM"}],
        "metrics": [{"query": "up", "data": {"resultType": "vector", "result": []}}],
    }
    assert list(validator.iter_errors(bundle)) == []
    assert list(validator.iter_errors({**bundle, "kind": "Bundle"})) != []
    assert list(validator.iter_errors({**bundle, "target": {"kind": "CronJob", "name": "x"}})) != []
