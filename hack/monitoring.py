"""A real Prometheus and Alertmanager on 127.0.0.1, for the tests, the demo and the benchmarks.

The binaries are Debian's (``prometheus`` 2.42, ``prometheus-alertmanager`` 0.25, from
hack/install-system-deps.sh). Their packaged services play no part: every process here is
started with a generated configuration in a work directory of its own, on free loopback
ports, and stopped on teardown; with ``die_with_parent=True`` the kernel also kills them
when the parent (pytest) dies, however it dies (as in hack/localcluster.py).

Typical use::

    with running_monitoring() as mon:
        am = mon.start_alertmanager(webhook_url=..., token_file=...)
        prom = mon.start_prometheus(
            scrape_configs=[static_scrape("kubemedic", "127.0.0.1:9090"),
                            apiserver_scrape(cluster), kwok_resource_scrape(cluster)],
            alertmanager=am,
        )
        mon.post_alerts([...])          # as Prometheus would: POST /api/v2/alerts
        mon.query('up')                 # PromQL through the HTTP API

Alertmanager's HA gossip is switched off (``--cluster.listen-address=``): it would
otherwise listen on 0.0.0.0:9094.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from localcluster import ROOT, LocalCluster, _die_with_parent, _tail, _terminate, free_port

RULES_FILE: Final = ROOT / "deploy" / "prometheus" / "kubemedic-rules.yaml"
START_TIMEOUT_SECONDS: Final = 60.0


class MonitoringError(RuntimeError):
    """A component is missing, failed to start or did not answer; the message says which."""


def binary(*names: str) -> str:
    """The first of ``names`` on PATH (Debian installs ``prometheus-alertmanager``)."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    msg = f"none of {', '.join(names)} is installed; run hack/install-system-deps.sh"
    raise MonitoringError(msg)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``promtool`` (``check rules``, ``test rules``) and return what it said."""
    return subprocess.run(
        [binary("promtool"), *args], capture_output=True, text=True, check=False, timeout=120
    )


# -- scrape configurations ----------------------------------------------------------------------


def static_scrape(job: str, address: str, *, metrics_path: str = "/metrics") -> dict[str, Any]:
    """Scrape ``http://address/metrics_path`` as ``job``."""
    return {
        "job_name": job,
        "metrics_path": metrics_path,
        "static_configs": [{"targets": [address]}],
    }


def apiserver_scrape(cluster: LocalCluster) -> dict[str, Any]:
    """The local kube-apiserver's /metrics, with the admin client certificate."""
    pki = cluster.pki
    return {
        "job_name": "apiserver",
        "scheme": "https",
        "tls_config": {
            "ca_file": str(pki / "ca.crt"),
            "cert_file": str(pki / "admin.crt"),
            "key_file": str(pki / "admin.key"),
        },
        "static_configs": [{"targets": [f"127.0.0.1:{cluster.ports['apiserver']}"]}],
    }


def kwok_resource_scrape(cluster: LocalCluster, *, nodes: int | None = None) -> dict[str, Any]:
    """kwok's simulated kubelet resource metrics (hack/kwok/metrics.yaml), one target per node.

    Series: ``container_memory_working_set_bytes{namespace, pod, container}`` and friends,
    as the kubelet's ``/metrics/resource`` serves them.
    """
    address = f"127.0.0.1:{cluster.ports['kwok']}"
    count = cluster.nodes if nodes is None else nodes
    return {
        "job_name": "kubelet-resource",
        "static_configs": [
            {"targets": [address], "labels": {"node": f"kwok-node-{index}"}}
            for index in range(count)
        ],
        "relabel_configs": [
            {
                "source_labels": ["node"],
                "target_label": "__metrics_path__",
                "replacement": "/metrics/nodes/$1/metrics/resource",
            }
        ],
    }


# -- processes ------------------------------------------------------------------------------------


