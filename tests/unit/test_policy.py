"""We test these aspects: RemediationPolicy enforcement (kubemedic.domain.policy).

- the protected-namespace floor: the built-in namespaces, ``extra_protected`` and a covering
  policy's own ``protectedNamespaces`` deny an action even where a policy would approve it,
  and a policy cannot lower the floor by emptying its list; Nodes are never protected;
- coverage: no covering policy means a person must approve; a policy in the target's own
  namespace covers it (subject to its selectors), one in another tenant namespace never does,
  one in the operator's namespace covers only the namespaces it selects (by name or by
  labels, else only its own); ``targetSelector`` narrows it; cluster-scoped targets are
  covered only by the operator's policies;
- the outcome in a covering policy: a type outside ``allowedActions`` is denied, ``dryRunOnly``
  wins over auto-approval, risk is auto-approved up to ``autoApproveUpTo`` only;
- several covering policies: the most restrictive outcome wins whatever their order, and the
  deciding policy and its rule are recorded;
- the per-policy settings read at apply time (approval TTL, memory factor, rate limits) and
  their defaults;
- the policy's memory factor reaches the bounds: a memory increase beyond it or a decrease is
  refused for the right container (all other bounds: test_bounds.py);
- ``check_rate_limits``: only the last hour counts per target, and the namespace concurrency.
"""

import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from kubemedic.domain.bounds import BoundsContext, check_bounds
from kubemedic.domain.policy import (
    BUILTIN_PROTECTED_NAMESPACES,
    NamedPolicy,
    PolicyDecision,
    allows_scale_to_zero,
    approval_ttl,
    check_rate_limits,
    decide,
    memory_increase_limit,
    rate_limits_for,
    requires_distinct_approver,
)
from kubemedic.models.audit_trail import DecisionOutcome
from kubemedic.models.diagnosis import Action, ActionType, Risk
from kubemedic.models.policy import RateLimits, RemediationPolicySpec
from kubemedic.models.target import ObjectRef

OPERATOR_NS = "kubemedic"
NOW = datetime(2025, 3, 14, 10, 30, tzinfo=UTC)

AUTO = DecisionOutcome.AUTO_APPROVED
ASK = DecisionOutcome.REQUIRES_APPROVAL
DENIED = DecisionOutcome.DENIED
DRY = DecisionOutcome.DRY_RUN_ONLY

#: Namespace labels as the API server sets them, plus the ones a platform team adds.
NAMESPACE_LABELS: dict[str, dict[str, str]] = {
    "shop": {"kubernetes.io/metadata.name": "shop", "team": "shop", "env": "prod"},
    "payments": {"kubernetes.io/metadata.name": "payments", "team": "payments", "env": "prod"},
    "staging": {"kubernetes.io/metadata.name": "staging", "team": "shop", "env": "staging"},
    "kubemedic": {"kubernetes.io/metadata.name": "kubemedic"},
    "kube-system": {"kubernetes.io/metadata.name": "kube-system"},
    "kube-public": {"kubernetes.io/metadata.name": "kube-public"},
    "kube-node-lease": {"kubernetes.io/metadata.name": "kube-node-lease"},
    "vault": {"kubernetes.io/metadata.name": "vault", "team": "security"},
}
CHECKOUT_LABELS = {"app.kubernetes.io/name": "checkout", "app.kubernetes.io/part-of": "shop"}


def policy(namespace: str, name: str, **spec: Any) -> NamedPolicy:
    """A policy from its camelCase spec, exactly as written in YAML."""
    return NamedPolicy(namespace, name, RemediationPolicySpec.model_validate(spec))


def restart(namespace: str | None = "shop", *, risk: Risk = Risk.LOW) -> Action:
    return Action(
        type=ActionType.RESTART_ROLLOUT,
        target=ObjectRef(kind="Deployment", namespace=namespace, name="checkout"),
        risk=risk,
    )


def set_memory(memory_limit: str, *, container: str = "app") -> Action:
    return Action(
        type=ActionType.SET_RESOURCES,
        target=ObjectRef(kind="Deployment", namespace="shop", name="checkout"),
        params={"container": container, "memoryLimit": memory_limit},
        risk=Risk.MEDIUM,
    )


