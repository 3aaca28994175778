"""The Incident custom resource (``incidents.kubemedic.dev``), mirroring ``crds/incident.yaml``.

The CRD is the source of truth; ``tests/unit/test_crds.py`` checks that field names,
enums, bounds and defaults here agree with it. Validation the API server does with CEL
(``x-kubernetes-validations``) is repeated in model validators, so the CLI and tests reject
the same objects the API server rejects, with the same words.

Spec models are strict and status models lenient; why is explained in
:mod:`kubemedic.models.conditions`.
"""

from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import AwareDatetime, Field, model_validator

from kubemedic.models.audit_trail import (
    MAX_ACTION_RECORDS,
    MAX_HISTORY,
    ActionRecord,
    HistoryEntry,
)
from kubemedic.models.base import KubeModel
from kubemedic.models.bundle import Alert
from kubemedic.models.conditions import MAX_CONDITIONS, Condition, StatusModel
from kubemedic.models.diagnosis import Action, ActionType, Agreement, Category, Diagnosis, Risk
from kubemedic.models.target import (
    CLUSTER_SCOPED_KINDS,
    DNS_LABEL_PATTERN,
    DNS_SUBDOMAIN_PATTERN,
    KIND_API_VERSIONS,
    TargetRef,
)

INCIDENT_KIND: Literal["Incident"] = "Incident"

MAX_SUMMARY = 256
MAX_DESCRIPTION = 4096
MAX_ALERT_LABELS = 64
MAX_ALERT_LABEL_VALUE = 1024
MAX_ALERT_ANNOTATION_VALUE = 4096
MAX_DIAGNOSIS_SUMMARY = 1024
MAX_EVIDENCE_ITEMS = 32
MAX_EVIDENCE_ITEM = 1024
MAX_RUNBOOK = 65536
MAX_PROPOSED_ACTIONS = 16
#: Marks text cut to fit a CRD bound.
TRUNCATION_MARK = "…"


class Phase(StrEnum):
    """Where an Incident is in its life; ``status.phase``. Conditions hold the detail."""

    PENDING = "Pending"
    DIAGNOSING = "Diagnosing"
    DIAGNOSED = "Diagnosed"
    AWAITING_APPROVAL = "AwaitingApproval"
    REMEDIATING = "Remediating"
    RESOLVED = "Resolved"
    FAILED = "Failed"
    ESCALATED = "Escalated"


class Severity(StrEnum):
    """How bad the incident is, as the reporter or the alert says."""

    CRITICAL = "Critical"
    HIGH = "High"
    WARNING = "Warning"
    INFO = "Info"


class Source(StrEnum):
    """Who opened the Incident."""

    MANUAL = "Manual"
    ALERT = "Alert"


AlertLabelValue = Annotated[str, Field(max_length=MAX_ALERT_LABEL_VALUE)]
AlertAnnotationValue = Annotated[str, Field(max_length=MAX_ALERT_ANNOTATION_VALUE)]
EvidenceItem = Annotated[str, Field(max_length=MAX_EVIDENCE_ITEM)]


class AlertInfo(KubeModel):
    """The Alertmanager alert an Incident was opened for (``spec.alert``)."""

    fingerprint: str | None = Field(default=None, max_length=128)
    group_key: str | None = Field(default=None, max_length=1024)
    status: Literal["firing", "resolved"] = "firing"
    labels: dict[str, AlertLabelValue] = Field(default_factory=dict, max_length=MAX_ALERT_LABELS)
    annotations: dict[str, AlertAnnotationValue] = Field(
        default_factory=dict, max_length=MAX_ALERT_LABELS
    )
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    generator_url: str | None = Field(default=None, alias="generatorURL", max_length=2048)

    def to_bundle_alert(self) -> Alert:
        """The same alert as an :class:`IncidentBundle` carries it."""
        return Alert(
            status=self.status,
            labels=self.labels,
            annotations=self.annotations,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            generator_url=self.generator_url,
            fingerprint=self.fingerprint,
        )


