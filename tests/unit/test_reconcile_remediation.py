"""We test these aspects: every branch of ``reconcile_remediation`` (service/remediation/).

The state machine runs against :class:`FakeRemediator`, a test double of the operator's own
``RemediationClient`` protocol (not of Kubernetes): objects live in a dict, JSON patches are
applied with the ``jsonpatch`` library (a failing ``test`` op is refused like the API server
refuses it), and an Incident status write with a stale resourceVersion is refused with a
conflict. Each test asserts the written status (record state, phase, conditions), the
history, the Events and the values of the metrics, before and after:

- DryRun: a ``dryRunOnly`` policy dry-runs, changes nothing, escalates, counts ``dry_run``;
- RateLimited: an approved action over the per-target limit waits, said once, not counted;
- an approval the operator first saw longer than ``approvalTTLSeconds`` ago expires
  (``Expired``) and is spent; an action nobody
  approved within the TTL expires too (``ApprovalTimedOut``) and escalates, but not earlier;
- StaleApproval: an IncidentApproval created before the diagnosis is spent, reported once,
  not acted on;
- an Incident from an alert: applied and verified, then AwaitingAlertResolution until the
  alert resolves, then Resolved (MTTR observed once);
- revert success and revert failure: announced and counted exactly once (a revert used to
  be counted as ``failed`` and ``reverted`` and announced twice);
- a write refused with a conflict announces and counts nothing;
- without a policy the action awaits approval (the approve command is in the message); a
  rejection escalates; an approval for a target that changed since the diagnosis is refused
  and the Incident diagnosed again;
- IncidentApprovals: taken on the operator's clock and spent once used; the reporter cannot
  approve under ``requireDistinctApprover`` (someone else can); an approved ScaleWorkload to 0
  is denied by the bounds before any dry-run; an action outside the Incident's namespace is
  denied.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonpatch
import pytest
from prometheus_client import REGISTRY

from kubemedic.clients.kube import ConflictError, PatchRejectedError, RawObject
from kubemedic.domain import patches as rem
from kubemedic.domain.policy import NamedPolicy
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.diagnosis import Action, ActionType, Risk
from kubemedic.models.incident import ProposedAction
from kubemedic.models.policy import RemediationPolicySpec
from kubemedic.models.target import ObjectRef, TargetRef
from kubemedic.service.remediation import (
    ReconcileResult,
    RemediationDeps,
    reconcile_remediation,
)

NOW = datetime(2026, 3, 14, 10, 30, 12, tzinfo=UTC)
NS = "shop"
INCIDENT = "checkout-slow"
DEPLOYMENT_UID = "19636706-d0af-5c65-8676-a2c8ca22367a"
NODE_UID = "e3b0c442-98fc-4c14-9afb-4c8996fb9242"


def _key(kind: str, namespace: str | None, name: str) -> tuple[str, str | None, str]:
    return (kind, namespace, name)


class FakeRemediator:
    """The operator's remediation client protocol, in memory."""

    def __init__(self, incident: RawObject, objects: list[RawObject]) -> None:
        self.incident = incident
        self.objects = {
            _key(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o
            for o in objects
        }
        self.policy_list: list[NamedPolicy] = []
        self.approval_objects: list[RawObject] = []
        #: A Node Incident must live in the operator's namespace (domain/approvals.py).
        self.operator_namespace = "kubemedic"
        self.reject_patches: str | None = None
        self.patches: list[tuple[str, bool]] = []
        self.writes = 0

    def read(self, *, kind: str, namespace: str | None, name: str) -> RawObject | None:
        found = self.objects.get(_key(kind, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    def json_patch(
        self,
        *,
        kind: str,
        namespace: str | None,
        name: str,
        ops: list[dict[str, Any]],
        dry_run: bool,
    ) -> RawObject:
        self.patches.append((name, dry_run))
        current = self.objects.get(_key(kind, namespace, name))
        if current is None:
            raise PatchRejectedError(404, f'{kind.lower()}s "{name}" not found')
        if self.reject_patches and not dry_run:
            raise PatchRejectedError(422, self.reject_patches)
        try:
            patched = jsonpatch.apply_patch(current, ops)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise PatchRejectedError(422, str(exc)) from exc
        if patched.get("spec") != current.get("spec"):
            patched["metadata"]["generation"] = current["metadata"].get("generation", 1) + 1
        if not dry_run:
            self.objects[_key(kind, namespace, name)] = patched
        return copy.deepcopy(patched)

    def delete_pod(self, *, namespace: str, name: str, uid: str, dry_run: bool) -> bool:
        raise AssertionError("no test deletes a pod")

    def revision_template(self, deployment: RawObject, revision: int) -> RawObject | None:
        raise AssertionError("no test rolls back")

    def gather(self, target: TargetRef, *, now: datetime) -> IncidentBundle | None:
        found = self.read(kind=target.kind.value, namespace=target.namespace, name=target.name)
        if found is None:
            return None
        return IncidentBundle(target=target, collected_at=now, objects=[found])

    def policies(self) -> list[NamedPolicy]:
        return list(self.policy_list)

    def namespace_labels(self, namespace: str | None) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": namespace} if namespace else {}

    def remediating_in(self, namespace: str, *, excluding: str) -> int:
        return 0

    def limit_ranges(self, namespace: str) -> list[RawObject]:
        return []

    def hpas(self, namespace: str) -> list[RawObject]:
        return []

    def approvals(self, namespace: str) -> list[RawObject]:
        return [copy.deepcopy(a) for a in self.approval_objects]

    def write_approval_status(self, namespace: str, name: str, *, status: dict[str, Any]) -> None:
        [found] = [a for a in self.approval_objects if a["metadata"]["name"] == name]
        found["status"] = {**found.get("status", {}), **status}

    def read_incident(self, namespace: str, name: str) -> RawObject | None:
        return copy.deepcopy(self.incident)

    def write_incident_status(
        self, namespace: str, name: str, *, status: dict[str, Any], resource_version: str
    ) -> RawObject:
        if resource_version != self.incident["metadata"]["resourceVersion"]:
            raise ConflictError("the object has been modified; please apply your changes")
        self.writes += 1
        self.incident["status"] = {**self.incident["status"], **status}
        self.incident["metadata"]["resourceVersion"] = str(
            int(self.incident["metadata"]["resourceVersion"]) + 1
        )
        return copy.deepcopy(self.incident)


# -- objects ---------------------------------------------------------------------------------


def deployment(*, replicas: int = 2, generation: int = 7, observed: int = 7) -> RawObject:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "checkout",
            "namespace": NS,
            "uid": DEPLOYMENT_UID,
            "generation": generation,
            "annotations": {},
        },
        "spec": {
            "replicas": replicas,
            "template": {
                "metadata": {"labels": {"app": "checkout"}},
                "spec": {"containers": [{"name": "app"}]},
            },
        },
        "status": {"observedGeneration": observed, "replicas": 2, "readyReplicas": 2},
    }


def node(*, unschedulable: bool = False) -> RawObject:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "worker-1", "uid": NODE_UID},
        "spec": {"unschedulable": unschedulable},
    }


