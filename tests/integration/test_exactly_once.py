"""Exactly once: the operator killed between recording an intent and recording its result.

We test these aspects:
- killed right after the intent is written (before the patch), and right after the patch
  (before the result is written), a restarted operator applies the action exactly once:
  the target's generation moves by one, one idempotency marker, one ActionApplied step;
- after a crash following the patch, the restarted operator finds the marker and records
  the action as already applied instead of applying it again.

NB: a module of its own: the operators here must be the only ones acting on these
Incidents (other modules' shared operators watch every namespace).
"""

from __future__ import annotations

import pytest
from kubernetes import client

from localcluster import LocalCluster
from support.operator import GROUP, PLURAL, VERSION, incident_body, start_operator
from support.remediation import FAST
from support.remediation import incident_status as _status
from support.remediation import policy as _policy
from support.remediation import ready_pods as _ready_pods
from support.remediation import restarting as _restarting
from support.remediation import wait_phase as _wait_phase
from support.waiting import wait_for
from support.workloads import FAILURE_LABEL, deployment

pytestmark = pytest.mark.cluster


@pytest.mark.parametrize("crash_at", ["after-intent", "after-apply"])
def test_crash_between_intent_and_result_applies_exactly_once(
    cluster: LocalCluster,
    crds: None,
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
    tmp_path_factory: pytest.TempPathFactory,
    crash_at: str,
) -> None:
    _policy(custom, namespace, autoApproveUpTo="Medium")
    apps.create_namespaced_deployment(namespace, deployment("ledger", replicas=1))
    wait_for(lambda: _ready_pods(core, namespace, "ledger", 1), timeout=60, what="ledger ready")
    apps.patch_namespaced_deployment(
        "ledger",
        namespace,
        {"spec": {"template": {"metadata": {"labels": {FAILURE_LABEL: "crashloop"}}}}},
    )
    wait_for(
        lambda: _restarting(core, namespace, "ledger"),
        timeout=60,
        what="ledger revision 2 crash looping",
    )
    generation_before = apps.read_namespaced_deployment("ledger", namespace).metadata.generation
    faulty = {
        **FAST,
        "KUBEMEDIC_ENABLE_FAULT_INJECTION": "true",
        "KUBEMEDIC_FAULT_CRASH_AT": crash_at,
    }
    workdir = tmp_path_factory.mktemp(f"crash-{crash_at}")
    with start_operator(cluster, workdir / "1", extra_env=faulty, namespaces=[namespace]) as first:
        custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, incident_body("ledger", "ledger")
        )
        wait_for(
            lambda: first.process.poll() is not None,
            timeout=90,
            what=f"the operator to crash {crash_at}",
            describe=lambda: first.log_tail(10),
        )
        assert first.process.returncode == 137
    status = _status(custom, namespace, "ledger")
    assert status["actions"][0]["state"] == "Applying"
    with start_operator(cluster, workdir / "2", extra_env=FAST, namespaces=[namespace]) as second:
        status = _wait_phase(custom, namespace, "ledger", {"Resolved", "Failed"}, second)
    assert status["phase"] == "Resolved", status.get("history")
    dep = apps.read_namespaced_deployment("ledger", namespace)
    # Exactly one change to the spec: the rollback (a second apply would have moved it again).
    assert dep.metadata.generation == generation_before + 1
    markers = [k for k in dep.metadata.annotations if k.startswith("actions.kubemedic.dev/")]
    assert len(markers) == 1
    applied = [h for h in status["history"] if h["step"] == "ActionApplied"]
    assert len(applied) == 1
    if crash_at == "after-apply":
        assert "found already applied" in applied[0]["message"]
