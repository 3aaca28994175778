"""IncidentBundle: the evidence for one incident, as a versioned file.

The operator builds exactly this from the live cluster and diagnoses it with the
same pure function that ``kubemedic diagnose --bundle`` uses, so a bundle file
reproduces any diagnosis. ``objects`` hold Kubernetes objects exactly as the API
returns them (plain dicts, never re-modelled: analyzers must tolerate missing fields).
The JSON Schema is published at ``schemas/incidentbundle.schema.json``.
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from kubemedic.constants import BUNDLE_KIND
from kubemedic.models.base import KubeModel
from kubemedic.models.target import TargetRef

#: Longest log text kept per container; the newest lines are kept.
MAX_LOG_CHARS = 64 * 1024
#: How many nested ``*List`` objects are expanded (kubectl's List of PodLists is two).
MAX_LIST_DEPTH = 4


def trim_log(text: str, limit: int = MAX_LOG_CHARS) -> str:
    """The newest whole lines of ``text`` within ``limit`` characters, saying how much was cut.

    A ``kubectl logs --previous`` tail is often larger than the limit; its newest lines are
    what explains a crash, so the oldest are cut (never rejected).
    """
    if len(text) <= limit:
        return text
    marker = "[kubemedic: {cut} earlier characters cut]\n"
    kept = text[-(limit - len(marker.format(cut=len(text)))) :]
    newline = kept.find("\n")
    if 0 <= newline < len(kept) - 1:
        kept = kept[newline + 1 :]
    return marker.format(cut=len(text) - len(kept)) + kept


def expand_lists(objects: list[Any], depth: int = 0) -> list[Any]:
    """Objects with every ``List``/``PodList``/``*List`` replaced by its items.

    The list endpoint returns items without ``kind``/``apiVersion``; they are taken from
    the list (``PodList`` holds ``Pod``), so analyzers see the objects they look for.
    """
    expanded: list[Any] = []
    for obj in objects:
        kind = obj.get("kind") if isinstance(obj, dict) else None
        items = obj.get("items") if isinstance(obj, dict) else None
        if not (isinstance(kind, str) and kind.endswith("List") and isinstance(items, list)):
            expanded.append(obj)
            continue
        if depth >= MAX_LIST_DEPTH:
            continue
        item_kind = kind.removesuffix("List")
        defaults = {"apiVersion": obj.get("apiVersion"), "kind": item_kind} if item_kind else {}
        children = [
            {**{k: v for k, v in defaults.items() if v}, **item} if isinstance(item, dict) else item
            for item in items
        ]
        expanded.extend(expand_lists(children, depth + 1))
    return expanded


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
    text: str = Field(description=f"trimmed to the newest lines within {MAX_LOG_CHARS} characters")

    @field_validator("text")
    @classmethod
    def _trim(cls, text: str) -> str:
        return trim_log(text)


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

    @field_validator("objects", mode="after")
    @classmethod
    def _expand_lists(cls, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [obj for obj in expand_lists(objects) if isinstance(obj, dict)]