def restart() -> Action:
    return Action(
        type=ActionType.RESTART_ROLLOUT,
        target=ObjectRef(kind="Deployment", namespace=NS, name="checkout"),
        risk=Risk.LOW,
    )


def scale(replicas: int) -> Action:
    return Action(
        type=ActionType.SCALE_WORKLOAD,
        target=ObjectRef(kind="Deployment", namespace=NS, name="checkout"),
        params={"replicas": replicas},
        risk=Risk.MEDIUM,
    )


def cordon() -> Action:
    return Action(
        type=ActionType.CORDON_NODE,
        target=ObjectRef(kind="Node", name="worker-1"),
        params={"node": "worker-1"},
        risk=Risk.MEDIUM,
    )


def policy(**spec: Any) -> NamedPolicy:
    base: dict[str, Any] = {"allowedActions": ["RestartRollout", "ScaleWorkload", "CordonNode"]}
    return NamedPolicy(NS, "team", RemediationPolicySpec.model_validate({**base, **spec}))


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def incident(
    action: Action,
    *,
    target: RawObject,
    phase: str,
    records: list[dict[str, Any]] | None = None,
    diagnosed: datetime = NOW - timedelta(minutes=5),
    source: str = "Manual",
    conditions: list[dict[str, Any]] | None = None,
) -> RawObject:
    spec: dict[str, Any] = {
        "target": {"kind": action.target.kind, "name": action.target.name},
        "source": source,
    }
    if action.target.namespace:
        spec["target"]["namespace"] = action.target.namespace
    if source == "Alert":
        spec["alert"] = {"labels": {"alertname": "Failing"}}
    return {
        "apiVersion": "kubemedic.dev/v1alpha1",
        "kind": "Incident",
        "metadata": {
            "name": INCIDENT,
            "namespace": NS,
            "uid": "0b6e4a52-9f1d-4c1e-9a7b-3f5d2e8c1a90",
            "resourceVersion": "100",
            "generation": 1,
        },
        "spec": spec,
        "status": {
            "phase": phase,
            "detectedTime": iso(NOW - timedelta(minutes=10)),
            "diagnosedTime": iso(diagnosed),
            "targetFingerprint": rem.target_fingerprint(target),
            "proposedActions": [
                ProposedAction.from_action(action).model_dump(mode="json", by_alias=True)
            ],
            "actions": records or [],
            "conditions": conditions or [],
            "history": [],
        },
    }


