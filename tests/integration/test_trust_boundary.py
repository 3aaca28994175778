"""The trust boundary on a real API server, with real Roles and impersonated users (``--as``).

The admission policies and CRD rules of ``crds/`` (installed by the ``crds`` fixture, as
``kubectl apply -f crds/`` installs them) and RBAC decide; nothing here is simulated:

- a reporter (may create Incidents, may not create IncidentApprovals) cannot approve;
- an approver (the chart's approver rules) cannot sign as someone else, nor edit an approval
  after the fact; not even someone RBAC lets ``patch`` approvals can change its spec;
- an Incident targeting another namespace is refused with the policy's message; one about a
  Node only in the operator's namespace (or one an administrator labelled); a forged
  ``spec.reportedBy`` is refused;
- a forged or future approval time changes nothing: status cannot be set on create, a client
  field ``approvedAt`` does not exist, and a ``seenAt`` forged through the status
  subresource is not believed by the operator, which writes its own;
- the operator's own identity cannot write in a protected namespace, nor uncordon, relabel or
  delete a Node, while it can cordon one and patch a workload elsewhere.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kubernetes import client

from kubemedic.clients.remediator import Remediator
from kubemedic.domain import patches as rem
from kubemedic.models.diagnosis import Action, ActionType, Risk
from kubemedic.models.incident import ProposedAction
from kubemedic.models.target import ObjectRef
from kubemedic.service.remediation import RemediationDeps, reconcile_remediation
from localcluster import LocalCluster, bin_dir
from support.approvals import APPROVALS, approval_body
from support.operator import GROUP, PLURAL, VERSION
from support.waiting import wait_for
from support.workloads import deployment

pytestmark = pytest.mark.cluster

OPERATOR = "system:serviceaccount:kubemedic:kubemedic"


def kubectl(
    cluster: LocalCluster, *args: str, stdin: str | None = None, as_user: str | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [str(bin_dir() / "kubectl"), f"--kubeconfig={cluster.kubeconfig}", *args]
    if as_user:
        argv.append(f"--as={as_user}")
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)


def create_as(
    cluster: LocalCluster, user: str, namespace: str, obj: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    return kubectl(
        cluster, "create", "-n", namespace, "-f", "-", stdin=json.dumps(obj), as_user=user
    )


def refused(result: subprocess.CompletedProcess[str], *fragments: str) -> bool:
    return result.returncode != 0 and all(f in result.stderr for f in fragments)


@pytest.fixture(scope="module")
def roles(cluster: LocalCluster, crds: None, api_client: client.ApiClient) -> Iterator[None]:
    """ClusterRoles for a reporter (rita), an approver (alice, the chart's rules) and someone
    allowed to patch approvals (mallory); bound per namespace by :func:`bind`."""
    rbac = client.RbacAuthorizationV1Api(api_client)
    roles = {
        "trust-reporter": [
            {
                "apiGroups": ["kubemedic.dev"],
                "resources": ["incidents"],
                "verbs": ["get", "list", "create"],
            }
        ],
        "trust-approver": [
            {
                "apiGroups": ["kubemedic.dev"],
                "resources": ["incidentapprovals"],
                "verbs": ["get", "list", "watch", "create"],
            },
            {
                "apiGroups": ["kubemedic.dev"],
                "resources": ["incidents"],
                "verbs": ["get", "list", "watch"],
            },
        ],
        "trust-patcher": [
            {
                "apiGroups": ["kubemedic.dev"],
                "resources": ["incidentapprovals", "incidentapprovals/status"],
                "verbs": ["get", "list", "create", "patch", "update"],
            }
        ],
        # What the chart grants the operator for remediation (the guard must hold anyway).
        "trust-operator": [
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]},
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "patch", "delete"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]},
        ],
    }
    for name, rules in roles.items():
        rbac.create_cluster_role({"metadata": {"name": name}, "rules": rules})
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": "trust-operator"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "trust-operator",
            },
            "subjects": [
                {"kind": "User", "name": OPERATOR, "apiGroup": "rbac.authorization.k8s.io"}
            ],
        }
    )
    yield
    rbac.delete_cluster_role_binding("trust-operator")
    for name in roles:
        rbac.delete_cluster_role(name)


def bind(api_client: client.ApiClient, namespace: str, role: str, user: str) -> None:
    client.RbacAuthorizationV1Api(api_client).create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": f"{role}-{user}"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role,
            },
            "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}],
        },
    )


@pytest.fixture
def team(api_client: client.ApiClient, roles: None, namespace: str) -> str:
    """A tenant namespace: rita reports, alice approves, mallory may patch approvals."""
    bind(api_client, namespace, "trust-reporter", "rita")
    bind(api_client, namespace, "trust-approver", "alice")
    bind(api_client, namespace, "trust-patcher", "mallory")
    return namespace


def incident(name: str, target: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Incident",
        "metadata": {"name": name},
        "spec": {"target": target, **spec},
    }


def until_enforced(cluster: LocalCluster, namespace: str) -> None:
    """Admission policies take effect a moment after they are created: wait for that."""
    probe = incident("unused", {"kind": "Deployment", "namespace": "elsewhere", "name": "x"})
    # NB: a new name each try: a probe admitted before the policy took effect must not turn
    # every later try into "already exists".
    probe["metadata"] = {"generateName": "probe-"}
    wait_for(
        lambda: refused(create_as(cluster, "rita", namespace, probe), "must be the Incident's"),
        timeout=30,
        what="the admission policies to be enforced",
    )


# -- approving ---------------------------------------------------------------------------------


def test_a_reporter_cannot_approve(cluster: LocalCluster, team: str) -> None:
    until_enforced(cluster, team)
    created = create_as(
        cluster,
        "rita",
        team,
        incident("web", {"kind": "Deployment", "name": "web"}, reportedBy="rita"),
    )
    assert created.returncode == 0, created.stderr

    approval = create_as(
        cluster, "rita", team, approval_body("web", "restart-rollout-1234abcd", approver="rita")
    )

    assert refused(approval, "forbidden", "incidentapprovals")
    # Nor can she approve through the Incident: approvals are not part of it any more.
    patched = kubectl(
        cluster, "patch", "incident", "web", "-n", team, "--type=merge",
        "-p", json.dumps({"spec": {"summary": "approved!"}}), as_user="rita",
    )  # fmt: skip
    assert refused(patched, "forbidden")


def test_an_approver_cannot_sign_as_someone_else(
    cluster: LocalCluster, team: str, custom: client.CustomObjectsApi
) -> None:
    until_enforced(cluster, team)

    forged = create_as(
        cluster, "alice", team, approval_body("web", "restart-rollout-1234abcd", approver="bob")
    )

    assert refused(
        forged,
        "`spec.approver` must be the user creating the IncidentApproval ('alice'), not 'bob'",
    ), forged.stderr
    assert custom.list_namespaced_custom_object(GROUP, VERSION, team, APPROVALS)["items"] == []
    own = create_as(
        cluster, "alice", team, approval_body("web", "restart-rollout-1234abcd", approver="alice")
    )
    assert own.returncode == 0, own.stderr


def test_an_approval_cannot_be_edited_after_the_fact(
    cluster: LocalCluster, team: str, custom: client.CustomObjectsApi
) -> None:
    until_enforced(cluster, team)
    body = approval_body("web", "restart-rollout-1234abcd", approver="alice", name="alice-1")
    assert create_as(cluster, "alice", team, body).returncode == 0
    flip = json.dumps({"spec": {"decision": "Reject"}})

    by_alice = kubectl(
        cluster, "patch", "incidentapproval", "alice-1", "-n", team, "--type=merge", "-p", flip,
        as_user="alice",
    )  # fmt: skip
    by_mallory = kubectl(
        cluster, "patch", "incidentapproval", "alice-1", "-n", team, "--type=merge",
        "-p", json.dumps({"spec": {"approver": "mallory", "actionID": "delete-pod-00000000"}}),
        as_user="mallory",
    )  # fmt: skip
    by_admin = kubectl(
        cluster, "patch", "incidentapproval", "alice-1", "-n", team, "--type=merge", "-p", flip
    )

    assert refused(by_alice, "forbidden")  # RBAC: create only
    assert refused(by_mallory, "must not change after it is created"), by_mallory.stderr
    assert refused(by_admin, "must not change after it is created"), by_admin.stderr
    stored = custom.get_namespaced_custom_object(GROUP, VERSION, team, APPROVALS, "alice-1")
    assert stored["spec"] == body["spec"]


def test_a_forged_or_future_approval_time_is_not_taken(
    cluster: LocalCluster, team: str, custom: client.CustomObjectsApi
) -> None:
    until_enforced(cluster, team)
    future = (datetime.now(UTC) + timedelta(days=3650)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = approval_body("web", "restart-rollout-1234abcd", approver="alice", name="timed")
    body["status"] = {"seenAt": future, "spentAt": future}
    with_time = {**body, "spec": {**body["spec"], "approvedAt": future}}

    strict = create_as(cluster, "alice", team, with_time)
    assert refused(strict, "approvedAt"), strict.stderr  # no such field: a client sets no time
    created = create_as(cluster, "alice", team, body)
    assert created.returncode == 0, created.stderr
    stored = custom.get_namespaced_custom_object(GROUP, VERSION, team, APPROVALS, "timed")
    assert "status" not in stored or not stored["status"]  # status is the operator's alone
    by_alice = kubectl(
        cluster, "patch", "incidentapproval", "timed", "-n", team, "--subresource=status",
        "--type=merge", "-p", json.dumps({"status": {"seenAt": future}}), as_user="alice",
    )  # fmt: skip
    assert refused(by_alice, "forbidden")


def test_the_operator_does_not_believe_a_forged_seen_time(
    cluster: LocalCluster,
    team: str,
    api_client: client.ApiClient,
    apps: client.AppsV1Api,
    custom: client.CustomObjectsApi,
) -> None:
    """Somebody with rights on approvals' status writes a seenAt from long ago (to expire a
    decision) or from the future (to keep one valid forever): the operator uses its own."""
    until_enforced(cluster, team)
    apps.create_namespaced_deployment(team, deployment("web", replicas=1))
    live = Remediator(api_client).read(kind="Deployment", namespace=team, name="web")
    assert live is not None
    action = Action(
        type=ActionType.RESTART_ROLLOUT,
        target=ObjectRef(kind="Deployment", namespace=team, name="web"),
        risk=Risk.LOW,
    )
    now = datetime.now(UTC).replace(microsecond=0)
    custom.create_namespaced_custom_object(
        GROUP, VERSION, team, PLURAL, incident("web", {"kind": "Deployment", "name": "web"})
    )
    stamp = now.isoformat().replace("+00:00", "Z")
    custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, team, PLURAL, "web",
        {
            "status": {
                "phase": "AwaitingApproval",
                "diagnosedTime": stamp,
                "targetFingerprint": rem.target_fingerprint(live),
                "proposedActions": [
                    ProposedAction.from_action(action).model_dump(mode="json", by_alias=True)
                ],
                "actions": [{"id": action.id, "type": "RestartRollout", "state": "AwaitingApproval"}],
            }
        },
    )  # fmt: skip
    # Created after the diagnosis (creationTimestamp is the API server's clock).
    time.sleep(1.1)
    assert (
        create_as(
            cluster, "alice", team, approval_body("web", action.id, approver="alice", name="ok")
        ).returncode
        == 0
    )
    long_ago = (now - timedelta(days=2)).isoformat().replace("+00:00", "Z")
    custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, team, APPROVALS, "ok", {"status": {"seenAt": long_ago}}
    )

    deps = RemediationDeps(remediator=Remediator(api_client), operator_namespace="kubemedic")
    later = datetime.now(UTC) + timedelta(seconds=2)
    reconcile_remediation(deps, namespace=team, name="web", now=later)

    record = custom.get_namespaced_custom_object(GROUP, VERSION, team, PLURAL, "web")["status"][
        "actions"
    ][0]
    assert record["state"] == "Approved", record  # not Expired: two days ago was not believed
    assert record["decision"]["decidedBy"] == "alice"
    approval = custom.get_namespaced_custom_object(GROUP, VERSION, team, APPROVALS, "ok")
    seen = datetime.fromisoformat(approval["status"]["seenAt"])
    assert abs((seen - later).total_seconds()) < 2
    assert approval["status"]["outcome"] == "Applied"


# -- scope ---------------------------------------------------------------------------------------


def test_a_cross_namespace_target_is_refused_with_the_policys_message(
    cluster: LocalCluster, team: str
) -> None:
    until_enforced(cluster, team)

    result = create_as(
        cluster,
        "rita",
        team,
        incident("steal", {"kind": "Deployment", "namespace": "team-b", "name": "pay"}),
    )

    assert refused(
        result,
        f"`spec.target.namespace` ('team-b') must be the Incident's own namespace ('{team}')",
    ), result.stderr
    same = create_as(
        cluster,
        "rita",
        team,
        incident("own", {"kind": "Deployment", "namespace": team, "name": "pay"}),
    )
    assert same.returncode == 0, same.stderr


def test_node_incidents_only_in_the_operators_namespace(
    cluster: LocalCluster, team: str, core: client.CoreV1Api, custom: client.CustomObjectsApi
) -> None:
    until_enforced(cluster, team)
    node = {"kind": "Node", "name": "kwok-node-1"}

    tenant = create_as(cluster, "rita", team, incident("node", node))

    assert refused(
        tenant, "Incidents about Nodes may only be created in the operator's namespace"
    ), tenant.stderr
    name = f"node-{uuid.uuid4().hex[:6]}"
    custom.create_namespaced_custom_object(
        GROUP, VERSION, "kubemedic", PLURAL, incident(name, node)
    )
    custom.delete_namespaced_custom_object(GROUP, VERSION, "kubemedic", PLURAL, name)
    # An administrator may allow another namespace (tenants cannot label namespaces).
    core.patch_namespace(
        team, {"metadata": {"labels": {"kubemedic.dev/cluster-incidents": "true"}}}
    )
    allowed = wait_for(
        lambda: (
            (r := create_as(cluster, "rita", team, incident("node", node))).returncode == 0 and r
        ),
        timeout=20,
        what="the labelled namespace to be allowed",
    )
    assert allowed


def test_a_forged_reporter_is_refused(cluster: LocalCluster, team: str) -> None:
    until_enforced(cluster, team)
    target = {"kind": "Deployment", "name": "web"}

    forged = create_as(cluster, "rita", team, incident("forged", target, reportedBy="alice"))

    assert refused(
        forged, "`spec.reportedBy` must be the user creating the Incident ('rita'), not 'alice'"
    ), forged.stderr
    assert (
        create_as(cluster, "rita", team, incident("honest", target, reportedBy="rita")).returncode
        == 0
    )
    changed = kubectl(
        cluster, "patch", "incident", "honest", "-n", team, "--type=merge",
        "-p", json.dumps({"spec": {"reportedBy": "alice"}}),
    )  # fmt: skip
    assert refused(changed, "`reportedBy` must not change"), changed.stderr


# -- the operator's own identity ------------------------------------------------------------------


def test_the_operators_identity_cannot_write_in_a_protected_namespace(
    cluster: LocalCluster, roles: None, namespace: str, apps: client.AppsV1Api
) -> None:
    name = f"guarded-{uuid.uuid4().hex[:6]}"
    apps.create_namespaced_deployment("kube-system", deployment(name, replicas=1))
    apps.create_namespaced_deployment(namespace, deployment(name, replicas=1))
    scale = json.dumps({"spec": {"replicas": 0}})
    try:
        wait_for(
            lambda: refused(
                kubectl(
                    cluster,
                    "patch",
                    "deployment",
                    name,
                    "-n",
                    "kube-system",
                    "-p",
                    scale,
                    as_user=OPERATOR,
                ),
                "must not change anything in the protected namespace 'kube-system'",
            ),
            timeout=30,
            what="the operator guard to refuse a write in kube-system",
        )
        # RBAC allows it everywhere; elsewhere the guard lets it through.
        elsewhere = kubectl(
            cluster, "patch", "deployment", name, "-n", namespace, "-p", scale, as_user=OPERATOR
        )
        assert elsewhere.returncode == 0, elsewhere.stderr
        assert apps.read_namespaced_deployment(name, "kube-system").spec.replicas == 1
    finally:
        apps.delete_namespaced_deployment(name, "kube-system")


def test_the_operators_identity_may_only_cordon_a_node(
    cluster: LocalCluster, roles: None, core: client.CoreV1Api
) -> None:
    node = core.list_node().items[0].metadata.name
    before = core.read_node(node)
    labels = dict(before.metadata.labels or {})

    def patch(body: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        return kubectl(cluster, "patch", "node", node, "-p", json.dumps(body), as_user=OPERATOR)

    try:
        cordon = {
            "spec": {"unschedulable": True},
            "metadata": {"annotations": {"actions.kubemedic.dev/abc123": "{}"}},
        }
        cordoned = wait_for(
            lambda: (r := patch(cordon)).returncode == 0 and r,
            timeout=30,
            what="the operator to cordon a node",
        )
        assert cordoned
        uncordon_relabel = {
            "spec": {"unschedulable": False},
            "metadata": {"labels": {"node-role.kubernetes.io/control-plane": ""}},
        }
        for attempt in (
            uncordon_relabel,
            {"spec": {"unschedulable": False}},
            {"metadata": {"labels": {"team": "mine"}}},
            {"metadata": {"annotations": {"example.com/owner": "mallory"}}},
            {"spec": {"taints": [{"key": "x", "effect": "NoSchedule"}]}},
        ):
            result = patch(attempt)
            assert refused(result, "may only cordon Node"), (attempt, result.stderr)
        deleted = kubectl(cluster, "delete", "node", node, "--wait=false", as_user=OPERATOR)
        assert refused(deleted, "may only cordon Node"), deleted.stderr
        after = core.read_node(node)
        assert after.spec.unschedulable is True
        assert dict(after.metadata.labels or {}) == labels
    finally:
        core.patch_node(
            node,
            {
                "spec": {"unschedulable": bool(before.spec.unschedulable)},
                "metadata": {"annotations": {"actions.kubemedic.dev/abc123": None}},
            },
        )
