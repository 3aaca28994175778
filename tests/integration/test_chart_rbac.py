"""The Helm chart on the local control plane: its objects are valid, its RBAC is enough and
no more.

We test these aspects:
- every object rendered from the defaults and from each ci/*-values.yaml is accepted by the
  real API server (`kubectl apply --dry-run=server`), except the kinds whose CRDs are not
  installed here (Prometheus Operator, KEDA), which tests/unit/test_chart.py checks;
- `helm install` for real, into a namespace enforcing the `restricted` Pod Security
  Standard: the operator pods are admitted and land on different nodes, the PDB guards
  them, NOTES tell where the webhook is and where its token lives, and `helm upgrade`
  keeps the generated webhook token (lookup);
- RBAC proven, not assumed: the operator runs with a TokenRequest token of the chart's
  ServiceAccount and the chart's environment, and goes through alert (webhook) → diagnosis →
  approval by a user bound to the chart's approver role → remediation → resolved, with no
  403 in its log;
- the operator's identity is refused what it must not do: reading Secrets, deleting
  namespaces, creating pods, Leases outside the release namespace; an approver may approve
  only where bound.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubemedic.domain.alert_mapping import label_fingerprint
from localcluster import LocalCluster, bin_dir, free_port
from support.approvals import approval_body
from support.helm import CHART, CI_VALUES, helm, helm_binary, render
from support.operator import GROUP, PLURAL, VERSION, OperatorProcess, http_ok
from support.waiting import wait_for
from support.workloads import deployment

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(helm_binary() is None, reason="helm is not built; run hack/build-tools.sh"),
]

#: Kinds from CRDs this cluster does not have; their shape is checked by the unit tests.
OPTIONAL_API_GROUPS = {"monitoring.coreos.com", "keda.sh"}
#: The name the operator's "pod" gets from the downward API.
POD_NAME = "kubemedic-test-0"
#: What the operator logs when the API server refuses it something.
FORBIDDEN = re.compile(r"\b403\b|[Ff]orbidden|Not enough permissions")


def kubectl(
    cluster: LocalCluster, *args: str, stdin: str | None = None, as_user: str | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [str(bin_dir() / "kubectl"), f"--kubeconfig={cluster.kubeconfig}", *args]
    if as_user:
        argv.append(f"--as={as_user}")
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)


@dataclass
class Release:
    name: str
    namespace: str
    notes: str
    service_account: str

    @property
    def fullname(self) -> str:
        return f"{self.name}-kubemedic"

    @property
    def identity(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"


@pytest.fixture(scope="module")
def release(cluster: LocalCluster, crds: None, core: client.CoreV1Api) -> Iterator[Release]:
    """`helm install` of the chart's defaults into a fresh namespace; uninstalled after.

    The namespace enforces the `restricted` Pod Security Standard: the API server refuses
    any operator pod whose security context falls short, and `--wait` would time out.
    """
    suffix = uuid.uuid4().hex[:5]
    name, namespace = f"km{suffix}", f"kubemedic-{suffix}"
    core.create_namespace(
        {
            "metadata": {
                "name": namespace,
                "labels": {
                    "kubemedic.dev/test": "true",
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                },
            }
        }
    )
    installed = helm(
        "install", name, str(CHART), "--namespace", namespace,
        "--wait", "--timeout", "120s", kubeconfig=cluster.kubeconfig, check=False,
    )  # fmt: skip
    try:
        assert installed.returncode == 0, installed.stdout + installed.stderr
        yield Release(name, namespace, installed.stdout, f"{name}-kubemedic")
    finally:
        helm(
            "uninstall",
            name,
            "--namespace",
            namespace,
            "--wait",
            kubeconfig=cluster.kubeconfig,
            check=False,
        )
        try:
            core.delete_namespace(namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise


# -- the objects --------------------------------------------------------------------------


def _served_groups(cluster: LocalCluster) -> set[str]:
    out = kubectl(cluster, "api-versions").stdout.split()
    return {v.rpartition("/")[0] for v in out}


@pytest.mark.parametrize(
    "values", [None, *CI_VALUES], ids=["defaults", *(p.name for p in CI_VALUES)]
)
def test_api_server_accepts_every_rendered_object(
    cluster: LocalCluster, crds: None, core: client.CoreV1Api, values: Path | None
) -> None:
    namespace = f"chart-dry-{uuid.uuid4().hex[:5]}"
    objects = render(values=values, namespace=namespace, release="dry")
    served = _served_groups(cluster)
    checked, skipped = [], []
    for obj in objects:
        group = obj["apiVersion"].rpartition("/")[0]
        (skipped if group in OPTIONAL_API_GROUPS and group not in served else checked).append(obj)
    assert {o["kind"] for o in skipped} <= {"ServiceMonitor", "PrometheusRule", "ScaledObject"}
    # Namespaces the objects live in must exist for a dry-run create to be judged.
    namespaces = {o["metadata"].get("namespace") for o in checked} - {None}
    for ns in namespaces:
        core.create_namespace({"metadata": {"name": ns, "labels": {"kubemedic.dev/test": "true"}}})
    try:
        applied = kubectl(
            cluster, "apply", "--dry-run=server", "-f", "-",
            stdin=yaml.safe_dump_all(checked),
        )  # fmt: skip
        assert applied.returncode == 0, applied.stderr
        lines = [line for line in applied.stdout.splitlines() if "(server dry run)" in line]
        assert len(lines) == len(checked), applied.stdout
    finally:
        for ns in namespaces:
            core.delete_namespace(ns)


# -- a real install -----------------------------------------------------------------------


def _operator_pods(core: client.CoreV1Api, release: Release) -> list[Any]:
    selector = f"app.kubernetes.io/instance={release.name},app.kubernetes.io/component=operator"
    return [
        p
        for p in core.list_namespaced_pod(release.namespace, label_selector=selector).items
        if not p.metadata.deletion_timestamp
    ]


def test_install_spreads_replicas_over_nodes_behind_a_pdb(
    release: Release, core: client.CoreV1Api, api_client: client.ApiClient
) -> None:
    pods = _operator_pods(core, release)
    assert len(pods) == 2  # admitted under the `restricted` Pod Security Standard
    assert len({p.spec.node_name for p in pods}) == 2, [p.spec.node_name for p in pods]
    assert all(p.spec.security_context.run_as_non_root for p in pods)
    pdb = wait_for(
        lambda: (
            (
                b := client.PolicyV1Api(api_client).read_namespaced_pod_disruption_budget(
                    release.fullname, release.namespace
                )
            ).status.current_healthy
            == 2
            and b
        ),
        timeout=30,
        what="the PDB to count 2 healthy replicas",
    )
    assert pdb.status.desired_healthy == 1
    assert pdb.status.disruptions_allowed == 1


def test_notes_tell_where_the_webhook_and_its_token_are(release: Release) -> None:
    url = f"http://{release.fullname}.{release.namespace}.svc:8081/alertmanager"
    assert url in release.notes
    assert (
        f"credentials_file: /etc/alertmanager/secrets/{release.fullname}-webhook/token"
        in release.notes
    )
    assert f"--clusterrole={release.fullname}-approver" in release.notes
    assert "kubectl apply --server-side --force-conflicts" in release.notes


def test_upgrade_keeps_the_generated_webhook_token(
    cluster: LocalCluster, release: Release, core: client.CoreV1Api
) -> None:
    def token() -> str:
        return str(
            core.read_namespaced_secret(f"{release.fullname}-webhook", release.namespace).data[
                "token"
            ]
        )

    before = token()
    upgraded = helm(
        "upgrade", release.name, str(CHART), "--namespace", release.namespace, "--reuse-values",
        kubeconfig=cluster.kubeconfig, check=False,
    )  # fmt: skip
    assert upgraded.returncode == 0, upgraded.stderr
    assert token() == before
    assert len(base64.b64decode(before)) == 48


# -- RBAC proven ------------------------------------------------------------------------


def _service_account_kubeconfig(
    cluster: LocalCluster, core: client.CoreV1Api, release: Release, path: Path
) -> Path:
    """A kubeconfig with a TokenRequest token of the chart's ServiceAccount, as in a pod."""
    request = core.create_namespaced_service_account_token(
        release.service_account, release.namespace, {"spec": {"expirationSeconds": 3600}}
    )
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "local",
                "cluster": {
                    "server": cluster.server,
                    "certificate-authority": str(cluster.pki / "ca.crt"),
                },
            }
        ],
        "users": [{"name": "operator", "user": {"token": request.status.token}}],
        "contexts": [{"name": "operator", "context": {"cluster": "local", "user": "operator"}}],
        "current-context": "operator",
    }
    path.write_text(json.dumps(config))
    return path


