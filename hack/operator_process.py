"""Run the operator (`python -m kubemedic run`) as a real process against the test cluster."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localcluster import LocalCluster, free_port
from localcluster import wait_until as wait_for

GROUP, VERSION, PLURAL = "kubemedic.dev", "v1alpha1", "incidents"
#: Where test operators keep their Lease (created by the `crds` fixture).
OPERATOR_NAMESPACE = "kubemedic"


@dataclass
class OperatorProcess:
    process: subprocess.Popen[bytes]
    log: Path
    metrics_port: int
    health_port: int

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return int(resp.status) == 200


@contextlib.contextmanager
def start_operator(
    cluster: LocalCluster,
    workdir: Path,
    *,
    extra_env: Mapping[str, str] | None = None,
    namespaces: Sequence[str] | None = None,
    args: Sequence[str] = (),
) -> Iterator[OperatorProcess]:
    """Start the operator, wait for its /healthz, stop it (SIGTERM, then SIGKILL) afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "operator.log"
    metrics_port, health_port = free_port(), free_port()
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "PYTHONUNBUFFERED": "1",
        "KUBEMEDIC_OPERATOR_NAMESPACE": OPERATOR_NAMESPACE,
        # NB: each operator started here elects itself on its own Lease unless a test
        # (HA) passes a shared KUBEMEDIC_LEASE_NAME.
        "KUBEMEDIC_LEASE_NAME": f"kubemedic-test-{uuid.uuid4().hex[:8]}",
        **(extra_env or {}),
    }
    ns_args: list[str] = []
    # NB: cluster-wide by default. With namespace *patterns* kopf discovers new namespaces
    # through its own watch, and a namespace created right after start can be missed for
    # a while; tests that must not share Incidents run their operators in separate modules.
    for ns in namespaces or ():
        ns_args += ["--namespace", ns]
    argv = [
        sys.executable,
        "-m",
        "kubemedic",
        "run",
        "--metrics-port",
        str(metrics_port),
        "--health-port",
        str(health_port),
        *ns_args,
        *args,
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    op = OperatorProcess(process, log, metrics_port, health_port)
    try:
        wait_for(
            lambda: process.poll() is None and http_ok(f"http://127.0.0.1:{health_port}/healthz"),
            timeout=60,
            what="the operator's /healthz",
            describe=op.log_tail,
        )
        yield op
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def incident_body(name: str, deployment: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Incident",
        "metadata": {"name": name},
        "spec": {
            "target": {"kind": "Deployment", "name": deployment},
            "severity": "High",
            "summary": f"{deployment} is unhealthy",
            **spec,
        },
    }
