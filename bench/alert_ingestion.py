"""Benchmark: Alertmanager webhook ingestion on the local API server, and alert → diagnosis.

Measures, in one run on a fresh local cluster (or ``--cluster-dir`` of a running one):

1. **burst**: ``--burst`` firing alerts (1,000), each about a different Deployment, one alert
   per notification (Alertmanager's worst case), ``--concurrency`` notifications in flight;
   sustained rate (alerts from the first POST to the last answer) and latency POST → answer.
   The webhook answers only after the Incident is persisted (or found), so that is
   POST → Incident created. Then **zero loss**: every alert has exactly its Incident (listed
   by label, names compared) and nothing else exists; the same burst again (Alertmanager's
   retry) must answer ``Deduplicated`` for all and create nothing.
2. **burst, grouped**: the same number of new alerts in notifications of ``--group`` (10), as
   Alertmanager groups them.
3. **steady**: ``--rate`` alerts/s for ``--seconds``, one per notification, sent on a fixed
   schedule; latency median/p99 and the rate achieved.
4. **end to end** (``--e2e-runs``): a real Prometheus and Alertmanager (hack/monitoring.py;
   1s scrape, evaluation, group_wait and group_interval, a rule with ``for: 1s``), a kwok
   pod's working set raised over the rule's threshold; the time from that change to the
   diagnosis, split into Prometheus (scrape + evaluation + ``for`` until the alert fires),
   Alertmanager (fired → notification received by kubemedic) and kubemedic (received →
   Incident created → diagnosed; the create alone is what parts 1 to 3 measure).

Parts 1 to 3 run an operator that watches only an idle namespace, so what is measured is
ingestion, not diagnosis; part 4 runs one that diagnoses. The Deployments the alerts name
exist (created with 0 replicas before the clock starts: an alert about a missing object is
answered ``Skipped``), and the rate limits are off (a burst of thousands of Incidents in one
namespace is what they exist to stop). Bounded loops, loopback only.
Writes bench/results/alerts.json. Numbers on a shared 2-core machine are noisy.

Usage: .venv/bin/python bench/alert_ingestion.py [--burst 1000] [--rate 50 --seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "hack"), str(ROOT / "operator")]

import aiohttp
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from alerting import AlertOperator, am_alert, am_payload, webhook_operator
from bootstrap import bench_cluster
from kubemedic.domain import alert_mapping as alerts
from localcluster import LocalCluster, wait_until
from monitoring import kwok_resource_scrape, running_monitoring, static_scrape
from operator_process import GROUP, OPERATOR_NAMESPACE, PLURAL, VERSION

RESULT = ROOT / "bench" / "results" / "alerts.json"
#: A fresh namespace per run, so a reused cluster holds no earlier Incidents of the same targets.
BENCH_NAMESPACE = f"bench-alerts-{int(time.time())}"
IDLE_NAMESPACE = "bench-idle"
MIB = 1024 * 1024
E2E_RULES = f"""
groups:
  - name: bench
    rules:
      - alert: BenchMemoryHigh
        expr: max by (namespace, pod, container) (container_memory_working_set_bytes) > {150 * MIB}
        for: 1s
        labels: {{severity: critical}}
        annotations: {{summary: "working set over 150Mi"}}
