"""The kubemedic demo (README's main job: ``make demo``).

On the local control plane (built or reused), with nothing but the repository: installs
the CRDs, runs two operator replicas with leader election, deploys a small shop, and plays
failure scenarios one after another, showing as they happen the Incident opening, the
diagnosis and runbook, the policy decision or the approval step, the fix, its verification
and the resolution — with a timeline and the MTTR of each.

It works offline with the rule engine; with KUBEMEDIC_LLM_URL (and KUBEMEDIC_LLM_MODEL) set
the operator uses the LLM too. Ctrl-C tears everything down; a failure says which
component failed and where its log is.

Options: ``--keep`` leaves everything running; ``--scenario NAME`` plays one scenario.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alerting import AlertOperator, rfc3339, webhook_operator
from localcluster import (
    ROOT,
    ClusterError,
    LocalCluster,
    WaitTimeoutError,
    bin_dir,
    free_port,
    wait_until,
)
from monitoring import (
    RULES_FILE,
    Monitoring,
    MonitoringError,
    kwok_resource_scrape,
    running_monitoring,
    static_scrape,
)
from operator_process import OPERATOR_NAMESPACE

NAMESPACE = "shop"
FAILURE_LABEL = "sim.kubemedic.dev/failure"
TTY = sys.stdout.isatty()
BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if TTY else ("", "", "")


class DemoError(RuntimeError):
    """A step failed; the message names the component and its log."""


def say(message: str = "") -> None:
    print(message, flush=True)


def step(message: str) -> None:
    say(f"{BOLD}==> {message}{RESET}")


def wait(what: str, probe: Callable[[], Any], *, timeout: float, log: Path | None = None) -> Any:
    say(f"{DIM}    waiting for {what} ...{RESET}")
    try:
        return wait_until(probe, timeout=timeout, interval=0.2, what=what)
    except WaitTimeoutError as exc:
        where = f"; see {log}" if log else ""
        raise DemoError(f"{exc}{where}") from None


@dataclass
class Kube:
    cluster: LocalCluster

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [str(bin_dir() / "kubectl"), f"--kubeconfig={self.cluster.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise DemoError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", "-o", "json", *args))

    def apply(self, obj: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", stdin=json.dumps(obj))

    def kubemedic(self, *args: str) -> str:
        env = {**os.environ, "KUBECONFIG": str(self.cluster.kubeconfig)}
        result = subprocess.run(
            [sys.executable, "-m", "kubemedic", *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if result.returncode != 0:
            raise DemoError(f"kubemedic {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stderr.strip()


def deployment(
    name: str, *, failure: str | None = None, memory: str = "128Mi", tier: str, usage: str = "40Mi"
) -> dict[str, Any]:
    labels = {"app": name, **({FAILURE_LABEL: failure} if failure else {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": name, "tier": tier}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                # kwok reports this as the containers' working set (container_memory_working_set_bytes)
                "metadata": {
                    "labels": labels,
                    "annotations": {"kwok.x-k8s.io/usage-memory": usage},
                },
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": f"registry.example/shop/{name}:1.4.2",
                            "resources": {
                                "requests": {"cpu": "50m", "memory": memory},
                                "limits": {"memory": memory},
                            },
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                        }
                    ]
                },
            },
        },
    }


def pods_of(kube: Kube, app: str) -> list[dict[str, Any]]:
    return list(kube.get("pods", "-n", NAMESPACE, "-l", f"app={app}")["items"])


def all_ready(kube: Kube, app: str, count: int) -> bool:
    pods = pods_of(kube, app)
    return len(pods) == count and all(
        any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in p["status"].get("conditions", [])
        )
        for p in pods
    )


def failing(kube: Kube, app: str) -> bool:
    for pod in pods_of(kube, app):
        for status in pod["status"].get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting") or {}
            if (
                status.get("restartCount", 0) >= 1
                or waiting.get("reason")
                or not status.get("ready")
            ):
                return True
    return False


@dataclass
class Scenario:
    name: str
    title: str
    app: str
    setup: Callable[[Kube], None]
    approve: bool = False
    alert: bool = False
    metrics: bool = False


def _bad_rollout(kube: Kube) -> None:
    kube.apply(deployment("web", tier="frontend"))
    wait("web revision 1 to be Ready", lambda: all_ready(kube, "web", 2), timeout=60)
    say("    rolling out web revision 2 (the new build crashes on start)")
    patch = {"spec": {"template": {"metadata": {"labels": {FAILURE_LABEL: "crashloop"}}}}}
    kube.kubectl("-n", NAMESPACE, "patch", "deployment/web", "-p", json.dumps(patch))


def _oom(kube: Kube) -> None:
    kube.apply(
        deployment("cache", failure="oomkilled", memory="96Mi", tier="backend", usage="150Mi")
    )


def _readiness(kube: Kube) -> None:
    kube.apply(deployment("checkout", failure="readiness", tier="backend"))


SCENARIOS = [
    Scenario(
        "bad-rollout",
        "A bad rollout: web revision 2 crash-loops; an alert opens the Incident; policy auto-approves",
        "web",
        _bad_rollout,
        alert=True,
    ),
    Scenario(
        "oom",
        "An OOM-killed container: cache outgrows its memory limit (Prometheus evidence; needs approval)",
        "cache",
        _oom,
        approve=True,
        metrics=True,
    ),
    Scenario(
        "readiness",
        "A failing readiness probe: checkout never becomes Ready",
        "checkout",
        _readiness,
    ),
]
FINAL = {"Resolved", "Failed", "Escalated"}


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def crash_alert(pod: str, *, started: datetime, resolved: bool) -> dict[str, Any]:
    """KubePodCrashLooping as Prometheus would post it to Alertmanager (deploy/prometheus rules)."""
    now = datetime.now(UTC)
    return {
        "labels": {
            "alertname": "KubePodCrashLooping",
            "namespace": NAMESPACE,
            "pod": pod,
            "container": "app",
            "severity": "critical",
        },
        "annotations": {
            "summary": f"Pod {NAMESPACE}/{pod} container app is crash looping",
            "description": "restarts keep growing (kube_pod_container_status_restarts_total)",
        },
        "startsAt": rfc3339(started),
        "endsAt": rfc3339(now if resolved else now + timedelta(hours=1)),
        "generatorURL": "http://prometheus.local/graph?g0.expr=KubePodCrashLooping",
    }


def open_incident(
    kube: Kube, scenario: Scenario, monitoring: Monitoring, log: Path
) -> tuple[str, str, datetime]:
    """Open the Incident: through an alert (Alertmanager → webhook) or with kubectl apply."""
    alert_started = datetime.now(UTC)
    crashing_pod = ""
    if scenario.alert:
        # NB: kube-state-metrics cannot be built here, so the alert its metrics would raise in
        # Prometheus is posted to Alertmanager's v2 API the way Prometheus posts it; from there
        # on everything is real: Alertmanager groups and routes it to kubemedic's webhook.
        crashing_pod = next(
            p["metadata"]["name"]
            for p in pods_of(kube, scenario.app)
            if any(c.get("restartCount", 0) for c in p["status"].get("containerStatuses") or [])
        )
        monitoring.post_alerts([crash_alert(crashing_pod, started=alert_started, resolved=False)])
        say(
            f"    {BOLD}alert firing{RESET}: KubePodCrashLooping pod={crashing_pod} → Alertmanager → kubemedic webhook"
        )

        def opened() -> str | None:
            for item in kube.get("incidents", "-n", NAMESPACE)["items"]:
                spec = item["spec"]
                if spec.get("source") == "Alert" and spec["target"].get("name") == scenario.app:
                    return str(item["metadata"]["name"])
            return None

        incident = wait(
            "Alertmanager to deliver the alert and kubemedic to open an Incident",
            opened,
            timeout=60,
            log=log,
        )
        say(f"    Incident {NAMESPACE}/{incident} opened by the alert (source Alert)")
    else:
        incident = f"{scenario.app}-{scenario.name}"
        kube.apply(
            {
                "apiVersion": "kubemedic.dev/v1alpha1",
                "kind": "Incident",
                "metadata": {"name": incident, "namespace": NAMESPACE},
                "spec": {
                    "target": {"kind": "Deployment", "name": scenario.app},
                    "severity": "High",
                    "summary": f"{scenario.app} is unhealthy",
                },
            }
        )
        say(f"    kubectl apply Incident {NAMESPACE}/{incident}")
    return incident, crashing_pod, alert_started


def play(kube: Kube, scenario: Scenario, log: Path, monitoring: Monitoring) -> dict[str, Any]:
    step(scenario.title)
    scenario.setup(kube)
    wait(f"{scenario.app} to fail", lambda: failing(kube, scenario.app), timeout=90)
    if scenario.metrics:
        query = f'container_memory_working_set_bytes{{namespace="{NAMESPACE}",pod=~"{scenario.app}-.*"}}'
        wait(
            "Prometheus to scrape the pods' memory from the kubelets",
            lambda: monitoring.query(query).get("result"),
            timeout=60,
        )
        say(f"    Prometheus: {query} has samples; kubemedic will put them in the evidence")
    incident, crashing_pod, alert_started = open_incident(kube, scenario, monitoring, log)
    seen: set[str] = set()

    def status() -> dict[str, Any]:
        return dict(kube.get("incident", incident, "-n", NAMESPACE).get("status") or {})

    def show_new_history() -> dict[str, Any]:
        current = status()
        for entry in current.get("history", []):
            key = f"{entry['time']}|{entry['step']}|{entry.get('actionID')}"
            if key not in seen:
                seen.add(key)
                say(
                    f"    {DIM}{entry['time'][11:19]}{RESET} {entry['step']:<16} {entry['message'][:150]}"
                )
        return current

    current = wait(
        "the diagnosis",
        lambda: (s := show_new_history()).get("diagnosis") and s,
        timeout=60,
        log=log,
    )
    diagnosis = current["diagnosis"]
    say(
        f"\n    {BOLD}Diagnosis{RESET} ({diagnosis['engine']}): {diagnosis['category']}, "
        f"confidence {diagnosis['confidence']:.0%}\n    {diagnosis['summary']}"
    )
    for item in diagnosis.get("evidence", [])[:4]:
        say(f"      - {item[:160]}")
    for action in current.get("proposedActions", []):
        say(
            f"    {BOLD}Proposed{RESET} [{action['id']}] {action['type']} "
            f"{json.dumps(action.get('params', {}), sort_keys=True)[:120]} risk={action['risk']}"
        )
    runbook = diagnosis.get("runbook", "").splitlines()
    say(f"    {BOLD}Runbook{RESET} ({len(runbook)} lines; first steps)")
    for line in [ln for ln in runbook if ln.strip()][:6]:
        say(f"      {line[:150]}")
    say("")
    current = wait(
        "a decision",
        lambda: (
            (s := show_new_history()).get("phase")
            not in (None, "Pending", "Diagnosing", "Diagnosed")
            and s
        ),
        timeout=60,
        log=log,
    )
    if current["phase"] == "AwaitingApproval" and scenario.approve:
        # NB: the approver is whoever is logged in (an IncidentApproval created as that user).
        say(f"    {BOLD}$ kubemedic approve {incident} -n {NAMESPACE}{RESET}")
        say(f"    {kube.kubemedic('approve', incident, '-n', NAMESPACE)}")
    if scenario.alert:
        wait(
            "the fix to be verified",
            lambda: any(
                a.get("state") == "Verified" for a in show_new_history().get("actions", [])
            ),
            timeout=120,
            log=log,
        )
        monitoring.post_alerts([crash_alert(crashing_pod, started=alert_started, resolved=True)])
        say(
            f"    {BOLD}alert resolved{RESET}: the pods are healthy, so the alert clears (Alertmanager sends it)"
        )
    current = wait(
        "the fix to be verified and the incident to close",
        lambda: (s := show_new_history()).get("phase") in FINAL and s,
        timeout=120,
        log=log,
    )
    mttr = None
    if current.get("resolvedTime") and current.get("detectedTime"):
        mttr = (_parse(current["resolvedTime"]) - _parse(current["detectedTime"])).total_seconds()
    say(
        f"\n    {BOLD}Outcome{RESET}: {current['phase']}"
        + (f", MTTR {mttr:.0f}s (detection to resolved)" if mttr else "")
    )
    for line in kube.kubectl("get", "incident", incident, "-n", NAMESPACE).splitlines():
        say(f"    {line}")
    say("")
    return {
        "scenario": scenario.name,
        "category": diagnosis["category"],
        "phase": current["phase"],
        "mttr": mttr,
    }


@contextlib.contextmanager
def replicas(
    cluster: LocalCluster, workdir: Path, *, prometheus_url: str
) -> Iterator[list[AlertOperator]]:
    """Two operator replicas, leader election on one Lease, both serving the webhook."""
    env = {
        "KUBEMEDIC_LEASE_NAME": "kubemedic-demo",
        "KUBEMEDIC_VERIFY_TIMEOUT_SECONDS": "60",
        "KUBEMEDIC_REMEDIATION_INTERVAL_SECONDS": "1",
        "KUBEMEDIC_PROMETHEUS_URL": prometheus_url,
        "KUBEMEDIC_PROMETHEUS_LOOKBACK_SECONDS": "300",
        "KUBEMEDIC_ALERT_COOLDOWN_SECONDS": "0",
    }
    with contextlib.ExitStack() as stack:
        ops = [
            stack.enter_context(
                webhook_operator(
                    cluster,
                    workdir / name,
                    namespaces=[NAMESPACE],
                    extra_env={**env, "KUBEMEDIC_POD_NAME": name},
                )
            )
            for name in ("kubemedic-a", "kubemedic-b")
        ]
        yield ops


def install(kube: Kube) -> None:
    """CRDs, namespaces, and the policy that lets the frontend be fixed without a person."""
    step("Installing the CRDs, namespaces and a RemediationPolicy")
    kube.kubectl("apply", "-f", str(ROOT / "crds"))
    kube.kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=30s",
        "crd/incidents.kubemedic.dev",
        "crd/remediationpolicies.kubemedic.dev",
    )
    for ns in (OPERATOR_NAMESPACE, NAMESPACE):
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    wait(
        "the default ServiceAccount",
        lambda: kube.get("sa", "default", "-n", NAMESPACE),
        timeout=30,
    )
    kube.apply(
        {
            "apiVersion": "kubemedic.dev/v1alpha1",
            "kind": "RemediationPolicy",
            "metadata": {"name": "frontend-autofix", "namespace": NAMESPACE},
            "spec": {
                "targetSelector": {"matchLabels": {"tier": "frontend"}},
                "allowedActions": ["RollbackRollout", "RestartRollout"],
                "autoApproveUpTo": "Medium",
            },
        }
    )
    say("    policy frontend-autofix: tier=frontend may be rolled back/restarted without a person;")
    say("    everything else in the namespace needs an approval (no policy covers it)")


def offline_tools(workdir: Path) -> None:
    """The offline tools on files: what would reach a model, a forecast, log templates."""
    kubemedic = [sys.executable, "-m", "kubemedic"]
    step("What would leave the cluster for a model: kubemedic prompt (scoped, budgeted, redacted)")
    bundle = ROOT / "tests" / "scenarios" / "crashloop-db-unreachable.yaml"
    shown = json.loads(
        subprocess.run(
            [*kubemedic, "prompt", "--bundle", str(bundle), "-o", "json"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    say(
        f"    {bundle.name}: {len(shown['messages'])} messages, {shown['total_tokens']} tokens; "
        "env values, args and probe commands withheld unless allow-listed"
    )
    step("Predicting an OOM before it happens: kubemedic forecast on a leaking GC sawtooth")
    series = workdir / "leak.csv"
    start = datetime.now(UTC) - timedelta(hours=24)
    rows = ["timestamp,value"]
    for minute in range(24 * 60):
        sawtooth = (minute % 30) * 2 * 1024 * 1024  # GC every 30 minutes, 2 MiB a minute
        leak = minute * 100 * 1024  # 100 KiB a minute that GC never gives back
        noise = (minute * 7919 % 17 - 8) * 256 * 1024  # deterministic jitter, ±2 MiB
        value = 200 * 1024 * 1024 + sawtooth + leak + noise
        rows.append(f"{(start + timedelta(minutes=minute)).isoformat()},{value}")
    series.write_text("\n".join(rows) + "\n", encoding="utf-8")
    forecast = json.loads(
        subprocess.run(
            [*kubemedic, "forecast", "--series", str(series), "--limit", "512Mi", "-o", "json"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    say(
        f"    limit 512Mi reached at {forecast['eta']} "
        f"(between {forecast['eta_lower']} and {forecast['eta_upper']}; {forecast['method']})"
    )
    step("Reading logs as patterns: kubemedic logs templates (JSON, logfmt, klog lines mixed)")
    log = workdir / "app.log"
    lines = []
    for i in range(60):
        lines.append(f'{{"level":"info","msg":"request served path=/api/cart/{i} status=200"}}')
        lines.append(f'level=error msg="connection refused to payments:{8000 + i % 3}"')
        if i % 20 == 0:
            lines.append(f"E0314 10:00:{i:02d}.000000 1 reflector.go:138] watch of *v1.Pod ended")
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    templates = json.loads(
        subprocess.run(
            [*kubemedic, "logs", "templates", str(log), "-o", "json"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )["templates"]
    say(f"    {len(lines)} lines, {len(templates)} templates:")
    for template in sorted(templates, key=lambda t: -t["count"])[:5]:
        say(f"    {template['count']:>5}  {template['template']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Play the kubemedic demo on the local control plane."
    )
    parser.add_argument("--keep", action="store_true", help="leave the cluster running afterwards")
    parser.add_argument(
        "--scenario", choices=[s.name for s in SCENARIOS], help="play only this scenario"
    )
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="kubemedic-demo-"))
    cluster = LocalCluster(workdir=workdir / "cluster", nodes=3, die_with_parent=not args.keep)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    results = []
    try:
        step(
            "Starting the local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)"
        )
        started = time.monotonic()
        cluster.start()
        say(
            f"    ready in {time.monotonic() - started:.1f}s; component logs in {workdir / 'cluster' / 'logs'}"
        )
        kube = Kube(cluster)
        install(kube)
        step("Running two operator replicas (kubemedic run, leader election on a Lease)")
        llm = os.environ.get("KUBEMEDIC_LLM_URL")
        say(
            f"    diagnosis engine: rules{' + LLM at ' + llm if llm else ' (set KUBEMEDIC_LLM_URL to add the LLM)'}"
        )
        prometheus_port = free_port()
        with (
            running_monitoring(workdir / "monitoring") as monitoring,
            replicas(cluster, workdir, prometheus_url=f"http://127.0.0.1:{prometheus_port}") as ops,
        ):
            leader = wait(
                "a leader",
                lambda: kube.get("lease", "kubemedic-demo", "-n", OPERATOR_NAMESPACE)["spec"].get(
                    "holderIdentity"
                ),
                timeout=30,
                log=ops[0].process.log,
            )
            say(
                f"    leader: {leader}; operator logs: {', '.join(str(op.process.log) for op in ops)}"
            )
            step(
                "Starting Prometheus and Alertmanager (Debian packages, generated configs, loopback)"
            )
            alertmanager = monitoring.start_alertmanager(
                webhook_url=ops[0].webhook_url, token_file=ops[0].token_file
            )
            prometheus = monitoring.start_prometheus(
                port=prometheus_port,
                scrape_configs=[kwok_resource_scrape(cluster)]
                + [
                    static_scrape(f"kubemedic-{i}", f"127.0.0.1:{op.process.metrics_port}")
                    for i, op in enumerate(ops)
                ],
                rule_files=[RULES_FILE],
                alertmanager=alertmanager,
            )
            say(
                f"    Prometheus {prometheus} (kwok's kubelet metrics, kubemedic's own); Alertmanager {alertmanager}"
            )
            say(f"    Alertmanager routes every alert to {ops[0].webhook_url} with a bearer token")
            for scenario in SCENARIOS:
                if args.scenario and scenario.name != args.scenario:
                    continue
                results.append(play(kube, scenario, ops[0].process.log, monitoring))
            step("Summary")
            for result in results:
                mttr = (
                    f"MTTR {result['mttr']:.0f}s"
                    if result["mttr"]
                    else "needs a person (see the runbook)"
                )
                say(
                    f"    {result['scenario']:<12} {result['category']:<14} {result['phase']:<10} {mttr}"
                )
            offline_tools(workdir)
            if args.keep:
                say(
                    f"\nLeft running: export KUBECONFIG={cluster.kubeconfig}  (stop with: kill {cluster.pids})"
                )
                signal.pause()
    except KeyboardInterrupt:
        say("\ninterrupted: tearing down")
        return 130
    except (DemoError, ClusterError, MonitoringError) as exc:
        say(f"\ndemo failed: {exc}")
        return 1
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
