"""What the LLM must answer, how every answer is checked, and how it joins the rules' answer.

**The schema.** :class:`LLMAnswer` is the answer's pydantic model; :func:`response_schema`
turns it into the JSON Schema sent as ``response_format`` (``json_schema``), with each
proposed action one branch of an ``anyOf`` per catalog entry: its ``type``, the kinds it may
target and the JSON Schema of its params model (:data:`~kubemedic.models.diagnosis.PARAMS_MODELS`).

**Never trust the answer.** vLLM silently ignores structured-output options it does not
know, and a model may ignore the grammar anyway (or be told to by a log line). So:

1. :func:`parse_answer` validates the text against :class:`LLMAnswer` (category from our
   enum, bounded texts, confidence 0..1); a violation is an :class:`InvalidAnswerError`
   listing the problems, which the caller sends back once as a repair request.
2. :func:`check_actions` re-validates every proposed action one by one and *rejects* (and
   records) each action whose type is not in the catalog, whose params its params model
   refuses, whose target kind does not fit the type, or whose target is outside the
   incident's :class:`ActionScope`: the target, its pods, their ReplicaSets and workload,
   the nodes they run on, and HPAs scaling it. The risk of an accepted action is the
   catalog's fixed risk, never the model's. Actions then pass the same policy and approval
   as the rules' actions (:mod:`kubemedic.domain.policy`).
3. Evidence must cite IDs that were in the prompt (:func:`check_evidence`).

**Combining** (:func:`combine`): the same category raises the confidence (it is the chance
that at least one of two partly independent engines is right, halved:
``c = hi + (1 - hi) * lo * AGREEMENT_WEIGHT``); different categories keep the rules' answer
when it is strong (the rules read facts, not prose) and otherwise the more confident one,
lower the confidence by ``DISAGREEMENT_FACTOR``, and keep both opinions in
``Diagnosis.opinions``. When no rule matched, the LLM's answer stands, its confidence capped
at ``LLM_ONLY_MAX_CONFIDENCE`` (nothing deterministic backs it).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from pydantic import Field, ValidationError

from kubemedic.domain import view
from kubemedic.domain.approvals import NODE_INCIDENT_ACTIONS
from kubemedic.domain.catalog import ACTION_RISKS, ACTION_TARGET_KINDS
from kubemedic.models.base import KubeModel
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.diagnosis import (
    PARAMS_MODELS,
    Action,
    ActionType,
    Agreement,
    Category,
    Diagnosis,
    LLMReport,
    Opinion,
    RejectedAction,
)
from kubemedic.models.target import ObjectRef, TargetKind

SCHEMA_NAME: Final = "kubemedic_diagnosis"
MAX_ANSWER_ACTIONS: Final = 8
MAX_ANSWER_EVIDENCE: Final = 12
MAX_ANSWER_RUNBOOK: Final = 16000
MAX_ROOT_CAUSE: Final = 4000
#: Rules' confidence at or above which the rules' category wins a disagreement.
RULES_STRONG: Final = 0.6
AGREEMENT_WEIGHT: Final = 0.5
DISAGREEMENT_FACTOR: Final = 0.8
LLM_ONLY_MAX_CONFIDENCE: Final = 0.7
MAX_CONFIDENCE: Final = 0.99
#: At most this many actions in a combined diagnosis (the CRD allows 16).
MAX_COMBINED_ACTIONS: Final = 12
#: Marks text the model wrote wherever a person reads it (runbook, Escalate instructions).
MODEL_WRITTEN: Final = "Model-written (unverified)"

# -- the answer ---------------------------------------------------------------------------


class CitedEvidence(KubeModel):
    """One observation, citing the evidence item (its ``id`` in the prompt) it comes from."""

    ref: str = Field(max_length=300, description="id of an evidence item in the prompt")
    finding: str = Field(max_length=1000, description="what that item shows")


class ProposedTarget(KubeModel):
    kind: str = Field(max_length=63)
    namespace: str | None = Field(max_length=63)
    name: str = Field(max_length=253)


class ActionProposal(KubeModel):
    """One proposed action as the LLM wrote it; checked by :func:`check_actions`.

    NB: ``type`` and ``params`` are deliberately loose here, so that one bad action is
    rejected and recorded instead of invalidating the whole answer.
    """

    type: str = Field(max_length=64)
    target: ProposedTarget
    params: dict[str, Any]
    reason: str = Field(max_length=1000)


class LLMAnswer(KubeModel):
    """The answer the LLM must give (its JSON Schema is :func:`response_schema`)."""

    category: Category = Field(description="what went wrong; 'Unknown' if the evidence is unclear")
    summary: str = Field(max_length=1000, description="one or two sentences")
    root_cause: str = Field(max_length=MAX_ROOT_CAUSE, description="the causal chain, citing ids")
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[CitedEvidence] = Field(max_length=MAX_ANSWER_EVIDENCE)
    actions: list[ActionProposal] = Field(max_length=MAX_ANSWER_ACTIONS)
    runbook: str = Field(max_length=MAX_ANSWER_RUNBOOK, description="markdown steps for a human")


def _inline_refs(node: Any, defs: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target = copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[1]])
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return _inline_refs({**target, **rest}, defs)
        return {k: _inline_refs(v, defs) for k, v in node.items() if k not in {"title", "$defs"}}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


def _nullable_to_type_list(node: Any) -> Any:
    """``anyOf: [X, {type: null}]`` → ``type: [X, null]``: fewer grammar branches."""
    if isinstance(node, dict):
        branches = node.get("anyOf")
        if isinstance(branches, list) and len(branches) == 2 and {"type": "null"} in branches:
            other = next(b for b in branches if b != {"type": "null"})
            if (
                isinstance(other, dict)
                and isinstance(other.get("type"), str)
                and "anyOf" not in other
            ):
                merged = {**{k: v for k, v in node.items() if k != "anyOf"}, **other}
                merged["type"] = [other["type"], "null"]
                return _nullable_to_type_list(merged)
        return {k: _nullable_to_type_list(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_nullable_to_type_list(v) for v in node]
    return node


def _action_branch(action_type: ActionType) -> dict[str, Any]:
    params_model = PARAMS_MODELS[action_type]
    raw = params_model.model_json_schema(by_alias=True)
    params = _nullable_to_type_list(_inline_refs(raw, raw.get("$defs", {})))
    params.pop("description", None)
    params.setdefault("properties", {})
    params["additionalProperties"] = False
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "target", "params", "reason"],
        "properties": {
            "type": {"type": "string", "enum": [action_type.value]},
            "target": {
                "type": "object",
                "additionalProperties": False,
                "required": ["kind", "namespace", "name"],
                "properties": {
                    "kind": {"type": "string", "enum": list(ACTION_TARGET_KINDS[action_type])},
                    "namespace": {"type": ["string", "null"], "maxLength": 63},
                    "name": {"type": "string", "maxLength": 253},
                },
            },
            "params": params,
            "reason": {"type": "string", "maxLength": 1000},
        },
    }


def response_schema() -> dict[str, Any]:
    """The JSON Schema of the answer: :class:`LLMAnswer`, with actions restricted to the
    catalog (one ``anyOf`` branch per action type). Deterministic: same bytes every call."""
    return copy.deepcopy(_response_schema())


@functools.cache
def _response_schema() -> dict[str, Any]:
    raw = LLMAnswer.model_json_schema(by_alias=True)
    schema: dict[str, Any] = _nullable_to_type_list(_inline_refs(raw, raw.get("$defs", {})))
    schema["properties"]["actions"]["items"] = {
        "anyOf": [_action_branch(action_type) for action_type in ActionType]
    }
    schema.pop("description", None)
    return schema


def response_format() -> dict[str, Any]:
    """The ``response_format`` request field (OpenAI / vLLM structured output)."""
    return {
        "type": "json_schema",
        "json_schema": {"name": SCHEMA_NAME, "schema": response_schema(), "strict": True},
    }


class InvalidAnswerError(ValueError):
    """The model's text is not a valid answer; ``problems`` say why (for the repair request)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


