"""The operator on the local control plane: Incident in, diagnosis in status out.

We test these aspects:
- the CRDs install, and the API server rejects invalid Incidents with a message naming the field;
- an Incident for a kwok-simulated OOMKilled Deployment gets category OOMKilled and a
  SetResources action raising the memory limit;
- an Incident for a bad rollout gets BadRollout and a RollbackRollout to the healthy revision;
- an Incident whose target is missing gets TargetFound=False and an Event, and is
  diagnosed once the target appears;
- `kubemedic bundle` then `kubemedic diagnose --bundle` reproduces the stored diagnosis;
- the operator exposes its metrics and liveness endpoints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from conftest import pod_summary
from localcluster import LocalCluster
from support.operator import GROUP, PLURAL, VERSION, http_ok, start_operator
from support.operator import OperatorProcess as Operator
from support.waiting import wait_for
from support.workloads import FAILURE_LABEL, deployment

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def operator(
    cluster: LocalCluster, crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    with start_operator(cluster, tmp_path_factory.mktemp("operator")) as op:
        yield op


def _http_ok(url: str) -> bool:
    return http_ok(url)


def _incident(name: str, target: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Incident",
        "metadata": {"name": name},
        "spec": {"target": target, "severity": "High", "summary": f"{name} is unhealthy", **spec},
    }


def _status(custom: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    obj = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    return dict(obj.get("status") or {})


def _wait_diagnosed(
    custom: client.CustomObjectsApi, namespace: str, name: str, op: Operator
) -> dict[str, Any]:
    return wait_for(
        lambda: (s := _status(custom, namespace, name)).get("diagnosis") and s,
        timeout=60,
        what=f"Incident {namespace}/{name} to be diagnosed",
        describe=lambda: {
            "status": _status(custom, namespace, name),
            "operator log": op.log_tail(15),
        },
    )


def _condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in status.get("conditions", []) if c["type"] == type_)


def _wait_pods(
    core: client.CoreV1Api, namespace: str, app: str, predicate: Any, what: str
) -> list[Any]:
    return wait_for(
        lambda: (
            (p := list(core.list_namespaced_pod(namespace, label_selector=f"app={app}").items))
            and predicate(p)
            and p
        ),
        timeout=60,
        what=what,
        describe=lambda: pod_summary(
            list(core.list_namespaced_pod(namespace, label_selector=f"app={app}").items)
        ),
    )


def _restarting(pods: list[Any]) -> bool:
    return any(
        (s.restart_count or 0) >= 1
        for p in pods
        if p.status.container_statuses
        for s in p.status.container_statuses
    )


def _all_ready(count: int) -> Any:
    def check(pods: list[Any]) -> bool:
        return len(pods) == count and all(
            any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
            for p in pods
        )

    return check


def test_invalid_incidents_are_rejected_with_the_field_named(
    crds: None, custom: client.CustomObjectsApi, namespace: str
) -> None:
    cases = [
        (_incident("bad-kind", {"kind": "ConfigMap", "name": "x"}), "spec.target.kind"),
        (_incident("node-ns", {"kind": "Node", "namespace": "x", "name": "n1"}), "namespace"),
        (_incident("no-alert", {"kind": "Deployment", "name": "web"}, source="Alert"), "alert"),
        (
            _incident("bad-sev", {"kind": "Deployment", "name": "web"}, severity="Catastrophic"),
            "spec.severity",
        ),
    ]
    for body, field in cases:
        with pytest.raises(ApiException) as rejected:
            custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
        assert rejected.value.status == 422, body
        assert field in rejected.value.body, rejected.value.body
    assert custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"] == []


def test_oomkilled_deployment_gets_set_resources(
    operator: Operator,
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apps.create_namespaced_deployment(
        namespace, deployment("cache", replicas=2, failure="oomkilled")
    )
    _wait_pods(core, namespace, "cache", _restarting, "OOMKilled pods restarting")

    custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        _incident("cache-oom", {"kind": "Deployment", "name": "cache"}),
    )
    status = _wait_diagnosed(custom, namespace, "cache-oom", operator)

    assert status["diagnosis"]["category"] == "OOMKilled"
    assert status["diagnosis"]["engine"] == "rules"
    assert status["phase"] in {"Diagnosed", "AwaitingApproval"}  # no policy: a person decides
    assert status["target"] == f"Deployment/{namespace}/cache"
    assert _condition(status, "TargetFound")["status"] == "True"
    assert _condition(status, "Diagnosed")["status"] == "True"
    assert any("OOMKilled" in e for e in status["diagnosis"]["evidence"])
    set_resources = [a for a in status["proposedActions"] if a["type"] == "SetResources"]
    assert set_resources, status["proposedActions"]
    action = set_resources[0]
    assert action["target"] == {"kind": "Deployment", "namespace": namespace, "name": "cache"}
    assert action["params"]["container"] == "app"
    assert action["params"]["memoryLimit"] not in ("128Mi", None)
    assert action["id"].startswith("set-resources-")
    events = wait_for(
        lambda: [
            e
            for e in core.list_namespaced_event(
                namespace, field_selector="involvedObject.name=cache-oom"
            ).items
            if e.reason == "Diagnosed"
        ],
        timeout=30,
        what="a Diagnosed event on the Incident",
    )
    assert "OOMKilled" in events[0].message
    assert events[0].type == "Normal"


def test_bad_rollout_gets_rollback_to_healthy_revision(
    operator: Operator,
    cluster: LocalCluster,
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
    tmp_path: Path,
) -> None:
    apps.create_namespaced_deployment(namespace, deployment("shop", replicas=2))
    _wait_pods(core, namespace, "shop", _all_ready(2), "healthy revision 1")
    apps.patch_namespaced_deployment(
        "shop",
        namespace,
        {"spec": {"template": {"metadata": {"labels": {FAILURE_LABEL: "crashloop"}}}}},
    )
    _wait_pods(core, namespace, "shop", _restarting, "revision 2 crash looping")

    custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        _incident("shop-rollout", {"kind": "Deployment", "name": "shop"}),
    )
    status = _wait_diagnosed(custom, namespace, "shop-rollout", operator)
    assert status["diagnosis"]["category"] == "BadRollout"
    rollback = next(a for a in status["proposedActions"] if a["type"] == "RollbackRollout")
    assert rollback["params"] == {"toRevision": 1}
    assert rollback["target"]["name"] == "shop"

    # The same evidence, gathered by the CLI and diagnosed offline, gives the same diagnosis.
    bundle_file = tmp_path / "shop.yaml"
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    gathered = subprocess.run(
        [
            sys.executable,
            "-m",
            "kubemedic",
            "bundle",
            "--incident",
            "shop-rollout",
            "-n",
            namespace,
            "-o",
            str(bundle_file),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert gathered.returncode == 0, gathered.stderr
    assert "objects" in gathered.stderr
    offline = subprocess.run(
        [sys.executable, "-m", "kubemedic", "diagnose", "--bundle", str(bundle_file), "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert offline.returncode == 0, offline.stderr
    result = json.loads(offline.stdout)
    assert result["category"] == status["diagnosis"]["category"]
    assert result["summary"] == status["diagnosis"]["summary"]
    assert [(a["type"], a["params"]) for a in result["actions"]] == [
        (a["type"], a["params"]) for a in status["proposedActions"]
    ]


def test_missing_target_is_reported_then_recovers(
    operator: Operator,
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        _incident("ghost", {"kind": "Deployment", "name": "ghost"}),
    )
    status = wait_for(
        lambda: (s := _status(custom, namespace, "ghost")).get("conditions") and s,
        timeout=60,
        what="TargetFound condition on Incident ghost",
        describe=operator.log_tail,
    )
    found = _condition(status, "TargetFound")
    assert found["status"] == "False"
    assert found["reason"] == "NotFound"
    assert "Deployment" in found["message"] and "ghost" in found["message"]
    assert status["phase"] == "Pending"
    assert "diagnosis" not in status
    wait_for(
        lambda: [
            e
            for e in core.list_namespaced_event(
                namespace, field_selector="involvedObject.name=ghost"
            ).items
            if e.reason == "TargetNotFound" and e.type == "Warning"
        ],
        timeout=30,
        what="a TargetNotFound warning event",
    )
    assert operator.process.poll() is None

    apps.create_namespaced_deployment(
        namespace, deployment("ghost", replicas=1, failure="imagepull")
    )
    # NB: the first diagnosis may come before the kubelet reports the pull error (Unknown);
    # the operator diagnoses a young Unknown again, and it must end up naming the cause.
    status = wait_for(
        lambda: (
            (s := _status(custom, namespace, "ghost")).get("diagnosis", {}).get("category")
            == "ImagePullError"
            and s
        ),
        timeout=90,
        what="Incident ghost diagnosed as ImagePullError",
        describe=lambda: {
            "status": _status(custom, namespace, "ghost"),
            "operator log": operator.log_tail(15),
        },
    )
    assert _condition(status, "TargetFound")["status"] == "True"


def test_metrics_and_liveness_are_served(operator: Operator) -> None:
    with urllib.request.urlopen(
        f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=5
    ) as resp:
        text = resp.read().decode()
    assert "kubemedic_incidents_diagnosed_total" in text
    assert "kubemedic_evidence_gather_seconds" in text
    assert _http_ok(f"http://127.0.0.1:{operator.health_port}/healthz")
