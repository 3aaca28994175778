"""End to end with a real Prometheus and Alertmanager (Debian's, started by hack/monitoring.py).

Prometheus scrapes, on loopback, the operator's own /metrics, the kube-apiserver's /metrics
(with the admin client certificate) and kwok's simulated kubelet resource metrics
(``container_memory_working_set_bytes`` of the fake pods, set by a pod annotation). It loads
kubemedic's rules and two test rules on that memory metric, and sends alerts to an
Alertmanager (1s group wait and interval, ``send_resolved``, bearer token from a file) whose
only receiver is kubemedic's webhook. (kube-state-metrics, which kubemedic's own rules read,
cannot be built here; those rules are unit-tested with promtool.)

We test these aspects:
- a rule firing in Prometheus reaches kubemedic through Alertmanager: one Incident, named
  from Alertmanager's fingerprint and the alert's start, about the Deployment owning the
  alerting pod, diagnosed OOMKilled with the working-set peak read from Prometheus as
  evidence and in the proposed memory limit (221Mi from the 170Mi peak, not the 192Mi the
  rules propose without metrics); ``MetricsCollected=True``;
- the PromQL evidence lands in the bundle's ``metrics`` with the real samples, and changes
  the diagnosis only through the bundle; ``kubemedic bundle`` with the same Prometheus writes
  a file whose offline diagnosis is the operator's;
- when the metric drops, Prometheus resolves the alert, Alertmanager sends the resolution and
  the Incident gets ``AlertResolved=True``;
- alerts posted to Alertmanager's v2 API as Prometheus posts them open one Incident and
  resolve; the notification Alertmanager delivered, replayed to the webhook as an HA peer
  or a retry would send it, is answered ``Deduplicated`` with that Incident and opens none;
- polling ``ALERTS`` from Prometheus opens the Incident of an alert Alertmanager never
  routes to kubemedic, under the name the webhook would have given it, and resolves it when
  the alert leaves ``ALERTS``;
- Prometheus scrapes all three targets (the operator's own metrics count the alerts).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from conftest import pod_summary
from kubemedic.clients.cluster import load_api_client
from kubemedic.clients.evidence import gather_bundle
from kubemedic.clients.incidents import IncidentStore
from kubemedic.clients.kube import KubeReader
from kubemedic.clients.prometheus import PrometheusClient
from kubemedic.domain import alert_mapping as alerts
from kubemedic.domain.rule_engine import diagnose_bundle
from kubemedic.models.incident import IncidentSpec
from kubemedic.models.target import TargetKind, TargetRef
from kubemedic.service.alert_intake import AlertIngestor, poll_alerts
from kubemedic.service.metrics_evidence import PrometheusEnricher
from localcluster import LocalCluster, free_port
from monitoring import (
    RULES_FILE,
    Monitoring,
    apiserver_scrape,
    kwok_resource_scrape,
    running_monitoring,
    static_scrape,
)
from support.alerting import (
    AlertOperator,
    alert_incidents,
    am_payload,
    condition,
    rfc3339,
    webhook_operator,
)
from support.waiting import wait_for
from support.workloads import deployment

pytestmark = pytest.mark.cluster

USAGE_ANNOTATION = "kwok.x-k8s.io/usage-memory"
MIB = 1024 * 1024
E2E_RULES = f"""
groups:
  - name: kubemedic-e2e
    rules:
      - alert: KubemedicE2EMemoryHigh
        expr: >-
          max by (namespace, pod, container) (container_memory_working_set_bytes{{container!=""}})
          > {150 * MIB} < {300 * MIB}
        for: 1s
        labels:
          severity: critical
        annotations:
          summary: "Container {{{{ $labels.container }}}} of {{{{ $labels.namespace }}}}/{{{{ $labels.pod }}}} uses {{{{ $value | humanize1024 }}}}B"
          description: "Working set over 150Mi."
      - alert: KubemedicE2EPollOnly
        expr: >-
          max by (namespace, pod, container) (container_memory_working_set_bytes{{container!=""}})
          > {300 * MIB}
        for: 1s
        labels:
          severity: warning
          kubemedic_test: poll-only
