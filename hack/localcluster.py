"""A real Kubernetes control plane on 127.0.0.1, built from source (hack/build-tools.sh).

etcd, kube-apiserver (RBAC, ServiceAccount token issuance, client-certificate admin),
kube-controller-manager, kube-scheduler and kwok (fake nodes and the failure
simulation Stages in hack/kwok/stages.yaml). The tests (tests/conftest.py), the demo
and ``hack/cluster up|down|env`` share this module.

Design notes:

* Every process is started in its own session and recorded in ``state.json`` of the
  work directory, so ``hack/cluster down`` (another process) can stop a cluster that
  ``hack/cluster up`` left running. With ``die_with_parent=True`` (tests) the kernel
  also kills the children when the test process dies, even by SIGKILL: no leftovers.
* Ports are chosen free at start; readiness is waited for, never assumed.
* PKI is made with the ``openssl`` command (always on Debian) rather than a Python
  crypto dependency: a CA, the API server's serving certificate, an admin client
  certificate in group ``system:masters`` and the ServiceAccount signing key.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

T = TypeVar("T")
ROOT: Final = Path(__file__).resolve().parent.parent
STAGES_FILE: Final = ROOT / "hack" / "kwok" / "stages.yaml"
#: Simulated kubelet resource metrics (container_memory_working_set_bytes, ...) per fake node.
KWOK_METRICS_FILE: Final = ROOT / "hack" / "kwok" / "metrics.yaml"
KUBE_VERSION: Final = os.environ.get("KUBE_VERSION", "v1.34.4")
COMPONENTS: Final = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
FAKE_NODE_ANNOTATION: Final = "kwok.x-k8s.io/node"
SERVICE_CIDR: Final = "10.0.0.0/24"
STOP_GRACE_SECONDS: Final = 10.0
PR_SET_PDEATHSIG: Final = 1


class ClusterError(RuntimeError):
    """A component failed to start or become ready; the message names it and its log."""


def bin_dir() -> Path:
    """Where hack/build-tools.sh puts the binaries for KUBE_VERSION."""
    cache = Path(os.environ.get("KUBEMEDIC_CACHE_DIR", Path.home() / ".cache" / "kubemedic"))
    return cache / "bin" / KUBE_VERSION


def ensure_binaries(*, build: bool = True) -> Path:
    """Return the binary directory, building the tools first if any is missing."""
    directory = bin_dir()
    missing = [c for c in (*COMPONENTS, "kubectl") if not (directory / c).exists()]
    if missing and build:
        print(f"[cluster] building missing tools: {', '.join(missing)}", file=sys.stderr)
        subprocess.run([str(ROOT / "hack" / "build-tools.sh")], check=True)
        missing = [c for c in (*COMPONENTS, "kubectl") if not (directory / c).exists()]
    if missing:
        msg = f"missing binaries in {directory}: {', '.join(missing)}; run hack/build-tools.sh"
        raise ClusterError(msg)
    return directory


class WaitTimeoutError(AssertionError):
    """The condition did not hold in time; the message shows the last observation."""


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float = 60.0,
    interval: float = 0.25,
    what: str,
    describe: Callable[[], object] | None = None,
) -> T:
    """Call ``probe`` until it returns a truthy value and return that value.

    On timeout, fail with ``what`` and, if given, ``describe()`` — the state that was
    observed last — so a failing test says why, not just that it waited.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
        except Exception as exc:  # noqa: BLE001 - transient API errors are retried
            last_error, value = exc, None
        if value:
            return value
        if time.monotonic() >= deadline:
            seen = describe() if describe is not None else None
            detail = f"\nlast observed: {seen}" if seen is not None else ""
            if last_error is not None:
                detail += f"\nlast error: {last_error!r}"
            msg = f"timed out after {timeout:.0f}s waiting for {what}{detail}"
            raise WaitTimeoutError(msg)
        time.sleep(interval)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    # NB: runs in the child between fork and exec; SIGKILL the child when the
    # parent (pytest) dies, however it dies.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(directory: Path) -> None:
    """CA, API server serving cert, admin client cert, ServiceAccount key pair."""
    directory.mkdir(parents=True, exist_ok=True)
    days = "3650"
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key", cwd=directory)
    _openssl(
        "req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", days,
        "-subj", "/CN=kubemedic-local-ca", "-out", "ca.crt", cwd=directory,
    )  # fmt: skip
    specs = {
        "apiserver": ("/CN=kube-apiserver", "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,"
                      "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n"
                      "extendedKeyUsage=serverAuth"),
        "admin": ("/O=system:masters/CN=kubemedic-admin", "extendedKeyUsage=clientAuth"),
    }  # fmt: skip
    for name, (subject, ext) in specs.items():
        _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}.key",
                 cwd=directory)  # fmt: skip
        _openssl("req", "-new", "-key", f"{name}.key", "-subj", subject, "-out", f"{name}.csr",
                 cwd=directory)  # fmt: skip
        (directory / f"{name}.ext").write_text(ext + "\n")
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", days, "-sha256", "-extfile", f"{name}.ext",
            "-out", f"{name}.crt", cwd=directory,
        )  # fmt: skip
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key",
             cwd=directory)  # fmt: skip
    _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=directory)


