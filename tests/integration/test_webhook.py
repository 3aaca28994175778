"""The Alertmanager webhook of the operator, against the real local control plane.

The operator runs as a process with its webhook on a loopback port and a Prometheus URL on
which nothing listens (Prometheus is down for this whole module). A second operator
(``strict_op``) has the cooldown off, small rate limits, a cap of 10,000 alerts per
notification and ``exported_*`` labels trusted.

We test these aspects:
- a notification with two crash-looping pods of one Deployment opens exactly one Incident,
  named from the first alert's fingerprint and start, about the Deployment (pods are followed
  to their owner), with source, severity, summary and the alert stored; the second pod's
  alert is held back by the per-target cooldown; the Incident is diagnosed;
- Prometheus down: the diagnosis proceeds without metrics and ``MetricsCollected=False``
  (``PrometheusUnavailable``) says so;
- Alertmanager's retry of the same notification creates nothing more; a resolution sets
  ``AlertResolved=True`` once; the same episode firing again sets it back to False; a new
  episode within the cooldown opens nothing;
- alerts about an object or a namespace that does not exist, or about a protected
  namespace, are answered 200 ``Skipped`` with the reason (never a 503 that Alertmanager
  would retry forever) and create nothing; the metric counts them by reason;
- ``exported_*`` labels (the scraped application's) are ignored by default and honoured
  only when the setting trusts them; a Node alert lands in the alert namespace;
- repeats are answered from the index the Incident watch keeps: an Incident deleted by a
  person opens again on the next notification once the watch has reported the deletion;
- rate limits: per target, then per namespace; the alerts over them are answered
  ``RateLimited`` with the reason and counted in the metric;
- one notification of 10,000 alerts about pods that do not exist (and a few about one that
  does): every alert gets its outcome, in order, and at most the namespace's limit of
  Incidents is created;
- bad requests: no or wrong token → 401, malformed JSON, JSON nested too deeply or with a
  huge integer, or not Alertmanager's payload → 400 naming the problem, over the size limit
  → 413 (with Content-Length and chunked), over the alert cap → 413 naming the cap and the
  setting, labels that name nothing → 200 ``Skipped``; none of them creates anything; a
  rotated token file takes effect without a restart; the webhook's metrics count the answers.
"""

from __future__ import annotations

import http.client
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from conftest import pod_summary
from kubemedic.domain import alert_mapping as alerts
from localcluster import LocalCluster, free_port
from support.alerting import (
    AlertOperator,
    alert_incidents,
    am_alert,
    am_payload,
    condition,
    webhook_operator,
)
from support.operator import GROUP, PLURAL, VERSION
from support.waiting import wait_for
from support.workloads import deployment

pytestmark = pytest.mark.cluster

MAX_BYTES = 64 * 1024
MAX_ALERTS = 50
STRICT_MAX_BYTES = 8 * 1024 * 1024
STRICT_MAX_ALERTS = 10_000
STRICT_PER_NAMESPACE = 3
STRICT_PER_TARGET = 2


@pytest.fixture(scope="module")
def alert_namespace(core: client.CoreV1Api) -> Iterator[str]:
    name = f"alerts-{uuid.uuid4().hex[:6]}"
    # NB: Node Incidents are admitted only in the operator's namespace or one an administrator
    # labelled so (crds/admission-incidents.yaml); this test's alert namespace is the latter.
    labels = {"kubemedic.dev/test": "true", "kubemedic.dev/cluster-incidents": "true"}
    core.create_namespace({"metadata": {"name": name, "labels": labels}})
    yield name
    try:
        core.delete_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise


@pytest.fixture(scope="module")
def dead_prometheus() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def alert_op(
    cluster: LocalCluster,
    crds: None,
    alert_namespace: str,
    dead_prometheus: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AlertOperator]:
    env = {
        "KUBEMEDIC_WEBHOOK_MAX_BYTES": str(MAX_BYTES),
        "KUBEMEDIC_WEBHOOK_MAX_ALERTS": str(MAX_ALERTS),
        "KUBEMEDIC_ALERT_NAMESPACE": alert_namespace,
        "KUBEMEDIC_ALERT_COOLDOWN_SECONDS": "600",
        "KUBEMEDIC_PROMETHEUS_URL": dead_prometheus,
        "KUBEMEDIC_PROMETHEUS_TIMEOUT_SECONDS": "2",
    }
    with webhook_operator(cluster, tmp_path_factory.mktemp("webhook-op"), extra_env=env) as op:
        yield op