@dataclass
class Monitoring:
    """Prometheus and/or Alertmanager in ``workdir``; ``stop()`` ends both."""

    workdir: Path
    die_with_parent: bool = False
    log: Callable[[str], None] = field(
        default=lambda msg: print(f"[monitoring] {msg}", file=sys.stderr)
    )
    prometheus_url: str | None = None
    alertmanager_url: str | None = None
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def log_file(self, name: str) -> Path:
        return self.workdir / "logs" / f"{name}.log"

    def _spawn(self, name: str, argv: list[str]) -> None:
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        self.log(f"starting {name}")
        with self.log_file(name).open("ab") as logf:
            self._procs[name] = subprocess.Popen(
                argv,
                stdout=logf,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent if self.die_with_parent else None,  # noqa: PLW1509
            )

    def _wait_ready(self, name: str, url: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            proc = self._procs[name]
            if proc.poll() is not None:
                msg = (
                    f"{name} exited with code {proc.returncode}; log: {self.log_file(name)}\n"
                    f"{_tail(self.log_file(name))}"
                )
                raise MonitoringError(msg)
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(f"{url}/-/ready", timeout=2) as resp,
            ):
                if int(resp.status) == 200:
                    return
            time.sleep(0.2)
        msg = f"{name} not ready after {START_TIMEOUT_SECONDS:.0f}s; log: {self.log_file(name)}"
        raise MonitoringError(f"{msg}\n{_tail(self.log_file(name))}")

    def start_alertmanager(
        self,
        *,
        webhook_url: str,
        token_file: Path,
        group_by: Sequence[str] = ("alertname", "namespace"),
        group_wait: str = "1s",
        group_interval: str = "1s",
        repeat_interval: str = "1m",
        resolve_timeout: str = "5m",
        routes: Sequence[dict[str, Any]] = (),
        port: int | None = None,
    ) -> str:
        """Alertmanager routing every alert to ``webhook_url`` with a bearer token from
        ``token_file``, resolutions included; returns its base URL.

        ``routes`` come first: a route to receiver ``"null"`` keeps matching alerts away
        from kubemedic (e.g. ``{"matchers": ['test="poll-only"'], "receiver": "null"}``).
        """
        port = port or free_port()
        directory = self.workdir / "alertmanager"
        directory.mkdir(parents=True, exist_ok=True)
        config = {
            "global": {"resolve_timeout": resolve_timeout},
            "route": {
                "receiver": "kubemedic",
                "group_by": list(group_by),
                "group_wait": group_wait,
                "group_interval": group_interval,
                "repeat_interval": repeat_interval,
                "routes": list(routes),
            },
            "receivers": [
                {"name": "null"},
                {
                    "name": "kubemedic",
                    "webhook_configs": [
                        {
                            "url": webhook_url,
                            "send_resolved": True,
                            "max_alerts": 0,
                            "http_config": {
                                "authorization": {
                                    "type": "Bearer",
                                    "credentials_file": str(token_file),
                                }
                            },
                        }
                    ],
                },
            ],
        }
        config_file = directory / "alertmanager.yml"
        config_file.write_text(json.dumps(config, indent=2))  # JSON is YAML
        self._spawn(
            "alertmanager",
            [
                binary("prometheus-alertmanager", "alertmanager"),
                f"--config.file={config_file}",
                f"--storage.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--web.external-url=http://127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=info",
            ],
        )
        url = f"http://127.0.0.1:{port}"
        self._wait_ready("alertmanager", url)
        self.alertmanager_url = url
        return url

    def start_prometheus(
        self,
        *,
        scrape_configs: Sequence[dict[str, Any]],
        rule_files: Sequence[Path] = (),
        alertmanager: str | None = None,
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
        port: int | None = None,
    ) -> str:
        """Prometheus scraping ``scrape_configs``, evaluating ``rule_files`` and sending
        alerts to ``alertmanager`` (a base URL); returns its base URL. ``port`` lets a
        client be told the URL before Prometheus starts (default: a free one)."""
        port = port or free_port()
        directory = self.workdir / "prometheus"
        directory.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "global": {
                "scrape_interval": scrape_interval,
                "evaluation_interval": evaluation_interval,
                "scrape_timeout": scrape_interval,
            },
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": list(scrape_configs),
        }
        if alertmanager:
            host = urllib.parse.urlparse(alertmanager).netloc
            config["alerting"] = {
                "alertmanagers": [{"api_version": "v2", "static_configs": [{"targets": [host]}]}]
            }
        config_file = directory / "prometheus.yml"
        config_file.write_text(json.dumps(config, indent=2))
        self._spawn(
            "prometheus",
            [
                binary("prometheus"),
                f"--config.file={config_file}",
                f"--storage.tsdb.path={directory / 'data'}",
                "--storage.tsdb.retention.time=2h",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--web.external-url=http://127.0.0.1:{port}",
                # NB: Prometheus waits this long between re-sends of a firing alert; short so
                # a resolution reaches Alertmanager promptly in tests.
                "--rules.alert.resend-delay=1s",
                "--log.level=info",
            ],
        )
        url = f"http://127.0.0.1:{port}"
        self._wait_ready("prometheus", url)
        self.prometheus_url = url
        return url

    def stop_component(self, name: str) -> None:
        """Stop one component (e.g. to test that kubemedic copes with Prometheus down)."""
        proc = self._procs.pop(name, None)
        if proc is not None:
            _terminate(proc.pid, proc=proc)

    def stop(self) -> None:
        for name in reversed(list(self._procs)):
            self.stop_component(name)

    def __enter__(self) -> Monitoring:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- HTTP helpers -------------------------------------------------------------------------

    def post_alerts(self, alerts: Sequence[dict[str, Any]]) -> None:
        """Send alerts to Alertmanager's v2 API exactly as Prometheus does."""
        if not self.alertmanager_url:
            raise MonitoringError("Alertmanager is not running")
        _request("POST", f"{self.alertmanager_url}/api/v2/alerts", list(alerts))

    def alertmanager_alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds (with their fingerprints and status)."""
        if not self.alertmanager_url:
            raise MonitoringError("Alertmanager is not running")
        found: list[dict[str, Any]] = _request("GET", f"{self.alertmanager_url}/api/v2/alerts")
        return found

    def query(self, promql: str) -> dict[str, Any]:
        """An instant PromQL query; Prometheus' ``data``."""
        if not self.prometheus_url:
            raise MonitoringError("Prometheus is not running")
        query = urllib.parse.urlencode({"query": promql})
        answer: dict[str, Any] = _request("GET", f"{self.prometheus_url}/api/v1/query?{query}")
        return dict(answer["data"])

    def targets_up(self) -> dict[str, bool]:
        """``job`` → whether all its targets are up, from Prometheus' target list."""
        if not self.prometheus_url:
            raise MonitoringError("Prometheus is not running")
        answer = _request("GET", f"{self.prometheus_url}/api/v1/targets")
        health: dict[str, bool] = {}
        for target in answer["data"]["activeTargets"]:
            job = target["labels"]["job"]
            health[job] = health.get(job, True) and target["health"] == "up"
        return health


def _request(method: str, url: str, body: object = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


@contextlib.contextmanager
def running_monitoring(workdir: Path | None = None) -> Iterator[Monitoring]:
    """A :class:`Monitoring` in a temporary directory whose processes die with this one."""
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="kubemedic-mon-"))
            )
        monitoring = Monitoring(workdir=workdir, die_with_parent=True)
        stack.callback(monitoring.stop)
        yield monitoring
