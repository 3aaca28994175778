"""We test these aspects: what `kubemedic approve|reject` creates (service/approvals.py, cli).

- the action decided on: the one named (an unknown one is bad input naming the proposals),
  else the one awaiting approval, else the first that applies something; an Incident with
  only Escalate cannot be decided on;
- the IncidentApproval body: the approver given (the caller's SelfSubjectReview name), a
  generated name, the reason only when given, valid against the CRD's model;
- ``--by`` is refused with exit code 2 and the reason, before any cluster is contacted.
"""

from typing import Any

import pytest

from kubemedic.cli import main
from kubemedic.models.approval import Decision, IncidentApproval
from kubemedic.models.diagnosis import Action, ActionType, Risk
from kubemedic.models.incident import IncidentStatus, ProposedAction
from kubemedic.models.target import ObjectRef
from kubemedic.service.approvals import DecisionInputError, approval_body, pick_action

RESTART = Action(
    type=ActionType.RESTART_ROLLOUT,
    target=ObjectRef(kind="Deployment", namespace="shop", name="web"),
    risk=Risk.LOW,
)
ESCALATE = Action(
    type=ActionType.ESCALATE,
    target=ObjectRef(kind="Deployment", namespace="shop", name="web"),
    params={"reason": "look"},
    risk=Risk.LOW,
)
SCALE = Action(
    type=ActionType.SCALE_WORKLOAD,
    target=ObjectRef(kind="Deployment", namespace="shop", name="web"),
    params={"replicas": 3},
    risk=Risk.MEDIUM,
)


def status(*actions: Action, waiting: Action | None = None) -> IncidentStatus:
    fields: dict[str, Any] = {
        "proposedActions": [
            ProposedAction.from_action(a).model_dump(mode="json", by_alias=True) for a in actions
        ]
    }
    if waiting is not None:
        fields["actions"] = [
            {"id": waiting.id, "type": waiting.type.value, "state": "AwaitingApproval"}
        ]
    return IncidentStatus.model_validate(fields)


def test_the_named_action_is_decided() -> None:
    chosen = pick_action(status(RESTART, SCALE), incident="web", action=SCALE.id, verb="approved")
    assert chosen == SCALE.id


def test_an_unknown_action_is_bad_input_naming_the_proposals() -> None:
    with pytest.raises(DecisionInputError) as raised:
        pick_action(status(RESTART), incident="web", action="delete-pod-0", verb="approved")
    assert str(raised.value) == (
        f"--action 'delete-pod-0' is not a proposed action of web; proposed: {RESTART.id}"
    )


def test_the_action_awaiting_approval_comes_first() -> None:
    chosen = pick_action(
        status(ESCALATE, RESTART, SCALE, waiting=SCALE), incident="web", action=None, verb="x"
    )
    assert chosen == SCALE.id
    assert pick_action(status(ESCALATE, RESTART), incident="web", action=None, verb="x") == (
        RESTART.id
    )


def test_escalate_alone_cannot_be_decided_on() -> None:
    with pytest.raises(DecisionInputError, match="proposes no action that can be rejected"):
        pick_action(status(ESCALATE), incident="web", action=None, verb="rejected")


@pytest.mark.parametrize("reason", [None, "limit too low"])
def test_the_approval_body_is_a_valid_incident_approval(reason: str | None) -> None:
    body = approval_body(
        incident="web",
        action_id=RESTART.id,
        decision=Decision.APPROVE,
        approver="alice",
        reason=reason,
    )
    parsed = IncidentApproval.model_validate(body)
    assert (parsed.spec.approver, parsed.spec.action_id, parsed.spec.reason) == (
        "alice",
        RESTART.id,
        reason,
    )
    assert body["metadata"] == {"generateName": "web-approve-"}
    assert ("reason" in body["spec"]) is (reason is not None)


def test_by_is_refused_before_anything_is_contacted(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["approve", "web", "-n", "shop", "--by", "bob", "--kubeconfig", "/nonexistent"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--by is no longer accepted" in err
    assert "kubectl auth whoami" in err
