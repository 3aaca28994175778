"""We test these aspects: Incident status transitions (kubemedic.domain.lifecycle).

- the bundle digest depends on the evidence only, not on when it was collected;
- the target's namespace defaults to the Incident's, never for a Node;
- first sight records when the Incident was detected, once, and whom it is about;
- a missing target is a False ``TargetFound`` condition and the Incident stays Pending;
- a diagnosis sets ``TargetFound`` and ``Diagnosed`` (RuleMatched or NoRuleMatched), the phase,
  the proposed actions with their stable IDs, the digest and fingerprint, and a history entry;
  records from an earlier round that are still waiting are Superseded, while those whose
  change may be on the target (Applying, Verifying) and finished ones are kept;
- history is bounded and keeps the newest entries; a record is replaced by its ID;
- a condition's ``lastTransitionTime`` moves only when its status changes;
- the status patch is camelCase, has no nulls, and reads back to the same status.
"""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kubemedic.domain.lifecycle import (
    bundle_digest,
    resolve_target,
    status_detected,
    status_diagnosed,
    status_patch,
    status_target_missing,
    with_condition,
    with_history,
    with_record,
)
from kubemedic.models.audit_trail import (
    MAX_HISTORY,
    ActionRecord,
    ActionState,
    DecisionOutcome,
    HistoryEntry,
    PolicyDecisionRecord,
)
from kubemedic.models.bundle import Alert, ContainerLog, IncidentBundle
from kubemedic.models.conditions import (
    Condition,
    ConditionReason,
    ConditionStatus,
    ConditionType,
    find_condition,
)
from kubemedic.models.diagnosis import Action, ActionType, Category, Diagnosis, Risk
from kubemedic.models.incident import IncidentStatus, Phase
from kubemedic.models.target import ObjectRef, TargetKind, TargetRef

T0 = datetime(2025, 3, 14, 10, 30, 12, 345678, tzinfo=UTC)
T0_SECONDS = T0.replace(microsecond=0)
T1 = T0 + timedelta(minutes=3)
T2 = T0 + timedelta(minutes=9)
TARGET = TargetRef(kind=TargetKind.DEPLOYMENT, namespace="shop", name="checkout")
DIGEST = "sha256:" + "4e" * 32
FINGERPRINT = "19636706-d0af-5c65-8676-a2c8ca22367a/7"

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
SET_MEMORY = Action(
    type=ActionType.SET_RESOURCES,
    target=CHECKOUT,
    params={"container": "app", "memoryLimit": "1Gi"},
    risk=Risk.MEDIUM,
)
RESTART = Action(type=ActionType.RESTART_ROLLOUT, target=CHECKOUT, risk=Risk.LOW)
OOM = Diagnosis(
    category=Category.OOM_KILLED,
    summary="Container app of Deployment shop/checkout was OOMKilled 4 times at its 512Mi limit",
    confidence=0.85,
    evidence=[
        "Pod shop/checkout-5c7d9f8b6-x7k2p container app: lastState.terminated.reason=OOMKilled",
        'Event on Pod shop/checkout-5c7d9f8b6-x7k2p: Warning BackOff x12: "Back-off restarting"',
    ],
    actions=[SET_MEMORY, RESTART],
    runbook="## OOMKilled\n\n1. Raise the memory limit of container `app`.",
)
UNKNOWN = Diagnosis(
    category=Category.UNKNOWN,
    summary="No rule matched the evidence for Deployment shop/checkout",
    confidence=0.1,
)


def deployment_object(*, image: str = "registry.example.com/shop/checkout:4.2.1") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "checkout", "namespace": "shop", "uid": FINGERPRINT[:36]},
        "spec": {
            "replicas": 3,
            "template": {"spec": {"containers": [{"name": "app", "image": image}]}},
        },
    }


def bundle(**kwargs: Any) -> IncidentBundle:
    fields: dict[str, Any] = {
        "target": TARGET,
        "collected_at": T0,
        "objects": [deployment_object()],
        "logs": [
            ContainerLog(
                namespace="shop",
                pod="checkout-5c7d9f8b6-x7k2p",
                container="app",
                previous=True,
                text="fatal error: runtime: out of memory\n",
            )
        ],
    }
    fields.update(kwargs)
    return IncidentBundle(**fields)


def record(action_id: str, state: ActionState, **kwargs: Any) -> ActionRecord:
    return ActionRecord(
        id=action_id,
        type=ActionType.SET_RESOURCES,
        state=state,
        decision=PolicyDecisionRecord(
            outcome=DecisionOutcome.REQUIRES_APPROVAL,
            rule="no RemediationPolicy covers this target, so a person must approve",
            time=T0_SECONDS,
        ),
        **kwargs,
    )