_FENCE_RE: Final = re.compile(r"^```(?:json)?\s*\n(?P<body>.*)\n```\s*$", re.DOTALL)


def parse_answer(text: str | None) -> LLMAnswer:
    """The validated answer, or :class:`InvalidAnswerError` (at most 10 problems listed)."""
    if not text or not text.strip():
        raise InvalidAnswerError(["the answer is empty"])
    body = text.strip()
    fenced = _FENCE_RE.match(body)
    if fenced:
        body = fenced.group("body")
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidAnswerError([f"the answer is not JSON: {exc}"]) from None
    if not isinstance(data, dict):
        raise InvalidAnswerError(["the answer must be a JSON object"])
    try:
        return LLMAnswer.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()[:10]
        ]
        raise InvalidAnswerError(problems) from None


def repair_request(problems: Sequence[str]) -> str:
    """The user message asking for a corrected answer."""
    listed = "\n".join(f"- {p}" for p in problems[:10])
    return (
        "Your answer was rejected because it does not match the required JSON schema:\n"
        f"{listed}\n"
        "Answer again with only the corrected JSON object, nothing else."
    )


# -- scope and action checks ----------------------------------------------------------------


ObjectKey = tuple[str, str, str]


@dataclasses.dataclass(frozen=True)
class ActionScope:
    """What an action for this incident may touch: (kind, namespace or "", name) keys."""

    objects: frozenset[ObjectKey]
    containers: frozenset[str]
    #: The action types this Incident may list at all (a Node Incident: CordonNode, Escalate).
    types: frozenset[ActionType] = frozenset(ActionType)

    def allows(self, kind: str, namespace: str | None, name: str) -> bool:
        return (kind, namespace or "", name) in self.objects

    def display(self) -> list[str]:
        """``Kind/namespace/name`` lines, sorted (for the prompt)."""
        return sorted("/".join(part for part in key if part) for key in self.objects)


