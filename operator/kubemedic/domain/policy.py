"""RemediationPolicy enforcement: which actions may be applied, and who must approve them.

Rules, in the order they are applied (the first that decides wins):

1. A protected namespace (the built-in floor ``kube-system``, ``kube-public``,
   ``kube-node-lease``, the operator's settings, and every matching policy's
   ``protectedNamespaces``) → **Denied**, even with a manual approval. Cluster-scoped
   targets (Nodes) are never protected by namespace.
2. ``Escalate`` applies nothing → decided elsewhere (the incident escalates).
3. Policies that cover the target: a policy in the target's own namespace covers it if
   its selectors match; a policy in the *operator's* namespace may select other
   namespaces (``namespaces``/``namespaceSelector``). NB: a tenant must not be able to
   authorise actions in someone else's namespace by writing a policy in their own.
4. No covering policy → **RequiresApproval** (nothing is applied without a person).
5. Several covering policies → the most restrictive outcome wins
   (Denied > DryRunOnly > RequiresApproval > AutoApproved), and its rule is recorded.
6. In a covering policy: an action type not in ``allowedActions`` → **Denied**;
   ``dryRunOnly`` → **DryRunOnly**; risk up to ``autoApproveUpTo`` → **AutoApproved**;
   otherwise **RequiresApproval**.

Bounds (domain/bounds.py) and rate limits (:func:`check_rate_limits`) are checked
separately because they depend on live state at apply time, not on the decision: an
approved action that is over a rate limit waits, it is not denied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from pydantic import ValidationError

from kubemedic.models.audit_trail import DecisionOutcome
from kubemedic.models.conditions import (
    ConditionReason,
    ConditionStatus,
    ConditionType,
    set_condition,
)
from kubemedic.models.diagnosis import Action
from kubemedic.models.policy import (
    DEFAULT_PROTECTED_NAMESPACES,
    RateLimits,
    RemediationPolicySpec,
    RemediationPolicyStatus,
)

#: The floor: never remediated, whatever a policy says.
BUILTIN_PROTECTED_NAMESPACES: Final = frozenset(DEFAULT_PROTECTED_NAMESPACES)

_STRICTNESS: Final = {
    DecisionOutcome.DENIED: 3,
    DecisionOutcome.DRY_RUN_ONLY: 2,
    DecisionOutcome.REQUIRES_APPROVAL: 1,
    DecisionOutcome.AUTO_APPROVED: 0,
}


@dataclass(frozen=True)
class NamedPolicy:
    """A RemediationPolicy's spec with where it lives."""

    namespace: str
    name: str
    spec: RemediationPolicySpec

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class PolicyDecision:
    """The outcome, the policy that made it (if any) and the rule in words."""

    outcome: DecisionOutcome
    policy: str | None
    rule: str


def policy_covers(
    policy: NamedPolicy,
    *,
    target_namespace: str | None,
    namespace_labels: Mapping[str, str],
    target_labels: Mapping[str, str],
    operator_namespace: str,
) -> bool:
    """Whether ``policy`` applies to a target in ``target_namespace`` with these labels."""
    spec = policy.spec
    if spec.target_selector is not None and not spec.target_selector.matches(target_labels):
        return False
    if target_namespace is None:
        # Cluster-scoped target (a Node): only the operator's own policies may cover it.
        return policy.namespace == operator_namespace
    if policy.namespace != operator_namespace:
        if target_namespace != policy.namespace:
            return False
        if spec.namespaces and target_namespace not in spec.namespaces:
            return False
        return spec.namespace_selector is None or spec.namespace_selector.matches(namespace_labels)
    # The operator's namespace: explicit selection, else only its own namespace.
    selected_by_name = target_namespace in spec.namespaces
    selected_by_labels = spec.namespace_selector is not None and spec.namespace_selector.matches(
        namespace_labels
    )
    if spec.namespaces or spec.namespace_selector is not None:
        return selected_by_name or selected_by_labels
    return target_namespace == policy.namespace