def record(action: Action, state: str, **fields: Any) -> dict[str, Any]:
    return {"id": action.id, "type": action.type.value, "state": state, **fields}


# -- observations ------------------------------------------------------------------------------


ACTION_OUTCOMES = (
    "applied",
    "verified",
    "reverted",
    "revert_failed",
    "failed",
    "dry_run",
    "denied",
    "expired",
    "rejected",
    "refused",
    "escalated",
)


def action_counts(action_type: str) -> dict[str, float]:
    return {
        outcome: REGISTRY.get_sample_value(
            "kubemedic_actions_total", {"type": action_type, "outcome": outcome}
        )
        or 0.0
        for outcome in ACTION_OUTCOMES
    }


def histogram_count(name: str) -> float:
    return REGISTRY.get_sample_value(f"{name}_count") or 0.0


@pytest.fixture
def counted() -> dict[str, dict[str, float]]:
    return {t.value: action_counts(t.value) for t in ActionType}


def delta(before: dict[str, dict[str, float]], action_type: ActionType) -> dict[str, float]:
    """What changed in ``kubemedic_actions_total`` for this type (only non-zero changes)."""
    now = action_counts(action_type.value)
    return {
        k: now[k] - before[action_type.value][k]
        for k in now
        if now[k] != before[action_type.value][k]
    }


def approval(
    action: Action,
    *,
    created: datetime,
    seen: datetime | None = None,
    name: str = "approve-1",
    decision: str = "Approve",
    approver: str = "alice",
    reason: str | None = None,
) -> RawObject:
    """An IncidentApproval of ``action``, as the API server would hold it."""
    obj: RawObject = {
        "apiVersion": "kubemedic.dev/v1alpha1",
        "kind": "IncidentApproval",
        "metadata": {"name": name, "namespace": NS, "creationTimestamp": iso(created)},
        "spec": {
            "incident": INCIDENT,
            "actionID": action.id,
            "decision": decision,
            "approver": approver,
        },
    }
    if reason is not None:
        obj["spec"]["reason"] = reason
    if seen is not None:
        obj["status"] = {"seenAt": iso(seen), "outcome": "Pending"}
    return obj


def run(fake: FakeRemediator, *, now: datetime = NOW) -> ReconcileResult:
    deps = RemediationDeps(remediator=fake, operator_namespace=fake.operator_namespace)
    return reconcile_remediation(deps, namespace=NS, name=INCIDENT, now=now)


def status(fake: FakeRemediator) -> dict[str, Any]:
    result: dict[str, Any] = fake.incident["status"]
    return result


def conditions(fake: FakeRemediator) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status(fake)["conditions"]}


def steps(fake: FakeRemediator) -> list[str]:
    return [h["step"] for h in status(fake)["history"]]


def events(result: ReconcileResult) -> list[tuple[str, str]]:
    return [(e.type, e.reason) for e in result.events]


# -- deciding ----------------------------------------------------------------------------------


def test_dry_run_only_policy_dry_runs_changes_nothing_and_escalates(
    counted: dict[str, dict[str, float]],
) -> None:
    action = restart()
    target = deployment()
    fake = FakeRemediator(incident(action, target=target, phase="Diagnosed"), [target])
    fake.policy_list = [policy(dryRunOnly=True, autoApproveUpTo="High")]

    result = run(fake)

    assert fake.patches == [("checkout", True)]  # one server-side dry-run, nothing applied
    assert fake.objects[("Deployment", NS, "checkout")] == target
    [written] = status(fake)["actions"]
    assert written["state"] == "DryRun"
    assert written["dryRun"] == "passed"
    assert written["decision"]["outcome"] == "DryRunOnly"
    assert status(fake)["phase"] == "Escalated"
    assert conditions(fake)["Remediated"] == ("False", "DryRun")
    assert conditions(fake)["Resolved"] == ("False", "Escalated")
    assert steps(fake) == ["DryRun"]
    assert events(result) == [("Normal", "DryRun")]
    assert delta(counted, ActionType.RESTART_ROLLOUT) == {"dry_run": 1.0}


