"""The PromQL evidence kubemedic reads for an incident: every query template, in one place.

Documented in docs/alerts.md ("PromQL evidence"); change both together.

Each :class:`QueryTemplate` names a category (``memory``, ``restarts``, ``cpu``,
``readiness``, ``replicas``, ``node``, ``volume``, ``autoscaling``, ``endpoints``), the target
kinds it applies to and a PromQL text with ``$placeholders``:

- ``$namespace`` the target's namespace; ``$pods`` a regex of the target's pods (from the
  bundle, so a Deployment's query covers exactly its own pods); ``$name`` the target's name;
- ``$rate`` the rate window (``5m``).

Values are escaped for PromQL string literals (and for regex where a regex is matched), so an
odd name cannot change a query. Range queries run over :func:`query_window`; instant ones at
its end. Series names follow what Prometheus scrapes in most clusters: the kubelet's
cAdvisor/resource metrics (``container_*``) and kube-state-metrics v2 (``kube_*``).

NB: the OOMKilled analyzer reads ``container_memory_working_set_bytes`` samples from the
bundle (:func:`kubemedic.domain.analyzers.memory_peak`) to size the new memory limit: the
``memory_working_set`` query keeps the ``namespace``/``pod``/``container`` labels it matches on.
The same holds for ``oom_events`` (OOM kills without a restart), ``cpu_throttling``
(CPUThrottling) and ``volume_available``/``volume_capacity``/``volume_usage`` (VolumeFull).
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from kubemedic.domain import quantity, view
from kubemedic.models.bundle import MetricResult
from kubemedic.models.target import TargetKind, TargetRef

#: Longest a window reaches back before the alert started (or before now).
DEFAULT_LOOKBACK: Final = timedelta(minutes=30)
#: Points per series of a range query at most; the step follows from the window.
MAX_POINTS: Final = 120
MIN_STEP_SECONDS: Final = 5
RATE_WINDOW: Final = "5m"
#: Pods named in one regex at most (the bundle holds at most 50).
MAX_PODS: Final = 50
#: Series kept per query result: a namespace-wide mistake must not flood the bundle.
MAX_SERIES: Final = 50

_WORKLOADS: Final = frozenset(
    {
        TargetKind.DEPLOYMENT,
        TargetKind.STATEFULSET,
        TargetKind.DAEMONSET,
        TargetKind.POD,
        TargetKind.HORIZONTAL_POD_AUTOSCALER,
    }
)
_POD_SELECTOR: Final = 'namespace="$namespace", pod=~"$pods"'


@dataclass(frozen=True)
class QueryTemplate:
    """One PromQL evidence query."""

    name: str
    category: str
    kinds: frozenset[TargetKind]
    promql: str
    #: Range query over the window (True) or an instant query at its end.
    range: bool
    #: How to show a value in a summary: ``bytes``, ``count`` or ``ratio``.
    unit: str
    description: str
    #: Needs ``$pods`` (skipped when the bundle has no pods).
    needs_pods: bool = False


@dataclass(frozen=True)
class Window:
    """The time range evidence is read over, and the step of range queries."""

    start: datetime
    end: datetime
    step_seconds: int


@dataclass(frozen=True)
class RenderedQuery:
    """A template with its placeholders filled in for one incident."""

    template: QueryTemplate
    promql: str


TEMPLATES: Final[tuple[QueryTemplate, ...]] = (
    QueryTemplate(
        name="memory_working_set",
        category="memory",
        kinds=_WORKLOADS,
        promql="max by (namespace, pod, container) (container_memory_working_set_bytes{"
        + _POD_SELECTOR
        + ', container!="", container!="POD"})',
        range=True,
        unit="bytes",
        description="working set per container: what the OOM killer compares with the limit",
        needs_pods=True,
    ),
    QueryTemplate(
        name="memory_limit",
        category="memory",
        kinds=_WORKLOADS,
        promql="max by (namespace, pod, container) (kube_pod_container_resource_limits{"
        + _POD_SELECTOR
        + ', resource="memory"})',
        range=False,
        unit="bytes",
        description="memory limit per container (kube-state-metrics)",
        needs_pods=True,
    ),
    QueryTemplate(
        name="restarts",
        category="restarts",
        kinds=_WORKLOADS,
        promql="max by (namespace, pod, container) (kube_pod_container_status_restarts_total{"
        + _POD_SELECTOR
        + "})",
        range=True,
        unit="count",
        description="restart count per container over the window",
        needs_pods=True,
    ),
    QueryTemplate(
        name="last_terminated_reason",
        category="restarts",
        kinds=_WORKLOADS,
        promql="max by (namespace, pod, container, reason) "
        "(kube_pod_container_status_last_terminated_reason{" + _POD_SELECTOR + "}) > 0",
        range=False,
        unit="count",
        description="why each container last terminated (OOMKilled, Error, ...)",
        needs_pods=True,
    ),
    QueryTemplate(
        name="oom_events",
        category="memory",
        kinds=_WORKLOADS,
        promql="max by (namespace, pod, container) (container_oom_events_total{"
        + _POD_SELECTOR
        + ', container!="", container!="POD"})',
        range=True,
        unit="count",
        description="OOM kills per container, also of child processes that do not restart it",
        needs_pods=True,
    ),
    QueryTemplate(
        name="cpu_usage",
        category="cpu",
        kinds=_WORKLOADS,
        promql="sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{"
        + _POD_SELECTOR
        + ', container!=""}[$rate]))',
        range=True,
        unit="cores",
        description="CPU used per container, in cores",
        needs_pods=True,
    ),
    QueryTemplate(
        name="cpu_throttling",
        category="cpu",
        kinds=_WORKLOADS,
        promql="sum by (namespace, pod, container) "
        "(rate(container_cpu_cfs_throttled_periods_total{" + _POD_SELECTOR + ', container!=""}'
        "[$rate])) / sum by (namespace, pod, container) "
        "(rate(container_cpu_cfs_periods_total{" + _POD_SELECTOR + ', container!=""}[$rate]))',
        range=True,
        unit="ratio",
        description="share of CPU periods throttled by the CPU limit",
        needs_pods=True,
    ),
    QueryTemplate(
        name="pod_ready",
        category="readiness",
        kinds=_WORKLOADS,
        promql="max by (namespace, pod) (kube_pod_status_ready{"
        + _POD_SELECTOR
        + ', condition="true"})',
        range=True,
        unit="count",
        description="readiness of each pod over time (1 ready, 0 not)",
        needs_pods=True,
    ),
    QueryTemplate(
        name="deployment_replicas_unavailable",
        category="replicas",
        kinds=frozenset({TargetKind.DEPLOYMENT}),
        promql="max by (namespace, deployment) "
        '(kube_deployment_status_replicas_unavailable{namespace="$namespace", '
        'deployment="$name"})',
        range=True,
        unit="count",
        description="replicas the Deployment wants but cannot have available",
    ),
    QueryTemplate(
        name="statefulset_replicas_ready",
        category="replicas",
        kinds=frozenset({TargetKind.STATEFULSET}),
        promql="max by (namespace, statefulset) "
        '(kube_statefulset_status_replicas_ready{namespace="$namespace", statefulset="$name"})',
        range=True,
        unit="count",
        description="ready replicas of the StatefulSet",
    ),
    QueryTemplate(
        name="daemonset_unavailable",
        category="replicas",
        kinds=frozenset({TargetKind.DAEMONSET}),
        promql="max by (namespace, daemonset) "
        '(kube_daemonset_status_number_unavailable{namespace="$namespace", daemonset="$name"})',
        range=True,
        unit="count",
        description="nodes where the DaemonSet's pod is not available",
    ),
    QueryTemplate(
        name="node_ready",
        category="node",
        kinds=frozenset({TargetKind.NODE}),
        promql='max by (node) (kube_node_status_condition{node="$name", condition="Ready", '
        'status="true"})',
        range=True,
        unit="count",
        description="the node's Ready condition over time (1 ready, 0 not)",
    ),
    QueryTemplate(
        name="node_pressure",
        category="node",
        kinds=frozenset({TargetKind.NODE}),
        promql='max by (node, condition) (kube_node_status_condition{node="$name", '
        'condition=~"MemoryPressure|DiskPressure|PIDPressure|NetworkUnavailable", status="true"}) > 0',
        range=True,
        unit="count",
        description="pressure conditions the node reported",
    ),
    QueryTemplate(
        name="volume_usage",
        category="volume",
        kinds=frozenset({TargetKind.PERSISTENT_VOLUME_CLAIM}),
        promql="max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_used_bytes{"
        'namespace="$namespace", persistentvolumeclaim="$name"}) / max by (namespace, '
        "persistentvolumeclaim) (kubelet_volume_stats_capacity_bytes{"
        'namespace="$namespace", persistentvolumeclaim="$name"})',
        range=True,
        unit="ratio",
        description="share of the volume used",
    ),
    QueryTemplate(
        name="volume_available",
        category="volume",
        kinds=frozenset({TargetKind.PERSISTENT_VOLUME_CLAIM}),
        promql="min by (namespace, persistentvolumeclaim) (kubelet_volume_stats_available_bytes{"
        'namespace="$namespace", persistentvolumeclaim="$name"})',
        range=True,
        unit="bytes",
        description="bytes still free on the volume (VolumeFull at about zero)",
    ),
    QueryTemplate(
        name="volume_capacity",
        category="volume",
        kinds=frozenset({TargetKind.PERSISTENT_VOLUME_CLAIM}),
        promql="max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_capacity_bytes{"
        'namespace="$namespace", persistentvolumeclaim="$name"})',
        range=False,
        unit="bytes",
        description="the volume's size as the kubelet sees it",
    ),
    QueryTemplate(
        name="hpa_replicas",
        category="autoscaling",
        kinds=frozenset({TargetKind.HORIZONTAL_POD_AUTOSCALER}),
        promql="max by (namespace, horizontalpodautoscaler) "
        '(kube_horizontalpodautoscaler_status_current_replicas{namespace="$namespace", '
        'horizontalpodautoscaler="$name"}) / max by (namespace, horizontalpodautoscaler) '
        '(kube_horizontalpodautoscaler_spec_max_replicas{namespace="$namespace", '
        'horizontalpodautoscaler="$name"})',
        range=True,
        unit="ratio",
        description="current replicas as a share of maxReplicas (1 means maxed out)",
    ),
    QueryTemplate(
        name="service_ready_endpoints",
        category="endpoints",
        kinds=frozenset({TargetKind.SERVICE}),
        promql="sum by (namespace, endpoint) (kube_endpoint_address{"
        'namespace="$namespace", endpoint="$name", ready="true"})',
        range=True,
        unit="count",
        description="ready endpoint addresses behind the Service",
    ),
)

#: Characters RE2 treats specially; pod names only ever contain '.', but be exact.
_REGEX_SPECIAL: Final = re.compile(r"([\\.+*?()|\[\]{}^$])")


def escape_string(value: str) -> str:
    """``value`` as the inside of a double-quoted PromQL string."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_regex(value: str) -> str:
    """``value`` as a literal inside a PromQL regex string (``=~"..."``)."""
    return escape_string(_REGEX_SPECIAL.sub(r"\\\1", value))


