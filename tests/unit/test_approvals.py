"""We test these aspects: which IncidentApprovals count (kubemedic.domain.approvals).

- the operator's clock: an approval counts from when the operator first saw it; a recorded
  ``seenAt`` in the future or before the object was created is not believed (now counts);
  expiry is measured from that time;
- spent approvals never count again; an Incident's unspent approvals come oldest first and
  only its own;
- an approval created before the diagnosis that proposed the action is stale;
- separation of duties: only with ``requireDistinctApprover``; the reporter is refused, and
  an Incident without ``reportedBy`` cannot be approved;
- scope: a namespaced target outside the Incident's namespace, a Node from outside the
  operator's namespace, anything but CordonNode/Escalate from a Node Incident are refused;
- a Node Incident lists only CordonNode and Escalate.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kubemedic.domain import approvals
from kubemedic.models.diagnosis import Action, ActionType, Risk
from kubemedic.models.target import TargetKind, TargetRef

NOW = datetime(2026, 5, 4, 12, 0, 0, tzinfo=UTC)
CREATED = NOW - timedelta(minutes=10)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def obj(
    *,
    name: str = "a1",
    incident: str = "web-oom",
    created: datetime | None = CREATED,
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "uid": f"uid-{name}"}
    if created is not None:
        metadata["creationTimestamp"] = iso(created)
    return {
        "metadata": metadata,
        "spec": {
            "incident": incident,
            "actionID": "scale-workload-1234abcd",
            "decision": "Approve",
            "approver": "alice",
        },
        "status": status or {},
    }


@pytest.mark.parametrize(
    ("seen", "counts_from"),
    [
        pytest.param(None, NOW, id="first-sight"),
        pytest.param(NOW - timedelta(minutes=5), NOW - timedelta(minutes=5), id="seen-before"),
        pytest.param(NOW + timedelta(days=365), NOW, id="forged-future"),
        pytest.param(CREATED - timedelta(hours=1), NOW, id="before-creation"),
    ],
)
def test_an_approval_counts_from_the_operators_first_sight(
    seen: datetime | None, counts_from: datetime
) -> None:
    approval = approvals.parse(obj(status={"seenAt": iso(seen)} if seen else None))
    assert approvals.counts_from(approval, now=NOW) == counts_from


def test_expiry_is_measured_on_the_operators_clock() -> None:
    ttl = timedelta(hours=1)
    old = approvals.parse(
        obj(created=NOW - timedelta(hours=3), status={"seenAt": iso(NOW - timedelta(hours=2))})
    )
    future = approvals.parse(obj(status={"seenAt": iso(NOW + timedelta(days=365))}))
    fresh = approvals.parse(obj())
    assert approvals.expired(old, now=NOW, ttl=ttl)
    # A forged future time is not believed: it counts from now (and the operator writes its
    # own seenAt over it at once, so the TTL then runs from that real time).
    assert not approvals.expired(future, now=NOW, ttl=ttl)
    assert not approvals.expired(fresh, now=NOW, ttl=ttl)


def test_spent_and_foreign_approvals_do_not_count_and_the_rest_come_oldest_first() -> None:
    parsed = [
        approvals.parse(obj(name="newer", created=NOW - timedelta(minutes=1))),
        approvals.parse(obj(name="older", created=NOW - timedelta(minutes=9))),
        approvals.parse(obj(name="spent", status={"spentAt": iso(NOW)})),
        approvals.parse(obj(name="other", incident="db-down")),
    ]
    assert [a.name for a in approvals.unspent(parsed, "web-oom")] == ["older", "newer"]


@pytest.mark.parametrize(
    ("created", "stale"),
    [
        (NOW - timedelta(minutes=6), True),
        (NOW - timedelta(minutes=5, seconds=-1), False),  # within the whole-second slack
        (NOW - timedelta(minutes=4), False),
        (None, False),
    ],
)
def test_an_approval_made_before_the_proposal_is_stale(
    created: datetime | None, stale: bool
) -> None:
    approval = approvals.parse(obj(created=created))
    assert approvals.predates_proposal(approval, NOW - timedelta(minutes=5)) is stale


@pytest.mark.parametrize(
    ("approver", "reporter", "required", "refused_with"),
    [
        ("alice", "alice", False, None),
        ("alice", "bob", True, None),
        ("alice", "alice", True, "'alice' reported this Incident"),
        ("alice", None, True, "has no `spec.reportedBy`"),
        ("alice", None, False, None),
    ],
)
def test_separation_of_duties(
    approver: str, reporter: str | None, required: bool, refused_with: str | None
) -> None:
    problem = approvals.separation_problem(approver=approver, reporter=reporter, required=required)
    assert (problem is None) if refused_with is None else (refused_with in str(problem))


def action(type_: ActionType, kind: str, namespace: str | None, params: dict[str, Any]) -> Action:
    return Action.model_validate(
        {
            "type": type_,
            "target": {"kind": kind, "namespace": namespace, "name": "x"},
            "params": params,
            "risk": Risk.MEDIUM,
        }
    )


SCALE_A = action(ActionType.SCALE_WORKLOAD, "Deployment", "team-a", {"replicas": 2})
SCALE_B = action(ActionType.SCALE_WORKLOAD, "Deployment", "team-b", {"replicas": 0})
CORDON = action(ActionType.CORDON_NODE, "Node", None, {"node": "n1"})
DELETE_POD_A = action(ActionType.DELETE_POD, "Pod", "team-a", {"pod": "x"})
ESCALATE = action(ActionType.ESCALATE, "Node", None, {"reason": "look"})
DEPLOY_A = TargetRef(kind=TargetKind.DEPLOYMENT, namespace="team-a", name="web")
NODE = TargetRef(kind=TargetKind.NODE, name="n1")


@pytest.mark.parametrize(
    ("proposed", "incident_namespace", "target", "refused_with"),
    [
        (SCALE_A, "team-a", DEPLOY_A, None),
        (SCALE_B, "team-a", DEPLOY_A, "Deployment/team-b/x is outside the Incident's namespace"),
        (CORDON, "team-a", DEPLOY_A, "only Incidents in the operator's namespace 'kubemedic'"),
        (CORDON, "kubemedic", NODE, None),
        (ESCALATE, "kubemedic", NODE, None),
        (DELETE_POD_A, "kubemedic", NODE, "may only propose CordonNode and Escalate"),
    ],
)
def test_scope(
    proposed: Action, incident_namespace: str, target: TargetRef, refused_with: str | None
) -> None:
    problem = approvals.scope_problem(
        proposed,
        incident_namespace=incident_namespace,
        incident_target=target,
        operator_namespace="kubemedic",
    )
    assert (problem is None) if refused_with is None else (refused_with in str(problem))


def test_a_node_incident_lists_only_cordon_and_escalate() -> None:
    proposed = [CORDON, DELETE_POD_A, ESCALATE, SCALE_A]
    assert approvals.proposable(NODE, proposed) == [CORDON, ESCALATE]
    assert approvals.proposable(DEPLOY_A, proposed) == proposed