def scale(replicas: int) -> Action:
    return Action(
        type=ActionType.SCALE_WORKLOAD,
        target=ObjectRef(kind="Deployment", namespace="shop", name="checkout"),
        params={"replicas": replicas},
        risk=Risk.MEDIUM,
    )


CORDON = Action(
    type=ActionType.CORDON_NODE,
    target=ObjectRef(kind="Node", name="worker-3"),
    params={"node": "worker-3"},
    risk=Risk.HIGH,
)


def decide_for(
    action: Action,
    policies: Sequence[NamedPolicy],
    *,
    target_labels: Mapping[str, str] = CHECKOUT_LABELS,
    extra_protected: Sequence[str] = (),
) -> PolicyDecision:
    namespace = action.target.namespace
    return decide(
        action,
        policies=policies,
        target_namespace=namespace,
        namespace_labels=NAMESPACE_LABELS.get(namespace or "", {}),
        target_labels=target_labels,
        operator_namespace=OPERATOR_NS,
        extra_protected=extra_protected,
    )


# --- the protected-namespace floor -----------------------------------------------------------

#: Selects every namespace and approves everything: only the floor can stop it.
EVERYTHING = {
    "namespaceSelector": {},
    "allowedActions": [t.value for t in ActionType],
    "autoApproveUpTo": "High",
    "protectedNamespaces": [],
}


@pytest.mark.parametrize("namespace", sorted(BUILTIN_PROTECTED_NAMESPACES))
def test_builtin_namespaces_are_denied_without_any_policy(namespace: str) -> None:
    decision = decide_for(restart(namespace), [])

    assert decision.outcome is DENIED
    assert decision.policy is None
    assert f"namespace '{namespace}' is protected" in decision.rule


@pytest.mark.parametrize("namespace", sorted(BUILTIN_PROTECTED_NAMESPACES))
def test_a_policy_cannot_lower_the_floor_by_emptying_its_protected_list(namespace: str) -> None:
    cluster_wide = policy(OPERATOR_NS, "everything", **EVERYTHING)
    in_place = policy(namespace, "local", **EVERYTHING)

    assert decide_for(restart(namespace), [cluster_wide]).outcome is DENIED
    assert decide_for(restart(namespace), [in_place]).outcome is DENIED


def test_the_operators_extra_protected_namespaces_are_denied_even_when_covered() -> None:
    cluster_wide = policy(OPERATOR_NS, "everything", **EVERYTHING)

    decision = decide_for(restart("vault"), [cluster_wide], extra_protected=["vault"])

    assert decision.outcome is DENIED
    assert "'vault' is protected" in decision.rule
    # The same policy still approves elsewhere: the extra list is not a blanket denial.
    assert decide_for(restart("shop"), [cluster_wide], extra_protected=["vault"]).outcome is AUTO


def test_a_covering_policys_own_protected_list_denies_that_namespace() -> None:
    cluster_wide = policy(
        OPERATOR_NS,
        "prod",
        namespaceSelector={"matchLabels": {"env": "prod"}},
        allowedActions=["RestartRollout"],
        autoApproveUpTo="Low",
        protectedNamespaces=["kube-system", "kube-public", "kube-node-lease", "payments"],
    )

    assert decide_for(restart("payments"), [cluster_wide]).outcome is DENIED
    assert decide_for(restart("shop"), [cluster_wide]).outcome is AUTO


def test_a_protected_namespace_is_denied_even_when_the_action_is_otherwise_approved() -> None:
    # NB: the floor comes first; a manual approval (RequiresApproval) never gets a chance.
    tenant = policy("kube-system", "dns", allowedActions=["RestartRollout"], autoApproveUpTo="Low")

    decision = decide_for(restart("kube-system"), [tenant])

    assert decision.outcome is DENIED
    assert decision.policy is None


def test_nodes_are_never_protected_by_namespace() -> None:
    cluster = policy(OPERATOR_NS, "nodes", allowedActions=["CordonNode"], autoApproveUpTo="High")

    decision = decide_for(CORDON, [cluster], extra_protected=["kube-system"])

    assert decision.outcome is AUTO
    assert decision.policy == "kubemedic/nodes"


# --- coverage --------------------------------------------------------------------------------

RESTART_LOW = {"allowedActions": ["RestartRollout"], "autoApproveUpTo": "Low"}

