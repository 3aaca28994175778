"""The kubemedic demo (README's main job: ``make demo``).

Builds (or reuses) the local control plane, installs the CRDs, runs the operator,
deploys a small sample shop, breaks it in three ways, opens an Incident for each and
prints the diagnosis exactly as the operator wrote it to the Incident's status, with a
timeline. Ctrl-C tears everything down; a failure says which component failed and
where its log is.

Options: ``--keep`` leaves the cluster and operator running afterwards;
``--scenario NAME`` plays only one scenario.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from localcluster import ROOT, ClusterError, LocalCluster, bin_dir, free_port

T = TypeVar("T")
NAMESPACE = "shop"
FAILURE_LABEL = "sim.kubemedic.dev/failure"
BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


class DemoError(RuntimeError):
    """A step failed; the message names the component and its log."""


def say(message: str) -> None:
    print(message, flush=True)


def step(message: str) -> None:
    say(f"{BOLD}==> {message}{RESET}")


def wait(what: str, probe: Callable[[], T | None], *, timeout: float, log: Path | None = None) -> T:
    say(f"{DIM}    waiting for {what} ...{RESET}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = probe()
        except Exception:  # noqa: BLE001 - transient API errors while things start
            value = None
        if value:
            return value
        time.sleep(0.5)
    where = f"; see {log}" if log else ""
    raise DemoError(f"timed out after {timeout:.0f}s waiting for {what}{where}")


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


def deployment(name: str, *, failure: str | None = None, memory: str = "128Mi") -> dict[str, Any]:
    labels = {"app": name, **({FAILURE_LABEL: failure} if failure else {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": name}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
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


def _bad_rollout(kube: Kube) -> None:
    kube.apply(deployment("web"))
    wait("web revision 1 to be Ready", lambda: all_ready(kube, "web", 2), timeout=60)
    say("    rolling out web revision 2 (the new build crashes on start)")
    kube.kubectl(
        "-n",
        NAMESPACE,
        "patch",
        "deployment/web",
        "-p",
        json.dumps({"spec": {"template": {"metadata": {"labels": {FAILURE_LABEL: "crashloop"}}}}}),
    )


def _oom(kube: Kube) -> None:
    kube.apply(deployment("cache", failure="oomkilled", memory="96Mi"))


def _readiness(kube: Kube) -> None:
    kube.apply(deployment("checkout", failure="readiness"))


SCENARIOS = [
    Scenario("bad-rollout", "A bad rollout: web revision 2 crash-loops", "web", _bad_rollout),
    Scenario("oom", "An OOM-killed container: cache outgrows its memory limit", "cache", _oom),
    Scenario(
        "readiness",
        "A failing readiness probe: checkout never becomes Ready",
        "checkout",
        _readiness,
    ),
]


def play(kube: Kube, scenario: Scenario, operator_log: Path) -> dict[str, Any]:
    step(scenario.title)
    t0 = time.monotonic()
    marks: list[tuple[str, float]] = []
    scenario.setup(kube)
    wait(f"{scenario.app} to fail", lambda: failing(kube, scenario.app), timeout=90)
    marks.append(("failure visible", time.monotonic() - t0))
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
    marks.append(("Incident created", time.monotonic() - t0))
    obj = wait(
        "the operator's diagnosis",
        lambda: (
            (o := kube.get("incident", incident, "-n", NAMESPACE))
            .get("status", {})
            .get("diagnosis")
            and o
        ),
        timeout=60,
        log=operator_log,
    )
    marks.append(("diagnosis written", time.monotonic() - t0))
    status = obj["status"]
    diagnosis = status["diagnosis"]
    say(f"\n    {BOLD}kubectl get incident {incident}{RESET}")
    for line in kube.kubectl("get", "incident", incident, "-n", NAMESPACE).splitlines():
        say(f"    {line}")
    say(
        f"\n    {BOLD}Diagnosis{RESET} ({diagnosis['engine']} engine): {diagnosis['category']}, "
        f"confidence {diagnosis['confidence']:.0%}"
    )
    say(f"    {diagnosis['summary']}")
    say(f"    {BOLD}Evidence{RESET}")
    for item in diagnosis.get("evidence", [])[:6]:
        say(f"      - {item}")
    say(f"    {BOLD}Proposed actions{RESET}")
    for action in status.get("proposedActions", []):
        say(
            f"      - [{action['id']}] {action['type']} {action['target']['kind']}/{action['target']['name']} "
            f"{json.dumps(action.get('params', {}), sort_keys=True)} risk={action['risk']}"
        )
    runbook = diagnosis.get("runbook", "").splitlines()
    say(f"    {BOLD}Runbook{RESET} (first lines of {len(runbook)})")
    for line in runbook[:12]:
        say(f"      {line}")
    say(f"    {BOLD}Timeline{RESET}")
    for label, seconds in marks:
        say(f"      +{seconds:5.1f}s  {label}")
    detect_to_diagnosis = marks[-1][1] - marks[1][1]
    say(f"      time from Incident to diagnosis: {detect_to_diagnosis:.1f}s\n")
    return {
        "scenario": scenario.name,
        "category": diagnosis["category"],
        "seconds": detect_to_diagnosis,
    }


def start_operator(cluster: LocalCluster, workdir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log = workdir / "operator.log"
    health = free_port()
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kubemedic",
                "run",
                "--metrics-port",
                str(free_port()),
                "--health-port",
                str(health),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    def healthy() -> bool:
        if proc.poll() is not None:
            raise DemoError(f"the operator exited with code {proc.returncode}; see {log}")
        with urllib.request.urlopen(f"http://127.0.0.1:{health}/healthz", timeout=2) as resp:
            return int(resp.status) == 200

    wait("the operator's /healthz", healthy, timeout=60, log=log)
    return proc, log


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Play the kubemedic demo on the local control plane."
    )
    parser.add_argument(
        "--keep", action="store_true", help="leave the cluster and operator running"
    )
    parser.add_argument(
        "--scenario", choices=[s.name for s in SCENARIOS], help="play only this scenario"
    )
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="kubemedic-demo-"))
    cluster = LocalCluster(workdir=workdir / "cluster", nodes=3, die_with_parent=not args.keep)
    operator: subprocess.Popen[bytes] | None = None
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    results = []
    try:
        step(
            "Starting the local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)"
        )
        started = time.monotonic()
        cluster.start()
        say(
            f"    ready in {time.monotonic() - started:.1f}s; logs in {workdir / 'cluster' / 'logs'}"
        )
        kube = Kube(cluster)
        step("Installing the CRDs")
        kube.kubectl("apply", "-f", str(ROOT / "crds"))
        wait(
            "CRDs to be established",
            lambda: kube.kubectl(
                "wait", "--for=condition=Established", "--timeout=5s", "crd/incidents.kubemedic.dev"
            ),
            timeout=30,
        )
        step("Running the operator (kubemedic run)")
        operator, operator_log = start_operator(cluster, workdir)
        say(f"    operator log: {operator_log}")
        step(f"Creating namespace {NAMESPACE} for the sample shop")
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        wait(
            "the default ServiceAccount",
            lambda: kube.get("sa", "default", "-n", NAMESPACE),
            timeout=30,
        )
        for scenario in SCENARIOS:
            if args.scenario and scenario.name != args.scenario:
                continue
            results.append(play(kube, scenario, operator_log))
        step("Summary")
        for result in results:
            say(
                f"    {result['scenario']:<12} {result['category']:<14} diagnosed {result['seconds']:.1f}s after the Incident"
            )
        if args.keep:
            say(
                f"\nLeft running. export KUBECONFIG={cluster.kubeconfig}; operator pid {operator.pid}"
            )
            operator = None
            return 0
    except KeyboardInterrupt:
        say("\ninterrupted: tearing down")
        return 130
    except (DemoError, ClusterError) as exc:
        say(f"\ndemo failed: {exc}")
        return 1
    finally:
        if operator is not None:
            operator.terminate()
            try:
                operator.wait(timeout=15)
            except subprocess.TimeoutExpired:
                operator.kill()
        if not args.keep:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