"""


@dataclass
class Stack:
    operator: AlertOperator
    monitoring: Monitoring
    prometheus: str
    alertmanager: str

    def describe(self) -> dict[str, Any]:
        return {
            "operator log": self.operator.log_tail(12),
            "alertmanager alerts": [
                (a["labels"].get("alertname"), a["status"]["state"])
                for a in self.monitoring.alertmanager_alerts()
            ],
        }


@pytest.fixture(scope="module")
def stack(
    cluster: LocalCluster, crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("e2e")
    rules = workdir / "e2e-rules.yaml"
    rules.write_text(E2E_RULES)
    prometheus_port = free_port()
    env = {
        "KUBEMEDIC_PROMETHEUS_URL": f"http://127.0.0.1:{prometheus_port}",
        "KUBEMEDIC_PROMETHEUS_LOOKBACK_SECONDS": "300",
    }
    with (
        webhook_operator(cluster, workdir / "operator", extra_env=env) as operator,
        running_monitoring(workdir / "monitoring") as monitoring,
    ):
        alertmanager = monitoring.start_alertmanager(
            webhook_url=operator.webhook_url,
            token_file=operator.token_file,
            routes=[{"matchers": ['kubemedic_test="poll-only"'], "receiver": "null"}],
        )
        prometheus = monitoring.start_prometheus(
            port=prometheus_port,
            scrape_configs=[
                static_scrape("kubemedic", f"127.0.0.1:{operator.process.metrics_port}"),
                apiserver_scrape(cluster),
                kwok_resource_scrape(cluster),
            ],
            rule_files=[RULES_FILE, rules],
            alertmanager=alertmanager,
        )
        wait_for(
            lambda: (up := monitoring.targets_up()) and len(up) == 3 and all(up.values()),
            timeout=30,
            what="Prometheus to scrape kubemedic, the API server and kwok",
            describe=monitoring.targets_up,
        )
        yield Stack(operator, monitoring, prometheus, alertmanager)


def _one_incident(
    custom: client.CustomObjectsApi, namespace: str, stack: Stack, alertname: str
) -> dict[str, Any]:
    found = wait_for(
        lambda: [
            i
            for i in alert_incidents(custom, namespace)
            if i["spec"]["alert"]["labels"].get("alertname") == alertname
        ],
        timeout=90,
        what=f"an Incident for {alertname} in {namespace}",
        describe=stack.describe,
    )
    assert len(found) == 1, [i["metadata"]["name"] for i in found]
    return dict(found[0])


def _wait_incident(
    custom: client.CustomObjectsApi, incident: dict[str, Any], stack: Stack, probe: Any, what: str
) -> dict[str, Any]:
    namespace, name = incident["metadata"]["namespace"], incident["metadata"]["name"]

    def get() -> dict[str, Any]:
        return dict(
            custom.get_namespaced_custom_object(
                "kubemedic.dev", "v1alpha1", namespace, "incidents", name
            )
        )

    return wait_for(
        lambda: (obj := get()) and probe(obj) and obj,
        timeout=90,
        what=f"Incident {namespace}/{name}: {what}",
        describe=lambda: {"status": get().get("status"), **stack.describe()},
    )


def _set_usage(core: client.CoreV1Api, namespace: str, pod: str, usage: str) -> None:
    core.patch_namespaced_pod(
        pod, namespace, {"metadata": {"annotations": {USAGE_ANNOTATION: usage}}}
    )


def _restarting_pod(core: client.CoreV1Api, namespace: str, app: str) -> str:
    pods = wait_for(
        lambda: [
            p
            for p in core.list_namespaced_pod(namespace, label_selector=f"app={app}").items
            if any((s.restart_count or 0) >= 1 for s in p.status.container_statuses or [])
        ],
        timeout=60,
        what=f"a restarting {app} pod",
        describe=lambda: pod_summary(core.list_namespaced_pod(namespace).items),
    )
    return str(pods[0].metadata.name)


def test_a_prometheus_alert_becomes_a_diagnosed_incident_with_metric_evidence(
    stack: Stack,
    cluster: LocalCluster,
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
    tmp_path: Path,
) -> None:
    apps.create_namespaced_deployment(
        namespace, deployment("cache", replicas=1, failure="oomkilled")
    )
    pod = _restarting_pod(core, namespace, "cache")
    _set_usage(core, namespace, pod, "170Mi")  # kwok now reports a 170Mi working set

    incident = _one_incident(custom, namespace, stack, "KubemedicE2EMemoryHigh")
    spec = incident["spec"]
    assert spec["target"] == {"kind": "Deployment", "namespace": namespace, "name": "cache"}
    assert spec["severity"] == "Critical"
    assert spec["alert"]["labels"]["pod"] == pod
    assert spec["summary"] == f"Container app of {namespace}/{pod} uses 170MiB"
    started = datetime.fromisoformat(spec["alert"]["startsAt"].replace("Z", "+00:00"))
    fingerprint = alerts.label_fingerprint(spec["alert"]["labels"])
    assert spec["alert"]["fingerprint"] == fingerprint  # Alertmanager's, recomputed
    assert incident["metadata"]["name"] == f"alert-{fingerprint}-{int(started.timestamp()):x}"
    assert stack.prometheus in spec["alert"]["generatorURL"]

    diagnosed = _wait_incident(
        custom, incident, stack, lambda o: (o.get("status") or {}).get("diagnosis"), "diagnosed"
    )
    diagnosis = diagnosed["status"]["diagnosis"]
    assert diagnosis["category"] == "OOMKilled", diagnosis
    assert any(
        "Metric container_memory_working_set_bytes container 'app': peak 170Mi of limit 128Mi" in e
        for e in diagnosis["evidence"]
    ), diagnosis["evidence"]
    [set_resources] = [
        a for a in diagnosed["status"]["proposedActions"] if a["type"] == "SetResources"
    ]
    assert set_resources["params"] == {"container": "app", "memoryLimit": "221Mi"}
    collected = condition(diagnosed, "MetricsCollected")
    assert collected is not None and (collected["status"], collected["reason"]) == (
        "True",
        "Queried",
    )
    assert f"memory_working_set: peak {pod}/app 170Mi" in collected["message"]

    # The same evidence, gathered in-process: the metrics are in the bundle, and only they
    # make the difference between 192Mi (rules alone) and 221Mi.
    reader = KubeReader(load_api_client(str(cluster.kubeconfig)))
    target = TargetRef(kind=TargetKind.DEPLOYMENT, namespace=namespace, name="cache")
    bundle = gather_bundle(reader, target)
    enriched, report = asyncio.run(
        PrometheusEnricher(PrometheusClient(stack.prometheus)).enrich(
            bundle, spec=IncidentSpec.model_validate(spec), now=datetime.now(UTC)
        )
    )
    assert report is not None and report.status == "True"
    working_set = [m for m in enriched.metrics if "container_memory_working_set_bytes" in m.query]
    assert working_set and working_set[0].data["resultType"] == "matrix"
    samples = {float(v) for s in working_set[0].data["result"] for _, v in s["values"]}
    assert 170 * MIB in samples
    limits = {a.params.get("memoryLimit") for a in diagnose_bundle(enriched).actions}
    assert "221Mi" in limits
    assert "192Mi" in {a.params.get("memoryLimit") for a in diagnose_bundle(bundle).actions}

    # `kubemedic bundle` with the same Prometheus writes the same evidence, so the file
    # reproduces the operator's metric-informed diagnosis offline.
    bundle_file = tmp_path / "cache.yaml"
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig),
           "KUBEMEDIC_PROMETHEUS_URL": stack.prometheus}  # fmt: skip
    name = incident["metadata"]["name"]
    gathered = subprocess.run(
        [sys.executable, "-m", "kubemedic", "bundle", "--incident", name, "-n", namespace,
         "-o", str(bundle_file)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert gathered.returncode == 0, gathered.stderr
    assert "MetricsCollected=True (Queried)" in gathered.stderr
    offline = subprocess.run(
        [sys.executable, "-m", "kubemedic", "diagnose", "--bundle", str(bundle_file), "-o", "json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert offline.returncode == 0, offline.stderr
    result = json.loads(offline.stdout)
    assert result["category"] == "OOMKilled"
    assert {"container": "app", "memoryLimit": "221Mi"} in [a["params"] for a in result["actions"]]

    # The metric drops: Prometheus resolves, Alertmanager notifies, the Incident records it.
    _set_usage(core, namespace, pod, "10Mi")
    resolved = _wait_incident(
        custom,
        incident,
        stack,
        lambda o: (c := condition(o, "AlertResolved")) and c["status"] == "True",
        "AlertResolved",
    )
    assert condition(resolved, "AlertResolved")["reason"] == "AlertResolved"  # type: ignore[index]
    assert len(alert_incidents(custom, namespace)) == 1

    # The operator's own metrics, scraped by Prometheus, counted the firing and the resolution.
    wait_for(
        lambda: (
            (r := stack.monitoring.query('sum(kubemedic_alerts_received_total{source="webhook"})'))[
                "result"
            ]
            and float(r["result"][0]["value"][1]) >= 2
        ),
        timeout=15,
        what="kubemedic_alerts_received_total >= 2 in Prometheus",
    )


def test_alerts_posted_to_alertmanager_open_deduplicate_and_resolve(
    stack: Stack,
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apps.create_namespaced_deployment(namespace, deployment("web", replicas=2, failure="imagepull"))
    wait_for(
        lambda: [
            p
            for p in core.list_namespaced_pod(namespace, label_selector="app=web").items
            for s in p.status.container_statuses or []
            if s.state and s.state.waiting and "Image" in (s.state.waiting.reason or "")
        ],
        timeout=60,
        what="pods waiting on their image",
        describe=lambda: pod_summary(core.list_namespaced_pod(namespace).items),
    )
    # A real replicas-mismatch alert fires after 15 minutes, long after Prometheus has the
    # pods' metrics; wait for them so the evidence is there as it would be.
    wait_for(
        lambda: (
            len(
                stack.monitoring.query(
                    f'container_memory_working_set_bytes{{namespace="{namespace}", pod=~"web-.*"}}'
                )["result"]
            )
            == 2
        ),
        timeout=30,
        what="the web pods' working set in Prometheus",
    )
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=15)
    labels = {
        "alertname": "KubemedicDeploymentReplicasMismatch",
        "severity": "warning",
        "namespace": namespace,
        "deployment": "web",
    }
    alert = {
        "labels": labels,
        "annotations": {"summary": f"Deployment {namespace}/web has fewer available replicas"},
        "startsAt": rfc3339(started),
        "generatorURL": f"{stack.prometheus}/graph?g0.expr=kube_deployment_spec_replicas",
    }
    stack.monitoring.post_alerts([alert])
    incident = _one_incident(custom, namespace, stack, "KubemedicDeploymentReplicasMismatch")
    [held] = [a for a in stack.monitoring.alertmanager_alerts() if a["labels"] == labels]
    assert (
        incident["metadata"]["name"] == f"alert-{held['fingerprint']}-{int(started.timestamp()):x}"
    )
    assert incident["spec"]["summary"] == f"Deployment {namespace}/web has fewer available replicas"
    diagnosed = _wait_incident(
        custom, incident, stack, lambda o: (o.get("status") or {}).get("diagnosis"), "diagnosed"
    )
    assert diagnosed["status"]["diagnosis"]["category"] == "ImagePullError"
    collected = condition(diagnosed, "MetricsCollected")
    assert collected is not None and collected["status"] == "True", collected
    assert "memory_working_set: peak web-" in collected["message"]

    # Prometheus re-sends a firing alert every resend delay; nothing new may appear.
    for _ in range(3):
        stack.monitoring.post_alerts([alert])
        time.sleep(1)
    assert len(alert_incidents(custom, namespace)) == 1

    # NB: Alertmanager itself swallows those re-sends (it notifies a group once per
    # group_interval), so they prove nothing about kubemedic. What reaches kubemedic twice in
    # practice is the same notification from both members of an Alertmanager HA pair, or a
    # retry after a timeout: replay the alert as Alertmanager delivered it (its fingerprint,
    # its startsAt) straight to the webhook. Only kubemedic's own deduplication can answer
    # `Deduplicated` with the first Incident; without it a replay would open a second
    # Incident (or be answered `CooledDown`, which this assertion refuses too).
    replay = am_payload([{
        "status": "firing", "labels": held["labels"], "annotations": held["annotations"],
        "startsAt": held["startsAt"], "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": held["generatorURL"], "fingerprint": held["fingerprint"],
    }], group_key=f'{{}}:{{alertname="{labels["alertname"]}", namespace="{namespace}"}}')  # fmt: skip
    name = f"{namespace}/{incident['metadata']['name']}"
    for _ in range(2):
        code, answer = stack.operator.post(replay)
        assert code == 200, answer
        assert [(a["outcome"], a.get("incident")) for a in answer["alerts"]] == [
            ("Deduplicated", name)
        ], answer
    assert [i["metadata"]["name"] for i in alert_incidents(custom, namespace)] == [
        incident["metadata"]["name"]
    ]

    stack.monitoring.post_alerts([{**alert, "endsAt": rfc3339(datetime.now(UTC))}])
    _wait_incident(
        custom,
        incident,
        stack,
        lambda o: (c := condition(o, "AlertResolved")) and c["status"] == "True",
        "AlertResolved",
    )
    assert len(alert_incidents(custom, namespace)) == 1


def test_polling_prometheus_opens_and_resolves_the_incident(
    stack: Stack,
    cluster: LocalCluster,
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    body = deployment("batch", replicas=1)
    body["spec"]["template"]["metadata"]["annotations"] = {USAGE_ANNOTATION: "400Mi"}
    apps.create_namespaced_deployment(namespace, body)
    firing = wait_for(
        lambda: stack.monitoring.query(
            f'ALERTS_FOR_STATE{{alertname="KubemedicE2EPollOnly", namespace="{namespace}"}}'
        )["result"],
        timeout=60,
        what="KubemedicE2EPollOnly pending or firing in Prometheus",
        describe=stack.describe,
    )
    active_at = int(float(firing[0]["value"][1]))
    pod = firing[0]["metric"]["pod"]

    api = load_api_client(str(cluster.kubeconfig))
    ingestor = AlertIngestor(
        incidents=IncidentStore(api), reader=KubeReader(api), cooldown=timedelta(0)
    )
    prometheus = PrometheusClient(stack.prometheus)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        poller = asyncio.create_task(
            poll_alerts(prometheus=prometheus, ingestor=ingestor, interval_seconds=0.5)
        )
        try:
            opened = await asyncio.to_thread(
                _one_incident, custom, namespace, stack, "KubemedicE2EPollOnly"
            )
            await asyncio.to_thread(_set_usage, core, namespace, pod, "10Mi")
            closed = await asyncio.to_thread(
                _wait_incident,
                custom,
                opened,
                stack,
                lambda o: (c := condition(o, "AlertResolved")) and c["status"] == "True",
                "AlertResolved",
            )
        finally:
            poller.cancel()
            ingestor.close()
        return opened, closed

    opened, closed = asyncio.run(scenario())
    labels = opened["spec"]["alert"]["labels"]
    assert labels["kubemedic_test"] == "poll-only"
    assert opened["spec"]["alert"]["groupKey"] == alerts.POLL_GROUP_KEY
    assert opened["spec"]["target"] == {
        "kind": "Deployment",
        "namespace": namespace,
        "name": "batch",
    }
    # The name the webhook would give: Alertmanager's fingerprint and Prometheus' activeAt.
    assert opened["metadata"]["name"] == f"alert-{alerts.label_fingerprint(labels)}-{active_at:x}"
    assert opened["spec"]["summary"] == (
        f"KubemedicE2EPollOnly is firing for Deployment/{namespace}/batch"
    )
    assert condition(closed, "AlertResolved")["reason"] == "AlertResolved"  # type: ignore[index]
    assert not [
        a
        for a in stack.monitoring.alertmanager_alerts()
        if a["labels"].get("namespace") == namespace and a["receivers"][0]["name"] == "kubemedic"
    ], "the poll-only alert must not have been routed to kubemedic"
