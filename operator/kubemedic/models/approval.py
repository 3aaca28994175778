"""The IncidentApproval custom resource (``incidentapprovals.kubemedic.dev``).

Mirrors ``crds/incidentapproval.yaml`` (checked by ``tests/unit/test_crds.py``). An approval
is its own object, not a field of the Incident, so that RBAC on ``incidentapprovals`` decides
who may approve (someone who may create Incidents may not approve them), and so that
admission (``crds/admission-approvals.yaml``) can bind ``spec.approver`` to the user who
creates it and freeze the spec. Time is never taken from the client: ``status.seenAt`` is the
operator's own clock, and ``status.spentAt`` marks a decision used or refused for good.

Spec models are strict and status models lenient; why is explained in
:mod:`kubemedic.models.conditions`.
"""

from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import AwareDatetime, Field

from kubemedic.models.base import KubeModel
from kubemedic.models.conditions import StatusModel
from kubemedic.models.target import DNS_LABEL_PATTERN, DNS_SUBDOMAIN_PATTERN

APPROVAL_KIND: Final = "IncidentApproval"
MAX_APPROVER = 253
MAX_REASON = 1024


class Decision(StrEnum):
    """A person's answer to a proposed action."""

    APPROVE = "Approve"
    REJECT = "Reject"


class ApprovalOutcome(StrEnum):
    """What the operator did with a decision (``status.outcome``)."""

    PENDING = "Pending"
    APPLIED = "Applied"
    REJECTED = "Rejected"
    EXPIRED = "Expired"
    REFUSED = "Refused"
    IGNORED = "Ignored"


class IncidentApprovalSpec(KubeModel):
    """The decision; immutable once created (CRD rule and admission policy)."""

    incident: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)
    action_id: str = Field(alias="actionID", min_length=1, max_length=63, pattern=DNS_LABEL_PATTERN)
    decision: Decision
    approver: str = Field(min_length=1, max_length=MAX_APPROVER)
    reason: str | None = Field(default=None, max_length=MAX_REASON)


class IncidentApprovalStatus(StatusModel):
    """The operator's record of the decision, on its own clock."""

    seen_at: AwareDatetime | None = None
    spent_at: AwareDatetime | None = None
    outcome: ApprovalOutcome | None = None
    message: str | None = Field(default=None, max_length=MAX_REASON)


class IncidentApproval(KubeModel):
    """A whole IncidentApproval object as the API server returns it."""

    api_version: Literal["kubemedic.dev/v1alpha1"] = "kubemedic.dev/v1alpha1"
    kind: Literal["IncidentApproval"] = "IncidentApproval"
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: IncidentApprovalSpec
    status: IncidentApprovalStatus = Field(default_factory=IncidentApprovalStatus)
