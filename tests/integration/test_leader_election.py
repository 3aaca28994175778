"""High availability: three operator replicas, one Lease, no duplicate actions.

We test these aspects:
- exactly one leader at any time (sampled continuously), visible in the Lease and metrics;
- SIGKILL of the leader: another replica takes over after the lease expires;
- SIGTERM of the leader: it releases the Lease and a standby takes over at once;
- chaos: a stream of bad rollouts to remediate while the leader is SIGKILLed at random
  moments (and made to crash right after recording an intent): every action is applied
  exactly once, every Incident resolves;
- kube-apiserver restarted: a leader cut off from it stops acting before its lease could
  expire; afterwards the replicas recover on their own and work goes on.
"""

from __future__ import annotations

import random
import re
import signal
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from kubernetes import client

from localcluster import LocalCluster
from support.operator import (
    GROUP,
    OPERATOR_NAMESPACE,
    PLURAL,
    VERSION,
    OperatorProcess,
    incident_body,
    start_operator,
)
from support.waiting import WaitTimeout as WaitTimeoutError
from support.waiting import wait_for
from support.workloads import FAILURE_LABEL, deployment

pytestmark = pytest.mark.cluster

LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 3.0, 2.0, 0.5


def _env(lease: str, **extra: str) -> dict[str, str]:
    return {
        "KUBEMEDIC_LEADER_ELECTION": "true",
        "KUBEMEDIC_LEASE_NAME": lease,
        "KUBEMEDIC_LEASE_DURATION_SECONDS": str(LEASE_DURATION),
        "KUBEMEDIC_RENEW_DEADLINE_SECONDS": str(RENEW_DEADLINE),
        "KUBEMEDIC_RETRY_PERIOD_SECONDS": str(RETRY_PERIOD),
        "KUBEMEDIC_REMEDIATION_INTERVAL_SECONDS": "0.5",
        "KUBEMEDIC_VERIFY_TIMEOUT_SECONDS": "60",
        **extra,
    }


def is_leader(op: OperatorProcess) -> bool | None:
    """The replica's own view (its metric); None when it does not answer."""
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{op.metrics_port}/metrics", timeout=1
        ) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    match = re.search(r"^kubemedic_leader_is_leader (\S+)$", text, re.M)
    return bool(match and float(match.group(1)) == 1.0)


def holder(coord: client.CoordinationV1Api, lease: str) -> str:
    return str(coord.read_namespaced_lease(lease, OPERATOR_NAMESPACE).spec.holder_identity or "")


class Replicas:
    """N operator processes sharing a Lease; restartable; identity = POD_NAME."""

    def __init__(
        self, cluster: LocalCluster, workdir: Path, lease: str, stack: ExitStack, **extra: str
    ) -> None:
        self.cluster, self.workdir, self.lease, self.stack, self.extra = (
            cluster,
            workdir,
            lease,
            stack,
            extra,
        )
        self.ops: dict[str, OperatorProcess] = {}
        self.starts = 0

    def start(self, name: str) -> OperatorProcess:
        env = _env(self.lease, KUBEMEDIC_POD_NAME=name, **self.extra)
        for _attempt in range(5):
            self.starts += 1
            try:
                op = self.stack.enter_context(
                    start_operator(
                        self.cluster, self.workdir / f"{name}-{self.starts}", extra_env=env
                    )
                )
            except WaitTimeoutError:
                # NB: with fault injection on, a replica that takes the Lease at once (it kept
                # its identity) may crash after an intent before its /healthz is up: start again.
                continue
            self.ops[name] = op
            return op
        raise AssertionError(f"replica {name} did not start in 5 attempts")

    def leaders(self) -> list[str]:
        return [
            name for name, op in self.ops.items() if op.process.poll() is None and is_leader(op)
        ]


@pytest.fixture
def replicas(cluster: LocalCluster, crds: None, tmp_path: Path) -> Iterator[Replicas]:
    with ExitStack() as stack:
        group = Replicas(cluster, tmp_path, f"ha-{uuid.uuid4().hex[:6]}", stack)
        for index in range(3):
            group.start(f"replica-{index}")
        yield group


def _wait_single_leader(group: Replicas, coord: client.CoordinationV1Api) -> str:
    return wait_for(
        lambda: (
            (names := group.leaders())
            and len(names) == 1
            and holder(coord, group.lease) == names[0]
            and names[0]
        ),
        timeout=30,
        what="exactly one leader that holds the Lease",
        describe=lambda: {"leaders": group.leaders(), "holder": holder(coord, group.lease)},
    )