def test_rate_limited_action_waits_is_told_once_and_not_counted(
    counted: dict[str, dict[str, float]],
) -> None:
    action = restart()
    target = deployment()
    marker = '{"action": "RestartRollout", "id": "x", "incident": "shop/old", "time": "%s"}'
    target["metadata"]["annotations"] = {
        rem.marker_key("0123456789abcdef"): marker % (NOW - timedelta(minutes=10)).isoformat()
    }
    fake = FakeRemediator(
        incident(
            action,
            target=target,
            phase="Remediating",
            records=[
                record(
                    action,
                    "Approved",
                    targetFingerprint=rem.target_fingerprint(target),
                    decision={
                        "outcome": "AutoApproved",
                        "policy": f"{NS}/team",
                        "rule": "risk Low is within `autoApproveUpTo` Low",
                        "time": iso(NOW - timedelta(seconds=5)),
                    },
                )
            ],
        ),
        [target],
    )
    fake.policy_list = [policy(autoApproveUpTo="Low", rateLimits={"maxActionsPerTargetPerHour": 1})]

    first = run(fake)
    second = run(fake, now=NOW + timedelta(seconds=10))

    assert [p for p in fake.patches if not p[1]] == []
    assert status(fake)["actions"][0]["state"] == "Approved"
    assert status(fake)["phase"] == "Remediating"
    assert conditions(fake)["Remediated"] == ("False", "RateLimited")
    assert steps(fake) == ["RateLimited"]
    assert events(first) == [("Normal", "RateLimited")]
    assert events(second) == []
    assert fake.writes == 1
    assert delta(counted, ActionType.RESTART_ROLLOUT) == {}


# -- approvals -----------------------------------------------------------------------------------


def _awaiting(action: Action, target: RawObject, decided: datetime) -> dict[str, Any]:
    return record(
        action,
        "AwaitingApproval",
        targetFingerprint=rem.target_fingerprint(target),
        decision={
            "outcome": "RequiresApproval",
            "policy": f"{NS}/team",
            "rule": "risk Medium is above `autoApproveUpTo` Low",
            "time": iso(decided),
        },
    )


def test_an_approval_older_than_the_ttl_expires(counted: dict[str, dict[str, float]]) -> None:
    action = scale(3)
    target = deployment()
    decided = NOW - timedelta(hours=3)
    fake = FakeRemediator(
        incident(
            action,
            target=target,
            phase="AwaitingApproval",
            diagnosed=decided,
            records=[_awaiting(action, target, decided)],
        ),
        [target],
    )
    # The operator first saw the approval two hours ago (its own clock, in status.seenAt).
    seen = NOW - timedelta(hours=2)
    fake.approval_objects = [approval(action, created=seen, seen=seen)]
    fake.policy_list = [policy(autoApproveUpTo="Low", approvalTTLSeconds=3600)]

    result = run(fake)

    [written] = status(fake)["actions"]
    assert written["state"] == "Expired"
    assert "3600s TTL" in written["result"]
    assert status(fake)["phase"] == "Escalated"
    assert conditions(fake)["Approved"] == ("False", "ApprovalExpired")
    assert steps(fake) == ["Expired"]
    assert events(result) == [("Warning", "Expired")]
    assert [p for p in fake.patches if not p[1]] == []
    assert delta(counted, ActionType.SCALE_WORKLOAD) == {"expired": 1.0}
    [spent] = fake.approval_objects
    assert (spent["status"]["outcome"], spent["status"]["spentAt"]) == ("Expired", iso(NOW))


def test_an_action_nobody_approves_expires_after_the_ttl_and_escalates(
    counted: dict[str, dict[str, float]],
) -> None:
    action = scale(3)
    target = deployment()
    decided = NOW - timedelta(minutes=50)
    fake = FakeRemediator(
        incident(
            action,
            target=target,
            phase="AwaitingApproval",
            diagnosed=decided,
            records=[_awaiting(action, target, decided)],
        ),
        [target],
    )
    fake.policy_list = [policy(autoApproveUpTo="Low", approvalTTLSeconds=3600)]

    early = run(fake)  # 50 minutes: still within the hour
    assert (early.events, fake.writes) == ([], 0)
    assert status(fake)["actions"][0]["state"] == "AwaitingApproval"

    late = run(fake, now=NOW + timedelta(minutes=11))

    [written] = status(fake)["actions"]
    assert written["state"] == "Expired"
    assert "longer than 3600s" in written["result"]
    assert status(fake)["phase"] == "Escalated"
    assert conditions(fake)["Approved"] == ("False", "ApprovalTimedOut")
    assert conditions(fake)["Resolved"] == ("False", "Escalated")
    assert steps(fake) == ["ApprovalTimedOut"]
    assert events(late) == [("Warning", "ApprovalTimedOut")]
    assert delta(counted, ActionType.SCALE_WORKLOAD) == {"expired": 1.0}
    # Expired is final: nothing more happens.
    assert run(fake, now=NOW + timedelta(hours=5)).events == []
    assert fake.writes == 1


