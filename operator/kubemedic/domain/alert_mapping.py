"""From an alert to an Incident: which object it is about, what it is called, what it says.

Pure functions; :mod:`kubemedic.service.alert_intake` does the I/O (resolving a pod to its
workload, reading and writing Incidents) around them.

Design decisions:

- **One Incident per firing episode of an alert, named from the alert itself**:
  ``alert-<fingerprint>-<startsAt>`` (the fingerprint is Alertmanager's hash of the labels,
  ``startsAt`` the Unix second the episode began, both in hex). Every notification of one
  episode — Alertmanager's repeats, its retries, the same alert from both members of an
  Alertmanager HA pair, delivered to any operator replica — maps to the same name, so
  ``create`` is idempotent: a 409 means "already have it". A new episode of the same alert
  (it resolved, then fired again) gets a new name; the per-target cooldown decides whether
  it may open a new Incident.
- **The fingerprint is Alertmanager's own** (``model.LabelSet.Fingerprint``: FNV-1a 64 over
  the sorted label names and values, each followed by the byte 0xff), recomputed here for
  alerts read from Prometheus in polling mode, so both paths name the same alert alike.
- **Labels → target**, most specific first (:data:`TARGET_LABELS`): a workload label beats
  ``pod``, which beats ``service`` and ``node`` (a pod-level series also carries the node it
  runs on; a series scraped through a Service carries that Service).
- **Only the scrape target's labels are trusted by default.** ``exported_<label>`` and the
  explicit ``kubemedic_target_kind``/``kubemedic_target_name`` labels are written by the
  scraped application (Prometheus renames a series' own label to ``exported_<label>`` when
  the target has one of the same name), so an application could point kubemedic at any
  workload in any namespace. They override the target's labels only when the operator is
  told to trust them (``trust_overrides``, the setting ``alert_label_overrides``).
- **Cooldown and rate-limit state comes from the cluster**: every alert Incident carries the
  label ``kubemedic.dev/target-hash``; the service keeps the alert Incidents it sees through
  its watch in an in-process index (:mod:`kubemedic.domain.alert_index`), so every replica
  decides alike without a request per alert, and a restart forgets nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from kubemedic.constants import API_GROUP, GROUP_VERSION
from kubemedic.domain import view
from kubemedic.models.alertmanager import WebhookPayload
from kubemedic.models.conditions import (
    ConditionReason,
    ConditionStatus,
    ConditionType,
    find_condition,
    set_condition,
)
from kubemedic.models.incident import (
    MAX_ALERT_ANNOTATION_VALUE,
    MAX_ALERT_LABEL_VALUE,
    MAX_ALERT_LABELS,
    MAX_DESCRIPTION,
    MAX_SUMMARY,
    TRUNCATION_MARK,
    AlertInfo,
    IncidentSpec,
    IncidentStatus,
    Severity,
    Source,
)
from kubemedic.models.target import (
    CLUSTER_SCOPED_KINDS,
    DNS_LABEL_PATTERN,
    DNS_SUBDOMAIN_PATTERN,
    TargetKind,
    TargetRef,
)

# -- names on the Incident ---------------------------------------------------------------------

#: Value ``alert`` on every Incident the alert path creates.
SOURCE_LABEL: Final = f"{API_GROUP}/source"
SOURCE_ALERT: Final = "alert"
#: Hash of the target (``Kind/namespace/name``): what the cooldown lists by.
TARGET_HASH_LABEL: Final = f"{API_GROUP}/target-hash"
FINGERPRINT_LABEL: Final = f"{API_GROUP}/alert-fingerprint"
ALERTNAME_LABEL: Final = f"{API_GROUP}/alertname"
#: When kubemedic received the alert (RFC 3339, milliseconds): the start of "our" time.
RECEIVED_ANNOTATION: Final = f"{API_GROUP}/alert-received-time"
INCIDENT_NAME_PREFIX: Final = "alert-"

#: The group key of alerts read from Prometheus in polling mode (there is no group).
POLL_GROUP_KEY: Final = "kubemedic/prometheus-poll"
#: Labels of an ``ALERTS`` series that are not labels of the alert.
_ALERTS_SERIES_LABELS: Final = frozenset({"__name__", "alertstate"})

# -- labels → target ---------------------------------------------------------------------------

KIND_LABEL: Final = "kubemedic_target_kind"
NAME_LABEL: Final = "kubemedic_target_name"
NAMESPACE_LABEL: Final = "namespace"

#: Alert labels that name a target, most specific first (kube-state-metrics label names).
TARGET_LABELS: Final[tuple[tuple[str, TargetKind], ...]] = (
    ("deployment", TargetKind.DEPLOYMENT),
    ("statefulset", TargetKind.STATEFULSET),
    ("daemonset", TargetKind.DAEMONSET),
    ("horizontalpodautoscaler", TargetKind.HORIZONTAL_POD_AUTOSCALER),
    ("persistentvolumeclaim", TargetKind.PERSISTENT_VOLUME_CLAIM),
    ("pod", TargetKind.POD),
    ("service", TargetKind.SERVICE),
    ("node", TargetKind.NODE),
)
#: Controllers a pod resolves to; a ReplicaSet is followed to its Deployment.
WORKLOAD_OWNER_KINDS: Final[Mapping[str, TargetKind]] = {
    "Deployment": TargetKind.DEPLOYMENT,
    "StatefulSet": TargetKind.STATEFULSET,
    "DaemonSet": TargetKind.DAEMONSET,
}

# -- severity ----------------------------------------------------------------------------------

#: ``severity`` label values (lowercased) and what they mean; anything else is Warning.
SEVERITIES: Final[Mapping[str, Severity]] = {
    **dict.fromkeys(("critical", "fatal", "emergency", "page", "p1"), Severity.CRITICAL),
    **dict.fromkeys(("high", "error", "major", "p2"), Severity.HIGH),
    **dict.fromkeys(("warning", "warn", "medium", "moderate", "p3"), Severity.WARNING),
    **dict.fromkeys(("info", "informational", "low", "minor", "none", "p4", "p5"), Severity.INFO),
}
DEFAULT_SEVERITY: Final = Severity.WARNING

#: Labels kept first when an alert has more than the CRD allows.
_PRIORITY_LABELS: Final = (
    "alertname",
    "severity",
    NAMESPACE_LABEL,
    KIND_LABEL,
    NAME_LABEL,
    *(label for label, _ in TARGET_LABELS),
)

_DNS_LABEL_RE: Final = re.compile(DNS_LABEL_PATTERN)
_DNS_SUBDOMAIN_RE: Final = re.compile(DNS_SUBDOMAIN_PATTERN)
_LABEL_VALUE_BAD_CHARS: Final = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_LABEL_VALUE: Final = 63

# NB: FNV-1a 64 as in github.com/prometheus/common/model/fnv.go.
_FNV_OFFSET64: Final = 14695981039346656037
_FNV_PRIME64: Final = 1099511628211
_SEPARATOR_BYTE: Final = 0xFF
_UINT64_MASK: Final = 0xFFFFFFFFFFFFFFFF


class IngestOutcome(StrEnum):
    """What happened to one received alert; the webhook's answer and metrics use these."""

    #: A new Incident was created.
    CREATED = "Created"
    #: The Incident existed and its status was changed (resolved, or firing again).
    UPDATED = "Updated"
    #: The Incident existed and nothing needed to change (a repeat or a retry).
    DEDUPLICATED = "Deduplicated"
    #: Another Incident for the same target was opened within the cooldown.
    COOLED_DOWN = "CooledDown"
    #: The labels name no object kubemedic can diagnose; nothing was created.
    SKIPPED = "Skipped"
    #: A resolution for an alert without an Incident (cooled down, or never seen).
    IGNORED = "Ignored"
    #: Too many Incidents were opened for the namespace or the target lately; nothing was
    #: created (the alert is answered, counted, and a later notification may open one).
    RATE_LIMITED = "RateLimited"


