"""Status conditions as the Kubernetes API conventions define them, and the lenient status base.

A condition is one observation keyed by ``type`` (``TargetFound``, ``Diagnosed``, …) with a
``status`` of ``True``/``False``/``Unknown``, a one-word CamelCase ``reason`` for machines,
a sentence ``message`` for humans, the ``lastTransitionTime`` of the last *status* change and
the ``observedGeneration`` of the spec it describes (the shape of ``metav1.Condition``).

:func:`set_condition` is the one way to change a condition: it is pure (the caller passes
``now``), returns a new list and only bumps ``lastTransitionTime`` when ``status`` changes, so
``kubectl get -o yaml`` shows *since when* something has been true, not when it was last checked.

Why status models are lenient (:class:`StatusModel`, ``extra="allow"``) while spec models are
strict (:class:`~kubemedic.models.base.KubeModel`, ``extra="forbid"``):

- a spec field the operator does not understand may be a restriction the user asked for
  (a future "do not touch" switch); silently ignoring it could remediate against the user's
  will, so an unknown spec field must stop processing with an error that names it;
- status is observed state written by the operator itself and, per the API conventions, by
  others too (any controller may add a condition). During a rolling upgrade or a rollback an
  older operator reads status written by a newer one; failing on a field it does not know would
  wedge every Incident. Nothing is unsafe about an unknown status field, and ``extra="allow"``
  (not ``"ignore"``) keeps it on a round trip: a JSON merge patch replaces lists such as
  ``conditions`` wholesale, so dropping unknown keys inside them would erase what a newer
  version wrote.
"""

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, ConfigDict, Field

from kubemedic.models.base import KubeModel

#: ``metav1.Condition.type``: an optional DNS-subdomain prefix, then a name.
CONDITION_TYPE_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
#: ``metav1.Condition.reason``: one CamelCase word.
CONDITION_REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
MAX_CONDITION_MESSAGE = 32768
#: The most conditions one object carries (ours plus room for other controllers').
MAX_CONDITIONS = 16


class StatusModel(KubeModel):
    """Base for models of a ``status``: camelCase and frozen like every model, but lenient.

    NB: ``extra="allow"`` keeps fields a newer operator version (or another controller)
    wrote, both when reading and when writing back; see the module docstring.
    """

    model_config = ConfigDict(extra="allow")