def _pod_environment(
    apps: client.AppsV1Api, core: client.CoreV1Api, release: Release, files: Path
) -> tuple[dict[str, str], dict[str, int]]:
    """The installed Deployment's environment, resolved as the kubelet would.

    Downward API fields become the pod's name and namespace; Secret volumes are written to
    ``files`` and paths into them rewritten; secretKeyRef values are read with the test's
    admin identity (the kubelet's job, not the operator's). Ports become free loopback ports.
    """
    spec = apps.read_namespaced_deployment(release.fullname, release.namespace).spec.template.spec
    container = spec.containers[0]
    mounts: dict[str, Path] = {}
    for mount in container.volume_mounts or []:
        volume = next(v for v in spec.volumes if v.name == mount.name)
        if volume.secret is None:
            continue
        secret = core.read_namespaced_secret(volume.secret.secret_name, release.namespace)
        local = files / mount.name
        local.mkdir(parents=True)
        for item in volume.secret.items or []:
            (local / item.path).write_bytes(base64.b64decode(secret.data[item.key]))
        mounts[mount.mount_path] = local
    env: dict[str, str] = {}
    for var in container.env:
        if var.value is not None:
            value = var.value
            for mount_path, local in mounts.items():
                value = value.replace(mount_path, str(local))
            env[var.name] = value
        elif var.value_from.field_ref is not None:
            env[var.name] = {
                "metadata.name": POD_NAME,
                "metadata.namespace": release.namespace,
            }[var.value_from.field_ref.field_path]
        elif var.value_from.secret_key_ref is not None:
            ref = var.value_from.secret_key_ref
            data = core.read_namespaced_secret(ref.name, release.namespace).data
            env[var.name] = base64.b64decode(data[ref.key]).decode()
    ports = {name: free_port() for name in ("HEALTH", "METRICS", "WEBHOOK")}
    for name, port in ports.items():
        assert f"KUBEMEDIC_{name}_PORT" in env, f"the chart sets no KUBEMEDIC_{name}_PORT"
        env[f"KUBEMEDIC_{name}_PORT"] = str(port)
    env |= {"KUBEMEDIC_BIND_ADDRESS": "127.0.0.1", "HOME": str(files), "HF_HOME": str(files / "hf")}
    return env, ports