@pytest.fixture(scope="module")
def strict_op(
    cluster: LocalCluster, crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AlertOperator]:
    env = {
        "KUBEMEDIC_WEBHOOK_MAX_BYTES": str(STRICT_MAX_BYTES),
        "KUBEMEDIC_WEBHOOK_MAX_ALERTS": str(STRICT_MAX_ALERTS),
        "KUBEMEDIC_ALERT_COOLDOWN_SECONDS": "0",
        "KUBEMEDIC_ALERT_MAX_INCIDENTS_PER_NAMESPACE": str(STRICT_PER_NAMESPACE),
        "KUBEMEDIC_ALERT_MAX_INCIDENTS_PER_TARGET": str(STRICT_PER_TARGET),
        "KUBEMEDIC_ALERT_LABEL_OVERRIDES": "true",
    }
    with webhook_operator(cluster, tmp_path_factory.mktemp("strict-op"), extra_env=env) as op:
        yield op


def _metric(op: AlertOperator, sample: str) -> float:
    """The value of one sample (``name{labels}``) on the operator's /metrics; 0 if absent."""
    with urllib.request.urlopen(op.metrics_url, timeout=5) as resp:
        text = resp.read().decode()
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


def _existing_deployment(apps: client.AppsV1Api, namespace: str, name: str) -> None:
    apps.create_namespaced_deployment(namespace, deployment(name, replicas=1))


def _get(custom: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    return dict(custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name))


def _wait_status(
    custom: client.CustomObjectsApi, namespace: str, name: str, op: AlertOperator, probe: Any,
    what: str,
) -> dict[str, Any]:  # fmt: skip
    return wait_for(
        lambda: (obj := _get(custom, namespace, name)) and probe(obj) and obj,
        timeout=60,
        what=f"Incident {namespace}/{name}: {what}",
        describe=lambda: {
            "status": _get(custom, namespace, name).get("status"),
            "log": op.log_tail(15),
        },
    )


def _outcomes(body: dict[str, Any]) -> list[str]:
    return sorted(a["outcome"] for a in body["alerts"])


