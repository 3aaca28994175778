"""Alert → Incident mapping, pure: tables of realistic alerts.

We test these aspects:
- alert labels map to the right target (kube-state-metrics label names, precedence between
  them); ``exported_*`` and explicit ``kubemedic_target_*`` labels (the scraped application's)
  are ignored by default and win only when trusted; labels that name nothing are refused
  with a message that says which labels were looked for;
- alerts in protected namespaces are refused with the setting named; the rate limits count
  only Incidents within the window, per target first, then per namespace, and 0 disables;
- our fingerprint is Alertmanager's (values taken from a real Alertmanager 0.25), so polling
  Prometheus and the webhook name the same alert alike;
- Incident names are deterministic per firing episode and valid Kubernetes names;
- severity, summary and description come from the alert's labels and annotations, bounded to
  what the CRD accepts; the Incident body validates against the CRD's model;
- the cooldown finds only Incidents opened within it;
- a resolved alert sets ``AlertResolved=True`` once, and a firing one sets it back only
  after a resolution;
- Alertmanager's webhook payload is parsed as Alertmanager sends it (Go zero time for an
  unset ``endsAt``, fields added by newer versions), and a body that is not one is refused
  with the field named;
- the PromQL evidence templates render with escaped values, pick queries by target kind, and
  their results are what the OOMKilled analyzer reads to size a memory limit.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from kubemedic.domain import alert_mapping as alerts
from kubemedic.domain import analyzers, promql, view
from kubemedic.models.alertmanager import WebhookPayload
from kubemedic.models.bundle import IncidentBundle, MetricResult
from kubemedic.models.conditions import ConditionStatus, ConditionType, find_condition
from kubemedic.models.incident import IncidentSpec, IncidentStatus, Severity
from kubemedic.models.target import DNS_SUBDOMAIN_PATTERN, TargetKind, TargetRef

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def alert(
    labels: dict[str, str],
    *,
    status: str = "firing",
    annotations: dict[str, str] | None = None,
    fingerprint: str | None = None,
    starts_at: datetime | None = T0,
) -> alerts.ReceivedAlert:
    return alerts.ReceivedAlert(
        status=status,
        labels=labels,
        annotations=annotations or {},
        fingerprint=fingerprint or alerts.label_fingerprint(labels),
        starts_at=starts_at,
        generator_url="http://prometheus:9090/graph?g0.expr=up",
        group_key='{}:{alertname="X"}',
    )


# -- labels → target ---------------------------------------------------------------------------

TARGETS = [
    pytest.param(
        {"alertname": "KubemedicDeploymentReplicasMismatch", "namespace": "shop", "deployment": "web"},
        (TargetKind.DEPLOYMENT, "shop", "web"),
        id="deployment",
    ),
    pytest.param(
        {"alertname": "KubemedicPodCrashLooping", "namespace": "shop", "pod": "web-5d9c7b6f4-x2x7q",
         "container": "app", "node": "worker-1"},
        (TargetKind.POD, "shop", "web-5d9c7b6f4-x2x7q"),
        id="pod-beats-node",
    ),
    pytest.param(
        {"namespace": "data", "statefulset": "postgres", "pod": "postgres-0"},
        (TargetKind.STATEFULSET, "data", "postgres"),
        id="workload-beats-pod",
    ),
    pytest.param(
        {"namespace": "kube-system", "daemonset": "log-agent"},
        (TargetKind.DAEMONSET, "kube-system", "log-agent"),
        id="daemonset",
    ),
    pytest.param(
        {"namespace": "shop", "horizontalpodautoscaler": "web"},
        (TargetKind.HORIZONTAL_POD_AUTOSCALER, "shop", "web"),
        id="hpa",
    ),
    pytest.param(
        {"namespace": "data", "persistentvolumeclaim": "pgdata-postgres-0", "node": "worker-2"},
        (TargetKind.PERSISTENT_VOLUME_CLAIM, "data", "pgdata-postgres-0"),
        id="pvc",
    ),
    pytest.param(
        {"namespace": "shop", "endpoint": "web", "service": "web"},
        (TargetKind.SERVICE, "shop", "web"),
        id="service",
    ),
    pytest.param(
        {"alertname": "KubemedicNodeNotReady", "node": "worker-1.example.com"},
        (TargetKind.NODE, None, "worker-1.example.com"),
        id="node-is-cluster-scoped",
    ),
    pytest.param(
        # The application's own labels (exported_*) name another namespace's pod: by default
        # only the scrape target's labels count.
        {"namespace": "monitoring", "pod": "kube-state-metrics-0", "exported_namespace": "shop",
         "exported_pod": "web-1"},
        (TargetKind.POD, "monitoring", "kube-state-metrics-0"),
        id="exported-labels-ignored",
    ),
    pytest.param(
        {"namespace": "shop", "app": "checkout", "kubemedic_target_kind": "deployment",
         "kubemedic_target_name": "checkout", "pod": "other-1"},
        (TargetKind.POD, "shop", "other-1"),
        id="explicit-labels-ignored",
    ),
    pytest.param(
        {"namespace": "team-a", "deployment": "web", "exported_namespace": "team-b",
         "exported_deployment": "payments"},
        (TargetKind.DEPLOYMENT, "team-a", "web"),
        id="exported-cannot-leave-the-namespace",
    ),
    pytest.param(
        {"namespace": "shop", "exported_deployment": "web"},
        None,
        id="exported-only-names-nothing",
    ),
]  # fmt: skip

TRUSTED_TARGETS = [
    pytest.param(
        # Scraped without honor_labels: the series' own labels become exported_*.
        {"namespace": "monitoring", "pod": "kube-state-metrics-0", "exported_namespace": "shop",
         "exported_pod": "web-1"},
        (TargetKind.POD, "shop", "web-1"),
        id="exported-labels-win",
    ),
    pytest.param(
        {"namespace": "shop", "app": "checkout", "kubemedic_target_kind": "deployment",
         "kubemedic_target_name": "checkout", "pod": "other-1"},
        (TargetKind.DEPLOYMENT, "shop", "checkout"),
        id="explicit-labels-win",
    ),
    pytest.param(
        {"namespace": "shop", "deployment": "web"},
        (TargetKind.DEPLOYMENT, "shop", "web"),
        id="plain-labels-still-map",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("labels", "expected"), TARGETS)
def test_labels_map_to_target(
    labels: dict[str, str], expected: tuple[TargetKind, str | None, str] | None
) -> None:
    if expected is None:
        with pytest.raises(alerts.UnmappableAlertError, match="KUBEMEDIC_ALERT_LABEL_OVERRIDES"):
            alerts.target_from_labels(labels)
        return
    hint = alerts.target_from_labels(labels)
    assert (hint.target.kind, hint.target.namespace, hint.target.name) == expected


@pytest.mark.parametrize(("labels", "expected"), TRUSTED_TARGETS)
def test_overrides_win_only_when_trusted(
    labels: dict[str, str], expected: tuple[TargetKind, str | None, str]
) -> None:
    hint = alerts.target_from_labels(labels, trust_overrides=True)
    assert (hint.target.kind, hint.target.namespace, hint.target.name) == expected


UNMAPPABLE = [
    pytest.param({"alertname": "Watchdog"}, "no label names a target", id="no-target-label"),
    pytest.param({"pod": "web-1"}, "no 'namespace' label", id="namespaced-without-namespace"),
    pytest.param({"namespace": "shop", "deployment": "Web_1"}, "not a Kubernetes object name",
                 id="invalid-name"),
    pytest.param({"namespace": "Shop!", "deployment": "web"}, "not a namespace name",
                 id="invalid-namespace"),
    pytest.param({"namespace": "shop", "kubemedic_target_kind": "CronJob",
                  "kubemedic_target_name": "x"}, "must be one of", id="unknown-explicit-kind"),
]  # fmt: skip


@pytest.mark.parametrize(("labels", "message"), UNMAPPABLE)
def test_unmappable_labels_say_what_is_missing(labels: dict[str, str], message: str) -> None:
    with pytest.raises(alerts.UnmappableAlertError, match=re.escape(message)):
        alerts.target_from_labels(labels, trust_overrides=True)


def test_no_target_message_lists_the_labels_looked_for() -> None:
    with pytest.raises(alerts.UnmappableAlertError) as refused:
        alerts.target_from_labels({"alertname": "Watchdog"})
    for label, _ in alerts.TARGET_LABELS:
        assert f"'{label}'" in str(refused.value)


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"metadata": {"ownerReferences": [
            {"kind": "ReplicaSet", "name": "web-5d9c7b6f4", "controller": True}]}},
         ("ReplicaSet", "web-5d9c7b6f4")),
        ({"metadata": {"ownerReferences": [
            {"kind": "ConfigMap", "name": "x"},
            {"kind": "StatefulSet", "name": "db", "controller": True}]}},
         ("StatefulSet", "db")),
        # Not marked as the controller: the only reference counts (one rule, view.controller_ref).
        ({"metadata": {"ownerReferences": [{"kind": "ReplicaSet", "name": "x"}]}},
         ("ReplicaSet", "x")),
        ({"metadata": {"ownerReferences": [{"kind": "ReplicaSet"}, {"name": "y"}]}}, None),
        ({"metadata": {}}, None),
        ({"metadata": {"ownerReferences": "garbage"}}, None),
    ],
)  # fmt: skip
def test_controller_of(obj: dict[str, Any], expected: tuple[str, str] | None) -> None:
    assert alerts.controller_of(obj) == expected


# -- fingerprints and names --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "fingerprint"),
    [
        # Read back from Alertmanager 0.25's /api/v2/alerts after posting these labels.
        ({"alertname": "KubemedicPodCrashLooping", "namespace": "shop", "pod": "web-1",
          "severity": "warning"}, "820a4ef881cd2e68"),
        ({"alertname": "A"}, "d2c6efc389df0927"),
        ({"alertname": "ünïcode", "x": "y\nz"}, "f6b40ac150ff6a67"),
    ],
)  # fmt: skip
def test_fingerprint_is_alertmanagers(labels: dict[str, str], fingerprint: str) -> None:
    assert alerts.label_fingerprint(labels) == fingerprint


def test_incident_name_is_stable_per_episode_and_a_valid_name() -> None:
    labels = {"alertname": "KubemedicPodCrashLooping", "namespace": "shop", "pod": "web-1"}
    first = alerts.incident_name(alert(labels))
    assert first == alerts.incident_name(alert(labels, status="resolved"))
    assert first == alerts.incident_name(alert(labels, starts_at=T0 + timedelta(milliseconds=400)))
    assert first == f"alert-{alerts.label_fingerprint(labels)}-{int(T0.timestamp()):x}"
    assert first != alerts.incident_name(alert(labels, starts_at=T0 + timedelta(minutes=3)))
    assert first != alerts.incident_name(alert({**labels, "pod": "web-2"}))
    odd = alerts.incident_name(alert(labels, fingerprint="NOT-HEX/../" * 20, starts_at=None))
    for name in (first, odd):
        assert re.fullmatch(DNS_SUBDOMAIN_PATTERN, name) and len(name) <= 63, name


def test_series_from_alerts_metric_become_alerts() -> None:
    series = {"__name__": "ALERTS", "alertstate": "firing", "alertname": "A", "namespace": "shop",
              "deployment": "web"}  # fmt: skip
    polled = alerts.alert_from_series(series, active_at=T0)
    assert dict(polled.labels) == {"alertname": "A", "namespace": "shop", "deployment": "web"}
    assert polled.fingerprint == alerts.label_fingerprint(polled.labels)
    assert polled.firing and polled.starts_at == T0 and polled.group_key == alerts.POLL_GROUP_KEY
    gone = alerts.resolved(polled, ends_at=T0 + timedelta(minutes=1))
    assert gone.status == "resolved" and alerts.incident_name(gone) == alerts.incident_name(polled)


# -- content -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "severity"),
    [
        ("critical", Severity.CRITICAL),
        ("page", Severity.CRITICAL),
        ("error", Severity.HIGH),
        ("Warning", Severity.WARNING),
        (" info ", Severity.INFO),
        ("none", Severity.INFO),
        ("", Severity.WARNING),
        ("whatever", Severity.WARNING),
    ],
)
def test_severity(value: str, severity: Severity) -> None:
    assert alerts.severity_of({"severity": value}) is severity


def test_summary_and_description_fall_back_in_order() -> None:
    target = TargetRef(kind=TargetKind.DEPLOYMENT, namespace="shop", name="web")
    labels = {"alertname": "KubemedicDeploymentReplicasMismatch"}
    cases = [
        ({"summary": "S", "message": "M", "description": "D"}, "S"),
        ({"message": "M", "description": "D"}, "M"),
        ({"description": "first line\nsecond line"}, "first line"),
        ({}, "KubemedicDeploymentReplicasMismatch is firing for Deployment/shop/web"),
    ]
    for given, summary in cases:
        assert alerts.summary_of(alert(labels, annotations=given), target) == summary
    described = alerts.description_of(
        alert(labels, annotations={"description": "D", "runbook_url": "https://runbooks/x"})
    )
    assert described.splitlines()[0] == "D"
    assert "Runbook: https://runbooks/x" in described
    assert "Source: http://prometheus:9090/graph" in described


def test_incident_body_is_valid_and_bounded() -> None:
    labels = {f"label_{i:03d}": "v" * 2000 for i in range(80)}
    labels |= {"alertname": "Kubemedic Pod/Crash*Looping!", "namespace": "shop",
               "pod": "web-1", "severity": "critical"}  # fmt: skip
    received = alert(labels, annotations={"summary": "s" * 600, "description": "d" * 9000})
    target = TargetRef(kind=TargetKind.DEPLOYMENT, namespace="shop", name="web")
    body = alerts.build_incident(received, target=target, namespace="shop", received_at=T0)

    spec = IncidentSpec.model_validate(body["spec"])  # what the API server would accept
    assert spec.source.value == "Alert"
    assert spec.severity is Severity.CRITICAL
    assert spec.target == target.model_copy(update={"api_version": None})
    assert len(spec.summary) == 256 and spec.summary.endswith("…")
    assert len(spec.description) <= 4096
    assert spec.alert is not None
    assert len(spec.alert.labels) == 64
    # The labels that identify the alert and its target survive the cut.
    for key in ("alertname", "namespace", "pod", "severity"):
        assert key in spec.alert.labels
    assert all(len(v) <= 1024 for v in spec.alert.labels.values())
    assert spec.alert.starts_at == T0 and spec.alert.fingerprint == received.fingerprint

    metadata = body["metadata"]
    assert metadata["name"] == alerts.incident_name(received)
    assert metadata["namespace"] == "shop"
    assert metadata["labels"][alerts.TARGET_HASH_LABEL] == alerts.target_hash(target)
    assert metadata["labels"][alerts.ALERTNAME_LABEL] == "Kubemedic-Pod-Crash-Looping"
    assert metadata["annotations"][alerts.RECEIVED_ANNOTATION] == "2026-03-01T12:00:00.000+00:00"
    for value in metadata["labels"].values():
        assert re.fullmatch(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]", value), value


def test_node_incident_lives_in_the_alert_namespace_without_target_namespace() -> None:
    received = alert({"alertname": "KubemedicNodeNotReady", "node": "worker-1"})
    hint = alerts.target_from_labels(received.labels)
    namespace = alerts.incident_namespace(hint.target, alert_namespace="kubemedic")
    body = alerts.build_incident(received, target=hint.target, namespace=namespace, received_at=T0)
    assert body["metadata"]["namespace"] == "kubemedic"
    assert body["spec"]["target"] == {"kind": "Node", "name": "worker-1"}


def test_target_hash_is_a_label_value_that_tells_targets_apart() -> None:
    a = TargetRef(kind=TargetKind.DEPLOYMENT, namespace="shop", name="web")
    b = TargetRef(kind=TargetKind.STATEFULSET, namespace="shop", name="web")
    assert alerts.target_hash(a) != alerts.target_hash(b)
    assert re.fullmatch(r"[0-9a-f]{32}", alerts.target_hash(a))


# -- cooldown ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ages_minutes", "cooldown_minutes", "expected"),
    [
        ([], 10, None),
        ([30], 10, None),
        ([30, 4, 9], 10, 4),
        ([9.99], 10, 9.99),
        ([10], 10, None),
        ([1], 0, None),  # 0 disables the cooldown
    ],
)
def test_cooldown_finds_the_newest_recent_incident(
    ages_minutes: list[float], cooldown_minutes: float, expected: float | None
) -> None:
    existing = [
        alerts.ExistingIncident(name=f"age-{age}", created=T0 - timedelta(minutes=age))
        for age in ages_minutes
    ]
    found = alerts.within_cooldown(existing, now=T0, cooldown=timedelta(minutes=cooldown_minutes))
    assert (found.name if found else None) == (f"age-{expected}" if expected is not None else None)


# -- intake rules ------------------------------------------------------------------------------

WEB = TargetRef(kind=TargetKind.DEPLOYMENT, namespace="shop", name="web")


@pytest.mark.parametrize(
    ("target", "protected", "skipped"),
    [
        (WEB, frozenset({"kube-system"}), False),
        (WEB, frozenset({"kube-system", "shop"}), True),
        (TargetRef(kind=TargetKind.NODE, name="worker-1"), frozenset({"kube-system"}), False),
        (WEB, frozenset(), False),
    ],
)
def test_protected_namespaces_are_skipped(
    target: TargetRef, protected: frozenset[str], skipped: bool
) -> None:
    reason = alerts.protected_reason(target, protected=protected)
    assert (reason is not None) == skipped
    if reason is not None:
        assert "'shop' is protected" in reason
        assert "KUBEMEDIC_ALERT_SKIP_PROTECTED_NAMESPACES" in reason


def minutes_ago(*ages: float) -> list[datetime]:
    return [T0 - timedelta(minutes=age) for age in ages]


@pytest.mark.parametrize(
    ("namespace_ages", "target_ages", "per_namespace", "per_target", "expected"),
    [
        pytest.param([], [], 3, 1, None, id="nothing-yet"),
        pytest.param([1, 2], [], 3, 1, None, id="under-both"),
        pytest.param([1, 2, 3], [], 3, 1, alerts.OutcomeReason.NAMESPACE_RATE_LIMIT,
                     id="namespace-full"),
        pytest.param([1, 2, 70], [], 3, 1, None, id="old-ones-left-the-window"),
        pytest.param([1], [1], 3, 1, alerts.OutcomeReason.TARGET_RATE_LIMIT, id="target-full"),
        pytest.param([1, 2, 3], [1], 3, 1, alerts.OutcomeReason.TARGET_RATE_LIMIT,
                     id="target-checked-first"),
        pytest.param([1, 2, 3], [1], 0, 0, None, id="zero-disables"),
        pytest.param([60], [60], 1, 1, None, id="window-edge-excluded"),
    ],
)  # fmt: skip
def test_rate_limits_count_incidents_within_the_window(
    namespace_ages: list[float],
    target_ages: list[float],
    per_namespace: int,
    per_target: int,
    expected: alerts.OutcomeReason | None,
) -> None:
    limits = alerts.RateLimits(
        window=timedelta(hours=1), per_namespace=per_namespace, per_target=per_target
    )
    found = alerts.rate_limited(
        namespace="shop",
        target=WEB,
        namespace_created=minutes_ago(*namespace_ages),
        target_created=minutes_ago(*target_ages),
        now=T0,
        limits=limits,
    )
    assert (found[0] if found else None) == expected
    if found is not None:
        setting = {
            alerts.OutcomeReason.NAMESPACE_RATE_LIMIT: "KUBEMEDIC_ALERT_MAX_INCIDENTS_PER_NAMESPACE",
            alerts.OutcomeReason.TARGET_RATE_LIMIT: "KUBEMEDIC_ALERT_MAX_INCIDENTS_PER_TARGET",
        }[found[0]]
        assert setting in found[1] and "3600s" in found[1]


# -- status ------------------------------------------------------------------------------------


def test_resolution_and_refiring_set_alert_resolved() -> None:
    labels = {"alertname": "KubemedicPodCrashLooping", "namespace": "shop", "pod": "web-1"}
    firing, resolution = alert(labels), alert(labels, status="resolved")
    resolution = alerts.resolved(resolution, ends_at=T0 + timedelta(minutes=7))
    start = IncidentStatus()

    assert alerts.status_for_alert(start, firing, generation=1, now=T0) is None
    done = alerts.status_for_alert(start, resolution, generation=1, now=T0 + timedelta(minutes=8))
    assert done is not None
    condition = find_condition(done.conditions, ConditionType.ALERT_RESOLVED)
    assert condition is not None
    assert condition.status is ConditionStatus.TRUE and condition.reason == "AlertResolved"
    assert "2026-03-01T12:07:00Z" in condition.message
    assert alerts.status_for_alert(done, resolution, generation=1, now=T0) is None  # a repeat

    again = alerts.status_for_alert(done, firing, generation=1, now=T0 + timedelta(minutes=9))
    assert again is not None
    condition = find_condition(again.conditions, ConditionType.ALERT_RESOLVED)
    assert condition is not None
    assert condition.status is ConditionStatus.FALSE and condition.reason == "AlertFiring"


# -- the webhook payload -----------------------------------------------------------------------


def payload(**overrides: Any) -> dict[str, Any]:
    """A notification as Alertmanager 0.25 sends it (with a field from a newer version)."""
    body: dict[str, Any] = {
        "receiver": "kubemedic",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "KubemedicPodCrashLooping", "namespace": "shop",
                           "pod": "web-1", "severity": "warning"},
                "annotations": {"summary": "web-1 is crash looping"},
                "startsAt": "2026-03-01T12:00:00.123456789Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=...",
                "fingerprint": "820a4ef881cd2e68",
            }
        ],
        "groupLabels": {"alertname": "KubemedicPodCrashLooping"},
        "commonLabels": {"alertname": "KubemedicPodCrashLooping"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": '{}:{alertname="KubemedicPodCrashLooping"}',
        "truncatedAlerts": 0,
        "someFieldFromTheFuture": {"x": 1},
    }  # fmt: skip
    body.update(overrides)
    return body


def test_webhook_payload_parses_as_alertmanager_sends_it() -> None:
    parsed = WebhookPayload.model_validate(payload())
    [received] = alerts.alerts_from_webhook(parsed)
    assert received.ends_at is None  # Go's zero time means "not set"
    assert received.starts_at == datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert received.fingerprint == alerts.label_fingerprint(received.labels)
    assert received.group_key == '{}:{alertname="KubemedicPodCrashLooping"}'


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"version": "3"}, "version"),
        ({"alerts": None}, "alerts"),
        ({"status": "pending"}, "status"),
        ({"groupKey": None}, "groupKey"),
        ({"alerts": [{"status": "firing", "labels": {}}]}, "alerts.0.fingerprint"),
        ({"alerts": [{"status": "firing", "labels": {"a": 1}, "fingerprint": "ab"}]},
         "alerts.0.labels.a"),
        ({"alerts": [{"status": "firing", "labels": {}, "fingerprint": "xyz!"}]},
         "alerts.0.fingerprint"),
    ],
)  # fmt: skip
def test_not_a_webhook_payload_names_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        WebhookPayload.model_validate(payload(**change))
    locations = {".".join(str(p) for p in err["loc"]) for err in refused.value.errors()}
    assert field in locations, locations


# -- PromQL evidence ---------------------------------------------------------------------------


def test_queries_are_chosen_by_kind_and_escaped() -> None:
    deployment = TargetRef(kind=TargetKind.DEPLOYMENT, namespace="shop", name="web")
    rendered = promql.render_queries(deployment, pods=["web-1", "web.2"])
    names = {q.template.name for q in rendered}
    assert {"memory_working_set", "restarts", "cpu_throttling", "pod_ready"} <= names
    assert "deployment_replicas_unavailable" in names and "node_ready" not in names
    working_set = next(q for q in rendered if q.template.name == "memory_working_set")
    assert 'pod=~"web-1|web\\\\.2"' in working_set.promql
    assert 'namespace="shop"' in working_set.promql
    assert "$" not in "".join(q.promql for q in rendered)

    assert {q.template.name for q in promql.render_queries(deployment, pods=[])} == {
        "deployment_replicas_unavailable"
    }
    node = TargetRef(kind=TargetKind.NODE, name="worker-1")
    assert {q.template.category for q in promql.render_queries(node, pods=[])} == {"node"}
    evil = TargetRef(kind=TargetKind.SERVICE, namespace="shop", name="web")
    [endpoints] = promql.render_queries(evil, pods=[])
    assert 'endpoint="web"' in endpoints.promql
    assert promql.escape_string('a"b\\c') == 'a\\"b\\\\c'


def test_every_template_is_documented() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "alerts.md").read_text()
    for template in promql.TEMPLATES:
        assert f"`{template.name}`" in docs, template.name


def test_window_reaches_back_from_the_alert_start() -> None:
    window = promql.query_window(now=T0, alert_start=T0 - timedelta(minutes=10),
                                 lookback=timedelta(minutes=30))  # fmt: skip
    assert window.start == T0 - timedelta(minutes=40) and window.end == T0
    assert window.step_seconds == 20  # 40 minutes in at most 120 points
    short = promql.query_window(now=T0, alert_start=None, lookback=timedelta(minutes=1))
    assert short.step_seconds == promql.MIN_STEP_SECONDS
    # `end` is an evaluated point: start + k * step lands on it exactly.
    odd = promql.query_window(
        now=T0 + timedelta(seconds=7, microseconds=5), alert_start=T0 - timedelta(seconds=1001),
        lookback=timedelta(0),
    )  # fmt: skip
    # rounded up: a sample scraped at T0+7.000005s must not fall after the last point
    assert odd.end == T0 + timedelta(seconds=8)
    assert (odd.end - odd.start).total_seconds() % odd.step_seconds == 0
    assert odd.start <= T0 - timedelta(seconds=1001)


def test_working_set_results_size_the_oom_memory_limit() -> None:
    """The enricher's answer, in the shape Prometheus gives it, is what the OOM analyzer reads."""
    target = TargetRef(kind=TargetKind.DEPLOYMENT, namespace="shop", name="cache")
    query = next(
        q
        for q in promql.render_queries(target, pods=["cache-1"])
        if q.template.name == "memory_working_set"
    )
    series = [
        {"metric": {"namespace": "shop", "pod": "cache-1", "container": "app"},
         "values": [[1772366400, "150000000"], [1772366420, "178257920"]]},
        {"metric": {"namespace": "shop", "pod": "cache-1", "container": "sidecar"},
         "values": [[1772366400, "999999999"]]},
    ]  # fmt: skip
    result = MetricResult(query=query.promql, data={"resultType": "matrix", "result": series})
    bundle = IncidentBundle(target=target, metrics=[result])
    peak = analyzers.memory_peak(
        view.BundleView(bundle), namespace="shop", container="app", pods={"cache-1"}
    )
    assert peak == 178257920
    assert promql.summarize(query, result) == (
        "memory_working_set: peak cache-1/sidecar 953.7Mi, cache-1/app 170Mi"
    )
    empty = MetricResult(query=query.promql, data={"resultType": "matrix", "result": []})
    assert promql.summarize(query, empty) is None


def test_results_are_bounded() -> None:
    data = {"resultType": "vector", "result": [{"metric": {}, "value": [0, "1"]}] * 500}
    assert len(promql.bounded_data(data)["result"]) == promql.MAX_SERIES  # type: ignore[arg-type]
