"""We test these aspects: a RemediationPolicy's own status (domain/policy.check_policy).

- a valid policy is Ready=True/Valid, with observedGeneration and the condition's generation;
- a spec the operator cannot use is Ready=False/InvalidSpec with a message naming the field
  (an out-of-range value, a missing required field, a rule of the model);
- a policy outside the operator's namespace whose ``namespaces`` name only others covers
  nothing (Ready=False/CoversNothing); naming itself and others is Ready with a warning;
- re-checking an unchanged policy gives an equal status (so nothing is written again), and
  ``lastTransitionTime`` moves only when Ready flips.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kubemedic.domain.policy import check_policy, policy_status
from kubemedic.models.conditions import ConditionReason
from kubemedic.models.policy import RemediationPolicyStatus

NOW = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
OPERATOR_NS = "kubemedic"


def check(spec: dict[str, Any], namespace: str = "shop") -> tuple[bool, str, str]:
    result = check_policy(spec, namespace=namespace, operator_namespace=OPERATOR_NS)
    return result.ready, result.reason.value, result.message


def test_a_valid_policy_is_ready() -> None:
    assert check({"allowedActions": ["RestartRollout"], "autoApproveUpTo": "Low"}) == (
        True,
        "Valid",
        "the policy is valid and in effect",
    )


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"allowedActions": ["RestartRollout"], "approvalTTLSeconds": 5}, "spec.approvalTTLSeconds:"),
        ({"allowedActions": ["RestartRollout"], "rateLimits": {"maxActionsPerTargetPerHour": 0}},
         "spec.rateLimits.maxActionsPerTargetPerHour:"),
        ({"autoApproveUpTo": "Low"}, "spec.allowedActions:"),
        ({"allowedActions": []}, "`allowedActions` must not be empty"),
        ({"allowedActions": ["Teleport"]}, "spec.allowedActions.0:"),
    ],
)  # fmt: skip
def test_an_unusable_spec_is_not_ready_and_names_the_field(
    spec: dict[str, Any], field: str
) -> None:
    ready, reason, message = check(spec)
    assert (ready, reason) == (False, "InvalidSpec")
    assert field in message
    assert "ignores this policy" in message
    assert "Value error" not in message


def test_a_tenant_policy_naming_only_other_namespaces_covers_nothing() -> None:
    ready, reason, message = check({"allowedActions": ["Escalate"], "namespaces": ["payments"]})
    assert (ready, reason) == (False, "CoversNothing")
    assert message.startswith("spec.namespaces:")
    assert "'payments'" in message
    assert "'kubemedic'" in message


def test_a_tenant_policy_naming_itself_and_others_is_ready_and_says_what_is_ignored() -> None:
    ready, reason, message = check(
        {"allowedActions": ["Escalate"], "namespaces": ["shop", "payments"]}
    )
    assert (ready, reason) == (True, "Valid")
    assert "'payments'" in message
    assert "ignored" in message


def test_the_operators_namespace_may_name_other_namespaces() -> None:
    assert check({"allowedActions": ["Escalate"], "namespaces": ["payments"]}, OPERATOR_NS)[0]


def test_status_is_stable_and_moves_only_when_ready_flips() -> None:
    good = check_policy(
        {"allowedActions": ["Escalate"]}, namespace="shop", operator_namespace=OPERATOR_NS
    )
    bad = check_policy({"allowedActions": []}, namespace="shop", operator_namespace=OPERATOR_NS)
    first = policy_status(RemediationPolicyStatus(), good, generation=1, now=NOW)
    [ready] = first.conditions
    assert (ready.type, ready.status.value, ready.reason, ready.observed_generation) == (
        "Ready",
        "True",
        ConditionReason.VALID,
        1,
    )
    assert first.observed_generation == 1
    # Read back from the API server (JSON) and checked again later: equal, nothing to write.
    reread = RemediationPolicyStatus.model_validate(first.model_dump(mode="json", by_alias=True))
    assert policy_status(reread, good, generation=1, now=NOW + timedelta(minutes=5)) == reread
    # A new generation is recorded without moving lastTransitionTime.
    second = policy_status(reread, good, generation=2, now=NOW + timedelta(minutes=6))
    assert second.observed_generation == 2
    assert second.conditions[0].last_transition_time == NOW
    flipped = policy_status(second, bad, generation=3, now=NOW + timedelta(minutes=7))
    assert flipped.conditions[0].status.value == "False"
    assert flipped.conditions[0].last_transition_time == NOW + timedelta(minutes=7)