def test_pods_crash_looping_open_one_diagnosed_incident_for_their_deployment(
    alert_op: AlertOperator,
    dead_prometheus: str,
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apps.create_namespaced_deployment(namespace, deployment("web", replicas=2, failure="crashloop"))
    pods = wait_for(
        lambda: (
            (p := core.list_namespaced_pod(namespace, label_selector="app=web").items)
            and len(p) == 2
            and all(
                any((s.restart_count or 0) >= 1 for s in x.status.container_statuses or [])
                for x in p
            )
            and p
        ),
        timeout=60,
        what="two crash-looping pods",
        describe=lambda: pod_summary(core.list_namespaced_pod(namespace).items),
    )
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    fired = [
        am_alert(
            {
                "alertname": "KubemedicPodCrashLooping",
                "namespace": namespace,
                "pod": pod.metadata.name,
                "container": "app",
                "severity": "warning",
            },
            annotations={
                "summary": f"Container app of pod {pod.metadata.name} is crash looping",
                "description": "CrashLoopBackOff for 5 minutes",
                "runbook_url": "https://runbooks.test/crashloop",
            },
            starts_at=started,
        )
        for pod in pods
    ]

    code, body = alert_op.post(am_payload(fired))
    assert code == 200, body
    assert _outcomes(body) == ["CooledDown", "Created"], body
    created = next(a for a in body["alerts"] if a["outcome"] == "Created")
    cooled = next(a for a in body["alerts"] if a["outcome"] == "CooledDown")
    assert cooled["incident"] == created["incident"]
    name = f"alert-{created['fingerprint']}-{int(started.timestamp()):x}"
    assert created["incident"] == f"{namespace}/{name}"

    [incident] = alert_incidents(custom, namespace)
    assert incident["metadata"]["name"] == name
    spec = incident["spec"]
    assert spec["target"] == {"kind": "Deployment", "namespace": namespace, "name": "web"}
    assert spec["source"] == "Alert"
    assert spec["severity"] == "Warning"
    assert spec["summary"].startswith("Container app of pod web-")
    assert "Runbook: https://runbooks.test/crashloop" in spec["description"]
    assert spec["alert"]["fingerprint"] == created["fingerprint"]
    assert spec["alert"]["labels"]["alertname"] == "KubemedicPodCrashLooping"
    assert spec["alert"]["startsAt"] == started.isoformat().replace("+00:00", "Z")
    assert spec["alert"]["groupKey"] == "{}:{}"
    labels = incident["metadata"]["labels"]
    assert labels[alerts.ALERTNAME_LABEL] == "KubemedicPodCrashLooping"
    assert alerts.RECEIVED_ANNOTATION in incident["metadata"]["annotations"]

    diagnosed = _wait_status(
        custom, namespace, name, alert_op, lambda o: (o.get("status") or {}).get("diagnosis"),
        "diagnosed",
    )  # fmt: skip
    assert diagnosed["status"]["diagnosis"]["category"] == "CrashLoop", diagnosed["status"]
    metrics = condition(diagnosed, "MetricsCollected")
    assert metrics is not None, diagnosed["status"]["conditions"]
    assert (metrics["status"], metrics["reason"]) == ("False", "PrometheusUnavailable")
    assert dead_prometheus in metrics["message"] and "without metrics" in metrics["message"]

    # Alertmanager retries the same notification: nothing new.
    code, body = alert_op.post(am_payload(fired))
    assert code == 200 and _outcomes(body) == ["CooledDown", "Deduplicated"], body
    assert len(alert_incidents(custom, namespace)) == 1

    # The alert resolves: AlertResolved=True, once.
    first = next(a for a in fired if a["fingerprint"] == created["fingerprint"])
    ended = datetime.now(UTC).replace(microsecond=0)
    resolution = {**first, "status": "resolved", "endsAt": ended.isoformat().replace("+00:00", "Z")}
    code, body = alert_op.post(am_payload([resolution]))
    assert code == 200 and _outcomes(body) == ["Updated"], body
    resolved = condition(_get(custom, namespace, name), "AlertResolved")
    assert resolved is not None
    assert (resolved["status"], resolved["reason"]) == ("True", "AlertResolved")
    assert ended.isoformat().replace("+00:00", "Z") in resolved["message"]
    assert condition(_get(custom, namespace, name), "Diagnosed") is not None  # kept
    code, body = alert_op.post(am_payload([resolution]))
    assert code == 200 and _outcomes(body) == ["Deduplicated"], body

    # The same episode fires again (Prometheus restored its state): back to False.
    code, body = alert_op.post(am_payload([first]))
    assert code == 200 and _outcomes(body) == ["Updated"], body
    refired = condition(_get(custom, namespace, name), "AlertResolved")
    assert refired is not None and (refired["status"], refired["reason"]) == (
        "False",
        "AlertFiring",
    )

    # A new episode of the same alert within the cooldown opens nothing.
    later = am_alert(first["labels"], annotations=first["annotations"],
                     starts_at=started + timedelta(minutes=3))  # fmt: skip
    code, body = alert_op.post(am_payload([later]))
    assert code == 200 and _outcomes(body) == ["CooledDown"], body
    assert len(alert_incidents(custom, namespace)) == 1


def test_alerts_about_missing_or_protected_objects_are_skipped_with_the_reason(
    alert_op: AlertOperator, custom: client.CustomObjectsApi, namespace: str
) -> None:
    gone = f"gone-{uuid.uuid4().hex[:6]}"
    cases = [
        ({"namespace": namespace, "deployment": "ghost"}, "TargetNotFound",
         f"Deployment/{namespace}/ghost does not exist"),
        ({"namespace": namespace, "pod": "ghost-7d9f-x1"}, "TargetNotFound",
         f"Pod/{namespace}/ghost-7d9f-x1 does not exist"),
        ({"node": "no-such-node"}, "TargetNotFound", "Node/no-such-node does not exist"),
        ({"namespace": gone, "deployment": "web"}, "NamespaceNotFound",
         f"namespace '{gone}' does not exist"),
        # kube-proxy need not exist: a protected namespace is refused before any lookup.
        ({"namespace": "kube-system", "daemonset": "kube-proxy"}, "ProtectedNamespace",
         "'kube-system' is protected"),
    ]  # fmt: skip
    before = {
        reason: _metric(alert_op, f'kubemedic_alerts_skipped_total{{reason="{reason}"}}')
        for reason in ("TargetNotFound", "NamespaceNotFound", "ProtectedNamespace")
    }
    fired = [
        am_alert({"alertname": "KubemedicDeploymentReplicasMismatch", **labels},
                 starts_at=datetime.now(UTC))
        for labels, _, _ in cases
    ]  # fmt: skip
    for _ in range(2):  # Alertmanager's retry gets the same answer: nothing is pending
        code, body = alert_op.post(am_payload(fired))
        assert code == 200, body
        got = [(a["outcome"], a.get("reason"), a.get("message", "")) for a in body["alerts"]]
        for (outcome, reason, message), (_, expected, text) in zip(got, cases, strict=True):
            assert (outcome, reason) == ("Skipped", expected), got
            assert text in message, got
        assert body["outcomes"] == {"Skipped": len(cases)}
    assert alert_incidents(custom, namespace) == []
    assert alert_op.process.process.poll() is None
    after = {
        reason: _metric(alert_op, f'kubemedic_alerts_skipped_total{{reason="{reason}"}}')
        for reason in before
    }
    assert after["TargetNotFound"] - before["TargetNotFound"] == 6
    assert after["NamespaceNotFound"] - before["NamespaceNotFound"] == 2
    assert after["ProtectedNamespace"] - before["ProtectedNamespace"] == 2


def test_exported_labels_are_ignored_unless_trusted(
    alert_op: AlertOperator,
    strict_op: AlertOperator,
    apps: client.AppsV1Api,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    victim = f"victim-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": victim, "labels": {"kubemedic.dev/test": "true"}}})
    try:
        _existing_deployment(apps, namespace, "web")
        _existing_deployment(apps, victim, "payments")
        labels = {"alertname": "AppSaysSo", "namespace": namespace, "deployment": "web",
                  "exported_namespace": victim, "exported_deployment": "payments"}  # fmt: skip

        # Default: the scrape target's own labels decide; the application's are ignored.
        code, body = alert_op.post(am_payload([am_alert(labels, starts_at=datetime.now(UTC))]))
        assert code == 200 and _outcomes(body) == ["Created"], body
        [incident] = alert_incidents(custom, namespace)
        assert incident["spec"]["target"] == {
            "kind": "Deployment", "namespace": namespace, "name": "web"
        }  # fmt: skip
        assert alert_incidents(custom, victim) == []

        # Trusted (KUBEMEDIC_ALERT_LABEL_OVERRIDES=true): the exported labels win.
        later = am_alert(labels, starts_at=datetime.now(UTC) + timedelta(seconds=5))
        code, body = strict_op.post(am_payload([later]))
        assert code == 200 and _outcomes(body) == ["Created"], body
        [moved] = alert_incidents(custom, victim)
        assert moved["spec"]["target"] == {
            "kind": "Deployment", "namespace": victim, "name": "payments"
        }  # fmt: skip
    finally:
        core.delete_namespace(victim)