COVERAGE: list[tuple[str, NamedPolicy, str, Mapping[str, str], bool]] = [
    # (case, policy, target namespace, target labels, covered)
    ("tenant policy, own namespace", policy("shop", "p", **RESTART_LOW), "shop", {}, True),
    ("tenant policy, other namespace", policy("shop", "p", **RESTART_LOW), "payments", {}, False),
    (
        "tenant policy naming another namespace does not reach it",
        policy("shop", "p", namespaces=["payments"], **RESTART_LOW),
        "payments",
        {},
        False,
    ),
    (
        "tenant policy naming only another namespace no longer covers its own",
        policy("shop", "p", namespaces=["payments"], **RESTART_LOW),
        "shop",
        {},
        False,
    ),
    (
        "tenant policy naming its own namespace",
        policy("shop", "p", namespaces=["shop"], **RESTART_LOW),
        "shop",
        {},
        True,
    ),
    (
        "tenant policy whose namespaceSelector matches its namespace",
        policy("shop", "p", namespaceSelector={"matchLabels": {"env": "prod"}}, **RESTART_LOW),
        "shop",
        {},
        True,
    ),
    (
        "tenant policy whose namespaceSelector does not match its namespace",
        policy("staging", "p", namespaceSelector={"matchLabels": {"env": "prod"}}, **RESTART_LOW),
        "staging",
        {},
        False,
    ),
    (
        "operator policy without selection covers only the operator's namespace",
        policy(OPERATOR_NS, "p", **RESTART_LOW),
        "shop",
        {},
        False,
    ),
    (
        "operator policy without selection, operator's namespace",
        policy(OPERATOR_NS, "p", **RESTART_LOW),
        OPERATOR_NS,
        {},
        True,
    ),
    (
        "operator policy selecting by name",
        policy(OPERATOR_NS, "p", namespaces=["shop", "staging"], **RESTART_LOW),
        "staging",
        {},
        True,
    ),
    (
        "operator policy selecting by name, unlisted namespace",
        policy(OPERATOR_NS, "p", namespaces=["shop", "staging"], **RESTART_LOW),
        "payments",
        {},
        False,
    ),
    (
        "operator policy selecting by name no longer covers its own namespace",
        policy(OPERATOR_NS, "p", namespaces=["shop"], **RESTART_LOW),
        OPERATOR_NS,
        {},
        False,
    ),
    (
        "operator policy selecting by labels",
        policy(
            OPERATOR_NS, "p", namespaceSelector={"matchLabels": {"team": "shop"}}, **RESTART_LOW
        ),
        "staging",
        {},
        True,
    ),
    (
        "operator policy selecting by labels, other team",
        policy(
            OPERATOR_NS, "p", namespaceSelector={"matchLabels": {"team": "shop"}}, **RESTART_LOW
        ),
        "payments",
        {},
        False,
    ),
    (
        "operator policy selecting by expression",
        policy(
            OPERATOR_NS,
            "p",
            namespaceSelector={
                "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]
            },
            **RESTART_LOW,
        ),
        "staging",
        {},
        True,
    ),
    (
        "operator policy selecting by name or labels: by name",
        policy(
            OPERATOR_NS,
            "p",
            namespaces=["payments"],
            namespaceSelector={"matchLabels": {"team": "shop"}},
            **RESTART_LOW,
        ),
        "payments",
        {},
        True,
    ),
    (
        "targetSelector matches the workload",
        policy(
            "shop",
            "p",
            targetSelector={"matchLabels": {"app.kubernetes.io/name": "checkout"}},
            **RESTART_LOW,
        ),
        "shop",
        CHECKOUT_LABELS,
        True,
    ),
    (
        "targetSelector does not match the workload",
        policy(
            "shop",
            "p",
            targetSelector={"matchLabels": {"app.kubernetes.io/name": "cart"}},
            **RESTART_LOW,
        ),
        "shop",
        CHECKOUT_LABELS,
        False,
    ),
    (
        "targetSelector excludes databases",
        policy(
            OPERATOR_NS,
            "p",
            namespaceSelector={},
            targetSelector={
                "matchExpressions": [
                    {"key": "app.kubernetes.io/component", "operator": "NotIn", "values": ["db"]}
                ]
            },
            **RESTART_LOW,
        ),
        "shop",
        {**CHECKOUT_LABELS, "app.kubernetes.io/component": "db"},
        False,
    ),
]