class OutcomeReason(StrEnum):
    """Why an alert was ``Skipped`` or ``RateLimited`` (the answer's ``reason``, a metric label)."""

    #: The labels name no object kubemedic can diagnose.
    UNMAPPABLE = "Unmappable"
    #: The target is in a protected namespace (never remediated, so never opened from alerts).
    PROTECTED_NAMESPACE = "ProtectedNamespace"
    #: The namespace the labels name does not exist.
    NAMESPACE_NOT_FOUND = "NamespaceNotFound"
    #: The object the labels name does not exist.
    TARGET_NOT_FOUND = "TargetNotFound"
    #: The namespace had its quota of alert Incidents within the rate-limit window.
    NAMESPACE_RATE_LIMIT = "NamespaceRateLimit"
    #: The target had its quota of alert Incidents within the rate-limit window.
    TARGET_RATE_LIMIT = "TargetRateLimit"


class UnmappableAlertError(ValueError):
    """The alert's labels name no target; the message says which labels were missing."""


@dataclass(frozen=True)
class ReceivedAlert:
    """One alert as kubemedic works with it, from the webhook or from polling Prometheus."""

    status: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    fingerprint: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str = ""
    group_key: str = ""

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def firing(self) -> bool:
        return self.status == "firing"


@dataclass(frozen=True)
class TargetHint:
    """The object the labels name; a Pod may still resolve to its workload (I/O)."""

    target: TargetRef
    #: The label the target was taken from (for messages).
    label: str