def condition_of(status: IncidentStatus, type_: str) -> Condition:
    found = find_condition(status.conditions, type_)
    assert found is not None, f"no {type_} condition"
    return found


# --- bundle digest ---------------------------------------------------------------------------


def test_the_digest_does_not_depend_on_when_the_evidence_was_collected() -> None:
    assert bundle_digest(bundle(collected_at=T0)) == bundle_digest(bundle(collected_at=T2))
    assert bundle_digest(bundle(collected_at=T0)) == bundle_digest(bundle(collected_at=None))


def test_the_digest_is_a_sha256() -> None:
    digest = bundle_digest(bundle())

    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(
            {"objects": [deployment_object(image="registry.example.com/shop/checkout:4.2.2")]},
            id="object",
        ),
        pytest.param({"objects": []}, id="object-gone"),
        pytest.param({"logs": []}, id="logs"),
        pytest.param(
            {"alerts": [Alert(labels={"alertname": "KubePodCrashLooping", "namespace": "shop"})]},
            id="alert",
        ),
        pytest.param(
            {"target": TargetRef(kind=TargetKind.DEPLOYMENT, namespace="shop", name="cart")},
            id="target",
        ),
    ],
)
def test_the_digest_changes_with_the_evidence(changed: dict[str, Any]) -> None:
    assert bundle_digest(bundle(**changed)) != bundle_digest(bundle())


def test_the_digest_does_not_depend_on_key_order() -> None:
    reordered = dict(reversed(list(deployment_object().items())))

    assert bundle_digest(bundle(objects=[reordered])) == bundle_digest(bundle())


# --- target ----------------------------------------------------------------------------------

RESOLVE: list[tuple[str, TargetRef, TargetRef]] = [
    (
        "namespace defaults to the Incident's",
        TargetRef(kind=TargetKind.DEPLOYMENT, name="checkout"),
        TargetRef(kind=TargetKind.DEPLOYMENT, namespace="shop", name="checkout"),
    ),
    (
        "a pod too",
        TargetRef(kind=TargetKind.POD, name="checkout-5c7d9f8b6-x7k2p"),
        TargetRef(kind=TargetKind.POD, namespace="shop", name="checkout-5c7d9f8b6-x7k2p"),
    ),
    (
        "an explicit namespace is kept",
        TargetRef(kind=TargetKind.DEPLOYMENT, namespace="payments", name="ledger"),
        TargetRef(kind=TargetKind.DEPLOYMENT, namespace="payments", name="ledger"),
    ),
    (
        "a node stays cluster-scoped",
        TargetRef(kind=TargetKind.NODE, name="worker-3"),
        TargetRef(kind=TargetKind.NODE, name="worker-3"),
    ),
]


@pytest.mark.parametrize(
    ("target", "expected"), [pytest.param(t, e, id=case) for case, t, e in RESOLVE]
)
def test_resolve_target(target: TargetRef, expected: TargetRef) -> None:
    assert resolve_target(target, incident_namespace="shop") == expected


# --- detected and missing --------------------------------------------------------------------


def test_first_sight_records_when_and_what() -> None:
    status = status_detected(IncidentStatus(), target=TARGET, now=T0)

    assert status.detected_time == T0_SECONDS
    assert status.phase is Phase.PENDING
    assert status.target == "Deployment/shop/checkout"


def test_detected_time_is_recorded_once() -> None:
    first = status_detected(IncidentStatus(), target=TARGET, now=T0)
    diagnosed = first.model_copy(update={"phase": Phase.DIAGNOSED})

    later = status_detected(diagnosed, target=TARGET, now=T2)

    assert later.detected_time == T0_SECONDS
    assert later.phase is Phase.DIAGNOSED


def test_a_node_target_is_shown_without_namespace() -> None:
    status = status_detected(
        IncidentStatus(), target=TargetRef(kind=TargetKind.NODE, name="worker-3"), now=T0
    )

    assert status.target == "Node/worker-3"


def test_a_missing_target_is_a_false_target_found_condition() -> None:
    status = status_target_missing(IncidentStatus(), target=TARGET, generation=2, now=T0)

    found = condition_of(status, ConditionType.TARGET_FOUND)
    assert (found.status, found.reason) == (ConditionStatus.FALSE, ConditionReason.NOT_FOUND)
    assert (
        found.message
        == "Deployment/shop/checkout does not exist; kubemedic retries until it appears"
    )
    assert found.observed_generation == 2
    assert found.last_transition_time == T0_SECONDS
    assert status.phase is Phase.PENDING