def action_scope(bundle: IncidentBundle) -> ActionScope:
    """The incident's target scope: the target, its pods, their ReplicaSets and workload,
    the nodes they run on, and the HPAs scaling the workload."""
    index = view.BundleView(bundle)
    target = bundle.target
    keys: set[ObjectKey] = {(target.kind.value, target.namespace or "", target.name)}
    containers: set[str] = set()
    workload = index.workload_ref()
    if workload is not None:
        keys.add(workload)
        containers.update(
            c
            for c in (view.get_str(x, "name") for x in _template_containers(index.workload()))
            if c
        )
    for pod in index.scope_pods():
        keys.add(("Pod", view.namespace_of(pod), view.name_of(pod)))
        node = view.get_str(pod, "spec", "nodeName")
        if node:
            keys.add(("Node", "", node))
        for owner in index.owner_chain(pod):
            keys.add((view.kind_of(owner), view.namespace_of(owner), view.name_of(owner)))
        pod_workload = index.workload_key(pod)
        if pod_workload is not None:
            keys.add(pod_workload)
        containers.update(
            c
            for c in (
                view.get_str(x, "name")
                for x in view.pod_spec_containers(view.get_dict(pod, "spec"))
            )
            if c
        )
    workloads = {k for k in keys if k[0] in view.WORKLOAD_KINDS}
    for hpa in index.objects_of_kind("HorizontalPodAutoscaler"):
        ref = view.get_dict(hpa, "spec", "scaleTargetRef")
        scaled = (view.get_str(ref, "kind"), view.namespace_of(hpa), view.get_str(ref, "name"))
        if scaled in workloads:
            keys.add(("HorizontalPodAutoscaler", view.namespace_of(hpa), view.name_of(hpa)))
    return ActionScope(
        objects=frozenset(keys),
        containers=frozenset(containers),
        # NB: the CRD refuses anything else in a Node Incident's status; rejecting it here
        # records it (with the reason) instead of it vanishing from the proposals.
        types=NODE_INCIDENT_ACTIONS if target.kind is TargetKind.NODE else frozenset(ActionType),
    )


def _template_containers(obj: object) -> list[dict[str, Any]]:
    return view.pod_spec_containers(view.pod_template_spec(obj)) if obj is not None else []


def _display_target(proposal: ActionProposal) -> str:
    t = proposal.target
    return "/".join(part for part in (t.kind, t.namespace or "", t.name) if part)


