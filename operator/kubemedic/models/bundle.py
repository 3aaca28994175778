"""IncidentBundle: the evidence for one incident, as a versioned file.

The operator builds exactly this from the live cluster and diagnoses it with the
same pure function that ``kubemedic diagnose --bundle`` uses, so a bundle file
reproduces any diagnosis. ``objects`` hold Kubernetes objects exactly as the API
returns them (plain dicts, never re-modelled: analyzers must tolerate missing fields).
The JSON Schema is published at ``schemas/incidentbundle.schema.json``.
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from kubemedic.constants import BUNDLE_KIND
from kubemedic.models.base import KubeModel
from kubemedic.models.target import TargetRef

#: Longest log text kept per container; the newest lines are kept.
MAX_LOG_CHARS = 64 * 1024


class Alert(KubeModel):
    """An Alertmanager alert (webhook payload version 4), as received."""

    status: Literal["firing", "resolved"] = "firing"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str | None = Field(default=None, alias="generatorURL")
    fingerprint: str | None = None


class ContainerLog(KubeModel):
    """The tail of one container's log."""

    namespace: str
    pod: str
    container: str
    previous: bool = False
    text: str = Field(max_length=MAX_LOG_CHARS)


class MetricResult(KubeModel):
    """One PromQL query and the Prometheus HTTP API ``data`` it returned."""

    query: str
    data: dict[str, Any]


class IncidentBundle(KubeModel):
    """The evidence gathered for one incident."""

    api_version: Literal["kubemedic.dev/v1alpha1"] = Field(default="kubemedic.dev/v1alpha1")
    kind: Literal["IncidentBundle"] = BUNDLE_KIND
    target: TargetRef
    collected_at: datetime | None = None
    alerts: list[Alert] = Field(default_factory=list)
    objects: list[dict[str, Any]] = Field(default_factory=list)
    logs: list[ContainerLog] = Field(default_factory=list)
    metrics: list[MetricResult] = Field(default_factory=list)
