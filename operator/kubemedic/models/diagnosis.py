"""Diagnosis and the typed action catalog.

The JSON form of :class:`Diagnosis` (``kubemedic diagnose -o json``) is a stable,
documented contract::

    {"category", "summary", "confidence", "evidence": [str],
     "actions": [{"type", "target": {"kind", "namespace", "name"}, "params": {}, "risk"}],
     "runbook": markdown}

Every action's ``params`` are validated against the parameter model of its type,
so neither the rule engine nor (later) an LLM can propose an action outside the catalog.
"""

import hashlib
import json
import re
from enum import StrEnum
from typing import Any, Self

from pydantic import Field, ValidationError, model_validator

from kubemedic.models.base import KubeModel
from kubemedic.models.target import ObjectRef

QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$"


class Category(StrEnum):
    """What went wrong. Stable names: dashboards and policies key on them."""

    OOM_KILLED = "OOMKilled"
    CRASH_LOOP = "CrashLoop"
    BAD_ROLLOUT = "BadRollout"
    IMAGE_PULL_ERROR = "ImagePullError"
    CONFIG_ERROR = "ConfigError"
    PROBE_FAILURE = "ProbeFailure"
    UNSCHEDULABLE = "Unschedulable"
    NODE_NOT_READY = "NodeNotReady"
    VOLUME_ERROR = "VolumeError"
    QUOTA_EXCEEDED = "QuotaExceeded"
    SERVICE_NO_ENDPOINTS = "ServiceNoEndpoints"
    EVICTED = "Evicted"
    HPA_MAXED_OUT = "HPAMaxedOut"
    NODE_PRESSURE = "NodePressure"
    VOLUME_FULL = "VolumeFull"
    DEPENDENCY_DOWN = "DependencyDown"
    CERTIFICATE_EXPIRED = "CertificateExpired"
    DNS_FAILURE = "DNSFailure"
    CPU_THROTTLING = "CPUThrottling"
    DISRUPTION_BLOCKED = "DisruptionBlocked"
    INIT_CONTAINER_FAILURE = "InitContainerFailure"
    ROLLOUT_STUCK = "RolloutStuck"
    POD_CREATION_FAILED = "PodCreationFailed"
    HPA_MISCONFIGURED = "HPAMisconfigured"
    UNKNOWN = "Unknown"


class ActionType(StrEnum):
    """The fixed catalog of remediations kubemedic can apply."""

    RESTART_ROLLOUT = "RestartRollout"
    ROLLBACK_ROLLOUT = "RollbackRollout"
    SCALE_WORKLOAD = "ScaleWorkload"
    SET_RESOURCES = "SetResources"
    DELETE_POD = "DeletePod"
    CORDON_NODE = "CordonNode"
    PATCH_HPA = "PatchHPA"
    ESCALATE = "Escalate"


class Risk(StrEnum):
    """How much an action can hurt if it is wrong; policies auto-approve up to a level."""

    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"


RISK_ORDER: dict[Risk, int] = {Risk.LOW: 0, Risk.MEDIUM: 1, Risk.HIGH: 2}


class RestartRolloutParams(KubeModel):
    """Restart every pod of a workload (like `kubectl rollout restart`)."""


class RollbackRolloutParams(KubeModel):
    """Roll a Deployment back to an earlier, healthy revision."""

    to_revision: int = Field(ge=1, description="revision to roll back to")


class ScaleWorkloadParams(KubeModel):
    """Set a workload's replica count."""

    replicas: int = Field(ge=0, le=1000)


class SetResourcesParams(KubeModel):
    """Change one container's resources (bounded increase, see domain.actions)."""

    container: str = Field(min_length=1, max_length=63)
    memory_limit: str | None = Field(default=None, pattern=QUANTITY_PATTERN)
    memory_request: str | None = Field(default=None, pattern=QUANTITY_PATTERN)
    cpu_limit: str | None = Field(default=None, pattern=QUANTITY_PATTERN)
    cpu_request: str | None = Field(default=None, pattern=QUANTITY_PATTERN)

    @model_validator(mode="after")
    def _some_resource(self) -> Self:
        if not any((self.memory_limit, self.memory_request, self.cpu_limit, self.cpu_request)):
            msg = "SetResources must change at least one of memoryLimit, memoryRequest, cpuLimit, cpuRequest"
            raise ValueError(msg)
        return self