@pytest.mark.parametrize(
    ("the_policy", "namespace", "labels", "covered"),
    [pytest.param(p, ns, labels, c, id=case) for case, p, ns, labels, c in COVERAGE],
)
def test_which_policies_cover_a_target(
    the_policy: NamedPolicy, namespace: str, labels: Mapping[str, str], covered: bool
) -> None:
    decision = decide_for(restart(namespace), [the_policy], target_labels=labels)

    if covered:
        assert (decision.outcome, decision.policy) == (AUTO, the_policy.ref)
    else:
        assert (decision.outcome, decision.policy) == (ASK, None)
        assert "no RemediationPolicy covers this target" in decision.rule


def test_without_any_policy_a_person_must_approve() -> None:
    decision = decide_for(restart("shop"), [])

    assert decision == PolicyDecision(
        ASK, None, "no RemediationPolicy covers this target, so a person must approve"
    )


CLUSTER_SCOPED: list[tuple[str, NamedPolicy, DecisionOutcome]] = [
    (
        "operator policy",
        policy(OPERATOR_NS, "nodes", allowedActions=["CordonNode"], autoApproveUpTo="High"),
        AUTO,
    ),
    (
        "operator policy that selects namespaces still covers nodes",
        policy(
            OPERATOR_NS,
            "nodes",
            namespaces=["shop"],
            allowedActions=["CordonNode"],
            autoApproveUpTo="High",
        ),
        AUTO,
    ),
    (
        "tenant policy cannot authorise cordoning",
        policy("shop", "nodes", allowedActions=["CordonNode"], autoApproveUpTo="High"),
        ASK,
    ),
    (
        "operator policy with a non-matching targetSelector",
        policy(
            OPERATOR_NS,
            "gpu-nodes",
            targetSelector={"matchLabels": {"node.kubernetes.io/instance-type": "p4d.24xlarge"}},
            allowedActions=["CordonNode"],
            autoApproveUpTo="High",
        ),
        ASK,
    ),
]


@pytest.mark.parametrize(
    ("the_policy", "expected"),
    [pytest.param(p, outcome, id=case) for case, p, outcome in CLUSTER_SCOPED],
)
def test_cluster_scoped_targets_are_covered_only_by_the_operators_policies(
    the_policy: NamedPolicy, expected: DecisionOutcome
) -> None:
    node_labels = {"kubernetes.io/hostname": "worker-3", "node-role.kubernetes.io/worker": ""}

    assert decide_for(CORDON, [the_policy], target_labels=node_labels).outcome is expected


# --- the outcome in one covering policy ------------------------------------------------------


def test_an_action_type_outside_allowed_actions_is_denied_by_that_policy() -> None:
    tenant = policy(
        "shop",
        "restarts-only",
        allowedActions=["RestartRollout", "DeletePod"],
        autoApproveUpTo="High",
    )

    decision = decide_for(set_memory("1Gi"), [tenant])

    assert decision.outcome is DENIED
    assert decision.policy == "shop/restarts-only"
    assert "'SetResources' is not in `allowedActions` (RestartRollout, DeletePod)" in decision.rule


def test_dry_run_only_wins_over_auto_approval() -> None:
    tenant = policy(
        "shop",
        "rehearsal",
        allowedActions=["RestartRollout"],
        autoApproveUpTo="High",
        dryRunOnly=True,
    )

    decision = decide_for(restart("shop"), [tenant])

    assert (decision.outcome, decision.policy) == (DRY, "shop/rehearsal")
    assert "`dryRunOnly`" in decision.rule


def test_dry_run_only_does_not_allow_types_outside_allowed_actions() -> None:
    tenant = policy("shop", "rehearsal", allowedActions=["RestartRollout"], dryRunOnly=True)

    assert decide_for(set_memory("1Gi"), [tenant]).outcome is DENIED


AUTO_APPROVAL: list[tuple[str, Risk, DecisionOutcome]] = [
    ("None", Risk.LOW, ASK),
    ("None", Risk.HIGH, ASK),
    ("Low", Risk.LOW, AUTO),
    ("Low", Risk.MEDIUM, ASK),
    ("Medium", Risk.LOW, AUTO),
    ("Medium", Risk.MEDIUM, AUTO),
    ("Medium", Risk.HIGH, ASK),
    ("High", Risk.HIGH, AUTO),
]