"""


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def summary(seconds: list[float]) -> dict[str, float]:
    return {
        "n": len(seconds),
        "median_ms": round(statistics.median(seconds) * 1000, 1),
        "p99_ms": round(percentile(seconds, 99) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
    }


# -- ingestion --------------------------------------------------------------------------------


def firing(index: int, *, run: str, started: datetime) -> dict[str, Any]:
    labels = {
        "alertname": "KubemedicDeploymentReplicasMismatch",
        "severity": "warning",
        "namespace": BENCH_NAMESPACE,
        "deployment": f"{run}-{index:05d}",
    }
    return am_alert(labels, starts_at=started)


async def send(
    session: aiohttp.ClientSession, op: AlertOperator, body: dict[str, Any]
) -> tuple[float, list[str]]:
    """POST one notification; the latency and the outcome of each alert."""
    started = time.perf_counter()
    async with session.post(
        op.webhook_url, json=body, headers={"Authorization": f"Bearer {op.token}"}
    ) as resp:
        answer = await resp.json()
        if resp.status != 200:
            msg = f"webhook answered {resp.status}: {answer}"
            raise RuntimeError(msg)
    return time.perf_counter() - started, [a["outcome"] for a in answer["alerts"]]


async def burst(
    op: AlertOperator, notifications: list[dict[str, Any]], *, concurrency: int
) -> dict[str, Any]:
    """All notifications as fast as they are answered, ``concurrency`` in flight."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in notifications:
        queue.put_nowait(body)
    latencies: list[float] = []
    outcomes: dict[str, int] = {}

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            latency, got = await send(session, op, queue.get_nowait())
            latencies.append(latency)
            for outcome in got:
                outcomes[outcome] = outcomes.get(outcome, 0) + 1

    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    count = sum(len(b["alerts"]) for b in notifications)
    return {
        "alerts": count,
        "notifications": len(notifications),
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "alerts_per_second": round(count / elapsed, 1),
        "latency_post_to_incident": summary(latencies),
        "outcomes": outcomes,
    }


async def steady(
    op: AlertOperator, notifications: list[dict[str, Any]], *, rate: float
) -> dict[str, Any]:
    """One notification every ``1/rate`` seconds, whatever the answers do."""
    latencies: list[float] = []
    outcomes: dict[str, int] = {}

    async def one(session: aiohttp.ClientSession, body: dict[str, Any]) -> None:
        latency, got = await send(session, op, body)
        latencies.append(latency)
        for outcome in got:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
        tasks = []
        for index, body in enumerate(notifications):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(session, body)))
        await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    return {
        "alerts": len(notifications),
        "target_rate": rate,
        "achieved_rate": round(len(notifications) / elapsed, 1),
        "latency_post_to_incident": summary(latencies),
        "outcomes": outcomes,
    }


def check_no_loss(
    custom: client.CustomObjectsApi, sent: list[dict[str, Any]], *, run: str
) -> dict[str, Any]:
    """Every sent alert has its Incident, by name; no other Incident of this run exists."""
    expected = {
        alerts.incident_name(
            alerts.ReceivedAlert(
                status="firing",
                labels=a["labels"],
                annotations={},
                fingerprint=a["fingerprint"],
                starts_at=datetime.fromisoformat(a["startsAt"].replace("Z", "+00:00")),
            )
        )
        for a in sent
    }
    items: list[dict[str, Any]] = []
    token = None
    while True:  # paginated: thousands of Incidents
        page = custom.list_namespaced_custom_object(
            GROUP, VERSION, BENCH_NAMESPACE, PLURAL, limit=500, _continue=token
        )
        items += page["items"]
        token = page["metadata"].get("continue")
        if not token:
            break
    names = [
        i["metadata"]["name"] for i in items if i["spec"]["target"]["name"].startswith(f"{run}-")
    ]
    missing = sorted(expected - set(names))
    extra = sorted(set(names) - expected)
    return {
        "alerts_sent": len(sent),
        "incidents_found": len(names),
        "missing": len(missing),
        "unexpected": len(extra),
        "duplicates": len(names) - len(set(names)),
        "zero_loss": not missing and not extra and len(names) == len(set(names)) == len(expected),
    }


def create_targets(api: client.ApiClient, names: list[str]) -> None:
    """The Deployments the alerts name, with 0 replicas (no pods: nothing else to schedule)."""
    apps = client.AppsV1Api(api)

    def one(name: str) -> None:
        body = _deployment(name)
        body["spec"]["replicas"] = 0
        with contextlib.suppress(ApiException):  # 409: a reused cluster already has it
            apps.create_namespaced_deployment(BENCH_NAMESPACE, body)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, names))