class IncidentSpec(KubeModel):
    """What the Incident is about (desired state).

    Approvals are not here: they are :class:`~kubemedic.models.approval.IncidentApproval`
    objects, so that RBAC separates who may report from who may approve.
    """

    target: TargetRef
    severity: Severity = Severity.WARNING
    summary: str = Field(default="", max_length=MAX_SUMMARY)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    source: Source = Source.MANUAL
    alert: AlertInfo | None = None
    reported_by: str | None = Field(
        default=None,
        max_length=253,
        description="the creating user, checked by admission; immutable",
    )

    @model_validator(mode="after")
    def _mirror_cel_rules(self) -> Self:
        # NB: the same rules, in the same words, as the CEL rules in crds/incident.yaml.
        if self.source is Source.ALERT and self.alert is None:
            msg = "`alert` must be set when `source` is 'Alert'"
            raise ValueError(msg)
        if self.target.kind in CLUSTER_SCOPED_KINDS and self.target.namespace is not None:
            msg = (
                f"`target.namespace` must not be set when `target.kind` is "
                f"'{self.target.kind.value}': the kind is cluster-scoped"
            )
            raise ValueError(msg)
        return self

    def resolved_target(self, incident_namespace: str) -> TargetRef:
        """The target with its defaults filled in: apiVersion from the kind, and the
        Incident's own namespace for a namespaced kind that names none."""
        namespace = self.target.namespace
        if namespace is None and self.target.kind not in CLUSTER_SCOPED_KINDS:
            namespace = incident_namespace
        return self.target.model_copy(
            update={
                "api_version": self.target.api_version or KIND_API_VERSIONS[self.target.kind],
                "namespace": namespace,
            }
        )


#: The most refused LLM proposals listed in ``status.diagnosis.llm.rejectedActions``.
MAX_REJECTED_ACTIONS = 16
#: Two engines, so at most two opinions.
MAX_OPINIONS = 2


class OpinionStatus(StatusModel):
    """One engine's answer (``status.diagnosis.opinions[]``), kept when the engines disagree."""

    engine: str = Field(max_length=64)
    category: Category
    confidence: float = Field(ge=0.0, le=1.0)
    summary: str = Field(max_length=MAX_DIAGNOSIS_SUMMARY)


class RejectedActionStatus(StatusModel):
    """An action the LLM proposed that kubemedic refused (outside the catalog or the scope)."""

    type: str = Field(max_length=64)
    target: str = Field(max_length=512)
    reason: str = Field(max_length=1024)


class LLMStatus(StatusModel):
    """What the LLM stage did (``status.diagnosis.llm``)."""

    model: str = Field(max_length=256)
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    latency_seconds: float = Field(ge=0.0)
    agreement: Agreement
    rejected_actions: list[RejectedActionStatus] = Field(
        default_factory=list, max_length=MAX_REJECTED_ACTIONS
    )


class DiagnosisStatus(StatusModel):
    """The diagnosis as shown in ``status.diagnosis`` (proposed actions are a sibling list)."""

    category: Category
    summary: str = Field(max_length=MAX_DIAGNOSIS_SUMMARY)
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[EvidenceItem] = Field(default_factory=list, max_length=MAX_EVIDENCE_ITEMS)
    engine: str | None = Field(default=None, max_length=64)
    runbook: str = Field(default="", max_length=MAX_RUNBOOK)
    bundle_digest: str | None = Field(default=None, max_length=128)
    llm: LLMStatus | None = None
    opinions: list[OpinionStatus] = Field(default_factory=list, max_length=MAX_OPINIONS)

    @classmethod
    def from_diagnosis(cls, diagnosis: Diagnosis, *, bundle_digest: str | None = None) -> Self:
        """Fit a diagnosis into the CRD's bounds: extra evidence items are dropped and
        long texts cut (marked with '…'), so the status write cannot be rejected for size."""
        llm = diagnosis.llm
        return cls(
            llm=None
            if llm is None
            else LLMStatus(
                model=_truncate(llm.model, 256),
                prompt_tokens=llm.prompt_tokens,
                completion_tokens=llm.completion_tokens,
                latency_seconds=round(llm.latency_seconds, 3),
                agreement=llm.agreement,
                rejected_actions=[
                    RejectedActionStatus(
                        type=_truncate(r.type, 64),
                        target=_truncate(r.target, 512),
                        reason=_truncate(r.reason, 1024),
                    )
                    for r in llm.rejected_actions[:MAX_REJECTED_ACTIONS]
                ],
            ),
            opinions=[
                OpinionStatus(
                    engine=_truncate(o.engine, 64),
                    category=o.category,
                    confidence=o.confidence,
                    summary=_truncate(o.summary, MAX_DIAGNOSIS_SUMMARY),
                )
                for o in diagnosis.opinions[:MAX_OPINIONS]
            ],
            category=diagnosis.category,
            summary=_truncate(diagnosis.summary, MAX_DIAGNOSIS_SUMMARY),
            confidence=diagnosis.confidence,
            evidence=[_truncate(e, MAX_EVIDENCE_ITEM) for e in diagnosis.evidence][
                :MAX_EVIDENCE_ITEMS
            ],
            engine=diagnosis.engine,
            runbook=_truncate(diagnosis.runbook, MAX_RUNBOOK),
            bundle_digest=bundle_digest,
        )


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATION_MARK)] + TRUNCATION_MARK


class ActionTargetRef(StatusModel):
    """The object a proposed action applies to (``status.proposedActions[].target``)."""

    kind: str = Field(max_length=63)
    namespace: str | None = Field(default=None, max_length=63, pattern=DNS_LABEL_PATTERN)
    name: str = Field(max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)


