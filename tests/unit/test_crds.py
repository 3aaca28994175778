"""We test these aspects: the CRDs in ``crds/`` and their pydantic mirrors.

- names, scope, version and subresources are what the operator's constants expect;
- the schemas follow the rules a real API server enforces for structural schemas
  (a ``type`` everywhere, no ``additionalProperties`` beside ``properties``, list-map keys
  required) and our own conventions (a description on every field, bounds on every string,
  list and map so CEL cost estimates pass, CEL rules with messages in the house style);
- printer columns point at fields that exist;
- the CRD enums equal the Python enums, and field names, required fields, bounds and
  defaults of the CRDs and the models agree;
- sample objects and the examples in docs/crds.md: valid ones pass both the CRD's OpenAPI
  schema and the model, invalid ones fail where expected. CEL rules cannot run here, so for
  those the model (which repeats them) must reject with the CRD rule's exact message;
  kube-apiserver runs the real rules in the integration tests.
"""

import copy
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel, ValidationError

from kubemedic.constants import (
    API_GROUP,
    API_VERSION,
    APPROVAL_PLURAL,
    INCIDENT_PLURAL,
    POLICY_PLURAL,
)
from kubemedic.models.approval import ApprovalOutcome, Decision, IncidentApproval
from kubemedic.models.conditions import ConditionStatus
from kubemedic.models.diagnosis import Action, ActionType, Category, Risk
from kubemedic.models.incident import (
    Incident,
    IncidentSpec,
    IncidentStatus,
    Phase,
    ProposedAction,
    Severity,
    Source,
)
from kubemedic.models.policy import (
    AutoApproveLevel,
    RemediationPolicy,
    RemediationPolicySpec,
    SelectorOperator,
)
from kubemedic.models.target import TargetKind

ROOT = Path(__file__).resolve().parents[2]
CRD_FILES = {
    "Incident": "incident.yaml",
    "RemediationPolicy": "remediationpolicy.yaml",
    "IncidentApproval": "incidentapproval.yaml",
}
MODELS: dict[str, type[BaseModel]] = {
    "Incident": Incident,
    "RemediationPolicy": RemediationPolicy,
    "IncidentApproval": IncidentApproval,
}
# CEL reserves these words; a property so named must be written `__word__` in a rule.
CEL_RESERVED = {
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
}

Schema = dict[str, Any]


def load_crd(kind: str) -> dict[str, Any]:
    crd: dict[str, Any] = yaml.safe_load((ROOT / "crds" / CRD_FILES[kind]).read_text())
    return crd