def test_an_approval_older_than_the_diagnosis_is_stale_and_reported_once(
    counted: dict[str, dict[str, float]],
) -> None:
    action = scale(3)
    target = deployment()
    diagnosed = NOW - timedelta(minutes=5)
    fake = FakeRemediator(
        incident(
            action,
            target=target,
            phase="AwaitingApproval",
            diagnosed=diagnosed,
            records=[_awaiting(action, target, diagnosed)],
        ),
        [target],
    )
    # Created (by the API server's clock) before the diagnosis proposed the action.
    fake.approval_objects = [approval(action, created=diagnosed - timedelta(minutes=1))]
    fake.policy_list = [policy(autoApproveUpTo="Low")]

    first = run(fake)
    second = run(fake, now=NOW + timedelta(seconds=10))

    assert status(fake)["actions"][0]["state"] == "AwaitingApproval"
    assert status(fake)["phase"] == "AwaitingApproval"
    assert steps(fake) == ["StaleApproval"]
    assert status(fake)["history"][0]["actionID"] == action.id
    assert (first.events, second.events) == ([], [])
    assert fake.writes == 1
    assert [p for p in fake.patches if not p[1]] == []
    assert delta(counted, ActionType.SCALE_WORKLOAD) == {}
    assert fake.approval_objects[0]["status"]["outcome"] == "Ignored"


def test_an_approval_already_there_when_the_diagnosis_is_decided_is_ignored() -> None:
    """Written a moment *after* the diagnosedTime (within the clocks' slack, or from a
    clock ahead of the operator's) but before the diagnosis was decided: nobody could have
    read the proposal yet, so it is ignored, spent and reported, and the action waits."""
    action = scale(3)
    target = deployment()
    diagnosed = NOW - timedelta(seconds=2)
    fake = FakeRemediator(
        incident(action, target=target, phase="Diagnosed", diagnosed=diagnosed), [target]
    )
    fake.approval_objects = [approval(action, created=diagnosed + timedelta(seconds=1))]

    run(fake)

    assert steps(fake) == ["StaleApproval", "AwaitingApproval"]
    assert (
        "existed before the current diagnosis was decided" in status(fake)["history"][0]["message"]
    )
    assert status(fake)["actions"][0]["state"] == "AwaitingApproval"
    assert fake.approval_objects[0]["status"]["outcome"] == "Ignored"
    assert [p for p in fake.patches if not p[1]] == []


def _waiting_for(action: Action, *, reported_by: str | None = None) -> FakeRemediator:
    target = deployment()
    diagnosed = NOW - timedelta(minutes=5)
    body = incident(
        action,
        target=target,
        phase="AwaitingApproval",
        diagnosed=diagnosed,
        records=[_awaiting(action, target, diagnosed)],
    )
    if reported_by is not None:
        body["spec"]["reportedBy"] = reported_by
    fake = FakeRemediator(body, [target])
    fake.approval_objects = [approval(action, created=NOW - timedelta(minutes=1))]
    return fake


def test_an_approval_is_taken_on_the_operators_clock_and_spent() -> None:
    action = scale(3)
    fake = _waiting_for(action)
    fake.policy_list = [policy(autoApproveUpTo="Low")]

    result = run(fake)

    [written] = status(fake)["actions"]
    assert written["state"] == "Approved"
    assert written["decision"]["decidedBy"] == "alice"
    assert written["approvalObservedTime"] == iso(NOW)
    assert events(result) == [("Normal", "Approved")]
    [spent] = fake.approval_objects
    assert spent["status"] == {
        "seenAt": iso(NOW),
        "spentAt": iso(NOW),
        "outcome": "Applied",
        "message": f"approved ScaleWorkload Deployment/checkout [{action.id}]",
    }
    # Spent: the same object never counts again.
    run(fake, now=NOW + timedelta(seconds=5))
    assert steps(fake).count("Approved") == 1