@pytest.fixture(scope="module")
def chart_operator(
    cluster: LocalCluster,
    release: Release,
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[OperatorProcess, int, str]]:
    """The operator as the chart runs it, with only the chart's ServiceAccount's rights."""
    work = tmp_path_factory.mktemp("chart-operator")
    kubeconfig = _service_account_kubeconfig(cluster, core, release, work / "kubeconfig")
    chart_env, ports = _pod_environment(apps, core, release, work / "pod")
    base = {
        k: v for k, v in os.environ.items() if not k.startswith("KUBEMEDIC_") and k != "KUBECONFIG"
    }
    env = {
        **base,
        **chart_env,
        "PYTHONUNBUFFERED": "1",
        "KUBEMEDIC_REMEDIATION_INTERVAL_SECONDS": "1",
        # NB: `--kubeconfig` alone does not reach kopf's login: the kubernetes package reads
        # $KUBECONFIG once at import, before the CLI sets it. In a pod neither is used.
        "KUBECONFIG": str(kubeconfig),
    }
    log = work / "operator.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "kubemedic", "run", "--kubeconfig", str(kubeconfig)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    op = OperatorProcess(process, log, ports["METRICS"], ports["HEALTH"])
    token = Path(chart_env["KUBEMEDIC_WEBHOOK_TOKEN_FILE"]).read_text()
    try:
        wait_for(
            lambda: (
                process.poll() is None and http_ok(f"http://127.0.0.1:{ports['HEALTH']}/healthz")
            ),
            timeout=60,
            what="the chart-configured operator's /healthz",
            describe=op.log_tail,
        )
        yield op, ports["WEBHOOK"], token
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _post_alert(
    port: int, token: str, *, namespace: str, deployment_name: str, status: str, starts: str
) -> int:
    labels = {
        "alertname": "KubePodCrashLooping",
        "namespace": namespace,
        "deployment": deployment_name,
        "severity": "critical",
    }
    alert = {
        "status": status,
        "labels": labels,
        "annotations": {"summary": f"{deployment_name} keeps getting OOM-killed"},
        "startsAt": starts,
        "endsAt": datetime.now(UTC).isoformat() if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example/graph",
        "fingerprint": label_fingerprint(labels),
    }
    payload = {
        "version": "4",
        "groupKey": '{}:{alertname="KubePodCrashLooping"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "kubemedic",
        "groupLabels": {"alertname": "KubePodCrashLooping"},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager.example",
        "alerts": [alert],
    }
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/alertmanager",
        data=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def _incidents(custom: client.CustomObjectsApi, namespace: str) -> list[dict[str, Any]]:
    return list(custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"])


def test_alert_to_resolution_with_only_the_charts_rbac(
    cluster: LocalCluster,
    release: Release,
    chart_operator: tuple[OperatorProcess, int, str],
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    custom: client.CustomObjectsApi,
    api_client: client.ApiClient,
    namespace: str,
) -> None:
    op, webhook_port, token = chart_operator
    apps.create_namespaced_deployment(
        namespace, deployment("cache", replicas=2, failure="oomkilled")
    )
    wait_for(
        lambda: any(
            (s.restart_count or 0) >= 1
            for p in core.list_namespaced_pod(namespace, label_selector="app=cache").items
            for s in p.status.container_statuses or []
        ),
        timeout=60,
        what="cache pods OOM-looping",
    )

    starts = datetime.now(UTC).replace(microsecond=0).isoformat()
    assert (
        _post_alert(
            webhook_port,
            token,
            namespace=namespace,
            deployment_name="cache",
            status="firing",
            starts=starts,
        )
        < 300
    )

    def phase(wanted: set[str]) -> dict[str, Any]:
        return wait_for(
            lambda: next(
                (
                    i
                    for i in _incidents(custom, namespace)
                    if (i.get("status") or {}).get("phase") in wanted
                ),
                None,
            ),
            timeout=120,
            what=f"the alert's Incident to reach {sorted(wanted)}",
            describe=lambda: {
                "incidents": [
                    (i["metadata"]["name"], (i.get("status") or {}).get("phase"))
                    for i in _incidents(custom, namespace)
                ],
                "operator": op.log_tail(15),
            },
        )

    incident = phase({"AwaitingApproval"})
    name = incident["metadata"]["name"]
    assert incident["spec"]["source"] == "Alert"
    assert incident["status"]["diagnosis"]["category"] == "OOMKilled"
    action = next(a for a in incident["status"]["proposedActions"] if a["type"] == "SetResources")

    # alice may approve in this namespace only: the chart's approver role, bound here.
    assert kubectl(
        cluster, "create", "rolebinding", "alice-approves", "-n", namespace,
        f"--clusterrole={release.fullname}-approver", "--user=alice",
    ).returncode == 0  # fmt: skip
    # The approver role only reads Incidents; approving is creating an IncidentApproval.
    patched = kubectl(
        cluster, "patch", "incident", name, "-n", namespace,
        "--type=merge", "-p", json.dumps({"spec": {"summary": "x"}}), as_user="alice",
    )  # fmt: skip
    assert patched.returncode != 0 and "forbidden" in patched.stderr.lower(), patched.stderr
    approval = approval_body(name, action["id"], approver="alice")
    approved = kubectl(
        cluster, "create", "-n", namespace, "-f", "-", stdin=json.dumps(approval), as_user="alice"
    )
    assert approved.returncode == 0, approved.stderr

    wait_for(
        lambda: (
            apps.read_namespaced_deployment("cache", namespace)
            .spec.template.spec.containers[0]
            .resources.limits["memory"]
            == action["params"]["memoryLimit"]
        ),
        timeout=90,
        what="the approved SetResources to be applied",
        describe=op.log_tail,
    )
    assert (
        _post_alert(
            webhook_port,
            token,
            namespace=namespace,
            deployment_name="cache",
            status="resolved",
            starts=starts,
        )
        < 300
    )
    resolved = phase({"Resolved", "Failed", "Escalated"})
    assert resolved["status"]["phase"] == "Resolved", resolved["status"].get("history")

    # Leader election on (the chart's default): this replica took the chart's Lease.
    lease = client.CoordinationV1Api(api_client).read_namespaced_lease(
        f"{release.fullname}-leader", release.namespace
    )
    assert lease.spec.holder_identity == POD_NAME

    refused = [
        line for line in op.log.read_text(errors="replace").splitlines() if FORBIDDEN.search(line)
    ]
    assert refused == [], "\n".join(refused[:20])


@pytest.mark.parametrize(
    ("verb", "resource", "where", "allowed"),
    [
        ("get", "secrets", "release", False),
        ("list", "secrets", "app", False),
        ("watch", "secrets", "all", False),
        ("delete", "namespaces", "all", False),
        ("create", "pods", "app", False),
        ("delete", "deployments.apps", "app", False),
        ("create", "leases.coordination.k8s.io", "app", False),
        ("get", "configmaps", "app", False),
        ("create", "clusterrolebindings.rbac.authorization.k8s.io", "all", False),
        ("impersonate", "users", "all", False),
        ("create", "incidents.kubemedic.dev", "app", True),
        ("patch", "incidents.kubemedic.dev/status", "app", True),
        ("patch", "deployments.apps", "app", True),
        ("delete", "pods", "app", True),
        ("patch", "nodes", "all", True),
        ("get", "pods/log", "app", True),
        ("create", "leases.coordination.k8s.io", "release", True),
        ("list", "configmaps", "release", True),
    ],
)
def test_operator_identity_can_do_only_what_it_needs(
    cluster: LocalCluster, release: Release, verb: str, resource: str, where: str, allowed: bool
) -> None:
    # NB: RBAC answers for a namespace whether or not it exists.
    scope = {
        "release": ["-n", release.namespace],
        "app": ["-n", "some-app"],
        "all": ["--all-namespaces"],
    }[where]
    answer = kubectl(cluster, "auth", "can-i", verb, resource, *scope, as_user=release.identity)
    assert answer.stdout.strip() == ("yes" if allowed else "no"), (
        verb,
        resource,
        where,
        answer.stderr,
    )


def test_lease_permission_is_limited_to_the_charts_lease(
    cluster: LocalCluster, release: Release
) -> None:
    def can(verb: str, lease: str) -> str:
        return kubectl(
            cluster, "auth", "can-i", verb, f"leases.coordination.k8s.io/{lease}",
            "-n", release.namespace, as_user=release.identity,
        ).stdout.strip()  # fmt: skip

    assert can("update", f"{release.fullname}-leader") == "yes"
    assert can("update", "somebody-elses-lease") == "no"


def test_approver_may_approve_only_where_bound(
    cluster: LocalCluster, release: Release, namespace: str
) -> None:
    assert kubectl(
        cluster, "create", "rolebinding", "bob-approves", "-n", namespace,
        f"--clusterrole={release.fullname}-approver", "--user=bob",
    ).returncode == 0  # fmt: skip

    def can(verb: str, resource: str, ns: str) -> str:
        return kubectl(
            cluster, "auth", "can-i", verb, f"{resource}.kubemedic.dev", "-n", ns, as_user="bob"
        ).stdout.strip()

    # Approving is creating an IncidentApproval, only where bound; Incidents are only read.
    assert can("create", "incidentapprovals", namespace) == "yes"
    assert can("create", "incidentapprovals", release.namespace) == "no"
    assert can("patch", "incidentapprovals", namespace) == "no"
    assert can("get", "incidents", namespace) == "yes"
    assert can("patch", "incidents", namespace) == "no"
    assert can("delete", "incidents", namespace) == "no"