def test_a_target_still_missing_keeps_since_when() -> None:
    first = status_target_missing(IncidentStatus(), target=TARGET, generation=2, now=T0)

    again = status_target_missing(first, target=TARGET, generation=2, now=T2)

    assert condition_of(again, ConditionType.TARGET_FOUND).last_transition_time == T0_SECONDS
    assert len(again.conditions) == 1


# --- diagnosed -------------------------------------------------------------------------------


def diagnosed(
    status: IncidentStatus | None = None,
    *,
    diagnosis: Diagnosis = OOM,
    now: datetime = T1,
    generation: int | None = 3,
) -> IncidentStatus:
    before = status or status_detected(IncidentStatus(), target=TARGET, now=T0)
    return status_diagnosed(
        before,
        target=TARGET,
        diagnosis=diagnosis,
        digest=DIGEST,
        generation=generation,
        now=now,
        target_fingerprint=FINGERPRINT,
    )


def test_a_diagnosis_is_recorded_with_its_conditions_and_phase() -> None:
    status = diagnosed()

    assert status.phase is Phase.DIAGNOSED
    assert status.diagnosed_time == T1.replace(microsecond=0)
    assert status.detected_time == T0_SECONDS
    assert status.observed_generation == 3
    assert status.target == "Deployment/shop/checkout"
    assert status.target_fingerprint == FINGERPRINT
    found = condition_of(status, ConditionType.TARGET_FOUND)
    assert (found.status, found.reason, found.message) == (
        ConditionStatus.TRUE,
        ConditionReason.FOUND,
        "Deployment/shop/checkout was read",
    )
    diagnosed_condition = condition_of(status, ConditionType.DIAGNOSED)
    assert (diagnosed_condition.status, diagnosed_condition.reason) == (
        ConditionStatus.TRUE,
        ConditionReason.RULE_MATCHED,
    )
    assert diagnosed_condition.message == f"OOMKilled (85%): {OOM.summary}"
    assert diagnosed_condition.observed_generation == 3


def test_a_diagnosis_records_the_evidence_digest_and_the_proposed_actions() -> None:
    status = diagnosed()

    assert status.diagnosis is not None
    assert status.diagnosis.category is Category.OOM_KILLED
    assert status.diagnosis.bundle_digest == DIGEST
    assert status.diagnosis.evidence == OOM.evidence
    assert [a.id for a in status.proposed_actions] == [SET_MEMORY.id, RESTART.id]
    assert [a.to_action() for a in status.proposed_actions] == [SET_MEMORY, RESTART]


def test_a_diagnosis_is_a_history_entry() -> None:
    status = diagnosed()

    assert status.history[-1] == HistoryEntry(
        time=T1.replace(microsecond=0),
        step="Diagnosed",
        message="OOMKilled (85%) by rules; proposed: SetResources, RestartRollout",
    )


def test_no_matching_rule_is_said_so() -> None:
    status = diagnosed(diagnosis=UNKNOWN)

    diagnosed_condition = condition_of(status, ConditionType.DIAGNOSED)
    assert diagnosed_condition.status is ConditionStatus.TRUE
    assert diagnosed_condition.reason == ConditionReason.NO_RULE_MATCHED
    assert status.proposed_actions == []
    assert status.history[-1].message == "Unknown (10%) by rules; proposed: nothing"


def test_a_target_found_again_moves_its_transition_time() -> None:
    missing = status_target_missing(
        status_detected(IncidentStatus(), target=TARGET, now=T0),
        target=TARGET,
        generation=3,
        now=T0,
    )

    status = diagnosed(missing, now=T1)

    found = condition_of(status, ConditionType.TARGET_FOUND)
    assert found.status is ConditionStatus.TRUE
    assert found.last_transition_time == T1.replace(microsecond=0)


def test_a_second_diagnosis_keeps_since_when_and_replaces_the_proposals() -> None:
    first = diagnosed(now=T1)

    second = diagnosed(first, diagnosis=UNKNOWN, now=T2, generation=4)

    assert condition_of(second, ConditionType.DIAGNOSED).last_transition_time == T1.replace(
        microsecond=0
    )
    assert condition_of(second, ConditionType.DIAGNOSED).observed_generation == 4
    assert second.diagnosed_time == T2.replace(microsecond=0)
    assert second.proposed_actions == []
    assert [h.step for h in second.history] == ["Diagnosed", "Diagnosed"]


