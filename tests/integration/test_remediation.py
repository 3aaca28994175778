"""Remediation on the local control plane: policy, approval, dry-run, apply, verify, revert.

We test these aspects:
- a bad rollout with a policy that auto-approves Medium risk: RollbackRollout is applied,
  pods become healthy, the Incident is Resolved, with history and Events;
- an OOMKilled Deployment without a policy: SetResources waits for approval; `kubemedic
  approve` applies it, the limit is patched, the fix is verified; `kubemedic reject` escalates;
- a policy that does not allow the action, and a protected namespace: nothing changes;
- a target changed between diagnosis and approval: refused, diagnosed again;
- a fix that does not help: verification fails, the change is reverted, Incident Failed;
- an approval naming an unknown action: recorded, nothing applied; a malformed approval is
  rejected by the API server.
(Crashes between intent and result: test_exactly_once.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from prometheus_client.parser import text_string_to_metric_families

from localcluster import LocalCluster
from support.operator import GROUP, PLURAL, VERSION, OperatorProcess, incident_body, start_operator
from support.remediation import FAST
from support.remediation import incident_status as _status
from support.remediation import policy as _policy
from support.remediation import ready_pods as _ready_pods
from support.remediation import restarting as _restarting
from support.remediation import wait_phase as _wait_phase
from support.waiting import wait_for
from support.workloads import FAILURE_LABEL, deployment

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def operator(
    cluster: LocalCluster, crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    with start_operator(
        cluster, tmp_path_factory.mktemp("remediation-operator"), extra_env=FAST
    ) as op:
        yield op


def _steps(status: dict[str, Any]) -> list[str]:
    return [h["step"] for h in status.get("history", [])]


def _cli(cluster: LocalCluster, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    return subprocess.run(
        [sys.executable, "-m", "kubemedic", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def _actions_total(operator: OperatorProcess, action_type: str) -> dict[str, float]:
    """``kubemedic_actions_total`` of one action type, by outcome, from the operator."""
    url = f"http://127.0.0.1:{operator.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        sample.labels["outcome"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "kubemedic_actions"
        for sample in family.samples
        if sample.name == "kubemedic_actions_total" and sample.labels["type"] == action_type
    }


def _memory_limit(apps: client.AppsV1Api, namespace: str, name: str) -> str:
    dep = apps.read_namespaced_deployment(name, namespace)
    return str(dep.spec.template.spec.containers[0].resources.limits["memory"])


def test_bad_rollout_is_rolled_back_automatically_and_resolves(
    operator: OperatorProcess,
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    _policy(custom, namespace, autoApproveUpTo="Medium")
    apps.create_namespaced_deployment(namespace, deployment("web", replicas=2))
    wait_for(
        lambda: _ready_pods(core, namespace, "web", 2), timeout=60, what="web revision 1 ready"
    )
    apps.patch_namespaced_deployment(
        "web",
        namespace,
        {"spec": {"template": {"metadata": {"labels": {FAILURE_LABEL: "crashloop"}}}}},
    )
    wait_for(
        lambda: _restarting(core, namespace, "web"), timeout=60, what="web revision 2 crash looping"
    )
    custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, incident_body("web", "web")
    )

    status = _wait_phase(custom, namespace, "web", {"Resolved", "Failed", "Escalated"}, operator)
    assert status["phase"] == "Resolved", status.get("history")
    record = status["actions"][0]
    assert record["type"] == "RollbackRollout"
    assert record["state"] == "Verified"
    assert record["decision"]["outcome"] == "AutoApproved"
    assert record["decision"]["policy"] == f"{namespace}/team"
    assert record["dryRun"] == "passed"
    assert record["idempotencyKey"]
    steps = _steps(status)
    for step in (
        "Diagnosed",
        "AutoApproved",
        "IntentRecorded",
        "ActionApplied",
        "Verified",
        "Resolved",
    ):
        assert step in steps, steps
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Approved"]["reason"] == "AutoApproved"
    assert conditions["Remediated"]["status"] == "True"
    assert conditions["Resolved"]["status"] == "True"
    assert status["resolvedTime"]

    dep = apps.read_namespaced_deployment("web", namespace)
    assert FAILURE_LABEL not in (dep.spec.template.metadata.labels or {})
    marker = [k for k in dep.metadata.annotations if k.startswith("actions.kubemedic.dev/")]
    assert len(marker) == 1
    assert json.loads(dep.metadata.annotations[marker[0]])["incident"] == f"{namespace}/web"
    assert dep.metadata.managed_fields and any(
        m.manager == "kubemedic" for m in dep.metadata.managed_fields
    )
    events = {
        e.reason
        for e in core.list_namespaced_event(
            namespace, field_selector="involvedObject.name=web"
        ).items
    }
    assert {"AutoApproved", "ActionApplied", "Verified", "Resolved"} <= events
    target_events = core.list_namespaced_event(
        namespace, field_selector="involvedObject.kind=Deployment,involvedObject.name=web"
    ).items
    assert any(e.reason == "ActionApplied" for e in target_events)


def test_oom_waits_for_approval_then_cli_approve_fixes_it(
    operator: OperatorProcess,
    cluster: LocalCluster,
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apps.create_namespaced_deployment(
        namespace, deployment("cache", replicas=2, failure="oomkilled")
    )
    wait_for(lambda: _restarting(core, namespace, "cache"), timeout=60, what="cache OOM looping")
    custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, incident_body("cache", "cache")
    )
    status = _wait_phase(custom, namespace, "cache", {"AwaitingApproval"}, operator)
    record = status["actions"][0]
    assert record["type"] == "SetResources"
    assert record["decision"]["outcome"] == "RequiresApproval"
    assert "no RemediationPolicy" in record["decision"]["rule"]
    assert _memory_limit(apps, namespace, "cache") == "128Mi"

    approved = _cli(cluster, "approve", "cache", "-n", namespace, "--by", "alice")
    assert approved.returncode == 0, approved.stderr
    assert record["id"] in approved.stderr
    status = _wait_phase(custom, namespace, "cache", {"Resolved", "Failed"}, operator)
    assert status["phase"] == "Resolved", status.get("history")
    record = status["actions"][0]
    assert record["decision"]["outcome"] == "ManuallyApproved"
    assert record["decision"]["decidedBy"] == "alice"
    new_limit = _memory_limit(apps, namespace, "cache")
    assert new_limit == status["proposedActions"][0]["params"]["memoryLimit"] != "128Mi"
    wait_for(
        lambda: _ready_pods(core, namespace, "cache", 2),
        timeout=60,
        what="cache healthy with more memory",
    )


def test_reject_escalates_and_changes_nothing(
    operator: OperatorProcess,
    cluster: LocalCluster,
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apps.create_namespaced_deployment(
        namespace, deployment("queue", replicas=1, failure="oomkilled")
    )
    wait_for(lambda: _restarting(core, namespace, "queue"), timeout=60, what="queue OOM looping")
    custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, incident_body("queue", "queue")
    )
    _wait_phase(custom, namespace, "queue", {"AwaitingApproval"}, operator)
    generation = apps.read_namespaced_deployment("queue", namespace).metadata.generation

    rejected = _cli(
        cluster, "reject", "queue", "-n", namespace, "--by", "bob", "--reason", "needs a code fix"
    )
    assert rejected.returncode == 0, rejected.stderr
    status = _wait_phase(custom, namespace, "queue", {"Escalated"}, operator)
    assert status["actions"][0]["state"] == "Rejected"
    assert "needs a code fix" in status["actions"][0]["decision"]["rule"]
    assert apps.read_namespaced_deployment("queue", namespace).metadata.generation == generation


@pytest.mark.parametrize("case", ["not-allowed", "protected"])
def test_policy_denial_changes_nothing(
    operator: OperatorProcess,
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
    case: str,
) -> None:
    if case == "not-allowed":
        _policy(custom, namespace, allowedActions=["RestartRollout"], autoApproveUpTo="High")
    else:
        _policy(custom, namespace, autoApproveUpTo="High", protectedNamespaces=[namespace])
    apps.create_namespaced_deployment(namespace, deployment("api", replicas=1, failure="oomkilled"))
    wait_for(lambda: _restarting(core, namespace, "api"), timeout=60, what="api OOM looping")
    generation = apps.read_namespaced_deployment("api", namespace).metadata.generation
    custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, incident_body("api", "api")
    )
    status = _wait_phase(
        custom, namespace, "api", {"Escalated", "Resolved", "Remediating"}, operator
    )
    assert status["phase"] == "Escalated"
    record = status["actions"][0]
    assert record["state"] == "Denied"
    expected = "not in `allowedActions`" if case == "not-allowed" else "is protected"
    assert expected in record["decision"]["rule"]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Approved"]["reason"] == "PolicyDenied"
    assert apps.read_namespaced_deployment("api", namespace).metadata.generation == generation


def test_target_changed_after_diagnosis_is_refused_and_rediagnosed(
    operator: OperatorProcess,
    cluster: LocalCluster,
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apps.create_namespaced_deployment(
        namespace, deployment("search", replicas=1, failure="oomkilled")
    )
    wait_for(lambda: _restarting(core, namespace, "search"), timeout=60, what="search OOM looping")
    custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, incident_body("search", "search")
    )
    first = _wait_phase(custom, namespace, "search", {"AwaitingApproval"}, operator)
    # Someone changes the Deployment before the approval arrives.
    apps.patch_namespaced_deployment(
        "search", namespace, {"spec": {"template": {"metadata": {"annotations": {"team": "x"}}}}}
    )
    approved = _cli(cluster, "approve", "search", "-n", namespace)
    assert approved.returncode == 0, approved.stderr
    # NB: the refused record is replaced as soon as the action is proposed again (same ID);
    # the history keeps the refusal.
    refused = wait_for(
        lambda: [
            h
            for h in _status(custom, namespace, "search").get("history", [])
            if h["step"] == "Refused"
        ],
        timeout=60,
        what="the approval to be refused",
        describe=lambda: _steps(_status(custom, namespace, "search")),
    )
    assert "target changed" in refused[0]["message"]
    again = wait_for(
        lambda: (
            (s := _status(custom, namespace, "search")).get("phase") == "AwaitingApproval"
            and "Refused" in _steps(s)
            and s
        ),
        timeout=60,
        what="a new diagnosis and proposal after the refusal",
        describe=lambda: _steps(_status(custom, namespace, "search")),
    )
    # Diagnosed again after the refusal (times have whole seconds, so the order tells it).
    steps = _steps(again)
    assert steps.count("Diagnosed") == 2
    assert steps.index("Refused") < len(steps) - 1 - steps[::-1].index("Diagnosed")
    after = steps[steps.index("Refused") + 1 :]
    assert "AwaitingApproval" in after
    # The refused approval is spent: it must not approve the proposal made again.
    assert "Approved" not in after
    assert "ActionApplied" not in after
    assert first["phase"] == "AwaitingApproval"


def test_fix_that_does_not_help_is_reverted(
    operator: OperatorProcess,
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    # 64Mi x1.5 = 96Mi: still under what the simulated app needs, so the fix cannot work.
    _policy(custom, namespace, autoApproveUpTo="Medium")
    apps.create_namespaced_deployment(
        namespace, deployment("img", replicas=1, failure="oomkilled", memory_limit="64Mi")
    )
    wait_for(lambda: _restarting(core, namespace, "img"), timeout=60, what="img OOM looping")
    before = _actions_total(operator, "SetResources")
    custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, incident_body("img", "img")
    )
    status = _wait_phase(custom, namespace, "img", {"Failed", "Resolved"}, operator, timeout=120)
    assert status["phase"] == "Failed", status.get("history")
    record = status["actions"][0]
    assert record["type"] == "SetResources"
    assert record["state"] == "Reverted"
    assert "reverted" in record["result"]
    assert "VerificationFailed" in _steps(status)
    assert _memory_limit(apps, namespace, "img") == "64Mi"
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Remediated"]["reason"] == "ActionFailed"
    # Counted and told once: a revert used to count as "failed" and "reverted" both.
    after = _actions_total(operator, "SetResources")
    changed = {k: after[k] - before.get(k, 0.0) for k in after if after[k] != before.get(k, 0.0)}
    assert changed == {"applied": 1.0, "reverted": 1.0}
    assert _steps(status).count("Reverted") == 1

    def reverted_events() -> dict[str, int]:
        events = core.list_namespaced_event(namespace, field_selector="reason=Reverted").items
        kinds = [e.involved_object.kind for e in events if e.involved_object.name == "img"]
        return {kind: kinds.count(kind) for kind in kinds}

    # The Events are posted right after the status is written: one on each object.
    wait_for(lambda: len(reverted_events()) == 2, timeout=30, what="Reverted Events posted")
    assert reverted_events() == {"Incident": 1, "Deployment": 1}


def test_unknown_and_malformed_approvals(
    operator: OperatorProcess,
    cluster: LocalCluster,
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apps.create_namespaced_deployment(namespace, deployment("pay", replicas=1, failure="oomkilled"))
    wait_for(lambda: _restarting(core, namespace, "pay"), timeout=60, what="pay OOM looping")
    custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, incident_body("pay", "pay")
    )
    _wait_phase(custom, namespace, "pay", {"AwaitingApproval"}, operator)
    generation = apps.read_namespaced_deployment("pay", namespace).metadata.generation

    cli = _cli(cluster, "approve", "pay", "-n", namespace, "--action", "set-resources-00000000")
    assert cli.returncode == 2
    assert "is not a proposed action" in cli.stderr
    with pytest.raises(ApiException) as malformed:
        custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            "pay",
            {"spec": {"approvals": [{"actionID": "Bad_ID!", "decision": "Maybe"}]}},
        )
    assert malformed.value.status == 422
    assert "spec.approvals[0].decision" in malformed.value.body
    custom.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        "pay",
        {"spec": {"approvals": [{"actionID": "delete-everything", "decision": "Approve"}]}},
    )
    status = wait_for(
        lambda: (s := _status(custom, namespace, "pay")) and "UnknownApproval" in _steps(s) and s,
        timeout=30,
        what="the unknown approval to be recorded",
    )
    assert status["phase"] == "AwaitingApproval"
    assert apps.read_namespaced_deployment("pay", namespace).metadata.generation == generation


def _ready(custom: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any] | None:
    obj = custom.get_namespaced_custom_object(
        GROUP, VERSION, namespace, "remediationpolicies", name
    )
    status = obj.get("status") or {}
    if status.get("observedGeneration") != obj["metadata"]["generation"]:
        return None
    ready = [c for c in status.get("conditions", []) if c["type"] == "Ready"]
    return {"generation": obj["metadata"]["generation"], **ready[0]} if ready else None


def test_policies_get_a_ready_condition_and_observed_generation(
    operator: OperatorProcess,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    _policy(custom, namespace, autoApproveUpTo="Low")
    first = wait_for(lambda: _ready(custom, namespace, "team"), timeout=30, what="policy Ready")
    assert (first["status"], first["reason"], first["generation"]) == ("True", "Valid", 1)
    assert first["observedGeneration"] == 1

    custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, "remediationpolicies", "team", {"spec": {"dryRunOnly": True}}
    )
    second = wait_for(
        lambda: (r := _ready(custom, namespace, "team")) and r["generation"] == 2 and r,
        timeout=30,
        what="policy generation 2 observed",
    )
    assert (second["status"], second["observedGeneration"]) == ("True", 2)
    # The status did not flip, so its transition time stays.
    assert second["lastTransitionTime"] == first["lastTransitionTime"]

    # A tenant's policy that names only another namespace covers nothing: said, not applied.
    custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "remediationpolicies",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "RemediationPolicy",
            "metadata": {"name": "elsewhere"},
            "spec": {"allowedActions": ["RestartRollout"], "namespaces": ["payments"]},
        },
    )
    elsewhere = wait_for(
        lambda: _ready(custom, namespace, "elsewhere"), timeout=30, what="policy checked"
    )
    assert (elsewhere["status"], elsewhere["reason"]) == ("False", "CoversNothing")
    assert elsewhere["message"].startswith("spec.namespaces:")
    assert "'payments'" in elsewhere["message"]
