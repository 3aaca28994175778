"""We test these aspects of the LLM answer (kubemedic.domain.llm_output), all pure:

- the response schema: a valid JSON Schema (2020-12), the same bytes every time, the
  category enum and one action branch per catalog entry with its params' schema;
- parsing: valid answers (also inside a code fence) pass; invalid JSON, wrong shapes, an
  unknown category, out-of-range confidence and extra fields fail with problems that name
  the field (they go into the repair request);
- action checks against the catalog and the incident's scope: in-scope catalog actions are
  accepted with the catalog's risk; actions outside the catalog, with bad params, on the
  wrong kind, on objects outside the scope (other namespaces, unrelated nodes) or naming a
  container the workload lacks are rejected with a reason;
- the scope of scenario incidents: target, pods, ReplicaSets, workload, nodes, HPA;
- evidence citing unknown ids is dropped;
- combining with the rules: agreement raises confidence, disagreement keeps both opinions
  (the strong rules win, a weak rule loses to a confident LLM), no rule → the LLM's answer
  capped; the result fits the Incident status and the CRD schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from kubemedic.domain.llm_output import (
    AGREEMENT_WEIGHT,
    LLM_ONLY_MAX_CONFIDENCE,
    MODEL_WRITTEN,
    ActionProposal,
    ActionScope,
    CitedEvidence,
    InvalidAnswerError,
    LLMAnswer,
    Usage,
    action_scope,
    check_actions,
    check_evidence,
    combine,
    parse_answer,
    response_format,
    response_schema,
)
from kubemedic.domain.rule_engine import diagnose_bundle
from kubemedic.models.diagnosis import (
    Action,
    ActionType,
    Agreement,
    Category,
    Diagnosis,
    Risk,
)
from kubemedic.models.incident import DiagnosisStatus
from support.llm_bundles import CRASH_SCENARIO, OOM_SCENARIO, load_scenario

ROOT = Path(__file__).resolve().parents[2]

SCOPE = ActionScope(
    objects=frozenset(
        {
            ("Deployment", "shop", "web"),
            ("ReplicaSet", "shop", "web-7d9f"),
            ("Pod", "shop", "web-7d9f-a1"),
            ("Node", "", "node-1"),
            ("HorizontalPodAutoscaler", "shop", "web"),
        }
    ),
    containers=frozenset({"app", "sidecar"}),
)


def valid_answer(**changes: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "category": "OOMKilled",
        "summary": "The app container is killed for exceeding its 128Mi limit.",
        "rootCause": "Pod/shop/web-7d9f-a1 shows lastState.terminated.reason=OOMKilled.",
        "confidence": 0.8,
        "evidence": [{"ref": "Pod/shop/web-7d9f-a1", "finding": "OOMKilled, exit code 137"}],
        "actions": [
            {
                "type": "SetResources",
                "target": {"kind": "Deployment", "namespace": "shop", "name": "web"},
                "params": {"container": "app", "memoryLimit": "256Mi"},
                "reason": "double the limit",
            }
        ],
        "runbook": "1. `kubectl -n shop describe pod web-7d9f-a1`",
    }
    answer.update(changes)
    return answer


def proposal(
    kind: str, namespace: str | None, name: str, type_: str, **params: Any
) -> ActionProposal:
    return ActionProposal.model_validate(
        {
            "type": type_,
            "target": {"kind": kind, "namespace": namespace, "name": name},
            "params": params,
            "reason": "test",
        }
    )


# -- schema ---------------------------------------------------------------------------------


def test_response_schema_is_valid_and_stable() -> None:
    schema = response_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert json.dumps(schema, sort_keys=True) == json.dumps(response_schema(), sort_keys=True)
    assert schema["properties"]["category"]["enum"] == [c.value for c in Category]
    branches = schema["properties"]["actions"]["items"]["anyOf"]
    assert [b["properties"]["type"]["enum"] for b in branches] == [[t.value] for t in ActionType]
    set_resources = branches[list(ActionType).index(ActionType.SET_RESOURCES)]
    assert set_resources["properties"]["params"]["properties"]["memoryLimit"]["pattern"]
    assert "$ref" not in json.dumps(schema)
    assert response_format()["json_schema"]["schema"] == schema


def test_valid_answers_validate_against_the_schema() -> None:
    jsonschema.validate(valid_answer(), response_schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(valid_answer(category="Meltdown"), response_schema())


# -- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [json.dumps(valid_answer()), "```json\n" + json.dumps(valid_answer()) + "\n```"],
    ids=["plain", "fenced"],
)
def test_parse_valid_answers(text: str) -> None:
    answer = parse_answer(text)
    assert answer.category is Category.OOM_KILLED
    assert answer.actions[0].params == {"container": "app", "memoryLimit": "256Mi"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("The pod is OOMKilled, raise the limit.", "not JSON"),
        ("[1, 2]", "must be a JSON object"),
        (json.dumps(valid_answer(category="Meltdown")), "category"),
        (json.dumps(valid_answer(confidence=1.5)), "confidence"),
        (json.dumps({**valid_answer(), "severity": "high"}), "severity"),
        (json.dumps({k: v for k, v in valid_answer().items() if k != "runbook"}), "runbook"),
        (json.dumps(valid_answer(actions="delete everything")), "actions"),
    ],
    ids=["empty", "prose", "array", "category", "confidence", "extra", "missing", "actions"],
)
def test_parse_invalid_answers(text: str, problem: str) -> None:
    with pytest.raises(InvalidAnswerError) as info:
        parse_answer(text)
    assert any(problem in p for p in info.value.problems), info.value.problems


# -- actions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proposed", "risk"),
    [
        (proposal("Deployment", "shop", "web", "RestartRollout"), Risk.LOW),
        (
            proposal(
                "Deployment", "shop", "web", "SetResources", container="app", memoryLimit="1Gi"
            ),
            Risk.MEDIUM,
        ),
        (proposal("Pod", "shop", "web-7d9f-a1", "DeletePod", pod="web-7d9f-a1"), Risk.LOW),
        (proposal("Node", None, "node-1", "CordonNode", node="node-1"), Risk.HIGH),
        (
            proposal("HorizontalPodAutoscaler", "shop", "web", "PatchHPA", maxReplicas=20),
            Risk.MEDIUM,
        ),
        (proposal("Deployment", "shop", "web", "Escalate", reason="page the team"), Risk.LOW),
    ],
    ids=["restart", "resources", "delete-pod", "cordon", "hpa", "escalate"],
)
def test_in_scope_catalog_actions_are_accepted(proposed: ActionProposal, risk: Risk) -> None:
    accepted, rejected = check_actions([proposed], SCOPE)
    assert rejected == []
    [action] = accepted
    assert action.risk is risk
    assert action.target.name == proposed.target.name


@pytest.mark.parametrize(
    ("proposed", "reason"),
    [
        (proposal("Namespace", None, "shop", "DeleteNamespace"), "not in the catalog"),
        (
            proposal("Deployment", "payments", "ledger", "ScaleWorkload", replicas=0),
            "outside the incident's scope",
        ),
        (
            proposal("Node", None, "ip-10-0-9-9", "CordonNode", node="ip-10-0-9-9"),
            "outside the incident's scope",
        ),
        (
            proposal("Deployment", "kube-system", "coredns", "RestartRollout"),
            "outside the incident's scope",
        ),
        (proposal("Pod", "shop", "web-7d9f-a1", "RestartRollout"), "must target one of"),
        (proposal("Deployment", "shop", "web", "ScaleWorkload", replicas=-3), "invalid params"),
        (
            proposal("Deployment", "shop", "web", "ScaleWorkload", replicas=2, force=True),
            "invalid params",
        ),
        (proposal("Pod", "shop", "web-7d9f-a1", "DeletePod", pod="other-pod"), "params.pod"),
        (proposal("Node", None, "node-1", "CordonNode", node="node-2"), "params.node"),
        (
            proposal(
                "Deployment", "shop", "web", "SetResources", container="db", memoryLimit="1Gi"
            ),
            "not a container",
        ),
    ],
    ids=[
        "delete-namespace",
        "other-namespace",
        "unrelated-node",
        "kube-system",
        "wrong-kind",
        "negative-replicas",
        "unknown-param",
        "pod-mismatch",
        "node-mismatch",
        "unknown-container",
    ],
)
def test_actions_outside_the_catalog_or_scope_are_rejected(
    proposed: ActionProposal, reason: str
) -> None:
    accepted, rejected = check_actions([proposed], SCOPE)
    assert accepted == []
    [refusal] = rejected
    assert reason in refusal.reason
    assert refusal.type == proposed.type
    assert proposed.target.name in refusal.target


def test_duplicate_actions_are_merged() -> None:
    same = proposal("Deployment", "shop", "web", "RestartRollout")
    accepted, _ = check_actions([same, same], SCOPE)
    assert len(accepted) == 1


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        (
            OOM_SCENARIO,
            {"Deployment/shop/web", "ReplicaSet", "Pod", "Node"},
        ),
        ("hpa-target-maxed.yaml", {"HorizontalPodAutoscaler", "Deployment", "Pod"}),
        ("node-status-unknown.yaml", {"Node"}),
    ],
)
def test_scope_of_scenarios(scenario: str, expected: set[str]) -> None:
    bundle = load_scenario(scenario)
    scope = action_scope(bundle)
    lines = scope.display()
    assert bundle.target.display() in lines
    for item in expected:
        assert any(line == item or line.startswith(f"{item}/") for line in lines), (item, lines)
    assert not any(line.startswith("Namespace/") for line in lines)


# -- evidence and combining -----------------------------------------------------------------


def test_evidence_citing_unknown_ids_is_dropped() -> None:
    kept, unknown = check_evidence(
        [
            CitedEvidence(ref="event:2", finding="BackOff"),
            CitedEvidence(ref="Secret/shop/all-the-passwords", finding="made up"),
        ],
        frozenset({"event:2", "incident"}),
    )
    assert kept == ["LLM: BackOff [event:2]"]
    assert unknown == ["Secret/shop/all-the-passwords"]


def rules(category: Category, confidence: float) -> Diagnosis:
    restart = Action.model_validate(
        {
            "type": "RestartRollout",
            "target": {"kind": "Deployment", "namespace": "shop", "name": "web"},
            "risk": "Low",
        }
    )
    return Diagnosis(
        category=category,
        summary=f"rules say {category.value}",
        confidence=confidence,
        evidence=["rule evidence"],
        actions=[restart],
        runbook="# rules runbook",
    )


USAGE = Usage(model="m", prompt_tokens=1200, completion_tokens=300, latency_seconds=2.5)


@pytest.mark.parametrize(
    ("rules_category", "rules_conf", "llm_category", "llm_conf", "agreement", "category", "engine"),
    [
        (
            Category.OOM_KILLED,
            0.9,
            Category.OOM_KILLED,
            0.8,
            Agreement.AGREED,
            Category.OOM_KILLED,
            "rules+llm",
        ),
        (
            Category.OOM_KILLED,
            0.9,
            Category.CRASH_LOOP,
            0.95,
            Agreement.DISAGREED,
            Category.OOM_KILLED,
            "rules+llm",
        ),
        (
            Category.HPA_MAXED_OUT,
            0.5,
            Category.CRASH_LOOP,
            0.9,
            Agreement.DISAGREED,
            Category.CRASH_LOOP,
            "rules+llm",
        ),
        (
            Category.UNKNOWN,
            0.1,
            Category.CRASH_LOOP,
            0.95,
            Agreement.LLM_ONLY,
            Category.CRASH_LOOP,
            "llm",
        ),
        (
            Category.OOM_KILLED,
            0.9,
            Category.UNKNOWN,
            0.2,
            Agreement.RULES_ONLY,
            Category.OOM_KILLED,
            "rules+llm",
        ),
        (
            Category.UNKNOWN,
            0.1,
            Category.UNKNOWN,
            0.2,
            Agreement.NEITHER,
            Category.UNKNOWN,
            "rules+llm",
        ),
    ],
    ids=[
        "agree",
        "disagree-strong-rules",
        "disagree-weak-rules",
        "llm-only",
        "rules-only",
        "neither",
    ],
)
def test_combine(
    rules_category: Category,
    rules_conf: float,
    llm_category: Category,
    llm_conf: float,
    agreement: Agreement,
    category: Category,
    engine: str,
) -> None:
    base = rules(rules_category, rules_conf)
    answer = LLMAnswer.model_validate(
        valid_answer(category=llm_category.value, confidence=llm_conf)
    )
    accepted, rejected = check_actions(answer.actions, SCOPE)
    rejected_too = check_actions([proposal("Namespace", None, "shop", "DeleteNamespace")], SCOPE)[1]
    combined = combine(
        base,
        answer,
        accepted=accepted,
        rejected=[*rejected, *rejected_too],
        evidence=["LLM: OOMKilled [Pod/shop/web-7d9f-a1]"],
        usage=USAGE,
    )
    assert combined.category is category
    assert combined.engine == engine
    assert combined.llm is not None
    assert combined.llm.agreement is agreement
    assert (combined.llm.model, combined.llm.prompt_tokens, combined.llm.completion_tokens) == (
        "m",
        1200,
        300,
    )
    assert [r.type for r in combined.llm.rejected_actions] == ["DeleteNamespace"]
    match agreement:
        case Agreement.AGREED:
            assert combined.confidence > max(rules_conf, llm_conf)
            expected = max(rules_conf, llm_conf)
            expected += (1 - expected) * min(rules_conf, llm_conf) * AGREEMENT_WEIGHT
            assert combined.confidence == pytest.approx(expected, abs=1e-3)
            assert {a.type for a in combined.actions} == {
                ActionType.RESTART_ROLLOUT,
                ActionType.SET_RESOURCES,
            }
        case Agreement.DISAGREED:
            assert combined.confidence < max(rules_conf, llm_conf)
            assert next(o.engine for o in combined.opinions) == (
                "rules" if category is rules_category else "llm"
            )
            assert {o.category for o in combined.opinions} == {rules_category, llm_category}
            assert "disagree" in combined.runbook
        case Agreement.LLM_ONLY:
            assert combined.confidence == LLM_ONLY_MAX_CONFIDENCE
            assert combined.opinions == []
        case _:
            assert combined.confidence == rules_conf
            assert combined.actions == base.actions
    assert "# rules runbook" in combined.runbook
    assert "kubectl -n shop describe pod" in combined.runbook
    # What the model wrote is marked as such where a person reads it: its runbook section
    # (above the model's own kubectl command), and its root cause in the evidence.
    model_part = combined.runbook.index(f"## {MODEL_WRITTEN}")
    assert model_part < combined.runbook.index("kubectl -n shop describe pod")
    assert any(e.startswith(f"LLM root cause ({MODEL_WRITTEN})") for e in combined.evidence)
    assert "LLM: OOMKilled [Pod/shop/web-7d9f-a1]" in combined.evidence


def test_combined_diagnosis_fits_the_status_and_the_crd() -> None:
    base = diagnose_bundle(load_scenario(CRASH_SCENARIO))
    answer = LLMAnswer.model_validate(
        valid_answer(category="OOMKilled", confidence=0.9, actions=[])
    )
    rejected = check_actions([proposal("Namespace", None, "shop", "DeleteNamespace")], SCOPE)[1]
    combined = combine(base, answer, accepted=[], rejected=rejected, evidence=[], usage=USAGE)
    status = DiagnosisStatus.from_diagnosis(combined, bundle_digest="sha256:" + "0" * 64)
    document = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    crd = yaml.safe_load((ROOT / "crds" / "incident.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    diagnosis_schema = schema["properties"]["diagnosis"]
    jsonschema.validate(document, _without_extensions(diagnosis_schema))
    assert document["llm"]["agreement"] == "Disagreed"
    assert document["llm"]["rejectedActions"][0]["type"] == "DeleteNamespace"
    assert [o["engine"] for o in document["opinions"]] == ["rules", "llm"]


def _without_extensions(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_extensions(v) for k, v in node.items() if not k.startswith("x-")}
    if isinstance(node, list):
        return [_without_extensions(v) for v in node]
    return node


def test_model_written_escalations_are_marked() -> None:
    escalate = proposal(
        "Deployment", "shop", "web", "Escalate", reason="page the team", instructions="run x"
    )
    [action], _ = check_actions([escalate], SCOPE)
    assert action.params["reason"] == f"{MODEL_WRITTEN}: page the team"
    assert action.params["instructions"] == f"{MODEL_WRITTEN}: run x"
    # Within the params' limits, and marked once however often it is checked.
    long = proposal("Deployment", "shop", "web", "Escalate", reason="r" * 1024)
    [action], _ = check_actions([long], SCOPE)
    assert len(action.params["reason"]) == 1024
    assert action.params["reason"].startswith(MODEL_WRITTEN)


def test_a_node_incident_may_only_propose_cordon_and_escalate() -> None:
    """Whatever the model proposes for a Node Incident, only CordonNode and Escalate pass;
    the rest is rejected with the reason (before, the scope reached every workload with
    pods on the node)."""
    bundle = load_scenario("node-status-unknown.yaml")
    scope = action_scope(bundle)
    node = bundle.target.name
    workloads = [line.split("/") for line in scope.display() if line.startswith("Deployment/")]
    assert workloads, scope.display()
    kind, namespace, name = workloads[0]
    accepted, rejected = check_actions(
        [
            proposal("Node", None, node, "CordonNode", node=node),
            proposal("Node", None, node, "Escalate", reason="node down"),
            proposal(kind, namespace, name, "ScaleWorkload", replicas=0),
            proposal(kind, namespace, name, "RestartRollout"),
        ],
        scope,
    )
    assert [a.type.value for a in accepted] == ["CordonNode", "Escalate"]
    assert [(r.type, r.target) for r in rejected] == [
        ("ScaleWorkload", f"{kind}/{namespace}/{name}"),
        ("RestartRollout", f"{kind}/{namespace}/{name}"),
    ]
    assert all("CordonNode, Escalate" in r.reason for r in rejected)