def check_action(proposal: ActionProposal, scope: ActionScope) -> Action | RejectedAction:
    """The proposal as a catalog :class:`Action`, or why it is refused."""

    def reject(reason: str) -> RejectedAction:
        return RejectedAction(
            type=proposal.type[:64], target=_display_target(proposal)[:512], reason=reason[:1024]
        )

    try:
        action_type = ActionType(proposal.type)
    except ValueError:
        return reject(
            f"action type '{proposal.type}' is not in the catalog "
            f"({', '.join(t.value for t in ActionType)})"
        )
    if action_type not in scope.types:
        return reject(
            f"this Incident may only propose {', '.join(sorted(t.value for t in scope.types))} "
            f"(an Incident about a Node only CordonNode and Escalate), not '{action_type.value}'"
        )
    target = proposal.target
    allowed_kinds = ACTION_TARGET_KINDS[action_type]
    if target.kind not in allowed_kinds:
        return reject(
            f"'{action_type.value}' must target one of {', '.join(allowed_kinds)}, "
            f"not '{target.kind}'"
        )
    if not scope.allows(target.kind, target.namespace, target.name):
        return reject(
            f"target {_display_target(proposal)} is outside the incident's scope "
            "(the target, its pods and ReplicaSets, their nodes, its HPA)"
        )
    params_in = proposal.params
    if action_type is ActionType.ESCALATE:
        params_in = _marked_escalation(params_in)
    try:
        action = Action(
            type=action_type,
            target=ObjectRef(
                kind=target.kind, namespace=target.namespace or None, name=target.name
            ),
            params=params_in,
            risk=ACTION_RISKS[action_type],
        )
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]) for e in exc.errors()[:3])
        return reject(f"invalid params: {problems}")
    params = action.params
    if action_type is ActionType.DELETE_POD and params.get("pod") != target.name:
        return reject("params.pod must name the target pod")
    if action_type is ActionType.CORDON_NODE and params.get("node") != target.name:
        return reject("params.node must name the target node")
    if (
        action_type is ActionType.SET_RESOURCES
        and scope.containers
        and params.get("container") not in scope.containers
    ):
        return reject(
            f"container '{params.get('container')}' is not a container of the workload "
            f"({', '.join(sorted(scope.containers))})"
        )
    return action


def _marked_escalation(params: Mapping[str, Any]) -> dict[str, Any]:
    """An Escalate's texts as the model wrote them, marked so: a person reading them (the
    Incident's status, a notification) must know no rule or human vouched for them."""
    marked = dict(params)
    for key, limit in (("reason", 1024), ("instructions", 4096)):
        text = marked.get(key)
        if isinstance(text, str) and text.strip() and not text.startswith(MODEL_WRITTEN):
            marked[key] = (f"{MODEL_WRITTEN}: {text}")[:limit]
    return marked


def check_actions(
    proposals: Sequence[ActionProposal], scope: ActionScope
) -> tuple[list[Action], list[RejectedAction]]:
    """Accepted actions (duplicates dropped) and the recorded rejections."""
    accepted: dict[str, Action] = {}
    rejected: list[RejectedAction] = []
    for proposal in proposals:
        result = check_action(proposal, scope)
        if isinstance(result, RejectedAction):
            rejected.append(result)
        else:
            accepted.setdefault(result.id, result)
    return list(accepted.values()), rejected


def check_evidence(
    evidence: Sequence[CitedEvidence], refs: frozenset[str]
) -> tuple[list[str], list[str]]:
    """Evidence lines citing known items (``"<finding> [<ref>]"``) and the unknown refs."""
    kept: list[str] = []
    unknown: list[str] = []
    for item in evidence:
        if item.ref in refs:
            kept.append(f"LLM: {item.finding} [{item.ref}]")
        else:
            unknown.append(item.ref)
    return kept, unknown


# -- combining ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Usage:
    """What the requests cost (summed over the answer and its repair)."""

    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_seconds: float


def agreement_of(rules: Category, llm: Category) -> Agreement:
    unknown = Category.UNKNOWN
    if rules is unknown and llm is unknown:
        return Agreement.NEITHER
    if rules is unknown:
        return Agreement.LLM_ONLY
    if llm is unknown:
        return Agreement.RULES_ONLY
    return Agreement.AGREED if rules is llm else Agreement.DISAGREED


def agreed_confidence(rules: float, llm: float) -> float:
    high, low = max(rules, llm), min(rules, llm)
    return round(min(MAX_CONFIDENCE, high + (1 - high) * low * AGREEMENT_WEIGHT), 3)