@pytest.mark.parametrize(("level", "risk", "expected"), AUTO_APPROVAL)
def test_risk_is_auto_approved_up_to_the_policys_level(
    level: str, risk: Risk, expected: DecisionOutcome
) -> None:
    tenant = policy("shop", "p", allowedActions=["RestartRollout"], autoApproveUpTo=level)

    decision = decide_for(restart("shop", risk=risk), [tenant])

    assert (decision.outcome, decision.policy) == (expected, "shop/p")
    assert f"risk {risk.value}" in decision.rule
    assert f"`autoApproveUpTo` {level}" in decision.rule


def test_auto_approve_defaults_to_none() -> None:
    tenant = policy("shop", "p", allowedActions=["RestartRollout"])

    assert decide_for(restart("shop", risk=Risk.LOW), [tenant]).outcome is ASK


# --- several covering policies ---------------------------------------------------------------

TENANT_AUTO = policy("shop", "a-auto", allowedActions=["RestartRollout"], autoApproveUpTo="High")
TENANT_ASK = policy("shop", "b-ask", allowedActions=["RestartRollout"], autoApproveUpTo="None")
PLATFORM_DRY = policy(
    OPERATOR_NS,
    "c-dry-run",
    namespaces=["shop"],
    allowedActions=["RestartRollout"],
    autoApproveUpTo="High",
    dryRunOnly=True,
)
PLATFORM_NO_RESTART = policy(
    OPERATOR_NS, "d-no-restart", namespaceSelector={}, allowedActions=["ScaleWorkload"]
)

MOST_RESTRICTIVE: list[tuple[list[NamedPolicy], DecisionOutcome, str]] = [
    ([TENANT_AUTO, TENANT_ASK], ASK, "shop/b-ask"),
    ([TENANT_AUTO, PLATFORM_DRY], DRY, "kubemedic/c-dry-run"),
    ([TENANT_AUTO, TENANT_ASK, PLATFORM_DRY], DRY, "kubemedic/c-dry-run"),
    ([TENANT_AUTO, PLATFORM_DRY, PLATFORM_NO_RESTART], DENIED, "kubemedic/d-no-restart"),
]


@pytest.mark.parametrize(("policies", "expected", "deciding"), MOST_RESTRICTIVE)
def test_the_most_restrictive_covering_policy_wins_and_is_recorded(
    policies: list[NamedPolicy], expected: DecisionOutcome, deciding: str
) -> None:
    decisions = set()
    for seed in range(6):
        shuffled = list(policies)
        random.Random(seed).shuffle(shuffled)
        decisions.add(decide_for(restart("shop"), shuffled))

    assert len(decisions) == 1, "the order policies are listed in must not matter"
    (decision,) = decisions
    assert (decision.outcome, decision.policy) == (expected, deciding)


def test_the_recorded_rule_is_the_deciding_policys() -> None:
    decision = decide_for(restart("shop"), [TENANT_AUTO, PLATFORM_NO_RESTART])

    assert (
        decision.rule == "action type 'RestartRollout' is not in `allowedActions` (ScaleWorkload)"
    )


def test_a_policy_that_does_not_cover_the_target_cannot_make_it_stricter() -> None:
    elsewhere = policy("payments", "deny-all", allowedActions=["Escalate"])

    decision = decide_for(restart("shop"), [TENANT_AUTO, elsewhere])

    assert (decision.outcome, decision.policy) == (AUTO, "shop/a-auto")


# --- settings of the deciding policy ---------------------------------------------------------

TUNED = policy(
    "shop",
    "tuned",
    allowedActions=["SetResources"],
    approvalTTLSeconds=900,
    maxMemoryIncreaseFactor=1.5,
    rateLimits={"maxActionsPerTargetPerHour": 5, "maxConcurrentPerNamespace": 2},
)
DEFAULTS = policy("shop", "defaults", allowedActions=["SetResources"])
ALL = [DEFAULTS, TUNED]


@pytest.mark.parametrize(
    ("policy_ref", "expected"),
    [
        ("shop/tuned", timedelta(minutes=15)),
        ("shop/defaults", timedelta(hours=1)),
        ("payments/tuned", timedelta(hours=1)),
        (None, timedelta(hours=1)),
    ],
)
def test_approval_ttl_is_the_deciding_policys(policy_ref: str | None, expected: timedelta) -> None:
    assert approval_ttl(ALL, policy_ref) == expected