def test_the_reporter_cannot_approve_under_separation_of_duties() -> None:
    action = scale(3)
    fake = _waiting_for(action, reported_by="alice")
    fake.policy_list = [policy(autoApproveUpTo="Low", requireDistinctApprover=True)]

    result = run(fake)

    assert status(fake)["actions"][0]["state"] == "AwaitingApproval"
    assert status(fake)["phase"] == "AwaitingApproval"
    assert steps(fake) == ["ApprovalRefused"]
    assert "'alice' reported this Incident" in status(fake)["history"][0]["message"]
    assert events(result) == [("Warning", "ApprovalRefused")]
    assert fake.approval_objects[0]["status"]["outcome"] == "Refused"
    assert [p for p in fake.patches if not p[1]] == []


def test_separation_of_duties_lets_someone_else_approve() -> None:
    action = scale(3)
    fake = _waiting_for(action, reported_by="bob")
    fake.policy_list = [policy(autoApproveUpTo="Low", requireDistinctApprover=True)]

    run(fake)

    assert status(fake)["actions"][0]["state"] == "Approved"


def test_an_approved_scale_to_zero_is_denied_by_the_bounds_before_any_dry_run() -> None:
    action = scale(0)
    target = deployment()
    fake = FakeRemediator(
        incident(
            action,
            target=target,
            phase="Remediating",
            records=[record(action, "Approved", targetFingerprint=rem.target_fingerprint(target))],
        ),
        [target],
    )
    fake.policy_list = [policy()]

    run(fake)

    [written] = status(fake)["actions"]
    assert written["state"] == "Denied"
    assert "never scales below 1" in written["result"]
    assert fake.patches == []  # not even a dry-run


def test_an_action_outside_the_incidents_namespace_is_denied() -> None:
    outside = Action(
        type=ActionType.SCALE_WORKLOAD,
        target=ObjectRef(kind="Deployment", namespace="team-b", name="checkout"),
        params={"replicas": 3},
        risk=Risk.MEDIUM,
    )
    target = deployment()
    fake = FakeRemediator(incident(outside, target=target, phase="Diagnosed"), [target])
    fake.policy_list = [policy(autoApproveUpTo="High")]

    run(fake)

    [written] = status(fake)["actions"]
    assert written["state"] == "Denied"
    assert "outside the Incident's namespace 'shop'" in written["decision"]["rule"]
    assert fake.patches == []


# -- applying, verifying, resolving --------------------------------------------------------------


def test_alert_incident_waits_for_the_alert_then_resolves(
    counted: dict[str, dict[str, float]],
) -> None:
    action = cordon()
    target = node()
    fake = FakeRemediator(
        incident(
            action,
            target=target,
            phase="Remediating",
            source="Alert",
            records=[
                record(
                    action,
                    "Approved",
                    targetFingerprint=rem.target_fingerprint(target),
                    approvalObservedTime=iso(NOW - timedelta(seconds=30)),
                )
            ],
        ),
        [target],
    )
    fake.operator_namespace = NS  # a Node Incident lives in the operator's namespace
    mttr_before = histogram_count("kubemedic_mttr_seconds")
    ttr_before = histogram_count("kubemedic_time_to_remediate_seconds")

    applied = run(fake)

    assert fake.objects[("Node", None, "worker-1")]["spec"]["unschedulable"] is True
    assert status(fake)["actions"][0]["state"] == "Verifying"
    assert steps(fake) == ["IntentRecorded", "ActionApplied"]
    assert events(applied) == [("Normal", "ActionApplied")]
    assert applied.events[0].on_target is not None
    assert fake.writes == 2  # the intent, then the result

    verified = run(fake, now=NOW + timedelta(seconds=5))

    assert status(fake)["actions"][0]["state"] == "Verified"
    assert status(fake)["phase"] == "Remediating"
    assert conditions(fake)["Remediated"] == ("True", "ActionApplied")
    assert conditions(fake)["Resolved"] == ("False", "AwaitingAlertResolution")
    assert events(verified) == [("Normal", "Verified")]
    assert histogram_count("kubemedic_time_to_remediate_seconds") == ttr_before + 1

    waiting = run(fake, now=NOW + timedelta(seconds=10))
    assert (waiting.events, fake.writes) == ([], 3)
    assert histogram_count("kubemedic_mttr_seconds") == mttr_before

    status(fake)["conditions"].append(
        {
            "type": "AlertResolved",
            "status": "True",
            "reason": "AlertResolved",
            "message": "the alert resolved",
            "lastTransitionTime": iso(NOW + timedelta(seconds=12)),
        }
    )
    resolved = run(fake, now=NOW + timedelta(seconds=15))

    assert status(fake)["phase"] == "Resolved"
    assert conditions(fake)["Resolved"] == ("True", "Recovered")
    assert status(fake)["resolvedTime"]
    assert steps(fake) == ["IntentRecorded", "ActionApplied", "Verified", "Resolved"]
    assert events(resolved) == [("Normal", "Resolved")]
    assert histogram_count("kubemedic_mttr_seconds") == mttr_before + 1
    assert delta(counted, ActionType.CORDON_NODE) == {"applied": 1.0, "verified": 1.0}


