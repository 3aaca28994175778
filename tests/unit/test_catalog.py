"""We test these aspects: the action catalog (kubemedic.domain.catalog) is the one source.

- every action type has exactly one entry, and its params model is the one ``Action``
  validates with;
- the LLM's answer schema offers, per action type, exactly the catalog's target kinds;
- the patch builder refuses every kind the catalog does not list, and Escalate applies
  nothing; every applied action type has a kubectl equivalent, Escalate none;
- the owner-reference rule (``view.controller_ref``): the controller reference wins, the
  first one counts when none is marked, references without kind and name are skipped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kubemedic.domain import catalog, view
from kubemedic.domain import patches as rem
from kubemedic.domain.llm_output import response_schema
from kubemedic.models.diagnosis import PARAMS_MODELS, Action, ActionType, Risk
from kubemedic.models.target import ObjectRef

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
PARAMS: dict[ActionType, dict[str, Any]] = {
    ActionType.RESTART_ROLLOUT: {},
    ActionType.ROLLBACK_ROLLOUT: {"toRevision": 3},
    ActionType.SCALE_WORKLOAD: {"replicas": 2},
    ActionType.SET_RESOURCES: {"container": "app", "memoryLimit": "512Mi"},
    ActionType.DELETE_POD: {"pod": "web-1"},
    ActionType.CORDON_NODE: {"node": "worker-1"},
    ActionType.PATCH_HPA: {"maxReplicas": 9},
    ActionType.ESCALATE: {"reason": "a person must look"},
}
ALL_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Pod", "Node", "HorizontalPodAutoscaler")


def _action(action_type: ActionType, kind: str) -> Action:
    namespace = None if kind == "Node" else "shop"
    return Action(
        type=action_type,
        target=ObjectRef(kind=kind, namespace=namespace, name="web"),
        params=PARAMS[action_type],
        risk=catalog.ACTION_RISKS[action_type],
    )


def test_every_action_type_has_one_entry_with_its_params_model() -> None:
    assert set(catalog.CATALOG) == set(ActionType)
    for action_type, spec in catalog.CATALOG.items():
        assert spec.params is PARAMS_MODELS[action_type]
        assert spec.applied is (action_type is not ActionType.ESCALATE)
    assert catalog.ACTION_RISKS[ActionType.CORDON_NODE] is Risk.HIGH


def test_the_answer_schema_offers_exactly_the_catalogs_kinds() -> None:
    schema = response_schema()
    offered: dict[str, list[str]] = {}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict) and "type" in props and "target" in props:
                type_enum = props["type"].get("enum") or [props["type"].get("const")]
                kinds = props["target"]["properties"]["kind"]["enum"]
                for name in type_enum:
                    offered[str(name)] = list(kinds)
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(schema)
    assert offered == {t.value: list(s.target_kinds) for t, s in catalog.CATALOG.items()}


@pytest.mark.parametrize(
    ("action_type", "kind"),
    [
        (t, kind)
        for t in ActionType
        if t is not ActionType.ESCALATE
        for kind in ALL_KINDS
        if kind not in catalog.ACTION_TARGET_KINDS[t]
    ],
)
def test_the_patch_builder_refuses_kinds_outside_the_catalog(
    action_type: ActionType, kind: str
) -> None:
    live = {"kind": kind, "metadata": {"name": "web", "uid": "u", "generation": 1}}
    action = _action(action_type, catalog.ACTION_TARGET_KINDS[action_type][0])
    with pytest.raises(rem.RemediationError, match=f"needs a .*not {kind}"):
        rem.build_patch(action, live, key="k", incident="shop/i", now=NOW)


def test_escalate_applies_nothing_and_has_no_command() -> None:
    action = _action(ActionType.ESCALATE, "Deployment")
    live = {"kind": "Deployment", "metadata": {"name": "web", "uid": "u", "generation": 1}}
    with pytest.raises(rem.RemediationError, match="applies nothing"):
        rem.build_patch(action, live, key="k", incident="shop/i", now=NOW)
    assert catalog.action_command(action) is None


@pytest.mark.parametrize("action_type", [t for t in ActionType if t is not ActionType.ESCALATE])
def test_every_applied_action_has_a_kubectl_equivalent(action_type: ActionType) -> None:
    kind = catalog.ACTION_TARGET_KINDS[action_type][0]
    command = catalog.action_command(_action(action_type, kind))
    assert command is not None
    assert command.startswith("kubectl ")


@pytest.mark.parametrize(
    ("refs", "expected"),
    [
        ([{"kind": "ConfigMap", "name": "a"}, {"kind": "ReplicaSet", "name": "b", "controller": True}], "b"),
        ([{"kind": "ReplicaSet", "name": "a"}, {"kind": "ReplicaSet", "name": "b"}], "a"),
        ([{"kind": "ReplicaSet", "controller": True}, {"kind": "Job", "name": "c"}], "c"),
        ([], None),
        ("garbage", None),
    ],
)  # fmt: skip
def test_controller_ref_is_the_one_owner_rule(refs: object, expected: str | None) -> None:
    ref = view.controller_ref({"metadata": {"ownerReferences": refs}})
    assert (ref["name"] if ref else None) == expected