@dataclass(frozen=True)
class ExistingIncident:
    """An Incident already open for the same target (from the cooldown lookup)."""

    name: str
    created: datetime


# -- receiving ---------------------------------------------------------------------------------


def alerts_from_webhook(payload: WebhookPayload) -> list[ReceivedAlert]:
    """The alerts of one Alertmanager notification."""
    return [
        ReceivedAlert(
            status=alert.status,
            labels=dict(alert.labels),
            annotations=dict(alert.annotations),
            fingerprint=alert.fingerprint,
            starts_at=alert.starts_at,
            ends_at=alert.ends_at,
            generator_url=alert.generator_url,
            group_key=payload.group_key,
        )
        for alert in payload.alerts
    ]


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint of a label set: 16 lowercase hex digits."""
    value = _FNV_OFFSET64
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in (*part.encode(), _SEPARATOR_BYTE):
                value = ((value ^ byte) * _FNV_PRIME64) & _UINT64_MASK
    return f"{value:016x}"


def alert_from_series(labels: Mapping[str, str], *, active_at: datetime | None) -> ReceivedAlert:
    """A firing alert from an ``ALERTS{alertstate="firing"}`` series (polling mode).

    ``active_at`` comes from the matching ``ALERTS_FOR_STATE`` series when the rule has a
    ``for`` clause; it is Prometheus' ``startsAt``, so the Incident name matches the one the
    webhook would give. Annotations are not in the series: the summary falls back to the name.
    """
    alert_labels = {k: v for k, v in labels.items() if k not in _ALERTS_SERIES_LABELS}
    return ReceivedAlert(
        status="firing",
        labels=alert_labels,
        annotations={},
        fingerprint=label_fingerprint(alert_labels),
        starts_at=active_at,
        group_key=POLL_GROUP_KEY,
    )


def resolved(alert: ReceivedAlert, *, ends_at: datetime) -> ReceivedAlert:
    """The same alert, resolved at ``ends_at`` (polling mode: it left ``ALERTS``)."""
    return replace(alert, status="resolved", ends_at=ends_at)


# -- labels → target ---------------------------------------------------------------------------


def _label(labels: Mapping[str, str], name: str, *, trust_overrides: bool) -> str:
    exported = labels.get(f"exported_{name}") if trust_overrides else None
    return exported or labels.get(name) or ""


def target_from_labels(labels: Mapping[str, str], *, trust_overrides: bool = False) -> TargetHint:
    """The object an alert is about, from its labels (see the module docstring for the order).

    ``trust_overrides``: let ``exported_<label>`` and ``kubemedic_target_*`` labels (which
    the scraped application controls) override the scrape target's own labels; otherwise
    they are ignored. Raises :class:`UnmappableAlertError` with a message naming the labels
    looked for.
    """
    namespace = _label(labels, NAMESPACE_LABEL, trust_overrides=trust_overrides)
    explicit_kind = labels.get(KIND_LABEL, "") if trust_overrides else ""
    if explicit_kind:
        kinds = {kind.value.lower(): kind for kind in TargetKind}
        kind = kinds.get(explicit_kind.lower())
        if kind is None:
            allowed = ", ".join(k.value for k in TargetKind)
            msg = f"label '{KIND_LABEL}' is '{explicit_kind}'; it must be one of: {allowed}"
            raise UnmappableAlertError(msg)
        return _hint(kind, namespace, labels.get(NAME_LABEL, ""), label=NAME_LABEL)
    for label, kind in TARGET_LABELS:
        name = _label(labels, label, trust_overrides=trust_overrides)
        if name:
            return _hint(kind, namespace, name, label=label)
    names = ", ".join(f"'{label}'" for label, _ in TARGET_LABELS)
    explicit = (
        f", or '{KIND_LABEL}' and '{NAME_LABEL}'"
        if trust_overrides
        else f" ('{KIND_LABEL}' and 'exported_*' labels count only with "
        "KUBEMEDIC_ALERT_LABEL_OVERRIDES=true)"
    )
    msg = f"no label names a target: set one of {names} (with 'namespace'){explicit}"
    raise UnmappableAlertError(msg)


def _hint(kind: TargetKind, namespace: str, name: str, *, label: str) -> TargetHint:
    if not name or not _DNS_SUBDOMAIN_RE.match(name) or len(name) > 253:
        msg = f"label '{label}' is '{name}', which is not a Kubernetes object name"
        raise UnmappableAlertError(msg)
    if kind in CLUSTER_SCOPED_KINDS:
        return TargetHint(target=TargetRef(kind=kind, name=name), label=label)
    if not namespace:
        msg = f"label '{label}' names {kind.value} '{name}' but the alert has no 'namespace' label"
        raise UnmappableAlertError(msg)
    if not _DNS_LABEL_RE.match(namespace) or len(namespace) > _MAX_LABEL_VALUE:
        msg = f"label 'namespace' is '{namespace}', which is not a namespace name"
        raise UnmappableAlertError(msg)
    return TargetHint(target=TargetRef(kind=kind, namespace=namespace, name=name), label=label)


def controller_of(obj: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(kind, name)`` of the object's controller (:func:`~kubemedic.domain.view.controller_ref`)."""
    ref = view.controller_ref(obj)
    return (str(ref["kind"]), str(ref["name"])) if ref is not None else None


