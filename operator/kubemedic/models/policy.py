"""The RemediationPolicy custom resource (``remediationpolicies.kubemedic.dev``).

Mirrors ``crds/remediationpolicy.yaml`` (checked by ``tests/unit/test_crds.py``). A policy
says which actions kubemedic may take where, which it may approve by itself (up to a risk
level), and how often. Deciding whether a policy allows an action is domain logic
(``kubemedic.domain``); this module only parses and validates.

Spec models are strict and status models lenient; why is explained in
:mod:`kubemedic.models.conditions`.
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from kubemedic.models.base import KubeModel
from kubemedic.models.conditions import MAX_CONDITIONS, Condition, StatusModel
from kubemedic.models.diagnosis import RISK_ORDER, ActionType, Risk
from kubemedic.models.target import DNS_LABEL_PATTERN

POLICY_KIND: Literal["RemediationPolicy"] = "RemediationPolicy"

#: Never remediated unless a policy explicitly empties ``protectedNamespaces``.
DEFAULT_PROTECTED_NAMESPACES: tuple[str, ...] = ("kube-system", "kube-public", "kube-node-lease")
MAX_NAMESPACES = 128
MAX_PROTECTED_NAMESPACES = 64
MAX_MATCH_LABELS = 64
MAX_MATCH_EXPRESSIONS = 16
MAX_SELECTOR_VALUES = 64

NamespaceName = Annotated[str, Field(max_length=63, pattern=DNS_LABEL_PATTERN)]
LabelValue = Annotated[str, Field(max_length=63)]


class AutoApproveLevel(StrEnum):
    """The highest action risk a policy approves without a human; ``None`` approves nothing."""

    NONE = "None"
    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"

    def covers(self, risk: Risk) -> bool:
        """Whether an action of this ``risk`` is at or below this level."""
        if self is AutoApproveLevel.NONE:
            return False
        return RISK_ORDER[risk] <= RISK_ORDER[Risk(self.value)]


class SelectorOperator(StrEnum):
    """``metav1.LabelSelectorRequirement.operator``."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class LabelSelectorRequirement(KubeModel):
    """One ``matchExpressions`` entry."""

    key: str = Field(min_length=1, max_length=317)
    operator: SelectorOperator
    values: list[LabelValue] = Field(default_factory=list, max_length=MAX_SELECTOR_VALUES)

    @model_validator(mode="after")
    def _values_match_operator(self) -> Self:
        # NB: the same rule, in the same words, as the CEL rule in the CRD.
        needs_values = self.operator in (SelectorOperator.IN, SelectorOperator.NOT_IN)
        if needs_values != bool(self.values):
            msg = (
                "`values` must not be empty when `operator` is 'In' or 'NotIn', "
                "and must be empty when it is 'Exists' or 'DoesNotExist'"
            )
            raise ValueError(msg)
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this requirement (Kubernetes semantics)."""
        match self.operator:
            case SelectorOperator.IN:
                return labels.get(self.key) in self.values
            case SelectorOperator.NOT_IN:
                return labels.get(self.key) not in self.values
            case SelectorOperator.EXISTS:
                return self.key in labels
            case SelectorOperator.DOES_NOT_EXIST:
                return self.key not in labels


class LabelSelector(KubeModel):
    """``metav1.LabelSelector``: all of ``matchLabels`` and ``matchExpressions`` must hold.

    An empty selector matches everything, as in Kubernetes.
    """

    match_labels: dict[str, LabelValue] = Field(default_factory=dict, max_length=MAX_MATCH_LABELS)
    match_expressions: list[LabelSelectorRequirement] = Field(
        default_factory=list, max_length=MAX_MATCH_EXPRESSIONS
    )

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether an object with these ``labels`` is selected."""
        return all(labels.get(k) == v for k, v in self.match_labels.items()) and all(
            r.matches(labels) for r in self.match_expressions
        )


class RateLimits(KubeModel):
    """How often kubemedic may act, so a wrong diagnosis cannot cause a restart storm."""

    max_actions_per_target_per_hour: int = Field(default=3, ge=1, le=100)
    max_concurrent_per_namespace: int = Field(default=1, ge=1, le=100)


class RemediationPolicySpec(KubeModel):
    """Where kubemedic may act, with which actions, and what it may approve by itself."""

    namespace_selector: LabelSelector | None = None
    namespaces: list[NamespaceName] = Field(default_factory=list, max_length=MAX_NAMESPACES)
    target_selector: LabelSelector | None = None
    allowed_actions: list[ActionType] = Field(max_length=len(ActionType))
    auto_approve_up_to: AutoApproveLevel = AutoApproveLevel.NONE
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    protected_namespaces: list[NamespaceName] = Field(
        default_factory=lambda: list(DEFAULT_PROTECTED_NAMESPACES),
        max_length=MAX_PROTECTED_NAMESPACES,
    )
    dry_run_only: bool = False
    approval_ttl_seconds: int = Field(default=3600, ge=60, le=604800, alias="approvalTTLSeconds")
    require_distinct_approver: bool = False
    allow_scale_to_zero: bool = False
    max_memory_increase_factor: float = Field(default=2.0, ge=1.0, le=4.0)

    @model_validator(mode="after")
    def _mirror_cel_rules(self) -> Self:
        # NB: the same rules, in the same words, as crds/remediationpolicy.yaml; uniqueness
        # is what `x-kubernetes-list-type: set` makes the API server enforce.
        if not self.allowed_actions:
            msg = (
                "`allowedActions` must not be empty; list 'Escalate' alone to only "
                "diagnose and notify"
            )
            raise ValueError(msg)
        for field, values in (
            ("namespaces", self.namespaces),
            ("allowedActions", self.allowed_actions),
            ("protectedNamespaces", self.protected_namespaces),
        ):
            _require_unique(field, values)
        overlap = sorted(set(self.namespaces) & set(self.protected_namespaces))
        if overlap:
            msg = (
                "`namespaces` must not list a namespace that is in `protectedNamespaces`: "
                + ", ".join(f"'{ns}'" for ns in overlap)
            )
            raise ValueError(msg)
        return self

    def allows(self, action_type: ActionType) -> bool:
        """Whether ``action_type`` is in ``allowedActions``."""
        return action_type in self.allowed_actions


def _require_unique(field: str, values: Iterable[str]) -> None:
    duplicates = sorted(v for v, n in Counter(values).items() if n > 1)
    if duplicates:
        msg = f"`{field}` must not contain duplicates: " + ", ".join(f"'{v}'" for v in duplicates)
        raise ValueError(msg)


class RemediationPolicyStatus(StatusModel):
    """Whether the policy is in effect (condition ``Ready``)."""

    conditions: list[Condition] = Field(default_factory=list, max_length=MAX_CONDITIONS)
    observed_generation: int | None = Field(default=None, ge=0)


class RemediationPolicy(KubeModel):
    """A whole RemediationPolicy object as the API server returns it."""

    api_version: Literal["kubemedic.dev/v1alpha1"] = "kubemedic.dev/v1alpha1"
    kind: Literal["RemediationPolicy"] = POLICY_KIND
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: RemediationPolicySpec
    status: RemediationPolicyStatus = Field(default_factory=RemediationPolicyStatus)