def openapi_schema(kind: str) -> Schema:
    schema: Schema = load_crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def walk(node: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    """Every schema node with a readable path (`.spec.target.kind`, `.status.conditions[]`)."""
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from walk(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


def node_at(schema: Schema, dotted: str) -> Schema | None:
    """The schema node of a simple JSONPath such as `.status.diagnosis.category`."""
    node: Schema | None = schema
    for part in dotted.strip(".").split("."):
        if node is None:
            return None
        if node.get("x-kubernetes-preserve-unknown-fields"):
            return node
        node = node.get("properties", {}).get(part)
    return node


def without_extensions(node: Any) -> Any:
    """The schema without `x-kubernetes-*` keys, for jsonschema."""
    if isinstance(node, dict):
        return {k: without_extensions(v) for k, v in node.items() if not k.startswith("x-")}
    if isinstance(node, list):
        return [without_extensions(v) for v in node]
    return node


FORMAT_CHECKER = jsonschema.FormatChecker()


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_rfc3339(value: object) -> bool:
    # NB: jsonschema only checks date-time with an optional extra package; this is enough
    # for RFC 3339 as the API server accepts it (an offset or 'Z' is required).
    if not isinstance(value, str):
        return True
    return datetime.fromisoformat(value).tzinfo is not None


def schema_errors(kind: str, obj: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(
        without_extensions(openapi_schema(kind)), format_checker=FORMAT_CHECKER
    )
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(obj)]


def model_error(kind: str, obj: dict[str, Any]) -> str | None:
    try:
        MODELS[kind].model_validate(obj)
    except ValidationError as exc:
        return str(exc)
    return None


def cel_rules(kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (path, rule)
        for path, node in walk(openapi_schema(kind))
        for rule in node.get("x-kubernetes-validations", [])
    ]


# --- the CRD objects ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "plural", "short_name"),
    [
        ("Incident", INCIDENT_PLURAL, "inc"),
        ("RemediationPolicy", POLICY_PLURAL, "rpol"),
        ("IncidentApproval", APPROVAL_PLURAL, "iap"),
    ],
)
def test_crd_names_and_version(kind: str, plural: str, short_name: str) -> None:
    crd = load_crd(kind)
    spec = crd["spec"]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["metadata"]["name"] == f"{plural}.{API_GROUP}"
    assert spec["group"] == API_GROUP
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == kind
    assert spec["names"]["plural"] == plural
    assert spec["names"]["shortNames"] == [short_name]
    assert spec["names"]["categories"] == ["kubemedic"]
    [version] = spec["versions"]
    assert version["name"] == API_VERSION
    assert version["served"] is True
    assert version["storage"] is True
    assert version["subresources"] == {"status": {}}


# --- structural schema rules (what kube-apiserver rejects a CRD for) ----------------------


SCALAR_TYPES = {"string", "integer", "number", "boolean"}


def structural_problems(schema: Schema) -> list[str]:
    """What kube-apiserver would reject in a structural schema (the subset we use)."""
    problems = []
    for path, node in walk(schema):
        where = path or "(root)"
        if node.get("type") not in {"object", "array", *SCALAR_TYPES}:
            problems.append(f"{where}: no valid `type`")
        if "properties" in node and "additionalProperties" in node:
            problems.append(f"{where}: `properties` and `additionalProperties` together")
        if node.get("x-kubernetes-list-type") == "map":
            items = node["items"]
            for key in node.get("x-kubernetes-list-map-keys", []):
                if key not in items.get("required", []):
                    problems.append(f"{where}: list-map key `{key}` must be required")
                if items.get("properties", {}).get(key, {}).get("type") not in SCALAR_TYPES:
                    problems.append(f"{where}: list-map key `{key}` must be a scalar")
        if (
            node.get("x-kubernetes-list-type") == "set"
            and node["items"]["type"] not in SCALAR_TYPES
        ):
            problems.append(f"{where}: a list-type set must hold scalars")
        if "default" in node:
            validator = jsonschema.Draft7Validator(without_extensions(node))
            problems += [
                f"{where}: default: {e.message}" for e in validator.iter_errors(node["default"])
            ]
    return problems


@pytest.mark.parametrize("kind", CRD_FILES)
def test_schema_is_structural(kind: str) -> None:
    assert structural_problems(openapi_schema(kind)) == []


def test_structural_check_finds_problems() -> None:
    broken: Schema = {
        "type": "object",
        "properties": {
            "untyped": {"description": "x"},
            "both": {
                "type": "object",
                "properties": {},
                "additionalProperties": {"type": "string"},
            },
            "list": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
            "bad_default": {"type": "integer", "minimum": 1, "default": 0},
        },
    }
    assert len(structural_problems(broken)) == 4


# --- house conventions -------------------------------------------------------------------


@pytest.mark.parametrize("kind", CRD_FILES)
def test_every_field_has_a_description(kind: str) -> None:
    # NB: the API server rejects anything but `type: object` on the root `metadata`
    # ("must not specify anything other than name and generateName").
    missing = [
        f"{path}.{name}"
        for path, node in walk(openapi_schema(kind))
        for name, child in node.get("properties", {}).items()
        if not child.get("description", "").strip() and f"{path}.{name}" != ".metadata"
    ]
    assert missing == []


@pytest.mark.parametrize("kind", CRD_FILES)
def test_strings_lists_and_maps_are_bounded(kind: str) -> None:
    # NB: without bounds the API server estimates CEL costs from the request size limit and
    # may reject the CRD. date-time strings are fixed-size CEL timestamps, so they are exempt;
    # apiVersion and kind at the root are the API server's own.
    unbounded = []
    for path, node in walk(openapi_schema(kind)):
        if path in {".apiVersion", ".kind"}:
            continue
        match node["type"]:
            case "string":
                if (
                    "maxLength" not in node
                    and "enum" not in node
                    and node.get("format") != "date-time"
                ):
                    unbounded.append(path)
            case "array":
                if "maxItems" not in node:
                    unbounded.append(path)
            case "object":
                if "additionalProperties" in node and "maxProperties" not in node:
                    unbounded.append(path)
    assert unbounded == []


@pytest.mark.parametrize("kind", CRD_FILES)
def test_cel_rules_have_messages_in_the_house_style(kind: str) -> None:
    rules = cel_rules(kind)
    assert rules, f"{kind} has no CEL rules"
    nodes = dict(walk(openapi_schema(kind)))
    for path, rule in rules:
        message = rule.get("message", "")
        assert message, f"{kind} {path}: rule {rule['rule']!r} has no message"
        assert "\n" not in message
        assert re.search(r"\bmust\b", message), message
        assert re.search(r"`[A-Za-z.]+`", message), f"message must name a field: {message}"
        # Literal values are quoted: no bare enum value in a message.
        unquoted = re.sub(r"'[^']*'|`[^`]*`", "", message)
        for literal in re.findall(r"'([^']*)'", rule["rule"]):
            assert not re.search(rf"\b{re.escape(literal)}\b", unquoted), (
                f"{kind} {path}: literal {literal!r} must be quoted in {message!r}"
            )
        if "fieldPath" in rule:
            assert node_at(nodes[path], rule["fieldPath"]) is not None, (
                f"{kind} {path}: fieldPath {rule['fieldPath']} does not exist"
            )


@pytest.mark.parametrize("kind", CRD_FILES)
def test_cel_rules_escape_reserved_property_names(kind: str) -> None:
    for path, rule in cel_rules(kind):
        for word in CEL_RESERVED:
            assert not re.search(rf"\.{word}\b", rule["rule"]), (
                f"{kind} {path}: write `self.__{word}__`, not `self.{word}`, in {rule['rule']!r}"
            )


def test_incident_target_is_immutable() -> None:
    target = openapi_schema("Incident")["properties"]["spec"]["properties"]["target"]
    rules = [r["rule"] for r in target["x-kubernetes-validations"]]
    assert "self == oldSelf" in rules


@pytest.mark.parametrize("kind", CRD_FILES)
def test_printer_columns_point_at_existing_fields(kind: str) -> None:
    schema = openapi_schema(kind)
    columns = load_crd(kind)["spec"]["versions"][0]["additionalPrinterColumns"]
    for column in columns:
        if column["jsonPath"] == ".metadata.creationTimestamp":
            continue
        node = node_at(schema, column["jsonPath"])
        assert node is not None, f"{kind} column {column['name']}: {column['jsonPath']}"
        assert node["type"] == column["type"], column["name"]


def test_incident_printer_columns() -> None:
    columns = load_crd("Incident")["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [c["name"] for c in columns] == ["Phase", "Severity", "Target", "Category", "Age"]


# --- CRDs and models agree ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "path", "enum"),
    [
        ("Incident", ".spec.target.kind", TargetKind),
        ("Incident", ".spec.severity", Severity),
        ("Incident", ".spec.source", Source),
        ("IncidentApproval", ".spec.decision", Decision),
        ("IncidentApproval", ".status.outcome", ApprovalOutcome),
        ("Incident", ".status.phase", Phase),
        ("Incident", ".status.conditions[].status", ConditionStatus),
        ("Incident", ".status.diagnosis.category", Category),
        ("Incident", ".status.proposedActions[].type", ActionType),
        ("Incident", ".status.proposedActions[].risk", Risk),
        ("RemediationPolicy", ".spec.allowedActions[]", ActionType),
        ("RemediationPolicy", ".spec.autoApproveUpTo", AutoApproveLevel),
        (
            "RemediationPolicy",
            ".spec.namespaceSelector.matchExpressions[].operator",
            SelectorOperator,
        ),
        ("RemediationPolicy", ".spec.targetSelector.matchExpressions[].operator", SelectorOperator),
        ("RemediationPolicy", ".status.conditions[].status", ConditionStatus),
    ],
)
def test_crd_enums_equal_python_enums(kind: str, path: str, enum: type[StrEnum]) -> None:
    nodes = dict(walk(openapi_schema(kind)))
    assert nodes[path]["enum"] == [member.value for member in enum]


def test_auto_approve_levels_extend_risks() -> None:
    assert [level.value for level in AutoApproveLevel] == ["None", *(r.value for r in Risk)]


def resolve(node: Schema, defs: dict[str, Schema]) -> Schema:
    """A pydantic JSON schema node with `$ref` and `X | None` unwrapped."""
    node = dict(node)
    if "$ref" in node:
        node = {**defs[node.pop("$ref").rsplit("/", 1)[1]], **node}
    if "anyOf" in node:
        branches = [b for b in node.pop("anyOf") if b.get("type") != "null"]
        assert len(branches) == 1, node
        node = {**resolve(branches[0], defs), **node}
    return node


BOUND_KEYS = (
    "maxLength",
    "minLength",
    "maxItems",
    "maxProperties",
    "minimum",
    "maximum",
    "pattern",
)


def compare(crd: Schema, model: Schema, defs: dict[str, Schema], path: str) -> list[str]:
    """Differences between a CRD schema node and the model's JSON schema node."""
    model = resolve(model, defs)
    problems: list[str] = []
    if crd.get("x-kubernetes-preserve-unknown-fields"):
        return problems
    if "enum" in crd and sorted(crd["enum"]) != sorted(model.get("enum", [model.get("const")])):
        problems.append(f"{path}: enum {crd['enum']} != {model.get('enum')}")
    problems.extend(
        f"{path}: {key} {crd[key]!r} != {model[key]!r}"
        for key in BOUND_KEYS
        if key in crd and key in model and crd[key] != model[key]
    )
    if "properties" in crd:
        crd_props, model_props = crd["properties"], model.get("properties", {})
        if set(crd_props) != set(model_props):
            problems.append(f"{path}: fields {sorted(crd_props)} != {sorted(model_props)}")
        if set(crd.get("required", [])) != set(model.get("required", [])):
            problems.append(f"{path}: required {crd.get('required')} != {model.get('required')}")
        for name in set(crd_props) & set(model_props):
            problems += compare(crd_props[name], model_props[name], defs, f"{path}.{name}")
    if isinstance(crd.get("items"), dict):
        problems += compare(crd["items"], model["items"], defs, f"{path}[]")
    if isinstance(crd.get("additionalProperties"), dict):
        problems += compare(
            crd["additionalProperties"], model["additionalProperties"], defs, f"{path}{{}}"
        )
    return problems


@pytest.mark.parametrize("kind", CRD_FILES)
def test_model_mirrors_crd(kind: str) -> None:
    model_schema = MODELS[kind].model_json_schema(by_alias=True)
    assert compare(openapi_schema(kind), model_schema, model_schema.get("$defs", {}), "") == []


def apply_crd_defaults(node: Schema, value: Any) -> Any:
    """Default `value` as the API server does: absent fields get their schema's default."""
    if isinstance(value, dict) and "properties" in node:
        for name, child in node["properties"].items():
            if name not in value and "default" in child:
                value[name] = copy.deepcopy(child["default"])
            if name in value:
                value[name] = apply_crd_defaults(child, value[name])
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        return [apply_crd_defaults(node["items"], v) for v in value]
    return value


def without_empty(value: Any) -> Any:
    if isinstance(value, dict):
        cleaned = {k: without_empty(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [without_empty(v) for v in value]
    return value


@pytest.mark.parametrize(
    ("kind", "minimal_spec", "spec_model"),
    [
        ("Incident", {"target": {"kind": "Deployment", "name": "web"}}, IncidentSpec),
        ("Incident", {"target": {"kind": "Pod", "name": "p"}, "alert": {}}, IncidentSpec),
        ("RemediationPolicy", {"allowedActions": ["Escalate"]}, RemediationPolicySpec),
        (
            "RemediationPolicy",
            {"allowedActions": ["Escalate"], "rateLimits": {"maxConcurrentPerNamespace": 2}},
            RemediationPolicySpec,
        ),
    ],
)
def test_model_defaults_equal_crd_defaults(
    kind: str, minimal_spec: dict[str, Any], spec_model: type[BaseModel]
) -> None:
    spec_schema = openapi_schema(kind)["properties"]["spec"]
    by_api_server = apply_crd_defaults(spec_schema, copy.deepcopy(minimal_spec))
    by_model = spec_model.model_validate(minimal_spec).model_dump(by_alias=True, mode="json")
    assert without_empty(by_model) == without_empty(by_api_server)


# --- sample objects ------------------------------------------------------------------------

RESTART = Action.model_validate(
    {
        "type": "RestartRollout",
        "target": {"kind": "Deployment", "namespace": "shop", "name": "web"},
        "risk": "Low",
    }
)
MORE_MEMORY = Action.model_validate(
    {
        "type": "SetResources",
        "target": {"kind": "Deployment", "namespace": "shop", "name": "web"},
        "params": {"container": "app", "memoryLimit": "512Mi"},
        "risk": "Medium",
    }
)


def incident(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": "Incident",
        "metadata": {"name": "web-oom", "namespace": "shop"},
        "spec": {"target": {"kind": "Deployment", "name": "web"}, **spec},
    }


def diagnosed_incident() -> dict[str, Any]:
    obj = incident(
        severity="Critical",
        summary="web pods are OOMKilled",
        source="Alert",
        alert={
            "fingerprint": "c0ffee1234567890",
            "groupKey": '{}:{alertname="KubePodCrashLooping"}',
            "status": "firing",
            "labels": {"alertname": "KubePodCrashLooping", "namespace": "shop"},
            "annotations": {"summary": "Pod is crash looping."},
            "startsAt": "2025-01-01T10:00:00Z",
            "generatorURL": "http://prometheus/graph?g0.expr=up",
        },
        reportedBy="system:serviceaccount:kubemedic:kubemedic",
    )
    obj["status"] = {
        "phase": "AwaitingApproval",
        "observedGeneration": 2,
        "detectedTime": "2025-01-01T10:00:05Z",
        "diagnosedTime": "2025-01-01T10:00:07Z",
        "target": "Deployment/shop/web",
        "conditions": [
            {
                "type": "Diagnosed",
                "status": "True",
                "reason": "RuleMatched",
                "message": "Container app was OOMKilled 4 times in 10 minutes.",
                "lastTransitionTime": "2025-01-01T10:00:07Z",
                "observedGeneration": 2,
            }
        ],
        "diagnosis": {
            "category": "OOMKilled",
            "summary": "Container app exceeds its 256Mi memory limit.",
            "confidence": 0.9,
            "evidence": ["lastState.terminated.reason=OOMKilled", "restartCount=4"],
            "engine": "rules",
            "runbook": "# OOMKilled\n\nRaise the memory limit.",
            "bundleDigest": "sha256:" + "0" * 64,
        },
        "proposedActions": [
            ProposedAction.from_action(a).model_dump(by_alias=True, mode="json", exclude_none=True)
            for a in (MORE_MEMORY, RESTART)
        ],
    }
    return obj


def policy(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": "RemediationPolicy",
        "metadata": {"name": "default", "namespace": "shop"},
        "spec": {"allowedActions": ["RestartRollout"], **spec},
    }


def full_policy() -> dict[str, Any]:
    return policy(
        namespaceSelector={
            "matchLabels": {"team": "shop"},
            "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "staging"]}],
        },
        namespaces=["shop", "payments"],
        targetSelector={
            "matchExpressions": [{"key": "kubemedic.dev/skip", "operator": "DoesNotExist"}]
        },
        allowedActions=["RestartRollout", "SetResources", "Escalate"],
        autoApproveUpTo="Low",
        rateLimits={"maxActionsPerTargetPerHour": 2, "maxConcurrentPerNamespace": 1},
        protectedNamespaces=["kube-system"],
        dryRunOnly=True,
        approvalTTLSeconds=600,
        maxMemoryIncreaseFactor=1.5,
    )


def approval(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": "IncidentApproval",
        "metadata": {"name": "web-oom-approve-x7k2p", "namespace": "shop"},
        "spec": {
            "incident": "web-oom",
            "actionID": MORE_MEMORY.id,
            "decision": "Approve",
            "approver": "alice",
            **spec,
        },
    }


def seen_approval() -> dict[str, Any]:
    obj = approval(reason="raise the limit, it is Black Friday")
    obj["status"] = {
        "seenAt": "2025-01-01T10:01:00Z",
        "spentAt": "2025-01-01T10:01:00Z",
        "outcome": "Applied",
        "message": "approved SetResources Deployment/web",
    }
    return obj


VALID: list[tuple[str, Callable[[], dict[str, Any]]]] = [
    ("Incident", incident),
    ("Incident", lambda: incident(target={"kind": "Node", "name": "node-1.example"})),
    (
        "Incident",
        lambda: incident(
            target={"apiVersion": "apps/v1", "kind": "StatefulSet", "namespace": "db", "name": "pg"}
        ),
    ),
    ("Incident", diagnosed_incident),
    ("RemediationPolicy", policy),
    ("RemediationPolicy", full_policy),
    ("IncidentApproval", approval),
    ("IncidentApproval", seen_approval),
]


@pytest.mark.parametrize(("kind", "make"), VALID)
def test_valid_samples_pass_crd_schema_and_model(
    kind: str, make: Callable[[], dict[str, Any]]
) -> None:
    obj = make()
    assert schema_errors(kind, obj) == []
    assert model_error(kind, obj) is None


Make = Callable[[], dict[str, Any]]


def changed(make: Make, path: str, value: Any) -> dict[str, Any]:
    """`make()`, with the value at a dotted path (list indexes as numbers) set or deleted."""
    obj = make()
    *parents, last = path.split(".")
    node: Any = obj
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    key: Any = int(last) if last.isdigit() else last
    if value is DELETE:
        del node[key]
    else:
        node[key] = value
    return obj


DELETE = object()
BOTH = "schema+model"
#: Only the model can reject these here: a CEL rule, list-type uniqueness, an unknown field
#: (which the API server prunes, or rejects under kubectl's strict field validation).
MODEL = "model"
NODE_IN_NAMESPACE = {"kind": "Node", "namespace": "x", "name": "n"}
SELECTOR = "spec.namespaceSelector.matchExpressions.0"

INVALID: list[tuple[Make, str, Any, str]] = [
    (incident, "spec.target", DELETE, BOTH),
    (incident, "spec.target.kind", "CronJob", BOTH),
    (incident, "spec.target.name", "Web_1", BOTH),
    (incident, "spec.target.namespace", "Shop", BOTH),
    (incident, "spec.severity", "Fatal", BOTH),
    (incident, "spec.summary", "x" * 257, BOTH),
    (incident, "spec.source", "Pager", BOTH),
    (diagnosed_incident, "spec.alert.status", "ok", BOTH),
    (diagnosed_incident, "spec.alert.startsAt", "yesterday", BOTH),
    (incident, "spec.reportedBy", "x" * 254, BOTH),
    (incident, "spec.approvals", [{"actionID": "a", "decision": "Approve"}], MODEL),
    (diagnosed_incident, "status.phase", "Done", BOTH),
    (diagnosed_incident, "status.diagnosis.confidence", 1.5, BOTH),
    (diagnosed_incident, "status.diagnosis.category", "Oops", BOTH),
    (diagnosed_incident, "status.conditions.0.reason", "Rule matched", BOTH),
    (diagnosed_incident, "status.conditions.0.status", "Yes", BOTH),
    (diagnosed_incident, "status.proposedActions.0.risk", "Extreme", BOTH),
    (diagnosed_incident, "status.proposedActions.0.id", "Not An ID", BOTH),
    (incident, "spec.targett", {}, MODEL),
    (incident, "spec.source", "Alert", MODEL),
    (incident, "spec.target", NODE_IN_NAMESPACE, MODEL),
    (approval, "spec.decision", "Maybe", BOTH),
    (approval, "spec.approver", DELETE, BOTH),
    (approval, "spec.approver", "", BOTH),
    (approval, "spec.incident", DELETE, BOTH),
    (approval, "spec.actionID", "Not An ID", BOTH),
    (approval, "spec.reason", "x" * 1025, BOTH),
    (seen_approval, "status.outcome", "Done", BOTH),
    (seen_approval, "status.seenAt", "yesterday", BOTH),
    (approval, "spec.approvedAt", "2030-01-01T00:00:00Z", MODEL),
    (policy, "spec.allowedActions", DELETE, BOTH),
    (policy, "spec.allowedActions", ["Reboot"], BOTH),
    (policy, "spec.autoApproveUpTo", "All", BOTH),
    (policy, "spec.rateLimits", {"maxActionsPerTargetPerHour": 0}, BOTH),
    (policy, "spec.rateLimits", {"maxConcurrentPerNamespace": 101}, BOTH),
    (policy, "spec.approvalTTLSeconds", 59, BOTH),
    (policy, "spec.maxMemoryIncreaseFactor", 4.5, BOTH),
    (policy, "spec.namespaces", ["Bad_NS"], BOTH),
    (full_policy, f"{SELECTOR}.operator", "Like", BOTH),
    (policy, "spec.allowedActions", [], MODEL),
    (policy, "spec.allowedActions", ["Escalate", "Escalate"], MODEL),
    (policy, "spec.namespaces", ["shop", "kube-system"], MODEL),
    (full_policy, f"{SELECTOR}.values", [], MODEL),
    (full_policy, "spec.targetSelector.matchExpressions.0.values", ["x"], MODEL),
]


@pytest.mark.parametrize(
    ("make", "path", "value", "rejected_by"),
    [
        pytest.param(*case, id=f"{case[0].__name__}:{case[1]}={str(case[2])[:20]}")
        for case in INVALID
    ],
)
def test_invalid_samples_are_rejected(make: Make, path: str, value: Any, rejected_by: str) -> None:
    obj = changed(make, path, value)
    kind = obj["kind"]
    assert model_error(kind, obj) is not None
    schema_rejects = bool(schema_errors(kind, obj))
    assert schema_rejects == (rejected_by == BOTH)


CEL_CASES: list[tuple[Make, str, Any]] = [
    (incident, "spec.source", "Alert"),
    (incident, "spec.target", NODE_IN_NAMESPACE),
    (policy, "spec.allowedActions", []),
    (policy, "spec.namespaces", ["kube-system"]),
    (full_policy, f"{SELECTOR}.values", []),
    (full_policy, f"{SELECTOR}.values", DELETE),
]


@pytest.mark.parametrize(("make", "path", "value"), CEL_CASES)
def test_model_rejects_with_the_cel_rule_message(make: Make, path: str, value: Any) -> None:
    obj = changed(make, path, value)
    error = model_error(obj["kind"], obj)
    assert error is not None
    messages = [rule["message"] for _, rule in cel_rules(obj["kind"])]
    assert any(message in error for message in messages), error


def test_incident_status_is_parsed_leniently() -> None:
    obj = diagnosed_incident()
    obj["status"]["addedByALaterVersion"] = {"x": 1}
    obj["status"]["conditions"][0]["severity"] = "Info"
    status = IncidentStatus.model_validate(obj["status"])
    dumped = status.model_dump(by_alias=True, mode="json", exclude_none=True)
    assert dumped["addedByALaterVersion"] == {"x": 1}
    assert dumped["conditions"][0]["severity"] == "Info"
    assert schema_errors("Incident", {**obj, "status": dumped}) == []


def doc_examples() -> list[dict[str, Any]]:
    text = (ROOT / "docs" / "crds.md").read_text(encoding="utf-8")
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)]


def test_docs_show_an_example_of_each_kind() -> None:
    assert sorted(example["kind"] for example in doc_examples()) == sorted(CRD_FILES)


@pytest.mark.parametrize("example", doc_examples(), ids=lambda e: str(e["kind"]))
def test_doc_examples_are_valid(example: dict[str, Any]) -> None:
    assert schema_errors(example["kind"], example) == []
    assert model_error(example["kind"], example) is None