def incident_namespace(target: TargetRef, *, alert_namespace: str) -> str:
    """Where the Incident lives: the target's namespace; for a Node, ``alert_namespace``."""
    return target.namespace or alert_namespace


# -- naming ------------------------------------------------------------------------------------


def incident_name(alert: ReceivedAlert) -> str:
    """``alert-<fingerprint>-<startsAt>``: the same for every notification of one episode."""
    fingerprint = alert.fingerprint.lower()
    if not re.fullmatch(r"[0-9a-f]{1,32}", fingerprint):
        # Alertmanager's are 16 hex digits; anything else is hashed to stay a DNS name.
        fingerprint = hashlib.sha256(alert.fingerprint.encode()).hexdigest()[:16]
    if alert.starts_at is None:
        return f"{INCIDENT_NAME_PREFIX}{fingerprint}"
    return f"{INCIDENT_NAME_PREFIX}{fingerprint}-{int(alert.starts_at.timestamp()):x}"


def target_hash(target: TargetRef) -> str:
    """A label value for the target (``Kind/namespace/name`` may be longer than 63)."""
    return hashlib.sha256(target.display().encode()).hexdigest()[:32]


def label_value(text: str) -> str:
    """``text`` made a valid label value (63 characters, alphanumeric at both ends)."""
    cleaned = _LABEL_VALUE_BAD_CHARS.sub("-", text)[:_MAX_LABEL_VALUE]
    return cleaned.strip("-._")


# -- content -----------------------------------------------------------------------------------