class ConditionStatus(StrEnum):
    """Whether a condition holds."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ConditionType(StrEnum):
    """The condition types kubemedic sets. PascalCase, each phrased so that True is good news."""

    #: Incident: the target object exists and could be read.
    TARGET_FOUND = "TargetFound"
    #: Incident: a diagnosis is in ``status.diagnosis``.
    DIAGNOSED = "Diagnosed"
    #: Incident: the LLM refined the rule engine's diagnosis (optional engine).
    LLM_DIAGNOSED = "LLMDiagnosed"
    #: Incident: the proposed actions were approved (by a policy or a human).
    APPROVED = "Approved"
    #: Incident: the approved actions were applied.
    REMEDIATED = "Remediated"
    #: Incident: the target is healthy again; the summary condition of an Incident.
    RESOLVED = "Resolved"
    #: RemediationPolicy: the policy is valid and in effect; its summary condition.
    READY = "Ready"
    #: Incident from an alert: the alert has resolved (False: it fired again).
    ALERT_RESOLVED = "AlertResolved"
    #: Incident: Prometheus answered the evidence queries (False: diagnosed without metrics).
    METRICS_COLLECTED = "MetricsCollected"


class ConditionReason(StrEnum):
    """Reasons kubemedic gives. One CamelCase word each; dashboards and alerts key on them."""

    # TargetFound
    FOUND = "Found"
    NOT_FOUND = "NotFound"
    # Diagnosed / LLMDiagnosed
    DIAGNOSING = "Diagnosing"
    RULE_MATCHED = "RuleMatched"
    NO_RULE_MATCHED = "NoRuleMatched"
    DIAGNOSIS_FAILED = "DiagnosisFailed"
    TARGET_CHANGED = "TargetChanged"
    LLM_DISABLED = "LLMDisabled"
    LLM_ANSWERED = "LLMAnswered"
    LLM_UNAVAILABLE = "LLMUnavailable"
    LLM_INVALID_ANSWER = "LLMInvalidAnswer"
    # Approved
    NOTHING_TO_APPROVE = "NothingToApprove"
    AWAITING_APPROVAL = "AwaitingApproval"
    AUTO_APPROVED = "AutoApproved"
    MANUALLY_APPROVED = "ManuallyApproved"
    REJECTED = "Rejected"
    APPROVAL_EXPIRED = "ApprovalExpired"
    APPROVAL_TIMED_OUT = "ApprovalTimedOut"
    NO_POLICY = "NoPolicy"
    POLICY_DENIED = "PolicyDenied"
    # Remediated
    IN_PROGRESS = "InProgress"
    ACTION_APPLIED = "ActionApplied"
    ACTION_FAILED = "ActionFailed"
    DRY_RUN = "DryRun"
    RATE_LIMITED = "RateLimited"
    # Resolved
    RECOVERED = "Recovered"
    STILL_FAILING = "StillFailing"
    ALERT_RESOLVED = "AlertResolved"
    ESCALATED = "Escalated"
    AWAITING_ALERT_RESOLUTION = "AwaitingAlertResolution"
    # AlertResolved
    ALERT_FIRING = "AlertFiring"
    # MetricsCollected
    QUERIED = "Queried"
    NO_SAMPLES = "NoSamples"
    PROMETHEUS_UNAVAILABLE = "PrometheusUnavailable"
    # Ready (RemediationPolicy) and any object
    VALID = "Valid"
    INVALID_SPEC = "InvalidSpec"
    COVERS_NOTHING = "CoversNothing"


class Condition(StatusModel):
    """One condition, the shape of ``metav1.Condition``."""

    type: str = Field(
        min_length=1,
        max_length=316,
        pattern=CONDITION_TYPE_PATTERN,
        description="type of condition in PascalCase, e.g. 'Diagnosed'",
    )
    status: ConditionStatus = Field(description="whether the condition holds")
    reason: str = Field(
        min_length=1,
        max_length=1024,
        pattern=CONDITION_REASON_PATTERN,
        description="one CamelCase word saying why, for machines",
    )
    message: str = Field(max_length=MAX_CONDITION_MESSAGE, description="a sentence for humans")
    last_transition_time: AwareDatetime = Field(
        description="when `status` last changed (not when the condition was last checked)"
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="`metadata.generation` the condition was computed for"
    )


def find_condition(conditions: Sequence[Condition], type: str) -> Condition | None:
    """The condition of this ``type``, or ``None``."""
    return next((c for c in conditions if c.type == type), None)


def is_condition_true(conditions: Sequence[Condition], type: str) -> bool:
    """Whether the condition of this ``type`` exists and is ``True``."""
    found = find_condition(conditions, type)
    return found is not None and found.status is ConditionStatus.TRUE


def set_condition(
    conditions: Sequence[Condition],
    *,
    type: str,
    status: ConditionStatus,
    reason: ConditionReason,
    message: str,
    observed_generation: int | None,
    now: datetime,
) -> list[Condition]:
    """Return a new list with the condition of ``type`` set; the input is not changed.

    ``lastTransitionTime`` becomes ``now`` only when the condition is new or its ``status``
    changes; a new ``reason``/``message``/``observedGeneration`` alone keeps it (API conventions).
    Other conditions, their order, and fields this version does not know are kept.

    ``reason`` is one of kubemedic's reasons (:class:`ConditionReason`), never a literal.
    ``now`` must be timezone-aware; it is truncated to whole seconds like ``metav1.Time``,
    so a value read back from the API server compares equal to the one written.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        msg = "set_condition: `now` must be timezone-aware (e.g. datetime.now(UTC))"
        raise ValueError(msg)
    now = now.replace(microsecond=0)
    result: list[Condition] = []
    found = False
    for existing in conditions:
        if existing.type != type:
            result.append(existing)
            continue
        found = True
        transition_time = existing.last_transition_time if existing.status == status else now
        # NB: validate (model_copy(update=...) would not) so a bad reason or an over-long
        # message fails here, in the caller's stack, not later as a 422 from the API server;
        # model_dump() carries fields this version does not know.
        result.append(
            Condition.model_validate(
                {
                    **existing.model_dump(),
                    "status": status,
                    "reason": reason,
                    "message": message,
                    "observed_generation": observed_generation,
                    "last_transition_time": transition_time,
                }
            )
        )
    if not found:
        result.append(
            Condition(
                type=type,
                status=status,
                reason=reason,
                message=message,
                last_transition_time=now,
                observed_generation=observed_generation,
            )
        )
    return result