class ProposedAction(StatusModel):
    """An :class:`~kubemedic.models.diagnosis.Action` as listed in ``status.proposedActions``,
    with the stable ``id`` that an IncidentApproval's ``spec.actionID`` refers to.

    NB: status is read leniently, so the params are not validated here; :meth:`to_action`
    validates them and checks the ``id`` still matches the content before anything is applied.
    """

    id: str = Field(max_length=63, pattern=DNS_LABEL_PATTERN)
    type: ActionType
    target: ActionTargetRef
    params: dict[str, Any] = Field(default_factory=dict)
    risk: Risk

    @classmethod
    def from_action(cls, action: Action) -> Self:
        """List an action; its ``id`` is :attr:`Action.id`, stable for the same content."""
        return cls.model_validate({"id": action.id, **action.model_dump(by_alias=True)})

    def to_action(self) -> Action:
        """The validated action to apply.

        Raises ``ValueError`` if the params are invalid or if the content no longer matches
        the ``id``: an approval names an ``id``, so a status edited after approval must not
        make a different action run under it.
        """
        target = {
            "kind": self.target.kind,
            "namespace": self.target.namespace,
            "name": self.target.name,
        }
        action = Action.model_validate(
            {"type": self.type, "target": target, "params": self.params, "risk": self.risk}
        )
        if action.id != self.id:
            msg = (
                f"proposed action `id` '{self.id}' does not match its content "
                f"(expected '{action.id}'); the Incident status was changed after the action "
                "was proposed"
            )
            raise ValueError(msg)
        return action


#: The most notification events remembered per Incident (there are six today).
MAX_NOTIFICATION_EVENTS = 16
MAX_NOTIFICATION_EVENT = 64
MAX_NOTIFICATION_ERROR = 1024
NotificationEventName = Annotated[str, Field(max_length=MAX_NOTIFICATION_EVENT)]


class NotificationRecord(StatusModel):
    """What was sent to the notification webhook for this Incident (``status.notifications``).

    It keeps each event to one message per Incident and drives the cooldown
    (:func:`kubemedic.domain.notification_rules.should_send`). Event names are plain strings, not an
    enum, so an older operator can read a record that a newer one wrote.
    """

    last_event: NotificationEventName | None = Field(
        default=None, description="the last event sent, e.g. 'Opened'"
    )
    last_sent_time: AwareDatetime | None = Field(
        default=None, description="when the last event was sent"
    )
    sent_events: list[NotificationEventName] = Field(
        default_factory=list,
        max_length=MAX_NOTIFICATION_EVENTS,
        description="every event sent for this Incident, oldest first",
    )
    failures: int = Field(default=0, ge=0, description="deliveries that failed after retries")
    last_error: str | None = Field(
        default=None,
        max_length=MAX_NOTIFICATION_ERROR,
        description="why the last delivery failed; cleared by a successful one",
    )


class IncidentStatus(StatusModel):
    """What the operator observed and concluded (``status``)."""

    phase: Phase | None = None
    conditions: list[Condition] = Field(default_factory=list, max_length=MAX_CONDITIONS)
    observed_generation: int | None = Field(default=None, ge=0)
    detected_time: AwareDatetime | None = None
    diagnosed_time: AwareDatetime | None = None
    target: str | None = Field(default=None, max_length=512)
    diagnosis: DiagnosisStatus | None = None
    proposed_actions: list[ProposedAction] = Field(
        default_factory=list, max_length=MAX_PROPOSED_ACTIONS
    )
    target_fingerprint: str | None = Field(
        default=None, max_length=128, description="the target's state at diagnosis time"
    )
    actions: list[ActionRecord] = Field(default_factory=list, max_length=MAX_ACTION_RECORDS)
    history: list[HistoryEntry] = Field(default_factory=list, max_length=MAX_HISTORY)
    remediated_time: AwareDatetime | None = None
    resolved_time: AwareDatetime | None = None
    notifications: NotificationRecord | None = None

    def action_record(self, action_id: str) -> ActionRecord | None:
        """The record of the action with this ``id``, if any."""
        return next((a for a in self.actions if a.id == action_id), None)

    def proposed_action(self, action_id: str) -> ProposedAction | None:
        """The proposed action with this ``id``, if any."""
        return next((a for a in self.proposed_actions if a.id == action_id), None)


class Incident(KubeModel):
    """A whole Incident object as the API server returns it."""

    api_version: Literal["kubemedic.dev/v1alpha1"] = "kubemedic.dev/v1alpha1"
    kind: Literal["Incident"] = INCIDENT_KIND
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: IncidentSpec
    status: IncidentStatus = Field(default_factory=IncidentStatus)