def combine(
    rules: Diagnosis,
    answer: LLMAnswer,
    *,
    accepted: Sequence[Action],
    rejected: Sequence[RejectedAction],
    evidence: Sequence[str],
    usage: Usage,
) -> Diagnosis:
    """One diagnosis from the rules' and the LLM's (see the module docstring)."""
    agreement = agreement_of(rules.category, answer.category)
    llm_opinion = Opinion(
        engine="llm",
        category=answer.category,
        confidence=answer.confidence,
        summary=answer.summary[:1024],
    )
    rules_opinion = Opinion(
        engine="rules",
        category=rules.category,
        confidence=rules.confidence,
        summary=rules.summary[:1024],
    )
    opinions: list[Opinion] = []
    llm_first = False
    match agreement:
        case Agreement.AGREED:
            category, summary = rules.category, rules.summary
            confidence = agreed_confidence(rules.confidence, answer.confidence)
            actions = _merge_actions(rules.actions, accepted)
            engine = "rules+llm"
        case Agreement.LLM_ONLY:
            category, summary = answer.category, answer.summary
            confidence = round(min(answer.confidence, LLM_ONLY_MAX_CONFIDENCE), 3)
            actions = _merge_actions(accepted, rules.actions)
            engine, llm_first = "llm", True
        case Agreement.DISAGREED:
            llm_first = rules.confidence < RULES_STRONG and answer.confidence > rules.confidence
            winner = llm_opinion if llm_first else rules_opinion
            category, summary = winner.category, winner.summary
            confidence = round(winner.confidence * DISAGREEMENT_FACTOR, 3)
            actions = list(accepted) if llm_first and accepted else list(rules.actions)
            opinions = [llm_opinion, rules_opinion] if llm_first else [rules_opinion, llm_opinion]
            engine = "rules+llm"
        case _:  # RULES_ONLY, NEITHER: the rules' answer, the LLM's explanation added
            category, summary, confidence = rules.category, rules.summary, rules.confidence
            actions = list(rules.actions)
            engine = "rules+llm"
    llm_evidence = [f"LLM root cause ({MODEL_WRITTEN}): {answer.root_cause[:900]}", *evidence]
    all_evidence = (
        [*llm_evidence, *rules.evidence] if llm_first else [*rules.evidence, *llm_evidence]
    )
    return Diagnosis(
        category=category,
        summary=summary[:1024],
        confidence=confidence,
        evidence=list(dict.fromkeys(e for e in all_evidence if e)),
        actions=actions[:MAX_COMBINED_ACTIONS],
        runbook=combined_runbook(rules, answer, agreement=agreement, llm_first=llm_first),
        engine=engine,
        llm=LLMReport(
            model=usage.model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            latency_seconds=max(usage.latency_seconds, 0.0),
            agreement=agreement,
            rejected_actions=list(rejected),
        ),
        opinions=opinions,
    )


def _merge_actions(first: Sequence[Action], second: Sequence[Action]) -> list[Action]:
    merged: dict[str, Action] = {}
    for action in [*first, *second]:
        merged.setdefault(action.id, action)
    return list(merged.values())


def combined_runbook(
    rules: Diagnosis, answer: LLMAnswer, *, agreement: Agreement, llm_first: bool
) -> str:
    """Both runbooks, the leading engine's first; a disagreement is said up front."""
    llm_part = (
        f"## {MODEL_WRITTEN}: root cause and steps (LLM, {answer.category.value}, "
        f"{answer.confidence:.0%})\n\n"
        "> Written by a language model from the evidence; no rule or person checked it. "
        "Verify each command before you run it.\n\n"
        f"{answer.root_cause.strip()}\n\n{answer.runbook.strip()}"
    ).strip()
    rules_part = rules.runbook.strip()
    header = ""
    if agreement is Agreement.DISAGREED:
        header = (
            "> **The engines disagree.** Rules: "
            f"{rules.category.value} ({rules.confidence:.0%}); LLM: {answer.category.value} "
            f"({answer.confidence:.0%}). Check both below before acting.\n\n"
        )
    parts = [llm_part, rules_part] if llm_first else [rules_part, llm_part]
    return header + "\n\n---\n\n".join(p for p in parts if p) + "\n"


__all__ = [
    "MODEL_WRITTEN",
    "SCHEMA_NAME",
    "ActionProposal",
    "ActionScope",
    "CitedEvidence",
    "InvalidAnswerError",
    "LLMAnswer",
    "Usage",
    "action_scope",
    "agreement_of",
    "check_action",
    "check_actions",
    "check_evidence",
    "combine",
    "parse_answer",
    "repair_request",
    "response_format",
    "response_schema",
]