def ingestion(
    cluster: LocalCluster,
    workdir: Path,
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    args: argparse.Namespace,
) -> dict[str, Any]:
    env = {
        "KUBEMEDIC_ALERT_COOLDOWN_SECONDS": "600",
        "KUBEMEDIC_ALERT_MAX_INCIDENTS_PER_NAMESPACE": "0",
        "KUBEMEDIC_ALERT_MAX_INCIDENTS_PER_TARGET": "0",
    }
    count = int(args.rate * args.seconds)
    print(f"creating {2 * args.burst + count} target Deployments", flush=True)
    create_targets(api, [f"{run}-{i:05d}" for run, n in (("b", args.burst), ("g", args.burst),
                                                       ("s", count)) for i in range(n)])  # fmt: skip
    results: dict[str, Any] = {}
    with webhook_operator(
        cluster, workdir / "ingest-op", extra_env=env, namespaces=[IDLE_NAMESPACE]
    ) as op:
        started = datetime.now(UTC).replace(microsecond=0)
        single = [firing(i, run="b", started=started) for i in range(args.burst)]
        print(f"burst: {args.burst} alerts, 1 per notification", flush=True)
        results["burst"] = asyncio.run(
            burst(op, [am_payload([a]) for a in single], concurrency=args.concurrency)
        )
        results["burst"]["check"] = check_no_loss(custom, single, run="b")
        print("burst again (Alertmanager's retry of every notification)", flush=True)
        again = asyncio.run(
            burst(op, [am_payload([a]) for a in single], concurrency=args.concurrency)
        )
        after = check_no_loss(custom, single, run="b")
        results["burst_retry"] = {
            "alerts_per_second": again["alerts_per_second"],
            "latency_post_to_answer": again["latency_post_to_incident"],
            "outcomes": again["outcomes"],
            "no_new_incident": after["incidents_found"] == len(single) and after["zero_loss"],
        }

        grouped = [firing(i, run="g", started=started) for i in range(args.burst)]
        groups = [
            am_payload(grouped[i : i + args.group]) for i in range(0, len(grouped), args.group)
        ]
        print(f"burst: {args.burst} alerts, {args.group} per notification", flush=True)
        results["burst_grouped"] = asyncio.run(burst(op, groups, concurrency=args.concurrency))
        results["burst_grouped"]["check"] = check_no_loss(custom, grouped, run="g")

        steady_alerts = [firing(i, run="s", started=started) for i in range(count)]
        print(f"steady: {args.rate} alerts/s for {args.seconds}s", flush=True)
        results["steady"] = asyncio.run(
            steady(op, [am_payload([a]) for a in steady_alerts], rate=args.rate)
        )
        results["steady"]["check"] = check_no_loss(custom, steady_alerts, run="s")
    return results


# -- end to end -------------------------------------------------------------------------------