def test_approval_ttl_falls_back_to_the_given_default() -> None:
    assert approval_ttl(ALL, None, default=7200) == timedelta(hours=2)
    assert approval_ttl(ALL, "shop/tuned", default=7200) == timedelta(minutes=15)


@pytest.mark.parametrize(
    ("policy_ref", "expected"),
    [("shop/tuned", 1.5), ("shop/defaults", 2.0), ("shop/missing", 2.0), (None, 2.0)],
)
def test_memory_increase_limit_is_the_deciding_policys(
    policy_ref: str | None, expected: float
) -> None:
    assert memory_increase_limit(ALL, policy_ref) == expected


@pytest.mark.parametrize(
    ("policy_ref", "expected"),
    [
        (
            "shop/tuned",
            RateLimits(max_actions_per_target_per_hour=5, max_concurrent_per_namespace=2),
        ),
        (
            "shop/defaults",
            RateLimits(max_actions_per_target_per_hour=3, max_concurrent_per_namespace=1),
        ),
        (None, RateLimits(max_actions_per_target_per_hour=3, max_concurrent_per_namespace=1)),
    ],
)
def test_rate_limits_are_the_deciding_policys(policy_ref: str | None, expected: RateLimits) -> None:
    assert rate_limits_for(ALL, policy_ref) == expected


def test_distinct_approver_is_required_by_any_covering_policy() -> None:
    strict = policy("shop", "strict", allowedActions=["Escalate"], requireDistinctApprover=True)
    lenient = policy("shop", "lenient", allowedActions=["RestartRollout"])
    elsewhere = policy("vault", "strict", allowedActions=["Escalate"], requireDistinctApprover=True)

    def required(policies: list[NamedPolicy]) -> bool:
        return requires_distinct_approver(
            policies,
            target_namespace="shop",
            namespace_labels=NAMESPACE_LABELS["shop"],
            target_labels=CHECKOUT_LABELS,
            operator_namespace=OPERATOR_NS,
        )

    assert required([lenient, strict]) is True
    assert required([lenient]) is False
    assert required([lenient, elsewhere]) is False  # a policy that does not cover it


def test_scale_to_zero_is_allowed_only_by_the_deciding_policy() -> None:
    zero = policy("shop", "zero", allowedActions=["ScaleWorkload"], allowScaleToZero=True)
    plain = policy("shop", "plain", allowedActions=["ScaleWorkload"])
    assert allows_scale_to_zero([zero, plain], "shop/zero") is True
    assert allows_scale_to_zero([zero, plain], "shop/plain") is False
    assert allows_scale_to_zero([zero, plain], None) is False


# --- bounds ----------------------------------------------------------------------------------


def checkout_deployment(*, replicas: int | None = 3) -> dict[str, Any]:
    """A live Deployment with a sidecar first and the app container at index 1."""
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "checkout"}},
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/name": "checkout"}},
            "spec": {
                "containers": [
                    {
                        "name": "istio-proxy",
                        "image": "docker.io/istio/proxyv2:1.22.3",
                        "resources": {
                            "limits": {"cpu": "2", "memory": "128Mi"},
                            "requests": {"cpu": "100m", "memory": "64Mi"},
                        },
                    },
                    {
                        "name": "app",
                        "image": "registry.example.com/shop/checkout:4.2.1",
                        "resources": {
                            "limits": {"memory": "1Gi"},
                            "requests": {"cpu": "250m", "memory": "512Mi"},
                        },
                    },
                    {
                        "name": "log-shipper",
                        "image": "fluent/fluent-bit:3.1.4",
                        "resources": {"requests": {"cpu": "10m"}},
                    },
                ]
            },
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "checkout", "namespace": "shop", "generation": 7},
        "spec": spec,
    }