@pytest.fixture(scope="module")
def coord(api_client: client.ApiClient) -> client.CoordinationV1Api:
    return client.CoordinationV1Api(api_client)


def test_one_leader_sigkill_takeover_and_sigterm_handover(
    replicas: Replicas, coord: client.CoordinationV1Api
) -> None:
    first = _wait_single_leader(replicas, coord)
    violations: list[list[str]] = []
    stop = threading.Event()

    def watch_leaders() -> None:
        previous: list[str] = []
        while not stop.is_set():
            current = replicas.leaders()
            # NB: the replicas are sampled one after another; a handover between two samples
            # can look like two leaders once. Two in a row is a real violation.
            if len(current) > 1 and len(previous) > 1:
                violations.append(current)
            previous = current
            time.sleep(0.05)

    sampler = threading.Thread(target=watch_leaders, daemon=True)
    sampler.start()
    try:
        killed_at = time.monotonic()
        replicas.ops[first].process.send_signal(signal.SIGKILL)
        second = wait_for(
            lambda: (h := holder(coord, replicas.lease)) and h != first and h,
            timeout=LEASE_DURATION * 4,
            what="another replica to take the Lease after SIGKILL",
        )
        sigkill_failover = time.monotonic() - killed_at
        # A killed leader cannot release: the others must wait for the lease to expire.
        assert sigkill_failover >= LEASE_DURATION * 0.8
        assert _wait_single_leader(replicas, coord) == second

        terminated_at = time.monotonic()
        replicas.ops[second].process.send_signal(signal.SIGTERM)
        third = wait_for(
            lambda: (h := holder(coord, replicas.lease)) and h not in ("", first, second) and h,
            timeout=LEASE_DURATION * 4,
            what="the last replica to take the Lease after SIGTERM",
            interval=0.02,
        )
        sigterm_handover = time.monotonic() - terminated_at
        assert sigterm_handover < LEASE_DURATION, f"SIGTERM handover took {sigterm_handover:.2f}s"
        assert _wait_single_leader(replicas, coord) == third
        lease = coord.read_namespaced_lease(replicas.lease, OPERATOR_NAMESPACE)
        assert lease.spec.lease_transitions >= 2
    finally:
        stop.set()
        sampler.join()
    assert violations == []
    events = (
        client.CoreV1Api(coord.api_client)
        .list_namespaced_event(
            OPERATOR_NAMESPACE, field_selector=f"involvedObject.name={replicas.lease}"
        )
        .items
    )
    assert any(e.reason == "LeaderElection" and "became leader" in e.message for e in events)


def _bad_rollout(apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str, name: str) -> None:
    apps.create_namespaced_deployment(namespace, deployment(name, replicas=1))
    wait_for(
        lambda: any(
            any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
            for p in core.list_namespaced_pod(namespace, label_selector=f"app={name}").items
        ),
        timeout=60,
        what=f"{name} revision 1 ready",
    )
    apps.patch_namespaced_deployment(
        name,
        namespace,
        {"spec": {"template": {"metadata": {"labels": {FAILURE_LABEL: "crashloop"}}}}},
    )
    wait_for(
        lambda: any(
            (st.restart_count or 0) >= 1
            for p in core.list_namespaced_pod(namespace, label_selector=f"app={name}").items
            for st in p.status.container_statuses or []
        ),
        timeout=60,
        what=f"{name} revision 2 crash looping",
    )