EARLIER_ROUND: list[tuple[ActionState, ActionState]] = [
    # (state before the new diagnosis, state after)
    (ActionState.AWAITING_APPROVAL, ActionState.SUPERSEDED),
    (ActionState.APPROVED, ActionState.SUPERSEDED),
    # A change may be on the target: the remediation must finish (or revert) first.
    (ActionState.APPLYING, ActionState.APPLYING),
    (ActionState.VERIFYING, ActionState.VERIFYING),
    # Finished records are history.
    (ActionState.VERIFIED, ActionState.VERIFIED),
    (ActionState.REVERTED, ActionState.REVERTED),
    (ActionState.FAILED, ActionState.FAILED),
    (ActionState.REJECTED, ActionState.REJECTED),
    (ActionState.DENIED, ActionState.DENIED),
    (ActionState.EXPIRED, ActionState.EXPIRED),
    (ActionState.REFUSED, ActionState.REFUSED),
    (ActionState.DRY_RUN, ActionState.DRY_RUN),
    (ActionState.SUPERSEDED, ActionState.SUPERSEDED),
]


@pytest.mark.parametrize(("before", "after"), EARLIER_ROUND)
def test_a_new_diagnosis_supersedes_records_still_waiting(
    before: ActionState, after: ActionState
) -> None:
    earlier_finished = T0_SECONDS if before is ActionState.SUPERSEDED else None
    old = record("set-resources-1a2b3c4d", before, finished_time=earlier_finished)
    first = diagnosed(now=T1)
    status = with_history(
        with_record(first, old), step="Approved", message="approved by alice", now=T1
    )

    status = diagnosed(status, now=T2)

    (result,) = status.actions
    assert result.state is after
    assert result.decision == old.decision
    if before is not after:
        assert result.finished_time == T2.replace(microsecond=0)
    else:
        assert result == old
    # The earlier round's history stays.
    assert [h.step for h in status.history] == ["Diagnosed", "Approved", "Diagnosed"]


# --- history, records, conditions ------------------------------------------------------------


def test_history_keeps_the_newest_entries_within_the_bound() -> None:
    status = IncidentStatus()
    for n in range(MAX_HISTORY + 6):
        status = with_history(
            status, step="Checked", message=f"check {n}", now=T0 + timedelta(seconds=n)
        )

    assert len(status.history) == MAX_HISTORY == 64
    assert status.history[0].message == "check 6"
    assert status.history[-1].message == f"check {MAX_HISTORY + 5}"
    assert status.history[-1].time == T0_SECONDS + timedelta(seconds=MAX_HISTORY + 5)


def test_history_entries_carry_the_action_and_fit_the_bound() -> None:
    status = with_history(
        IncidentStatus(),
        step="ActionFailed",
        message="x" * 5000,
        now=T0,
        action_id="set-resources-1a2b3c4d",
    )

    (entry,) = status.history
    assert entry.action_id == "set-resources-1a2b3c4d"
    assert len(entry.message) == 1024
    assert entry.time == T0_SECONDS


def test_with_record_inserts_new_records() -> None:
    first = record("set-resources-1a2b3c4d", ActionState.AWAITING_APPROVAL)
    second = record("restart-rollout-9f8e7d6c", ActionState.AWAITING_APPROVAL)

    status = with_record(with_record(IncidentStatus(), first), second)

    assert [r.id for r in status.actions] == [first.id, second.id]


def test_with_record_replaces_the_record_with_the_same_id() -> None:
    first = record("set-resources-1a2b3c4d", ActionState.AWAITING_APPROVAL)
    second = record("restart-rollout-9f8e7d6c", ActionState.AWAITING_APPROVAL)
    third = record("scale-workload-5e6f7a8b", ActionState.DENIED)
    status = IncidentStatus(actions=[first, second, third])
    approved = first.model_copy(
        update={"state": ActionState.APPROVED, "approval_observed_time": T1.replace(microsecond=0)}
    )

    status = with_record(status, approved)

    assert len(status.actions) == 3
    assert status.action_record(first.id) == approved
    # The others are untouched and keep their order.
    assert [r for r in status.actions if r.id != first.id] == [second, third]