def query_window(
    *, now: datetime, alert_start: datetime | None, lookback: timedelta = DEFAULT_LOOKBACK
) -> Window:
    """``lookback`` before the alert started (or before now) until now.

    The step gives at most :data:`MAX_POINTS` points, never less than 5 seconds.

    NB: a range query evaluates at ``start + k * step`` only; ``start`` is moved back so that
    ``end`` (now, rounded up to whole seconds) is one of those points — otherwise the newest samples, the
    ones the incident is about, could fall after the last evaluated point.
    """
    # NB: rounded *up* to a whole second: rounded down, a sample scraped in the last fraction
    # of a second (the first one of a new pod, say) would lie after ``end`` and be missed.
    end = now.replace(microsecond=0) + (timedelta(seconds=1) if now.microsecond else timedelta(0))
    anchor = min(alert_start, end) if alert_start is not None else end
    seconds = max((end - (anchor - lookback)).total_seconds(), 1.0)
    step = max(MIN_STEP_SECONDS, math.ceil(seconds / MAX_POINTS))
    points = math.ceil(seconds / step)
    return Window(start=end - timedelta(seconds=points * step), end=end, step_seconds=step)


def pods_of(objects: Iterable[Mapping[str, object]]) -> list[str]:
    """Names of the Pods among a bundle's objects, sorted, at most :data:`MAX_PODS`."""
    names = {
        view.get_str(obj, "metadata", "name")
        for obj in objects
        if obj.get("kind") == "Pod" and view.get_str(obj, "metadata", "name")
    }
    return sorted(names)[:MAX_PODS]