def protected_namespaces(
    policies: Sequence[NamedPolicy], extra: Sequence[str] = ()
) -> frozenset[str]:
    """The built-in floor, the operator's extra list, and every policy's list."""
    names = set(BUILTIN_PROTECTED_NAMESPACES) | set(extra)
    for policy in policies:
        names |= set(policy.spec.protected_namespaces)
    return frozenset(names)


def decide(
    action: Action,
    *,
    policies: Sequence[NamedPolicy],
    target_namespace: str | None,
    namespace_labels: Mapping[str, str],
    target_labels: Mapping[str, str],
    operator_namespace: str,
    extra_protected: Sequence[str] = (),
) -> PolicyDecision:
    """Decide ``action`` for a target (see the module docstring for the rules)."""
    covering = [
        p
        for p in policies
        if policy_covers(
            p,
            target_namespace=target_namespace,
            namespace_labels=namespace_labels,
            target_labels=target_labels,
            operator_namespace=operator_namespace,
        )
    ]
    protected = protected_namespaces(covering, extra_protected)
    if target_namespace is not None and target_namespace in protected:
        return PolicyDecision(
            DecisionOutcome.DENIED,
            None,
            f"namespace '{target_namespace}' is protected; kubemedic never changes it",
        )
    if not covering:
        return PolicyDecision(
            DecisionOutcome.REQUIRES_APPROVAL,
            None,
            "no RemediationPolicy covers this target, so a person must approve",
        )
    decisions = [_decide_one(action, p) for p in sorted(covering, key=lambda p: p.ref)]
    return max(decisions, key=lambda d: _STRICTNESS[d.outcome])


def _decide_one(action: Action, policy: NamedPolicy) -> PolicyDecision:
    spec = policy.spec
    if not spec.allows(action.type):
        allowed = ", ".join(a.value for a in spec.allowed_actions) or "none"
        return PolicyDecision(
            DecisionOutcome.DENIED,
            policy.ref,
            f"action type '{action.type.value}' is not in `allowedActions` ({allowed})",
        )
    if spec.dry_run_only:
        return PolicyDecision(
            DecisionOutcome.DRY_RUN_ONLY,
            policy.ref,
            "`dryRunOnly` is set: server-side dry-run only",
        )
    if spec.auto_approve_up_to.covers(action.risk):
        return PolicyDecision(
            DecisionOutcome.AUTO_APPROVED,
            policy.ref,
            f"risk {action.risk.value} is within `autoApproveUpTo` {spec.auto_approve_up_to.value}",
        )
    return PolicyDecision(
        DecisionOutcome.REQUIRES_APPROVAL,
        policy.ref,
        f"risk {action.risk.value} is above `autoApproveUpTo` {spec.auto_approve_up_to.value}",
    )


def approval_ttl(
    policies: Sequence[NamedPolicy], policy_ref: str | None, default: int = 3600
) -> timedelta:
    """How long an approval stays valid: the deciding policy's TTL, else ``default`` seconds."""
    for policy in policies:
        if policy.ref == policy_ref:
            return timedelta(seconds=policy.spec.approval_ttl_seconds)
    return timedelta(seconds=default)


def memory_increase_limit(policies: Sequence[NamedPolicy], policy_ref: str | None) -> float:
    """The largest factor SetResources may raise a memory limit by (policy, else 2)."""
    for policy in policies:
        if policy.ref == policy_ref:
            return policy.spec.max_memory_increase_factor
    return 2.0


def requires_distinct_approver(
    policies: Sequence[NamedPolicy],
    *,
    target_namespace: str | None,
    namespace_labels: Mapping[str, str],
    target_labels: Mapping[str, str],
    operator_namespace: str,
) -> bool:
    """Whether any policy covering the target sets ``requireDistinctApprover``.

    NB: any, not only the deciding one: separation of duties is a floor, like protection.
    """
    return any(
        p.spec.require_distinct_approver
        and policy_covers(
            p,
            target_namespace=target_namespace,
            namespace_labels=namespace_labels,
            target_labels=target_labels,
            operator_namespace=operator_namespace,
        )
        for p in policies
    )