def test_rate_limits_answer_rate_limited_per_target_then_per_namespace(
    strict_op: AlertOperator,
    apps: client.AppsV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    _existing_deployment(apps, namespace, "a")
    _existing_deployment(apps, namespace, "b")
    now = datetime.now(UTC)
    samples = {
        reason: f'kubemedic_alerts_rate_limited_total{{reason="{reason}"}}'
        for reason in ("TargetRateLimit", "NamespaceRateLimit")
    }
    before = {reason: _metric(strict_op, sample) for reason, sample in samples.items()}

    def fire(target: str) -> dict[str, Any]:
        batch = [am_alert({"alertname": f"Alert{i}", "namespace": namespace, "deployment": target},
                          starts_at=now) for i in range(3)]  # fmt: skip
        code, body = strict_op.post(am_payload(batch))
        assert code == 200, body
        assert len(body["alerts"]) == 3
        return body

    # Target a: two Incidents (its limit), the third alert is refused for the target.
    body = fire("a")
    assert body["outcomes"] == {"Created": STRICT_PER_TARGET, "RateLimited": 1}, body
    [limited] = [a for a in body["alerts"] if a["outcome"] == "RateLimited"]
    assert limited["reason"] == "TargetRateLimit"
    assert f"KUBEMEDIC_ALERT_MAX_INCIDENTS_PER_TARGET={STRICT_PER_TARGET}" in limited["message"]
    assert "incident" not in limited

    # Target b: one more fills the namespace (3), the others are refused for the namespace.
    body = fire("b")
    assert body["outcomes"] == {"Created": 1, "RateLimited": 2}, body
    assert {a["reason"] for a in body["alerts"] if a["outcome"] == "RateLimited"} == {
        "NamespaceRateLimit"
    }
    assert len(alert_incidents(custom, namespace)) == STRICT_PER_NAMESPACE

    after = {reason: _metric(strict_op, sample) for reason, sample in samples.items()}
    assert after["TargetRateLimit"] - before["TargetRateLimit"] == 1
    assert after["NamespaceRateLimit"] - before["NamespaceRateLimit"] == 2


def test_the_watch_keeps_the_index_current_a_deleted_incident_opens_again(
    strict_op: AlertOperator,
    apps: client.AppsV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    _existing_deployment(apps, namespace, "web")
    fired = am_alert({"alertname": "KubemedicDeploymentReplicasMismatch", "namespace": namespace,
                      "deployment": "web"}, starts_at=datetime.now(UTC))  # fmt: skip
    code, body = strict_op.post(am_payload([fired]))
    assert code == 200 and _outcomes(body) == ["Created"], body
    namespace_, name = body["alerts"][0]["incident"].split("/")
    code, body = strict_op.post(am_payload([fired]))
    assert code == 200 and _outcomes(body) == ["Deduplicated"], body

    # Deleted by a person: once the watch reports it, the same alert opens it again (a
    # repeat is answered from the index alone, so only the watch can tell it is gone).
    custom.delete_namespaced_custom_object(GROUP, VERSION, namespace_, PLURAL, name)
    answers: list[list[str]] = []

    def reopened() -> bool:
        got = strict_op.post(am_payload([fired]))[1]
        answers.append(_outcomes(got))
        return _outcomes(got) == ["Created"]

    wait_for(reopened, timeout=30, what="the alert to open its Incident again",
             describe=lambda: answers[-3:])  # fmt: skip
    assert [i["metadata"]["name"] for i in alert_incidents(custom, namespace)] == [name]


def test_ten_thousand_alerts_in_one_notification_open_a_bounded_number(
    strict_op: AlertOperator,
    apps: client.AppsV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    _existing_deployment(apps, namespace, "real")
    now = datetime.now(UTC)
    ghosts = [am_alert({"alertname": "KubemedicPodCrashLooping", "namespace": namespace,
                        "pod": f"ghost-{i:05d}", "container": "app"}, starts_at=now)
              for i in range(STRICT_MAX_ALERTS - 10)]  # fmt: skip
    real = [am_alert({"alertname": f"Real{i}", "namespace": namespace, "deployment": "real"},
                     starts_at=now) for i in range(10)]  # fmt: skip
    fired = ghosts[:5000] + real + ghosts[5000:]
    assert len(fired) == STRICT_MAX_ALERTS

    code, body = strict_op.post(am_payload(fired))
    assert code == 200, str(body)[:2000]
    answers = body["alerts"]
    # Every alert has its outcome, in the order sent.
    assert [a["fingerprint"] for a in answers] == [a["fingerprint"] for a in fired]
    assert sum(body["outcomes"].values()) == STRICT_MAX_ALERTS
    ghost_answers = answers[:5000] + answers[5010:]
    assert {(a["outcome"], a.get("reason")) for a in ghost_answers} == {
        ("Skipped", "TargetNotFound")
    }
    real_answers = [a["outcome"] for a in answers[5000:5010]]
    assert real_answers.count("Created") == STRICT_PER_TARGET
    assert real_answers.count("RateLimited") == 10 - STRICT_PER_TARGET
    assert len(alert_incidents(custom, namespace)) == STRICT_PER_TARGET


def test_node_alert_lands_in_the_alert_namespace(
    alert_op: AlertOperator, alert_namespace: str, custom: client.CustomObjectsApi
) -> None:
    fired = am_alert(
        {"alertname": "KubemedicNodeNotReady", "node": "kwok-node-2", "severity": "critical"},
        annotations={"summary": "Node kwok-node-2 is not Ready"},
        starts_at=datetime.now(UTC),
    )
    code, body = alert_op.post(am_payload([fired]))
    assert code == 200 and _outcomes(body) == ["Created"], body
    namespace, name = body["alerts"][0]["incident"].split("/")
    assert namespace == alert_namespace
    incident = _wait_status(
        custom, namespace, name, alert_op, lambda o: (o.get("status") or {}).get("diagnosis"),
        "diagnosed",
    )  # fmt: skip
    assert incident["spec"]["target"] == {"kind": "Node", "name": "kwok-node-2"}
    assert incident["status"]["target"] == "Node/kwok-node-2"
    custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)


def _post_chunked(op: AlertOperator, size: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", op.webhook_port, timeout=30)
    try:
        connection.putrequest("POST", "/alertmanager")
        connection.putheader("Authorization", f"Bearer {op.token}")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        chunk = b"x" * 8192
        sent = 0
        try:
            while sent < size:
                connection.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
            connection.send(b"0\r\n\r\n")
        except OSError:
            pass  # the server may answer and close before the whole body is sent
        return int(connection.getresponse().status)
    finally:
        connection.close()


def test_bad_requests_are_refused_and_create_nothing(
    alert_op: AlertOperator, custom: client.CustomObjectsApi, namespace: str
) -> None:
    before = len(alert_incidents(custom, None))
    valid = am_payload([am_alert(
        {"alertname": "KubemedicPodCrashLooping", "namespace": namespace, "pod": "web-1"},
        starts_at=datetime.now(UTC),
    )])  # fmt: skip
    no_fingerprint = am_payload([{k: v for k, v in valid["alerts"][0].items()
                                  if k != "fingerprint"}])  # fmt: skip
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("no token", {"body": valid, "token": ""}, 401, "Authorization: Bearer"),
        ("wrong token", {"body": valid, "token": "not-the-token"}, 401, "wrong bearer token"),
        ("not JSON", {"body": None, "raw": b'{"version": "4",'}, 400, "not valid JSON"),
        ("a list", {"body": [valid]}, 400, "must be a JSON object"),
        ("version 3", {"body": {**valid, "version": "3"}}, 400, "`version`"),
        ("no alerts", {"body": {k: v for k, v in valid.items() if k != "alerts"}}, 400,
         "`alerts`: Field required"),
        ("no fingerprint", {"body": no_fingerprint}, 400, "`alerts.0.fingerprint`: Field required"),
        ("too large", {"body": None, "raw": b" " * (MAX_BYTES + 1)}, 413, "over the limit"),
        ("nested too deeply", {"body": None, "raw": b'{"alerts": ' + b"[" * 20000 + b"]" * 20000
                               + b"}"}, 400, "nested too deeply"),
        ("nested labels", {"body": {**valid, "alerts": [{**valid["alerts"][0], "labels": {
            "pod": {"a": {"b": {"c": [1, [2, [3]]]}}}}}]}}, 400, "`alerts.0.labels.pod`"),
        ("huge integer", {"body": None, "raw": b'{"version": "4", "truncatedAlerts": '
                          + b"9" * 5000 + b"}"}, 400, "not valid JSON"),
        ("over the alert cap", {"body": {**valid, "alerts": valid["alerts"] * (MAX_ALERTS + 1)}},
         413, f"{MAX_ALERTS + 1} alerts, over the limit of {MAX_ALERTS} "
         "(KUBEMEDIC_WEBHOOK_MAX_ALERTS)"),
    ]  # fmt: skip
    for label, request, code, message in cases:
        got, body = alert_op.post(
            request["body"], token=request.get("token"), raw=request.get("raw")
        )
        assert got == code, (label, body)
        assert message in body.get("error", ""), (label, body)
    assert _post_chunked(alert_op, MAX_BYTES * 2) == 413

    unmappable = am_payload([am_alert({"alertname": "Watchdog"}, starts_at=datetime.now(UTC))])
    got, body = alert_op.post(unmappable)
    assert got == 200 and _outcomes(body) == ["Skipped"], body
    assert "'deployment'" in body["alerts"][0]["message"]

    assert len(alert_incidents(custom, None)) == before
    with urllib.request.urlopen(alert_op.metrics_url, timeout=5) as resp:
        metrics = resp.read().decode()
    assert 'kubemedic_webhook_requests_total{code="401"}' in metrics
    assert 'kubemedic_webhook_requests_total{code="400"}' in metrics
    assert 'kubemedic_webhook_requests_total{code="413"}' in metrics
    assert 'kubemedic_alert_incidents_total{outcome="Skipped"}' in metrics


def test_a_rotated_token_takes_effect_without_restart(alert_op: AlertOperator) -> None:
    unmappable = am_payload([am_alert({"alertname": "Watchdog"}, starts_at=datetime.now(UTC))])
    old, new = alert_op.token, "rotated-" + uuid.uuid4().hex
    alert_op.token_file.write_text(new + "\n")
    try:
        assert alert_op.post(unmappable, token=old)[0] == 401
        assert alert_op.post(unmappable, token=new)[0] == 200
    finally:
        alert_op.token_file.write_text(old + "\n")
    assert alert_op.post(unmappable, token=old)[0] == 200