def _verifying_scale(target: RawObject) -> RawObject:
    """A ScaleWorkload 2 → 3 that was applied (generation 8) but never became healthy."""
    action = scale(3)
    return incident(
        action,
        target=target,
        phase="Remediating",
        records=[
            record(
                action,
                "Verifying",
                targetFingerprint=f"{DEPLOYMENT_UID}/7",
                idempotencyKey="0123456789abcdef",
                appliedGeneration=8,
                appliedTime=iso(NOW - timedelta(minutes=3)),
                verifyDeadline=iso(NOW - timedelta(seconds=1)),
                revertPatch=[{"op": "add", "path": "/spec/replicas", "value": 2}],
            )
        ],
    )


def test_a_failed_verification_is_reverted_and_announced_once(
    counted: dict[str, dict[str, float]],
) -> None:
    # The controller never saw generation 8, and the deadline passed.
    target = deployment(replicas=3, generation=8, observed=7)
    fake = FakeRemediator(_verifying_scale(target), [target])

    result = run(fake)

    assert fake.objects[("Deployment", NS, "checkout")]["spec"]["replicas"] == 2
    [written] = status(fake)["actions"]
    assert written["state"] == "Reverted"
    assert "not healthy in time" in written["result"]
    assert written["result"].endswith("reverted")
    assert status(fake)["phase"] == "Failed"
    assert conditions(fake)["Remediated"] == ("False", "ActionFailed")
    assert conditions(fake)["Resolved"] == ("False", "StillFailing")
    assert steps(fake) == ["VerificationFailed", "Reverted"]
    assert events(result) == [("Warning", "Reverted")]
    assert result.events[0].on_target is not None
    assert result.events[0].on_target["spec"]["replicas"] == 2
    assert delta(counted, ActionType.SCALE_WORKLOAD) == {"reverted": 1.0}
    assert fake.writes == 2  # Reverting first, so a crash reverts on restart


def test_a_revert_the_api_server_refuses_fails_and_is_announced_once(
    counted: dict[str, dict[str, float]],
) -> None:
    target = deployment(replicas=3, generation=8, observed=7)
    fake = FakeRemediator(_verifying_scale(target), [target])
    fake.reject_patches = 'admission webhook "guard" denied the request'

    result = run(fake)

    assert fake.objects[("Deployment", NS, "checkout")]["spec"]["replicas"] == 3
    [written] = status(fake)["actions"]
    assert written["state"] == "Failed"
    assert "revert failed: admission webhook" in written["result"]
    assert status(fake)["phase"] == "Failed"
    assert conditions(fake)["Remediated"] == ("False", "ActionFailed")
    assert conditions(fake)["Resolved"] == ("False", "StillFailing")
    assert steps(fake) == ["VerificationFailed", "RevertFailed"]
    assert events(result) == [("Warning", "RevertFailed")]
    assert delta(counted, ActionType.SCALE_WORKLOAD) == {"revert_failed": 1.0}


def test_a_write_refused_with_a_conflict_announces_and_counts_nothing(
    counted: dict[str, dict[str, float]],
) -> None:
    action = restart()
    target = deployment()
    fake = FakeRemediator(incident(action, target=target, phase="Diagnosed"), [target])
    fake.policy_list = [policy(dryRunOnly=True, autoApproveUpTo="High")]
    stale = copy.deepcopy(fake.incident)
    fake.incident["metadata"]["resourceVersion"] = "101"  # someone else wrote meanwhile
    deps = RemediationDeps(remediator=fake, operator_namespace="kubemedic")

    result = reconcile_remediation(deps, namespace=NS, name=INCIDENT, now=NOW, incident=stale)

    assert (result.events, result.after, fake.writes) == ([], None, 0)
    assert status(fake)["actions"] == []
    assert delta(counted, ActionType.RESTART_ROLLOUT) == {}