def allows_scale_to_zero(policies: Sequence[NamedPolicy], policy_ref: str | None) -> bool:
    """Whether the deciding policy sets ``allowScaleToZero`` (no policy: never)."""
    return any(p.ref == policy_ref and p.spec.allow_scale_to_zero for p in policies)


def check_rate_limits(
    *,
    limits: RateLimits,
    recent_action_times: Sequence[datetime],
    in_flight_in_namespace: int,
    now: datetime,
) -> str | None:
    """Why applying now would exceed a rate limit, or None."""
    last_hour = [t for t in recent_action_times if now - t < timedelta(hours=1)]
    if len(last_hour) >= limits.max_actions_per_target_per_hour:
        return (
            f"{len(last_hour)} actions were applied to this target in the last hour "
            f"(`maxActionsPerTargetPerHour` is {limits.max_actions_per_target_per_hour})"
        )
    if in_flight_in_namespace >= limits.max_concurrent_per_namespace:
        return (
            f"{in_flight_in_namespace} remediations are in progress in this namespace "
            f"(`maxConcurrentPerNamespace` is {limits.max_concurrent_per_namespace})"
        )
    return None


def rate_limits_for(policies: Sequence[NamedPolicy], policy_ref: str | None) -> RateLimits:
    """The deciding policy's rate limits, else the defaults."""
    for policy in policies:
        if policy.ref == policy_ref:
            return policy.spec.rate_limits
    return RateLimits()


# -- the policy's own status ---------------------------------------------------------------


@dataclass(frozen=True)
class PolicyCheck:
    """Whether a RemediationPolicy is in effect, and why, for its ``Ready`` condition."""

    ready: bool
    reason: ConditionReason
    message: str


def check_policy(
    spec: Mapping[str, Any], *, namespace: str, operator_namespace: str
) -> PolicyCheck:
    """Validate a policy's raw ``spec`` as the operator will use it.

    The API server already enforces the CRD's schema; this catches what it cannot: a CRD
    older than the operator, and a policy outside the operator's namespace whose
    ``namespaces`` name only other namespaces (it can never cover anything there).
    """
    try:
        parsed = RemediationPolicySpec.model_validate(spec)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(["spec", *(str(p) for p in error["loc"])])
        what = str(error["msg"]).removeprefix("Value error, ")
        return PolicyCheck(
            False,
            ConditionReason.INVALID_SPEC,
            f"{where}: {what}; kubemedic ignores this policy until it is fixed",
        )
    if namespace != operator_namespace and parsed.namespaces:
        others = sorted(set(parsed.namespaces) - {namespace})
        if namespace not in parsed.namespaces:
            return PolicyCheck(
                False,
                ConditionReason.COVERS_NOTHING,
                f"spec.namespaces: a policy in '{namespace}' covers only '{namespace}', but "
                f"`namespaces` lists only {', '.join(repr(n) for n in others)}; add "
                f"'{namespace}' or move the policy to the operator's namespace "
                f"'{operator_namespace}'",
            )
        if others:
            return PolicyCheck(
                True,
                ConditionReason.VALID,
                f"in effect for '{namespace}'; spec.namespaces "
                f"{', '.join(repr(n) for n in others)} are ignored (only a policy in "
                f"'{operator_namespace}' may cover other namespaces)",
            )
    return PolicyCheck(True, ConditionReason.VALID, "the policy is valid and in effect")


def policy_status(
    status: RemediationPolicyStatus, check: PolicyCheck, *, generation: int | None, now: datetime
) -> RemediationPolicyStatus:
    """The status to write: ``Ready`` from ``check``, and the generation it was checked at."""
    conditions = set_condition(
        status.conditions,
        type=ConditionType.READY,
        status=ConditionStatus.TRUE if check.ready else ConditionStatus.FALSE,
        reason=check.reason,
        message=check.message,
        observed_generation=generation,
        now=now,
    )
    return status.model_copy(update={"conditions": conditions, "observed_generation": generation})