class DeletePodParams(KubeModel):
    """Delete one pod so its controller recreates it."""

    pod: str = Field(min_length=1, max_length=253)


class CordonNodeParams(KubeModel):
    """Mark a node unschedulable."""

    node: str = Field(min_length=1, max_length=253)


class PatchHPAParams(KubeModel):
    """Raise an HPA's bounds."""

    max_replicas: int = Field(ge=1, le=1000)
    min_replicas: int | None = Field(default=None, ge=1, le=1000)


class EscalateParams(KubeModel):
    """Nothing is applied: a human must act. Says what to do."""

    reason: str = Field(min_length=1, max_length=1024)
    instructions: str = Field(default="", max_length=4096)


PARAMS_MODELS: dict[ActionType, type[KubeModel]] = {
    ActionType.RESTART_ROLLOUT: RestartRolloutParams,
    ActionType.ROLLBACK_ROLLOUT: RollbackRolloutParams,
    ActionType.SCALE_WORKLOAD: ScaleWorkloadParams,
    ActionType.SET_RESOURCES: SetResourcesParams,
    ActionType.DELETE_POD: DeletePodParams,
    ActionType.CORDON_NODE: CordonNodeParams,
    ActionType.PATCH_HPA: PatchHPAParams,
    ActionType.ESCALATE: EscalateParams,
}


class Action(KubeModel):
    """One proposed remediation: a type from the catalog with validated params."""

    type: ActionType
    target: ObjectRef
    params: dict[str, Any] = Field(default_factory=dict)
    risk: Risk

    @model_validator(mode="after")
    def _validate_params(self) -> Self:
        model = PARAMS_MODELS[self.type]
        try:
            parsed = model.model_validate(self.params)
        except ValidationError as exc:
            problems = "; ".join(
                f"params.{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
                for err in exc.errors()
            )
            msg = f"invalid params for action type '{self.type.value}': {problems}"
            raise ValueError(msg) from None
        # Normalise: validated, camelCase, without unset optionals.
        normal = parsed.model_dump(by_alias=True, exclude_none=True)
        object.__setattr__(self, "params", normal)
        return self

    @property
    def id(self) -> str:
        """A stable ID: the same action on the same target always gets the same ID."""
        key = json.dumps(
            {
                "type": self.type.value,
                "target": self.target.model_dump(by_alias=True),
                "params": self.params,
            },
            sort_keys=True,
        )
        digest = hashlib.sha256(key.encode()).hexdigest()[:8]
        return f"{_kebab(self.type.value)}-{digest}"


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower().replace("h-p-a", "hpa")


class Agreement(StrEnum):
    """How the LLM's opinion relates to the rule engine's (``status.diagnosis.llm.agreement``)."""

    #: Same category: the confidence was raised.
    AGREED = "Agreed"
    #: Different categories: both opinions are shown, the confidence was lowered.
    DISAGREED = "Disagreed"
    #: No rule matched; the diagnosis is the LLM's.
    LLM_ONLY = "LLMOnly"
    #: The LLM did not know (category Unknown); the diagnosis is the rules'.
    RULES_ONLY = "RulesOnly"
    #: Neither knew.
    NEITHER = "Neither"


class Opinion(KubeModel):
    """One engine's answer, kept when the engines disagree."""

    engine: str
    category: Category
    confidence: float = Field(ge=0.0, le=1.0)
    summary: str = Field(max_length=1024)


class RejectedAction(KubeModel):
    """An action the LLM proposed that kubemedic refused, and why."""

    type: str
    target: str
    reason: str


class LLMReport(KubeModel):
    """What the LLM stage did: model, tokens, latency, agreement, refused proposals."""

    model: str
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    latency_seconds: float = Field(ge=0.0)
    agreement: Agreement
    rejected_actions: list[RejectedAction] = Field(default_factory=list)


class Diagnosis(KubeModel):
    """What the engine concluded, why, and what it proposes.

    ``llm`` and ``opinions`` are only set when the LLM took part; they are not part of the
    ``kubemedic diagnose -o json`` contract.
    """

    category: Category
    summary: str = Field(max_length=1024)
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[str] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)
    runbook: str = ""
    engine: str = "rules"
    llm: LLMReport | None = None
    opinions: list[Opinion] = Field(default_factory=list)