def test_without_a_policy_the_action_awaits_approval_with_the_command_to_give_it(
    counted: dict[str, dict[str, float]],
) -> None:
    action = restart()
    target = deployment()
    fake = FakeRemediator(incident(action, target=target, phase="Diagnosed"), [target])

    result = run(fake)

    [written] = status(fake)["actions"]
    assert (written["state"], written["decision"]["outcome"]) == (
        "AwaitingApproval",
        "RequiresApproval",
    )
    assert status(fake)["phase"] == "AwaitingApproval"
    assert conditions(fake)["Approved"] == ("False", "AwaitingApproval")
    assert (
        f"kubemedic approve {INCIDENT} -n {NS} --action {action.id}"
        in (status(fake)["history"][0]["message"])
    )
    assert events(result) == [("Normal", "AwaitingApproval")]
    assert fake.patches == []
    assert delta(counted, ActionType.RESTART_ROLLOUT) == {}


def test_a_rejection_escalates_and_is_counted(counted: dict[str, dict[str, float]]) -> None:
    action = scale(3)
    target = deployment()
    fake = FakeRemediator(
        incident(
            action,
            target=target,
            phase="AwaitingApproval",
            records=[_awaiting(action, target, NOW - timedelta(minutes=1))],
        ),
        [target],
    )
    fake.approval_objects = [
        approval(
            action,
            created=NOW - timedelta(minutes=1),
            decision="Reject",
            approver="bob",
            reason="no",
        )
    ]

    result = run(fake)

    [written] = status(fake)["actions"]
    assert written["state"] == "Rejected"
    assert written["decision"] == {
        "outcome": "Rejected",
        "rule": "rejected by bob: no",
        "decidedBy": "bob",
        "time": iso(NOW),
    }
    assert status(fake)["phase"] == "Escalated"
    assert conditions(fake)["Resolved"] == ("False", "Escalated")
    assert events(result) == [("Normal", "Rejected")]
    assert delta(counted, ActionType.SCALE_WORKLOAD) == {"rejected": 1.0}
    assert fake.approval_objects[0]["status"]["outcome"] == "Rejected"


def test_an_approval_for_a_changed_target_is_refused_and_rediagnosed(
    counted: dict[str, dict[str, float]],
) -> None:
    action = scale(3)
    diagnosed_as = deployment()
    changed = deployment(generation=8)  # someone edited the spec since the diagnosis
    fake = FakeRemediator(
        incident(
            action,
            target=diagnosed_as,
            phase="AwaitingApproval",
            records=[_awaiting(action, diagnosed_as, NOW - timedelta(minutes=1))],
        ),
        [changed],
    )
    fake.approval_objects = [approval(action, created=NOW - timedelta(minutes=1))]

    result = run(fake)

    assert status(fake)["actions"][0]["state"] == "Refused"
    assert status(fake)["phase"] == "Diagnosing"
    assert conditions(fake)["Approved"] == ("False", "TargetChanged")
    assert conditions(fake)["Diagnosed"] == ("False", "TargetChanged")
    assert steps(fake) == ["Refused"]
    assert events(result) == [("Warning", "TargetChanged")]
    assert [p for p in fake.patches if not p[1]] == []
    assert delta(counted, ActionType.SCALE_WORKLOAD) == {"refused": 1.0}
    # Spent: the refused approval never approves the action proposed again.
    assert fake.approval_objects[0]["status"]["outcome"] == "Refused"


def test_an_approved_action_on_another_object_than_the_target_is_applied() -> None:
    # NB: PatchHPA acts on the Deployment's HPA, not on the Incident's target: its record
    # keeps the HPA's fingerprint, so the approval is not refused as "the target changed".
    target = deployment()
    hpa: RawObject = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "checkout", "namespace": NS, "uid": "hpa-uid-1", "generation": 3},
        "spec": {
            "minReplicas": 2,
            "maxReplicas": 4,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "checkout"},
        },
        "status": {"currentReplicas": 4, "desiredReplicas": 4},
    }
    action = Action(
        type=ActionType.PATCH_HPA,
        target=ObjectRef(kind="HorizontalPodAutoscaler", namespace=NS, name="checkout"),
        params={"maxReplicas": 6},
        risk=Risk.MEDIUM,
    )
    body = incident(action, target=target, phase="Diagnosed")
    body["spec"]["target"] = {"kind": "Deployment", "namespace": NS, "name": "checkout"}
    fake = FakeRemediator(body, [target, hpa])

    run(fake, now=NOW - timedelta(minutes=2))
    [waiting] = status(fake)["actions"]
    assert waiting["state"] == "AwaitingApproval"
    assert waiting["targetFingerprint"] == rem.target_fingerprint(hpa)

    fake.approval_objects = [approval(action, created=NOW - timedelta(minutes=1))]
    run(fake)
    assert status(fake)["actions"][0]["state"] == "Approved"
    assert "TargetChanged" not in steps(fake)
    run(fake, now=NOW + timedelta(seconds=5))
    assert ("checkout", False) in fake.patches