def test_with_condition_sets_a_new_condition() -> None:
    status = with_condition(
        IncidentStatus(),
        type=ConditionType.APPROVED,
        condition_status=ConditionStatus.FALSE,
        reason=ConditionReason.AWAITING_APPROVAL,
        message="SetResources Deployment/checkout [set-resources-1a2b3c4d] awaits approval",
        generation=3,
        now=T0,
    )

    (approved,) = status.conditions
    assert approved.last_transition_time == T0_SECONDS
    assert approved.observed_generation == 3


CONDITION_CHANGES: list[tuple[str, ConditionStatus, str, datetime]] = [
    # (case, second status, second reason, expected lastTransitionTime)
    ("same status, new reason", ConditionStatus.FALSE, ConditionReason.NO_POLICY, T0_SECONDS),
    (
        "status changes",
        ConditionStatus.TRUE,
        ConditionReason.MANUALLY_APPROVED,
        T2.replace(microsecond=0),
    ),
]


@pytest.mark.parametrize(
    ("second_status", "second_reason", "transition"),
    [pytest.param(s, r, t, id=case) for case, s, r, t in CONDITION_CHANGES],
)
def test_last_transition_time_moves_only_when_the_status_changes(
    second_status: ConditionStatus, second_reason: str, transition: datetime
) -> None:
    first = with_condition(
        IncidentStatus(),
        type=ConditionType.APPROVED,
        condition_status=ConditionStatus.FALSE,
        reason=ConditionReason.AWAITING_APPROVAL,
        message="awaiting approval",
        generation=3,
        now=T0,
    )

    second = with_condition(
        first,
        type=ConditionType.APPROVED,
        condition_status=second_status,
        reason=second_reason,
        message="decided",
        generation=4,
        now=T2,
    )

    (approved,) = second.conditions
    assert approved.last_transition_time == transition
    assert (approved.status, approved.reason, approved.message) == (
        second_status,
        second_reason,
        "decided",
    )
    assert approved.observed_generation == 4


def test_with_condition_keeps_other_conditions_and_cuts_long_messages() -> None:
    status = diagnosed()
    before = list(status.conditions)

    status = with_condition(
        status,
        type=ConditionType.REMEDIATED,
        condition_status=ConditionStatus.FALSE,
        reason=ConditionReason.ACTION_FAILED,
        message="patch rejected: " + "y" * 2000,
        generation=3,
        now=T2,
    )

    assert status.conditions[: len(before)] == before
    assert len(condition_of(status, ConditionType.REMEDIATED).message) == 1024


# --- the status patch ------------------------------------------------------------------------


def nulls(value: object, path: str = "") -> list[str]:
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in nulls(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in nulls(v, f"{path}[{i}]")]
    return []


def full_status() -> IncidentStatus:
    status = diagnosed()
    status = with_record(
        status,
        record(SET_MEMORY.id, ActionState.AWAITING_APPROVAL, idempotency_key="0123456789abcdef"),
    )
    return with_history(
        status,
        step="AwaitingApproval",
        message="a person must approve",
        now=T1,
        action_id=SET_MEMORY.id,
    )


def test_the_status_patch_is_camel_case_without_nulls() -> None:
    patch = status_patch(full_status())

    assert nulls(patch) == []
    assert {
        "phase",
        "conditions",
        "observedGeneration",
        "detectedTime",
        "diagnosedTime",
        "target",
        "diagnosis",
        "proposedActions",
        "targetFingerprint",
        "actions",
        "history",
    } <= set(patch)
    assert not any("_" in key for key in patch)
    assert patch["detectedTime"] == "2025-03-14T10:30:12Z"
    assert patch["diagnosis"]["bundleDigest"] == DIGEST
    assert patch["conditions"][0]["lastTransitionTime"] == "2025-03-14T10:33:12Z"
    assert patch["actions"][0]["idempotencyKey"] == "0123456789abcdef"
    assert patch["history"][-1]["actionID"] == SET_MEMORY.id
    assert "actionID" not in patch["history"][0]
    assert patch["proposedActions"][0]["params"] == {"container": "app", "memoryLimit": "1Gi"}


def test_the_status_patch_reads_back_to_the_same_status() -> None:
    status = full_status()

    assert IncidentStatus.model_validate(status_patch(status)) == status


def test_the_status_patch_keeps_fields_a_newer_operator_wrote() -> None:
    status = IncidentStatus.model_validate(
        {
            "phase": "Diagnosed",
            "escalationPolicy": {"tier": 2},
            "detectedTime": "2025-03-14T10:30:12Z",
        }
    )

    patch = status_patch(diagnosed(status))

    assert patch["escalationPolicy"] == {"tier": 2}