MEMORY_BOUNDS: list[tuple[str, str, float, str | None]] = [
    ("app", "2Gi", 2.0, None),
    ("app", "2048Mi", 2.0, None),
    ("app", "2049Mi", 2.0, "container 'app': memoryLimit 2049Mi is more than 2x the current 1Gi"),
    ("app", "3Gi", 2.0, "more than 2x the current 1Gi"),
    ("app", "1536Mi", 1.5, None),
    ("app", "1537Mi", 1.5, "more than 1.5x the current 1Gi"),
    ("app", "1Gi", 2.0, None),
    ("app", "512Mi", 2.0, "memoryLimit 512Mi is lower than the current 1Gi: not an increase"),
    ("istio-proxy", "256Mi", 2.0, None),
    ("istio-proxy", "257Mi", 2.0, "container 'istio-proxy': memoryLimit 257Mi is more than 2x"),
    ("istio-proxy", "1Gi", 4.0, "more than 4x the current 128Mi"),
    # No current memory limit: held to the absolute caps (domain/bounds.py), not a factor.
    ("log-shipper", "8Gi", 2.0, None),
    ("log-shipper", "128Gi", 2.0, "outside 16Mi..64Gi"),
]


@pytest.mark.parametrize(("container", "new", "factor", "refusal"), MEMORY_BOUNDS)
def test_set_resources_memory_increase_is_bounded_per_container(
    container: str, new: str, factor: float, refusal: str | None
) -> None:
    # NB: the policy's `maxMemoryIncreaseFactor` reaches the bounds (domain/bounds.py).
    reason = check_bounds(
        set_memory(new, container=container),
        live=checkout_deployment(),
        context=BoundsContext(max_memory_factor=factor),
    )

    if refusal is None:
        assert reason is None
    else:
        assert reason is not None
        assert refusal in reason


def test_a_refused_memory_increase_names_the_policy_field() -> None:
    reason = check_bounds(set_memory("4Gi"), live=checkout_deployment(), context=BoundsContext())

    assert reason == (
        "container 'app': memoryLimit 4Gi is more than 2x the current 1Gi "
        "(the policy's `maxMemoryIncreaseFactor`)"
    )


# --- rate limits -----------------------------------------------------------------------------


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


RATE: list[tuple[str, list[datetime], int, RateLimits, str | None]] = [
    ("nothing applied yet", [], 0, RateLimits(), None),
    ("two in the last hour", [ago(5), ago(50)], 0, RateLimits(), None),
    (
        "three in the last hour",
        [ago(5), ago(30), ago(59)],
        0,
        RateLimits(),
        "3 actions were applied to this target in the last hour (`maxActionsPerTargetPerHour` is 3)",
    ),
    (
        "older ones do not count",
        [ago(5), ago(30), ago(60), ago(61), ago(600)],
        0,
        RateLimits(),
        None,
    ),
    (
        "a policy allowing more",
        [ago(5), ago(30), ago(59)],
        0,
        RateLimits(max_actions_per_target_per_hour=4),
        None,
    ),
    (
        "one in flight in the namespace",
        [],
        1,
        RateLimits(),
        "1 remediations are in progress in this namespace (`maxConcurrentPerNamespace` is 1)",
    ),
    ("a policy allowing two at once", [], 1, RateLimits(max_concurrent_per_namespace=2), None),
    (
        "two at once is the limit",
        [],
        2,
        RateLimits(max_concurrent_per_namespace=2),
        "`maxConcurrentPerNamespace` is 2",
    ),
]


@pytest.mark.parametrize(
    ("times", "in_flight", "limits", "refusal"),
    [pytest.param(t, f, lim, r, id=case) for case, t, f, lim, r in RATE],
)
def test_rate_limits_count_the_last_hour_and_concurrency(
    times: list[datetime], in_flight: int, limits: RateLimits, refusal: str | None
) -> None:
    reason = check_rate_limits(
        limits=limits, recent_action_times=times, in_flight_in_namespace=in_flight, now=NOW
    )

    if refusal is None:
        assert reason is None
    else:
        assert reason is not None
        assert refusal in reason


def test_rate_limits_compare_instants_across_timezones() -> None:
    berlin = timezone(timedelta(hours=1))
    # 11:00 in Berlin is 10:00 UTC, 30 minutes before NOW.
    times = [datetime(2025, 3, 14, 11, 0, tzinfo=berlin)] * 3

    reason = check_rate_limits(
        limits=RateLimits(), recent_action_times=times, in_flight_in_namespace=0, now=NOW
    )

    assert reason is not None
    assert reason.startswith("3 actions")