def severity_of(labels: Mapping[str, str]) -> Severity:
    """The Incident severity for the alert's ``severity`` label (Warning if unknown)."""
    return SEVERITIES.get(labels.get("severity", "").strip().lower(), DEFAULT_SEVERITY)


def summary_of(alert: ReceivedAlert, target: TargetRef) -> str:
    """``summary``, else ``message``, else the first line of ``description``, else the name."""
    annotations = alert.annotations
    text = annotations.get("summary") or annotations.get("message") or ""
    if not text and annotations.get("description"):
        text = annotations["description"].strip().splitlines()[0]
    if not text:
        text = f"{alert.alertname or 'An alert'} is firing for {target.display()}"
    return truncate(" ".join(text.split()), MAX_SUMMARY)


def description_of(alert: ReceivedAlert) -> str:
    """``description`` (or ``message``), then the runbook and the alert's source link."""
    annotations = alert.annotations
    parts = [annotations.get("description") or annotations.get("message") or ""]
    if annotations.get("runbook_url"):
        parts.append(f"Runbook: {annotations['runbook_url']}")
    if alert.generator_url:
        parts.append(f"Source: {alert.generator_url}")
    return truncate("\n\n".join(p.strip() for p in parts if p.strip()), MAX_DESCRIPTION)


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked with '…' when cut."""
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATION_MARK)] + TRUNCATION_MARK


def _bounded(values: Mapping[str, str], *, value_limit: int) -> dict[str, str]:
    priority = [k for k in _PRIORITY_LABELS if k in values]
    rest = sorted(k for k in values if k not in priority)
    keys = (priority + rest)[:MAX_ALERT_LABELS]
    return {k: truncate(values[k], value_limit) for k in keys}


def alert_info(alert: ReceivedAlert) -> AlertInfo:
    """``spec.alert``: the alert as received, fitted into the CRD's bounds."""
    return AlertInfo(
        fingerprint=alert.fingerprint[:128],
        group_key=truncate(alert.group_key, 1024) or None,
        status="resolved" if alert.status == "resolved" else "firing",
        labels=_bounded(alert.labels, value_limit=MAX_ALERT_LABEL_VALUE),
        annotations=_bounded(alert.annotations, value_limit=MAX_ALERT_ANNOTATION_VALUE),
        starts_at=_aware(alert.starts_at),
        ends_at=_aware(alert.ends_at),
        generator_url=truncate(alert.generator_url, 2048) or None,
    )


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def build_incident(
    alert: ReceivedAlert,
    *,
    target: TargetRef,
    namespace: str,
    received_at: datetime,
) -> dict[str, Any]:
    """The Incident to create for a firing alert (validated against the CRD's model)."""
    spec_target = TargetRef(
        kind=target.kind,
        namespace=None if target.kind in CLUSTER_SCOPED_KINDS else target.namespace,
        name=target.name,
    )
    spec = IncidentSpec(
        target=spec_target,
        severity=severity_of(alert.labels),
        summary=summary_of(alert, target),
        description=description_of(alert),
        source=Source.ALERT,
        alert=alert_info(alert),
    )
    labels = {
        "app.kubernetes.io/managed-by": "kubemedic",
        SOURCE_LABEL: SOURCE_ALERT,
        TARGET_HASH_LABEL: target_hash(target),
        FINGERPRINT_LABEL: label_value(alert.fingerprint),
    }
    if label_value(alert.alertname):
        labels[ALERTNAME_LABEL] = label_value(alert.alertname)
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "Incident",
        "metadata": {
            "name": incident_name(alert),
            "namespace": namespace,
            "labels": labels,
            "annotations": {
                RECEIVED_ANNOTATION: received_at.astimezone(UTC).isoformat(timespec="milliseconds")
            },
        },
        "spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
    }


# -- intake rules --------------------------------------------------------------------------------


def protected_reason(target: TargetRef, *, protected: frozenset[str]) -> str | None:
    """Why an alert about ``target`` is not taken in, if its namespace is protected."""
    if target.namespace is None or target.namespace not in protected:
        return None
    return (
        f"namespace '{target.namespace}' is protected (kubemedic never changes it), so its "
        "alerts open no Incident; set KUBEMEDIC_ALERT_SKIP_PROTECTED_NAMESPACES=false to "
        "take them in anyway"
    )


