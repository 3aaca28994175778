"""Benchmark: MTTR per scenario on the simulated cluster, split into our time and the cluster's.

Scenarios (kwok simulations, a RemediationPolicy auto-approving up to Medium risk):
- bad rollout → RollbackRollout → healthy → Resolved;
- OOMKilled → SetResources → healthy → Resolved;
- OOMKilled without a policy → SetResources awaits approval → `kubemedic approve` → Resolved
  (approval to verified fix measured separately).

Each Incident's phases are sampled every 20 ms from the client side:
created → diagnosed → decided (approved) → action applied → verified/Resolved.
"kubemedic time" is created→applied minus time spent waiting for a person; "cluster time"
is applied→Resolved (the rollout and pods becoming Ready, as the verification sees it).

Usage: .venv/bin/python bench/mttr.py [--runs 5]   → bench/results/mttr.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "hack")]

from kubernetes import client

from bootstrap import bench_cluster
from localcluster import wait_until
from operator_process import (
    GROUP,
    OPERATOR_NAMESPACE,
    PLURAL,
    VERSION,
    incident_body,
    start_operator,
)

NAMESPACE = "mttr"


def deployment(name: str, failure: str | None) -> dict[str, Any]:
    labels = {"app": name}
    template_labels = {**labels, **({"sim.kubemedic.dev/failure": failure} if failure else {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": template_labels},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "registry.example/app:1",
                            "resources": {"limits": {"memory": "128Mi"}},
                        }
                    ]
                },
            },
        },
    }


def follow(
    custom: client.CustomObjectsApi, name: str, *, approve: bool, kubeconfig: str
) -> dict[str, float]:
    """Sample the Incident until it is Resolved; return when each milestone was first seen."""
    t0 = time.perf_counter()
    marks: dict[str, float] = {}
    deadline = t0 + 180
    while time.perf_counter() < deadline:
        status = (
            custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name).get(
                "status"
            )
            or {}
        )
        now = time.perf_counter() - t0
        actions = status.get("actions") or []
        if status.get("diagnosis"):
            marks.setdefault("diagnosed", now)
        if status.get("phase") == "AwaitingApproval" and "awaiting" not in marks:
            marks["awaiting"] = now
            if approve:
                subprocess.run(
                    [sys.executable, "-m", "kubemedic", "approve", name, "-n", NAMESPACE],
                    env={**os.environ, "KUBECONFIG": kubeconfig},
                    check=True,
                    capture_output=True,
                )
                marks["approved"] = time.perf_counter() - t0
        if any(
            a.get("state") in ("Approved", "Applying", "Verifying", "Verified") for a in actions
        ):
            marks.setdefault("decided", now)
        if any(a.get("state") in ("Verifying", "Verified") for a in actions):
            marks.setdefault("applied", now)
        if status.get("phase") in ("Resolved", "Failed", "Escalated"):
            marks["end"] = now
            marks["resolved"] = 1.0 if status["phase"] == "Resolved" else 0.0
            return marks
        time.sleep(0.02)
    raise TimeoutError(f"{name} did not finish: {marks}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="incidents per scenario")
    args = parser.parse_args()
    scenarios = {
        "bad-rollout": ("crashloop", True, False),
        "oom-auto": ("oomkilled", False, False),
        "oom-approved": ("oomkilled", False, True),
    }
    results: dict[str, Any] = {}
    with bench_cluster(
        "mttr", nodes=3, namespaces=[OPERATOR_NAMESPACE, NAMESPACE, f"{NAMESPACE}-manual"]
    ) as bench:
        cluster, api = bench.cluster, bench.api
        core, apps, custom = (
            client.CoreV1Api(api),
            client.AppsV1Api(api),
            client.CustomObjectsApi(api),
        )
        custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            NAMESPACE,
            "remediationpolicies",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "RemediationPolicy",
                "metadata": {"name": "auto"},
                "spec": {
                    "allowedActions": ["RollbackRollout", "SetResources"],
                    "autoApproveUpTo": "Medium",
                    "rateLimits": {
                        "maxConcurrentPerNamespace": 10,
                        "maxActionsPerTargetPerHour": 10,
                    },
                },
            },
        )
        with start_operator(
            cluster,
            bench.workdir / "op",
            namespaces=[NAMESPACE],
            extra_env={"KUBEMEDIC_REMEDIATION_INTERVAL_SECONDS": "1"},
        ):
            for scenario, (failure, rollout, approve) in scenarios.items():
                runs = []
                for run in range(args.runs):
                    name = f"{scenario}-{run}"
                    if approve:
                        # no policy covers this target: the approval waits for a person
                        custom.create_namespaced_custom_object(
                            GROUP,
                            VERSION,
                            NAMESPACE,
                            "remediationpolicies",
                            {
                                "apiVersion": f"{GROUP}/{VERSION}",
                                "kind": "RemediationPolicy",
                                "metadata": {"name": f"manual-{run}"},
                                "spec": {
                                    "allowedActions": ["SetResources"],
                                    "autoApproveUpTo": "None",
                                    "targetSelector": {"matchLabels": {"app": name}},
                                },
                            },
                        )
                    body = deployment(name, None if rollout else failure)
                    body["metadata"]["labels"] = {"app": name}
                    apps.create_namespaced_deployment(NAMESPACE, body)
                    if rollout:
                        wait_until(
                            lambda n=name: (
                                (
                                    apps.read_namespaced_deployment(
                                        n, NAMESPACE
                                    ).status.ready_replicas
                                    or 0
                                )
                                >= 2
                            ),
                            timeout=60,
                            what="revision 1 ready",
                        )
                        apps.patch_namespaced_deployment(
                            name,
                            NAMESPACE,
                            {
                                "spec": {
                                    "template": {
                                        "metadata": {
                                            "labels": {"sim.kubemedic.dev/failure": failure}
                                        }
                                    }
                                }
                            },
                        )
                    wait_until(
                        lambda n=name: any(
                            (s.restart_count or 0) >= 1
                            for p in core.list_namespaced_pod(
                                NAMESPACE, label_selector=f"app={n}"
                            ).items
                            for s in p.status.container_statuses or []
                        ),
                        timeout=60,
                        what="failure visible",
                    )
                    custom.create_namespaced_custom_object(
                        GROUP, VERSION, NAMESPACE, PLURAL, incident_body(name, name)
                    )
                    runs.append(
                        follow(custom, name, approve=approve, kubeconfig=str(cluster.kubeconfig))
                    )
                results[scenario] = summarize(runs)
                print(scenario, json.dumps(results[scenario]), flush=True)
    out = ROOT / "bench" / "results" / "mttr.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


def summarize(runs: list[dict[str, float]]) -> dict[str, Any]:
    def med(values: list[float]) -> float:
        return round(statistics.median(values), 2) if values else float("nan")

    def p99(values: list[float]) -> float:
        return (
            round(sorted(values)[min(len(values) - 1, round(0.99 * (len(values) - 1)))], 2)
            if values
            else float("nan")
        )

    mttr = [r["end"] for r in runs]
    waiting_for_person = [r.get("approved", 0.0) - r.get("awaiting", 0.0) for r in runs]
    ours = [
        r["applied"] - w for r, w in zip(runs, waiting_for_person, strict=True) if "applied" in r
    ]
    cluster = [r["end"] - r["applied"] for r in runs if "applied" in r]
    approval_to_fix = [r["end"] - r["approved"] for r in runs if "approved" in r]
    return {
        "runs": len(runs),
        "resolved": sum(r.get("resolved", 0) for r in runs),
        "mttr_s": {"median": med(mttr), "p99": p99(mttr)},
        "kubemedic_s": {"median": med(ours), "p99": p99(ours)},
        "cluster_s": {"median": med(cluster), "p99": p99(cluster)},
        "diagnosis_s": {"median": med([r["diagnosed"] for r in runs])},
        **(
            {
                "approval_to_verified_s": {
                    "median": med(approval_to_fix),
                    "p99": p99(approval_to_fix),
                }
            }
            if approval_to_fix
            else {}
        ),
    }


if __name__ == "__main__":
    sys.exit(main())
