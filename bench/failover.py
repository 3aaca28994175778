"""Benchmark: leader failover of three operator replicas, and the Lease's API cost.

For SIGKILL (the leader dies, cannot release) and SIGTERM (a rolling update: the leader
releases the Lease on the way out), repeated, on a fresh local cluster:
- failover time: from the signal to a new holder's first write of the Lease, observed
  through a watch; the new leader acts on its next tick (KUBEMEDIC_REMEDIATION_INTERVAL);
- Lease API requests per second per replica (leader and standbys), from each replica's
  kubemedic_lease_requests_total over a quiet window.
Both the default timings (15 s / 10 s / 2 s, client-go's) and fast ones are measured so
the trade-off behind the defaults is visible.

Usage: .venv/bin/python bench/failover.py [--runs 5]   → bench/results/failover.json
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import statistics
import sys
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "hack")]

from kubernetes import client, config

from bootstrap import bench_cluster
from localcluster import LocalCluster, wait_until
from operator_process import OPERATOR_NAMESPACE, OperatorProcess, start_operator

TIMINGS = {
    "default-15s": ("15", "10", "2"),
    "fast-4s": ("4", "3", "1"),
}


def lease_requests(op: OperatorProcess) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{op.metrics_port}/metrics", timeout=2) as resp:
        text = resp.read().decode()
    return sum(
        float(v) for v in re.findall(r"^kubemedic_lease_requests_total\{[^}]*\} (\S+)$", text, re.M)
    )


def holder(coord: client.CoordinationV1Api, lease: str) -> str:
    return str(coord.read_namespaced_lease(lease, OPERATOR_NAMESPACE).spec.holder_identity or "")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def measure(
    cluster: LocalCluster, workdir: Path, *, name: str, timings: tuple[str, str, str], runs: int
) -> dict[str, Any]:
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    coord = client.CoordinationV1Api(api)
    lease = f"bench-{name}"
    result: dict[str, Any] = {
        "timings_s": {"lease": timings[0], "renew": timings[1], "retry": timings[2]}
    }
    with ExitStack() as stack:
        ops: dict[str, OperatorProcess] = {}
        starts = 0

        def start(ident: str) -> None:
            nonlocal starts
            starts += 1
            env = {
                "KUBEMEDIC_LEASE_NAME": lease,
                "KUBEMEDIC_POD_NAME": ident,
                "KUBEMEDIC_LEASE_DURATION_SECONDS": timings[0],
                "KUBEMEDIC_RENEW_DEADLINE_SECONDS": timings[1],
                "KUBEMEDIC_RETRY_PERIOD_SECONDS": timings[2],
            }
            ops[ident] = stack.enter_context(
                start_operator(
                    cluster,
                    workdir / f"{name}-{ident}-{starts}",
                    extra_env=env,
                    namespaces=["bench-none"],
                )
            )

        for index in range(3):
            start(f"r{index}")
        wait_until(lambda: holder(coord, lease) in ops, timeout=60, what="a leader")
        # Lease cost over a quiet window.
        window = 20.0
        before = {k: lease_requests(v) for k, v in ops.items()}
        time.sleep(window)
        leader = holder(coord, lease)
        rates = {k: (lease_requests(v) - before[k]) / window for k, v in ops.items()}
        result["lease_requests_per_second"] = {
            "leader": round(rates[leader], 3),
            "standby_max": round(max(r for k, r in rates.items() if k != leader), 3),
        }
        for sig_name, sig in (("SIGTERM", signal.SIGTERM), ("SIGKILL", signal.SIGKILL)):
            durations = []
            for _ in range(runs):
                old = wait_until(
                    lambda: (h := holder(coord, lease)) in ops and h, timeout=60, what="a leader"
                )
                t0 = time.monotonic()
                ops[old].process.send_signal(sig)
                wait_until(
                    lambda o=old: (h := holder(coord, lease)) not in ("", o) and h,
                    timeout=120,
                    interval=0.01,
                    what="a new holder",
                )
                durations.append(time.monotonic() - t0)
                ops[old].process.wait()
                start(old)
            result[sig_name] = {
                "runs": runs,
                "median_s": round(statistics.median(durations), 3),
                "p99_s": round(percentile(durations, 99), 3),
                "max_s": round(max(durations), 3),
            }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="failovers per signal and timing")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with bench_cluster("failover", nodes=1, namespaces=[OPERATOR_NAMESPACE]) as bench:
        for name, timings in TIMINGS.items():
            results[name] = measure(
                bench.cluster, bench.workdir, name=name, timings=timings, runs=args.runs
            )
            print(name, json.dumps(results[name]), flush=True)
    out = ROOT / "bench" / "results" / "failover.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