@pytest.mark.timeout(1200)
def test_chaos_leader_kills_apply_every_action_exactly_once(
    cluster: LocalCluster,
    crds: None,
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    custom: client.CustomObjectsApi,
    coord: client.CoordinationV1Api,
    namespace: str,
    tmp_path: Path,
) -> None:
    kills_wanted, incidents_total = 50, 12
    custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "remediationpolicies",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "RemediationPolicy",
            "metadata": {"name": "auto"},
            "spec": {
                "allowedActions": ["RollbackRollout"],
                "autoApproveUpTo": "Medium",
                "rateLimits": {"maxConcurrentPerNamespace": 100},
            },
        },
    )
    rng = random.Random(7)
    with ExitStack() as stack:
        # Some replicas also crash right after recording an intent, before applying it.
        group = Replicas(
            cluster,
            tmp_path,
            f"chaos-{uuid.uuid4().hex[:6]}",
            stack,
            KUBEMEDIC_ENABLE_FAULT_INJECTION="true",
            KUBEMEDIC_FAULT_CRASH_AT="after-intent",
            KUBEMEDIC_FAULT_PROBABILITY="0.3",
        )
        for index in range(3):
            group.start(f"chaos-{index}")
        generations: dict[str, int] = {}
        kills = 0
        created = 0
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            if created < incidents_total:
                name = f"svc-{created}"
                _bad_rollout(apps, core, namespace, name)
                generations[name] = apps.read_namespaced_deployment(
                    name, namespace
                ).metadata.generation
                custom.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, incident_body(name, name)
                )
                created += 1
            leader = holder(coord, group.lease)
            if (
                kills < kills_wanted
                and leader in group.ops
                and group.ops[leader].process.poll() is None
            ):
                time.sleep(rng.uniform(0.0, 1.5))
                group.ops[leader].process.send_signal(signal.SIGKILL)
                group.ops[leader].process.wait()
                kills += 1
            for name, op in list(group.ops.items()):
                if op.process.poll() is not None:  # killed, or crashed after an intent
                    group.start(name)
            phases = [
                (
                    custom.get_namespaced_custom_object(
                        GROUP, VERSION, namespace, PLURAL, f"svc-{i}"
                    ).get("status")
                    or {}
                ).get("phase")
                for i in range(created)
            ]
            if (
                kills >= kills_wanted
                and created == incidents_total
                and all(p in ("Resolved", "Failed") for p in phases)
            ):
                break
            time.sleep(0.2)
        assert kills >= kills_wanted

    stuck = {}
    for index in range(incidents_total):
        name = f"svc-{index}"
        status = (
            custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name).get(
                "status"
            )
            or {}
        )
        if status.get("phase") != "Resolved":
            stuck[name] = (status.get("phase"), [h["step"] for h in status.get("history", [])][-5:])
        dep = apps.read_namespaced_deployment(name, namespace)
        markers = [k for k in dep.metadata.annotations if k.startswith("actions.kubemedic.dev/")]
        assert len(markers) == 1, f"{name}: {markers}"
        # The rollback is the one and only spec change kubemedic made.
        assert dep.metadata.generation == generations[name] + 1, name
        assert FAILURE_LABEL not in (dep.spec.template.metadata.labels or {})
    assert stuck == {}


def test_leader_cut_off_from_api_server_stops_acting_then_recovers(
    cluster: LocalCluster,
    replicas: Replicas,
    coord: client.CoordinationV1Api,
    custom: client.CustomObjectsApi,
    apps: client.AppsV1Api,
    namespace: str,
) -> None:
    if "kube-apiserver" not in getattr(cluster, "_argv", {}):
        pytest.skip(
            "the cluster was started by another process (KUBEMEDIC_TEST_CLUSTER_DIR); cannot restart it"
        )
    leader = _wait_single_leader(replicas, coord)
    cluster.stop_component("kube-apiserver")
    stopped_at = time.monotonic()
    try:
        wait_for(
            lambda: is_leader(replicas.ops[leader]) is False,
            timeout=LEASE_DURATION * 3,
            what="the cut-off leader to stop acting",
            interval=0.05,
        )
        stepped_down = time.monotonic() - stopped_at
        # It must be quiet before anyone else could take the Lease (lease duration after its last renewal).
        assert stepped_down < LEASE_DURATION, f"stepped down after {stepped_down:.2f}s"
    finally:
        cluster.start_component("kube-apiserver")
    _wait_single_leader(replicas, coord)
    apps.create_namespaced_deployment(
        namespace, deployment("after", replicas=1, failure="oomkilled")
    )
    custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, incident_body("after", "after")
    )
    status = wait_for(
        lambda: (
            (
                s := custom.get_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, "after"
                ).get("status")
                or {}
            )
            .get("diagnosis", {})
            .get("category")
            == "OOMKilled"
            and s
        ),
        # NB: a diagnosis made before the kubelet reports the OOM kill is Unknown; the leader
        # diagnoses a young Unknown again, and it must end up naming the cause.
        timeout=90,
        what="an OOMKilled diagnosis after the API server came back",
    )
    assert any("OOMKilled" in line for line in status["diagnosis"]["evidence"])