def write_kubeconfig(path: Path, *, server: str, pki: Path) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "local",
                "cluster": {"server": server, "certificate-authority": str(pki / "ca.crt")},
            }
        ],
        "users": [
            {
                "name": "admin",
                "user": {
                    "client-certificate": str(pki / "admin.crt"),
                    "client-key": str(pki / "admin.key"),
                },
            }
        ],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": "admin"}}],
        "current-context": "local",
    }
    # JSON is valid YAML; kubectl and the Python client read it as a kubeconfig.
    path.write_text(json.dumps(config, indent=2))


@dataclass
class LocalCluster:
    """One control plane; ``start()`` then ``stop()`` (or use as a context manager)."""

    workdir: Path
    nodes: int = 3
    die_with_parent: bool = False
    log: Callable[[str], None] = field(
        default=lambda msg: print(f"[cluster] {msg}", file=sys.stderr)
    )
    pids: dict[str, int] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _argv: dict[str, list[str]] = field(default_factory=dict)

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def pki(self) -> Path:
        return self.workdir / "pki"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    def log_file(self, component: str) -> Path:
        return self.workdir / "logs" / f"{component}.log"

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> LocalCluster:
        t0 = time.monotonic()
        binaries = ensure_binaries()
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        make_pki(self.pki)
        for attempt in range(3):
            try:
                self._start_once(binaries)
                break
            except ClusterError as exc:
                # NB: a free port can be taken by another process between choosing it and
                # binding it; that (only) is worth another try with new ports.
                if "address already in use" not in str(exc) or attempt == 2:
                    raise
                self.log(
                    f"a port was taken meanwhile; starting again ({exc.args[0].splitlines()[0]})"
                )
        self._save_state()
        self.log(f"ready in {time.monotonic() - t0:.1f}s: KUBECONFIG={self.kubeconfig}")
        return self

    def _start_once(self, binaries: Path) -> None:
        # NB: every start is a fresh cluster; old etcd data would clash with new PKI and nodes.
        shutil.rmtree(self.workdir / "etcd", ignore_errors=True)
        self.ports = {
            name: free_port()
            for name in (
                "etcd",
                "etcd-peer",
                "apiserver",
                "controller-manager",
                "scheduler",
                "kwok",
            )
        }
        write_kubeconfig(self.kubeconfig, server=self.server, pki=self.pki)
        try:
            self._start_etcd(binaries)
            self._start_apiserver(binaries)
            self._start_controller_manager(binaries)
            self._start_scheduler(binaries)
            self._start_kwok(binaries)
            self._create_nodes()
            self._wait_nodes_ready()
            self._wait_default_service_account()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every process (reverse start order): SIGTERM, then SIGKILL after a grace."""
        for name in reversed(list(self.pids)):
            _terminate(self.pids[name], proc=self._procs.get(name))
        self.pids.clear()
        self._procs.clear()
        state = self.workdir / "state.json"
        if state.exists():
            state.unlink()

    def stop_component(self, name: str) -> None:
        """Stop one component (e.g. to test that clients survive an API server restart)."""
        _terminate(self.pids.pop(name), proc=self._procs.pop(name, None))

    def start_component(self, name: str) -> None:
        """Start a stopped component again with the same flags and ports; wait until ready."""
        self._spawn(name, self._argv[name])
        if name == "kube-apiserver":
            self._wait(name, lambda: self._api_get("/readyz") == b"ok", timeout=120.0)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- components ----------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> None:
        self.log(f"starting {name}")
        logf = self.log_file(name).open("ab")
        proc = subprocess.Popen(
            argv,
            stdout=logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent if self.die_with_parent else None,  # noqa: PLW1509
        )
        logf.close()
        self._procs[name] = proc
        self._argv[name] = argv
        self.pids[name] = proc.pid
        self._save_state()

    def _check_alive(self, name: str) -> None:
        proc = self._procs[name]
        if proc.poll() is not None:
            tail = _tail(self.log_file(name))
            msg = f"{name} exited with code {proc.returncode}; log: {self.log_file(name)}\n{tail}"
            raise ClusterError(msg)

    def _wait(self, name: str, probe: Callable[[], bool], *, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive(name)
            with contextlib.suppress(OSError, urllib.error.URLError, ssl.SSLError):
                if probe():
                    return
            time.sleep(0.2)
        msg = f"{name} not ready after {timeout:.0f}s; log: {self.log_file(name)}\n{_tail(self.log_file(name))}"
        raise ClusterError(msg)

    def _start_etcd(self, binaries: Path) -> None:
        client = f"http://127.0.0.1:{self.ports['etcd']}"
        peer = f"http://127.0.0.1:{self.ports['etcd-peer']}"
        self._spawn(
            "etcd",
            [
                str(binaries / "etcd"),
                "--name=default",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=default={peer}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )
        self._wait("etcd", lambda: _http_ok(f"{client}/health"))

    def _start_apiserver(self, binaries: Path) -> None:
        pki = self.pki
        self._spawn(
            "kube-apiserver",
            [
                str(binaries / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{self.ports['etcd']}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.ports['apiserver']}",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={self.server}",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                "--allow-privileged=true",
                "--profiling=false",
                "--v=1",
            ],
        )
        self._wait("kube-apiserver", lambda: self._api_get("/readyz") == b"ok", timeout=120.0)

    def _start_controller_manager(self, binaries: Path) -> None:
        port = self.ports["controller-manager"]
        self._spawn(
            "kube-controller-manager",
            [
                str(binaries / "kube-controller-manager"),
                f"--kubeconfig={self.kubeconfig}",
                f"--authentication-kubeconfig={self.kubeconfig}",
                f"--authorization-kubeconfig={self.kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={self.workdir / 'kcm-certs'}",
                "--leader-elect=false",
                "--controllers=*",
                f"--service-account-private-key-file={self.pki / 'sa.key'}",
                f"--root-ca-file={self.pki / 'ca.crt'}",
                "--use-service-account-credentials=false",
                "--v=1",
            ],
        )
        self._wait(
            "kube-controller-manager", lambda: _https_ok(f"https://127.0.0.1:{port}/healthz")
        )

    def _start_scheduler(self, binaries: Path) -> None:
        port = self.ports["scheduler"]
        self._spawn(
            "kube-scheduler",
            [
                str(binaries / "kube-scheduler"),
                f"--kubeconfig={self.kubeconfig}",
                f"--authentication-kubeconfig={self.kubeconfig}",
                f"--authorization-kubeconfig={self.kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={self.workdir / 'scheduler-certs'}",
                "--leader-elect=false",
                "--v=1",
            ],
        )
        self._wait("kube-scheduler", lambda: _https_ok(f"https://127.0.0.1:{port}/healthz"))

    def _start_kwok(self, binaries: Path) -> None:
        port = self.ports["kwok"]
        self._spawn(
            "kwok",
            [
                str(binaries / "kwok"),
                f"--kubeconfig={self.kubeconfig}",
                f"--config={STAGES_FILE}",
                f"--config={KWOK_METRICS_FILE}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={FAKE_NODE_ANNOTATION}=fake",
                f"--server-address=127.0.0.1:{port}",
                "--node-lease-duration-seconds=40",
                "--cidr=10.244.0.0/16",
                # NB: the node IP is where kube-apiserver connects for logs/exec: keep it on
                # loopback so no traffic ever leaves the machine.
                "--node-ip=127.0.0.1",
                f"--node-port={port}",
            ],
        )
        self._wait("kwok", lambda: _http_ok(f"http://127.0.0.1:{port}/healthz"))

    def _create_nodes(self) -> None:
        for index in range(self.nodes):
            name = f"kwok-node-{index}"
            body = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "annotations": {
                        FAKE_NODE_ANNOTATION: "fake",
                        "node.alpha.kubernetes.io/ttl": "0",
                    },
                    "labels": {
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "type": "kwok",
                        "topology.kubernetes.io/zone": f"zone-{index % 3}",
                    },
                },
                "status": {
                    "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                    "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                },
            }
            self._api_request("POST", "/api/v1/nodes", body)

    def _nodes_ready(self) -> bool:
        nodes = json.loads(self._api_get("/api/v1/nodes"))["items"]
        ready = [
            n
            for n in nodes
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in n.get("status", {}).get("conditions", [])
            )
        ]
        return len(ready) >= self.nodes

    def _wait_nodes_ready(self) -> None:
        self._wait("kwok", self._nodes_ready)

    def _wait_default_service_account(self) -> None:
        self._wait(
            "kube-controller-manager",
            lambda: bool(self._api_get("/api/v1/namespaces/default/serviceaccounts/default")),
        )

    # -- tiny admin HTTP client (the harness must not depend on the code under test) --

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        ctx.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
        return ctx

    def _api_request(self, method: str, path: str, body: dict[str, Any] | None = None) -> bytes:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.server + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, context=self.ssl_context(), timeout=10) as resp:
            return bytes(resp.read())

    def _api_get(self, path: str) -> bytes:
        return self._api_request("GET", path)

    # -- state for `hack/cluster down|env` -------------------------------------------

    def _save_state(self) -> None:
        state = {"pids": self.pids, "ports": self.ports, "kubeconfig": str(self.kubeconfig)}
        (self.workdir / "state.json").write_text(json.dumps(state, indent=2))

    @classmethod
    def from_state(cls, workdir: Path) -> LocalCluster:
        state = json.loads((workdir / "state.json").read_text())
        cluster = cls(workdir=workdir)
        cluster.pids = {k: int(v) for k, v in state["pids"].items()}
        cluster.ports = {k: int(v) for k, v in state["ports"].items()}
        return cluster

    def is_running(self) -> bool:
        return bool(self.pids) and all(_pid_alive(pid) for pid in self.pids.values())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) counts as gone.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _terminate(pid: int, *, proc: subprocess.Popen[bytes] | None) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            break
        if proc is None and not _pid_alive(pid):
            break
        time.sleep(0.05)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        if proc is not None:
            proc.wait(timeout=5)
    # Anything left in the process group (children of the component) goes too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return int(resp.status) == 200


def _https_ok(url: str) -> bool:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # self-signed serving certs of kcm/scheduler
    with urllib.request.urlopen(url, context=ctx, timeout=2) as resp:
        return int(resp.status) == 200


@contextlib.contextmanager
def running_cluster(*, nodes: int = 3) -> Iterator[LocalCluster]:
    """A cluster in a temporary directory that dies with this process."""
    with tempfile.TemporaryDirectory(prefix="kubemedic-cluster-") as tmp:
        cluster = LocalCluster(workdir=Path(tmp), nodes=nodes, die_with_parent=True)
        with cluster:
            yield cluster


def default_workdir() -> Path:
    return Path(os.environ.get("KUBEMEDIC_CLUSTER_DIR", "/tmp/kubemedic-cluster"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hack/cluster",
        description="Start, stop or describe the local control plane (etcd, kube-apiserver, "
        "kube-controller-manager, kube-scheduler, kwok) on 127.0.0.1.",
    )
    parser.add_argument("command", choices=["up", "down", "env", "status"], help="what to do")
    parser.add_argument("--dir", type=Path, default=default_workdir(),
                        help="work directory: PKI, etcd data, logs, kubeconfig "
                        "(default $KUBEMEDIC_CLUSTER_DIR or /tmp/kubemedic-cluster)")  # fmt: skip
    parser.add_argument(
        "--nodes", type=int, default=3, help="number of kwok fake nodes (default 3)"
    )
    args = parser.parse_args(argv)
    workdir: Path = args.dir.resolve()
    state = workdir / "state.json"
    if args.command == "up":
        if state.exists() and LocalCluster.from_state(workdir).is_running():
            print(f"already running; export KUBECONFIG={workdir / 'kubeconfig'}")
            return 0
        LocalCluster(workdir=workdir, nodes=args.nodes).start()
        print(f"export KUBECONFIG={workdir / 'kubeconfig'}")
        return 0
    if not state.exists():
        print(f"no cluster in {workdir}", file=sys.stderr)
        return 1 if args.command != "down" else 0
    cluster = LocalCluster.from_state(workdir)
    if args.command == "down":
        cluster.stop()
        print(f"stopped the cluster in {workdir}")
    elif args.command == "env":
        print(f"export KUBECONFIG={workdir / 'kubeconfig'}")
        print(f"export KUBEMEDIC_CLUSTER_DIR={workdir}")
    else:
        for name, pid in cluster.pids.items():
            print(f"{name:<25} pid {pid:<8} {'running' if _pid_alive(pid) else 'DEAD'}")
        return 0 if cluster.is_running() else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