def render_queries(target: TargetRef, *, pods: Sequence[str]) -> list[RenderedQuery]:
    """The queries that apply to ``target``, with its namespace, name and pods filled in."""
    values = {
        "namespace": escape_string(target.namespace or ""),
        "name": escape_string(target.name),
        "pods": "|".join(escape_regex(p) for p in pods[:MAX_PODS]),
        "rate": RATE_WINDOW,
    }
    rendered = []
    for template in TEMPLATES:
        if target.kind not in template.kinds or (template.needs_pods and not pods):
            continue
        promql = string.Template(template.promql).substitute(values)
        rendered.append(RenderedQuery(template=template, promql=promql))
    return rendered


def bounded_data(data: Mapping[str, object]) -> dict[str, object]:
    """Prometheus ``data`` with at most :data:`MAX_SERIES` series (the bundle stays small)."""
    result = data.get("result")
    if isinstance(result, list) and len(result) > MAX_SERIES:
        return {**data, "result": result[:MAX_SERIES]}
    return dict(data)


def summarize(query: RenderedQuery, result: MetricResult) -> str | None:
    """One line for a condition message: the query's name and its peak per series.

    ``None`` when the query returned no samples.
    """
    peaks: dict[str, float] = {}
    for labels, value in view.iter_metric_samples(result):
        key = _series_key(labels)
        peaks[key] = max(value, peaks.get(key, value))
    if not peaks:
        return None
    shown = sorted(peaks.items(), key=lambda kv: -kv[1])[:3]
    parts = [f"{key or 'total'} {_format(value, query.template.unit)}" for key, value in shown]
    more = f" (+{len(peaks) - len(shown)} more)" if len(peaks) > len(shown) else ""
    return f"{query.template.name}: peak " + ", ".join(parts) + more


def _series_key(labels: Mapping[str, str]) -> str:
    parts = [labels[k] for k in ("pod", "container", "reason", "condition") if labels.get(k)]
    return "/".join(parts)


def _format(value: float, unit: str) -> str:
    if unit == "bytes":
        return quantity.format_bytes(math.ceil(value))
    if unit == "ratio":
        return f"{value:.0%}"
    if unit == "cores":
        return f"{value:.3g} cores"
    return f"{value:g}"