@dataclass(frozen=True)
class RateLimits:
    """How many alert Incidents may be opened per namespace and per target in ``window``.

    A limit of 0 disables it.
    """

    window: timedelta
    per_namespace: int = 0
    per_target: int = 0


def rate_limited(
    *,
    namespace: str,
    target: TargetRef,
    namespace_created: Sequence[datetime],
    target_created: Sequence[datetime],
    now: datetime,
    limits: RateLimits,
) -> tuple[OutcomeReason, str] | None:
    """Whether one more Incident would exceed a limit: the reason and a message, or ``None``.

    ``namespace_created``/``target_created``: when the alert Incidents already in the
    namespace / about the target were created (the target's limit is checked first: it is
    the narrower one, and its message is the more useful).
    """
    since = now - limits.window
    window = f"{limits.window.total_seconds():.0f}s"
    checks = (
        (limits.per_target, target_created, OutcomeReason.TARGET_RATE_LIMIT,
         f"target {target.display()}", "KUBEMEDIC_ALERT_MAX_INCIDENTS_PER_TARGET"),
        (limits.per_namespace, namespace_created, OutcomeReason.NAMESPACE_RATE_LIMIT,
         f"namespace '{namespace}'", "KUBEMEDIC_ALERT_MAX_INCIDENTS_PER_NAMESPACE"),
    )  # fmt: skip
    for limit, created, reason, scope, setting in checks:
        if limit <= 0:
            continue
        recent = sum(1 for moment in created if moment > since)
        if recent >= limit:
            return reason, (
                f"{scope} already has {recent} Incidents from alerts opened in the last "
                f"{window}, the limit ({setting}={limit}); nothing was created"
            )
    return None


# -- cooldown ----------------------------------------------------------------------------------


def within_cooldown(
    existing: Sequence[ExistingIncident], *, now: datetime, cooldown: timedelta
) -> ExistingIncident | None:
    """The newest Incident for the target opened less than ``cooldown`` ago, if any."""
    if cooldown <= timedelta(0):
        return None
    recent = [e for e in existing if now - e.created < cooldown]
    return max(recent, key=lambda e: e.created, default=None)


# -- status ------------------------------------------------------------------------------------


def status_for_alert(
    status: IncidentStatus, alert: ReceivedAlert, *, generation: int | None, now: datetime
) -> IncidentStatus | None:
    """The Incident's status after this notification, or ``None`` when nothing changes.

    A resolved alert sets ``AlertResolved=True``; a firing one sets it back to ``False``
    only if it had been resolved (the same episode firing again, e.g. after Prometheus lost
    and restored its state). A firing alert on an Incident without the condition changes
    nothing: repeats must not write.
    """
    current = find_condition(status.conditions, ConditionType.ALERT_RESOLVED)
    name = alert.alertname or "the alert"
    if alert.firing:
        if current is None or current.status is not ConditionStatus.TRUE:
            return None
        conditions = set_condition(
            status.conditions,
            type=ConditionType.ALERT_RESOLVED,
            status=ConditionStatus.FALSE,
            reason=ConditionReason.ALERT_FIRING,
            message=f"Alert {name} fires again (fingerprint {alert.fingerprint})",
            observed_generation=generation,
            now=now,
        )
        return status.model_copy(update={"conditions": conditions})
    if current is not None and current.status is ConditionStatus.TRUE:
        return None
    ended = (alert.ends_at or now).astimezone(UTC).replace(microsecond=0)
    conditions = set_condition(
        status.conditions,
        type=ConditionType.ALERT_RESOLVED,
        status=ConditionStatus.TRUE,
        reason=ConditionReason.ALERT_RESOLVED,
        message=(
            f"Alert {name} resolved at {ended.isoformat().replace('+00:00', 'Z')} "
            f"(fingerprint {alert.fingerprint})"
        ),
        observed_generation=generation,
        now=now,
    )
    return status.model_copy(update={"conditions": conditions})
