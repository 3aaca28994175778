"""Benchmark: diagnosis of live incidents on the local control plane, and operator memory.

Measures, in one run on a fresh local cluster:
- evidence gathering + rule diagnosis per live target, in-process (gather_bundle +
  diagnose_bundle), median and p99 over the kwok failure scenarios, repeated;
- Incident created → status.diagnosis written by the running operator, median and p99;
- the operator's RSS idle, and with 500 Incidents diagnosed (baseline: the same process idle).

Usage: .venv/bin/python bench/live_diagnosis.py [--incidents 500] [--per-scenario 4]
Writes bench/results/live.json. Numbers on shared 2-core machines are noisy: compare the
medians and the ratio, never single runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "hack"), str(ROOT / "operator")]

from kubernetes import client

from bootstrap import bench_cluster
from kubemedic.clients.evidence import gather_bundle
from kubemedic.clients.kube import KubeReader
from kubemedic.domain.rule_engine import diagnose_bundle
from kubemedic.models.target import TargetKind, TargetRef
from localcluster import wait_until
from operator_process import (
    GROUP,
    OPERATOR_NAMESPACE,
    PLURAL,
    VERSION,
    incident_body,
    start_operator,
)

SCENARIOS = ["crashloop", "oomkilled", "imagepull", "configerror", "readiness"]
NAMESPACE = "bench"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "median_ms": round(statistics.median(values) * 1000, 2),
        "p99_ms": round(percentile(values, 99) * 1000, 2),
    }


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def deployment(name: str, failure: str | None) -> dict[str, Any]:
    labels = {"app": name}
    template_labels = {**labels, **({"sim.kubemedic.dev/failure": failure} if failure else {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": template_labels},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "registry.example/bench:1",
                            "resources": {"limits": {"memory": "128Mi"}},
                        }
                    ]
                },
            },
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--incidents", type=int, default=500, help="Incidents for the memory measurement"
    )
    parser.add_argument(
        "--per-scenario", type=int, default=4, help="live targets per failure scenario"
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="in-process gather+diagnose rounds per target"
    )
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with bench_cluster("bench", nodes=3, namespaces=[NAMESPACE, OPERATOR_NAMESPACE]) as bench:
        cluster, api = bench.cluster, bench.api
        core, apps, custom = (
            client.CoreV1Api(api),
            client.AppsV1Api(api),
            client.CustomObjectsApi(api),
        )
        names = []
        for scenario in SCENARIOS:
            for index in range(args.per_scenario):
                name = f"{scenario}-{index}"
                apps.create_namespaced_deployment(NAMESPACE, deployment(name, scenario))
                names.append(name)
        wait_until(
            lambda: (
                all(p.status.container_statuses for p in core.list_namespaced_pod(NAMESPACE).items)
                and len(core.list_namespaced_pod(NAMESPACE).items) >= len(names)
            ),
            timeout=120,
            what="all simulated failures to show",
        )
        time.sleep(3)
        reader = KubeReader(api)
        gather, pure = [], []
        for _round in range(args.rounds):
            for name in names:
                target = TargetRef(kind=TargetKind.DEPLOYMENT, namespace=NAMESPACE, name=name)
                t0 = time.perf_counter()
                bundle = gather_bundle(reader, target)
                t1 = time.perf_counter()
                diagnose_bundle(bundle)
                t2 = time.perf_counter()
                gather.append(t1 - t0)
                pure.append(t2 - t1)
        results["in_process"] = {
            "gather_bundle": summary(gather),
            "diagnose_bundle": summary(pure),
            "gather_plus_diagnose": summary([a + b for a, b in zip(gather, pure, strict=True)]),
        }
        with start_operator(cluster, bench.workdir / "op", namespaces=[NAMESPACE]) as op:
            idle = rss_mib(op.process.pid)
            latencies = []
            for name in names:
                t0 = time.perf_counter()
                custom.create_namespaced_custom_object(
                    GROUP, VERSION, NAMESPACE, PLURAL, incident_body(f"live-{name}", name)
                )
                wait_until(
                    lambda n=name: (
                        custom.get_namespaced_custom_object(
                            GROUP, VERSION, NAMESPACE, PLURAL, f"live-{n}"
                        ).get("status")
                        or {}
                    ).get("diagnosis"),
                    timeout=60,
                    interval=0.02,
                    what=f"diagnosis of live-{name}",
                )
                latencies.append(time.perf_counter() - t0)
            results["incident_to_diagnosis"] = summary(latencies)
            t0 = time.perf_counter()
            for index in range(args.incidents):
                target = names[index % len(names)]
                custom.create_namespaced_custom_object(
                    GROUP, VERSION, NAMESPACE, PLURAL, incident_body(f"mem-{index}", target)
                )
            wait_until(
                lambda: (
                    sum(
                        1
                        for item in custom.list_namespaced_custom_object(
                            GROUP, VERSION, NAMESPACE, PLURAL
                        )["items"]
                        if (item.get("status") or {}).get("diagnosis")
                    )
                    >= args.incidents + len(names)
                ),
                timeout=900,
                interval=1.0,
                what=f"{args.incidents} Incidents diagnosed",
            )
            results["bulk"] = {
                "incidents": args.incidents,
                "seconds_to_diagnose_all": round(time.perf_counter() - t0, 1),
                "rss_idle_mib": round(idle, 1),
                "rss_with_incidents_mib": round(rss_mib(op.process.pid), 1),
            }
    out = ROOT / "bench" / "results" / "live.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