def e2e(
    cluster: LocalCluster,
    workdir: Path,
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    runs: int,
) -> dict[str, Any]:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    rules = workdir / "bench-rules.yaml"
    rules.write_text(E2E_RULES)
    phases: dict[str, list[float]] = {
        "prometheus": [],
        "alertmanager": [],
        "kubemedic": [],
        "total": [],
    }
    with (
        webhook_operator(cluster, workdir / "e2e-op", namespaces=["bench-e2e-*"]) as op,
        running_monitoring(workdir / "monitoring") as mon,
    ):
        am = mon.start_alertmanager(webhook_url=op.webhook_url, token_file=op.token_file)
        mon.start_prometheus(
            scrape_configs=[kwok_resource_scrape(cluster), static_scrape(
                "kubemedic", f"127.0.0.1:{op.process.metrics_port}")],
            rule_files=[rules],
            alertmanager=am,
        )  # fmt: skip
        for run in range(runs):
            namespace = f"bench-e2e-{run}-{int(time.time())}"
            core.create_namespace({"metadata": {"name": namespace}})
            apps.create_namespaced_deployment(namespace, _deployment("cache"))
            pod = wait_until(
                lambda ns=namespace: [
                    p.metadata.name
                    for p in core.list_namespaced_pod(ns).items
                    if p.status.phase == "Running"
                ],
                timeout=60,
                what="a running pod",
            )[0]
            wait_until(
                lambda ns=namespace: mon.query(
                    f'container_memory_working_set_bytes{{namespace="{ns}"}}'
                )["result"],
                timeout=30,
                what="the pod's working set in Prometheus",
            )
            changed = time.time()
            core.patch_namespaced_pod(
                pod,
                namespace,
                {"metadata": {"annotations": {"kwok.x-k8s.io/usage-memory": "170Mi"}}},
            )
            fired = wait_until(
                lambda ns=namespace: (
                    mon.query(
                        f'ALERTS{{alertname="BenchMemoryHigh", alertstate="firing", namespace="{ns}"}}'
                    )["result"]
                    and time.time()
                ),
                timeout=60,
                interval=0.05,
                what="the alert firing in Prometheus",
            )
            incident = wait_until(
                lambda ns=namespace: custom.list_namespaced_custom_object(
                    GROUP, VERSION, ns, PLURAL
                )["items"],
                timeout=60,
                interval=0.05,
                what="the Incident",
            )[0]
            diagnosed = wait_until(
                lambda ns=namespace, name=incident["metadata"]["name"]: (
                    (
                        custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
                        .get("status", {})
                        .get("diagnosis")
                    )
                    and time.time()
                ),
                timeout=60,
                interval=0.05,
                what="the diagnosis",
            )
            received = datetime.fromisoformat(
                incident["metadata"]["annotations"][alerts.RECEIVED_ANNOTATION]
            ).timestamp()
            phases["prometheus"].append(fired - changed)
            phases["alertmanager"].append(received - fired)
            phases["kubemedic"].append(diagnosed - received)
            phases["total"].append(diagnosed - changed)
            print(f"e2e run {run}: {diagnosed - changed:.2f}s", flush=True)
            core.delete_namespace(namespace)
    return {
        "runs": runs,
        "settings": "scrape 1s, evaluation 1s, for 1s, group_wait 1s, group_interval 1s",
        "phases": {
            "prometheus": "working set changed (pod annotation) -> ALERTS firing (polled every 50 ms)",
            "alertmanager": "ALERTS firing -> kubemedic received the notification (annotation)",
            "kubemedic": "received -> status.diagnosis written (polled every 50 ms)",
        },
        "seconds": {
            name: {
                "median": round(statistics.median(values), 3),
                "max": round(max(values), 3),
            }
            for name, values in phases.items()
        },
    }


def _deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "registry.example/cache:1",
                          "resources": {"limits": {"memory": "256Mi"}}}]},
            },
        },
    }  # fmt: skip


# -- main -------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=1000, help="alerts per burst (default 1000)")
    parser.add_argument("--concurrency", type=int, default=32, help="notifications in flight")
    parser.add_argument("--group", type=int, default=10, help="alerts per grouped notification")
    parser.add_argument("--rate", type=float, default=50, help="steady alerts/s (default 50)")
    parser.add_argument("--seconds", type=float, default=20, help="steady duration (default 20)")
    parser.add_argument("--e2e-runs", type=int, default=3, help="end-to-end runs (default 3)")
    parser.add_argument("--cluster-dir", help="reuse a running cluster (hack/cluster up --dir)")
    args = parser.parse_args()

    with bench_cluster(
        "alerts",
        nodes=3,
        namespaces=[BENCH_NAMESPACE, IDLE_NAMESPACE, OPERATOR_NAMESPACE],
        cluster_dir=args.cluster_dir,
    ) as bench:
        cluster, api, workdir = bench.cluster, bench.api, bench.workdir
        custom = client.CustomObjectsApi(api)
        core = client.CoreV1Api(api)
        results: dict[str, Any] = {
            "measured": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "machine": f"{_cpus()} CPUs (shared)",
        }
        results |= ingestion(cluster, workdir, api, custom, args)
        RESULT.parent.mkdir(parents=True, exist_ok=True)
        RESULT.write_text(json.dumps(results, indent=2) + "\n")  # kept if the e2e part fails
        if args.e2e_runs:
            results["end_to_end"] = e2e(cluster, workdir, api, custom, args.e2e_runs)
        if args.cluster_dir:  # leave a reused cluster as it was found
            with contextlib.suppress(ApiException):
                core.delete_namespace(BENCH_NAMESPACE)
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"wrote {RESULT}")
    ok = (
        all(results[key]["check"]["zero_loss"] for key in ("burst", "burst_grouped", "steady"))
        and results["burst_retry"]["no_new_incident"]
    )
    return 0 if ok else 1


def _cpus() -> int:
    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
