"""Commands with a kubeconfig that the real API server refuses: one line, exit 1.

A ServiceAccount with no permissions (its token in a kubeconfig) runs `approve`, `bundle` and
`run`: each names the server and the verb and resource it may not use, before doing anything.
Granting exactly that makes the same command get past the check. `run` also refuses to start
when the Lease's namespace does not exist.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kubernetes import client

from kubemedic import cli
from localcluster import LocalCluster

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


@pytest.fixture
def nobody(
    cluster: LocalCluster, api_client: client.ApiClient, namespace: str, tmp_path: Path
) -> Path:
    """A kubeconfig for a ServiceAccount that RBAC grants nothing (KUBECONFIG set to it)."""
    core = client.CoreV1Api(api_client)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "nobody"}})
    token = core.create_namespaced_service_account_token(
        "nobody", namespace, {"spec": {"expirationSeconds": 3600}}
    ).status.token
    path = tmp_path / "kubeconfig"
    path.write_text(
        json.dumps(
            {
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
                "users": [{"name": "nobody", "user": {"token": token}}],
                "contexts": [{"name": "x", "context": {"cluster": "local", "user": "nobody"}}],
                "current-context": "x",
            }
        )
    )
    return path


def run_cli(
    argv: list[str], kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KUBECONFIG", str(kubeconfig))
        with pytest.raises(SystemExit) as exited:
            cli.main(argv)
    return int(exited.value.code or 0), capsys.readouterr().err


def test_approve_without_rights_names_the_verb_and_resource(
    cluster: LocalCluster,
    crds: None,
    namespace: str,
    nobody: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, err = run_cli(["approve", "inc-1", "-n", namespace], nobody, capsys)
    assert code == 1
    assert err.count("\n") == 1, err
    assert err.startswith(f"kubemedic: error: forbidden on {cluster.server}: "), err
    assert f"may not create incidentapprovals.kubemedic.dev in namespace '{namespace}'" in err
    assert "Traceback" not in err


def test_granting_the_right_gets_past_the_check(
    api_client: client.ApiClient,
    crds: None,
    namespace: str,
    nobody: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rbac = client.RbacAuthorizationV1Api(api_client)
    rbac.create_namespaced_role(
        namespace,
        {
            "metadata": {"name": "approver"},
            "rules": [
                {
                    "apiGroups": ["kubemedic.dev"],
                    "resources": ["incidents"],
                    "verbs": ["get"],
                },
                {
                    "apiGroups": ["kubemedic.dev"],
                    "resources": ["incidentapprovals"],
                    "verbs": ["create"],
                },
            ],
        },
    )
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "approver"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "approver",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "nobody", "namespace": namespace}],
        },
    )
    code, err = run_cli(["approve", "inc-1", "-n", namespace], nobody, capsys)
    assert code == 1
    assert err == f"kubemedic: error: Incident {namespace}/inc-1 not found\n"


def test_bundle_without_rights_names_the_target_resource(
    cluster: LocalCluster,
    crds: None,
    namespace: str,
    nobody: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, err = run_cli(["bundle", "--target", "Deployment/web", "-n", namespace], nobody, capsys)
    assert code == 1
    assert f"forbidden on {cluster.server}: " in err
    assert f"may not get deployments.apps in namespace '{namespace}'" in err
    assert f"kubectl auth can-i get deployments.apps -n {namespace}" in err


def _run_operator(kubeconfig: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "kubemedic",
            "run",
            "--metrics-port",
            "0",
            "--health-port",
            "0",
            *args,
        ],
        env={**os.environ, "KUBECONFIG": str(kubeconfig), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_run_without_rights_exits_before_kopf_starts(
    cluster: LocalCluster, crds: None, namespace: str, nobody: Path
) -> None:
    done = _run_operator(nobody, "-n", namespace)
    assert done.returncode == 1, done.stderr
    assert f"forbidden on {cluster.server}: " in done.stderr
    assert f"may not list incidents.kubemedic.dev in namespace '{namespace}'" in done.stderr
    assert "Traceback" not in done.stderr


def test_run_refuses_a_missing_lease_namespace(cluster: LocalCluster, crds: None) -> None:
    missing = f"gone-{uuid.uuid4().hex[:6]}"
    done = _run_operator(cluster.kubeconfig, KUBEMEDIC_OPERATOR_NAMESPACE=missing)
    assert done.returncode == 1, done.stderr
    assert (
        f"namespace '{missing}' (KUBEMEDIC_OPERATOR_NAMESPACE) does not exist on {cluster.server}"
        in done.stderr
    )
    assert f"kubectl create namespace {missing}" in done.stderr
