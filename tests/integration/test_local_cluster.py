"""The local control plane behaves like a real cluster.

We test these aspects:
- Deployments become ReplicaSets become Pods, scheduled onto kwok nodes, Running and Ready;
- the kwok failure Stages, driven by a pod-template label, report what a real kubelet
  reports: CrashLoopBackOff with a growing restartCount, OOMKilled (exit 137),
  ImagePullBackOff, CreateContainerConfigError, failing readiness, a NotReady node;
- a rollout undo brings healthy pods back;
- RBAC is enforced for a ServiceAccount token minted with TokenRequest;
- a CRD's OpenAPI schema and CEL rule make the API server reject an invalid object;
- stopping a cluster leaves no process behind.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from conftest import pod_summary
from localcluster import LocalCluster, bin_dir
from support.waiting import wait_for
from support.workloads import FAILURE_LABEL, deployment

pytestmark = pytest.mark.cluster


def _pods(core: client.CoreV1Api, namespace: str, app: str) -> list[Any]:
    return list(core.list_namespaced_pod(namespace, label_selector=f"app={app}").items)


def _kubectl(cluster: LocalCluster, *args: str) -> str:
    result = subprocess.run(
        [str(bin_dir() / "kubectl"), f"--kubeconfig={cluster.kubeconfig}", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"kubectl {' '.join(args)} failed: {result.stderr}"
    return result.stdout


def _running_ready(pods: list[Any], count: int) -> bool:
    live = [p for p in pods if p.metadata.deletion_timestamp is None]
    return len(live) == count and all(
        p.status.phase == "Running"
        and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
        for p in live
    )


def test_deployment_becomes_running_ready_pods_on_kwok_nodes(
    core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str
) -> None:
    apps.create_namespaced_deployment(namespace, deployment("web", replicas=3))

    pods = wait_for(
        lambda: (p := _pods(core, namespace, "web")) and _running_ready(p, 3) and p,
        timeout=60,
        what="3 Running, Ready pods of Deployment web",
        describe=lambda: pod_summary(_pods(core, namespace, "web")),
    )
    nodes = {n.metadata.name: n for n in core.list_node().items}
    for pod in pods:
        assert pod.spec.node_name in nodes
        assert nodes[pod.spec.node_name].metadata.annotations["kwok.x-k8s.io/node"] == "fake"
        assert pod.status.pod_ip
        owner = pod.metadata.owner_references[0]
        assert owner.kind == "ReplicaSet"
        assert owner.controller is True
    status = wait_for(
        lambda: (
            (d := apps.read_namespaced_deployment("web", namespace)).status.ready_replicas == 3
            and d.status
        ),
        timeout=30,
        what="Deployment web status.readyReplicas=3",
    )
    assert status.available_replicas == 3


def test_crash_label_makes_crashloop_and_rollout_undo_heals(
    cluster: LocalCluster, core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str
) -> None:
    apps.create_namespaced_deployment(namespace, deployment("api", replicas=2))
    wait_for(
        lambda: _running_ready(_pods(core, namespace, "api"), 2),
        timeout=60,
        what="healthy revision 1",
        describe=lambda: pod_summary(_pods(core, namespace, "api")),
    )

    # A "bad rollout": the template change adds the failure label.
    apps.patch_namespaced_deployment(
        "api",
        namespace,
        {"spec": {"template": {"metadata": {"labels": {FAILURE_LABEL: "crashloop"}}}}},
    )

    def crashing() -> list[Any]:
        return [
            p
            for p in _pods(core, namespace, "api")
            if p.metadata.labels.get(FAILURE_LABEL) == "crashloop" and p.status.container_statuses
        ]

    first = wait_for(
        lambda: (c := crashing()) and c[0].status.container_statuses[0].restart_count >= 1 and c[0],
        timeout=60,
        what="a crash-looping pod of revision 2",
        describe=lambda: pod_summary(_pods(core, namespace, "api")),
    )
    status = first.status.container_statuses[0]
    assert status.state.waiting.reason == "CrashLoopBackOff"
    assert "back-off" in status.state.waiting.message
    assert status.ready is False
    assert status.last_state.terminated.exit_code == 1
    assert status.last_state.terminated.reason == "Error"
    assert status.last_state.terminated.finished_at is not None
    assert first.status.phase == "Running"
    ready = next(c for c in first.status.conditions if c.type == "Ready")
    assert ready.status == "False"
    assert ready.reason == "ContainersNotReady"

    wait_for(
        lambda: (
            core.read_namespaced_pod(first.metadata.name, namespace)
            .status.container_statuses[0]
            .restart_count
            >= status.restart_count + 2
        ),
        timeout=60,
        what=f"restartCount of {first.metadata.name} to grow past {status.restart_count + 1}",
    )
    events = core.list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={first.metadata.name}"
    ).items
    assert any(e.reason == "BackOff" and e.type == "Warning" for e in events)

    _kubectl(cluster, "-n", namespace, "rollout", "undo", "deployment/api")
    wait_for(
        lambda: (
            (p := _pods(core, namespace, "api"))
            and _running_ready(p, 2)
            and not any(FAILURE_LABEL in (x.metadata.labels or {}) for x in p)
        ),
        timeout=90,
        what="healthy pods back after rollout undo",
        describe=lambda: pod_summary(_pods(core, namespace, "api")),
    )


@pytest.mark.parametrize(
    ("failure", "check"),
    [
        pytest.param("oomkilled", "oom", id="OOMKilled"),
        pytest.param("imagepull", "imagepull", id="ImagePullBackOff"),
        pytest.param("configerror", "config", id="CreateContainerConfigError"),
        pytest.param("readiness", "readiness", id="ReadinessProbeFailing"),
    ],
)
def test_failure_simulations_report_kubelet_statuses(
    core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str, failure: str, check: str
) -> None:
    apps.create_namespaced_deployment(namespace, deployment("svc", replicas=1, failure=failure))

    def simulated() -> Any:
        pods = _pods(core, namespace, "svc")
        return pods[0] if pods and pods[0].status.container_statuses else None

    pod = wait_for(
        simulated, timeout=60, what=f"the {failure} simulation to set container statuses"
    )
    cs = pod.status.container_statuses[0]
    assert cs.name == "app"
    assert cs.ready is False
    ready = next(c for c in pod.status.conditions if c.type == "Ready")
    assert ready.status == "False"
    if check == "oom":
        assert pod.status.phase == "Running"
        assert cs.restart_count >= 1
        assert cs.state.waiting.reason == "CrashLoopBackOff"
        assert cs.last_state.terminated.reason == "OOMKilled"
        assert cs.last_state.terminated.exit_code == 137
    elif check == "imagepull":
        assert pod.status.phase == "Pending"
        assert cs.state.waiting.reason == "ImagePullBackOff"
        assert (
            'Back-off pulling image "registry.example/shop/web:1.0.0"' in cs.state.waiting.message
        )
        assert cs.restart_count == 0
        assert cs.started is False
    elif check == "config":
        assert pod.status.phase == "Pending"
        assert cs.state.waiting.reason == "CreateContainerConfigError"
        assert cs.state.waiting.message == 'configmap "app-config" not found'
    else:
        assert pod.status.phase == "Running"
        assert cs.state.running is not None
        assert cs.started is True
        assert cs.restart_count == 0
        events = wait_for(
            lambda: [
                e
                for e in core.list_namespaced_event(
                    namespace, field_selector=f"involvedObject.name={pod.metadata.name}"
                ).items
                if e.reason == "Unhealthy"
            ],
            timeout=30,
            what="an Unhealthy event for the failing readiness probe",
        )
        assert events[0].type == "Warning"
        assert events[0].message.startswith("Readiness probe failed:")


def test_node_not_ready_simulation(core: client.CoreV1Api) -> None:
    name = "kwok-node-0"
    core.patch_node(name, {"metadata": {"labels": {"sim.kubemedic.dev/node-not-ready": "true"}}})
    try:
        node = wait_for(
            lambda: (
                (n := core.read_node(name))
                and any(c.type == "Ready" and c.status == "False" for c in n.status.conditions)
                and n
            ),
            timeout=60,
            what=f"node {name} to report Ready=False",
        )
        ready = next(c for c in node.status.conditions if c.type == "Ready")
        assert ready.reason == "KubeletNotReady"
        assert "container runtime network not ready" in ready.message
        assert ready.last_heartbeat_time is not None
        # The real node lifecycle controller taints a NotReady node.
        tainted = wait_for(
            lambda: (
                (n := core.read_node(name)).spec.taints
                and any(t.key == "node.kubernetes.io/not-ready" for t in n.spec.taints)
            ),
            timeout=60,
            what="kube-controller-manager to taint the NotReady node",
        )
        assert tainted
    finally:
        core.patch_node(name, {"metadata": {"labels": {"sim.kubemedic.dev/node-not-ready": None}}})
        wait_for(
            lambda: any(
                c.type == "Ready" and c.status == "True"
                for c in core.read_node(name).status.conditions
            ),
            timeout=60,
            what=f"node {name} Ready again",
        )


def test_rbac_denies_what_a_narrow_role_lacks(
    api_client: client.ApiClient, cluster: LocalCluster, core: client.CoreV1Api, namespace: str
) -> None:
    rbac = client.RbacAuthorizationV1Api(api_client)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "reader"}})
    rbac.create_namespaced_role(
        namespace,
        {
            "metadata": {"name": "pod-reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
        },
    )
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "reader-pods"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "pod-reader",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}],
        },
    )
    token = core.create_namespaced_service_account_token(
        "reader", namespace, {"spec": {"expirationSeconds": 600}}
    ).status.token

    configuration = client.Configuration()
    configuration.host = cluster.server
    configuration.ssl_ca_cert = str(cluster.pki / "ca.crt")
    configuration.api_key = {"authorization": f"Bearer {token}"}
    with client.ApiClient(configuration) as narrow:
        narrow_core = client.CoreV1Api(narrow)
        assert narrow_core.list_namespaced_pod(namespace).items == []
        with pytest.raises(ApiException) as denied:
            narrow_core.list_namespaced_secret(namespace)
        assert denied.value.status == 403
        assert 'cannot list resource \\"secrets\\"' in denied.value.body
        with pytest.raises(ApiException) as other_ns:
            narrow_core.list_namespaced_pod("default")
        assert other_ns.value.status == 403


def test_crd_openapi_and_cel_reject_invalid_objects(
    api_client: client.ApiClient, namespace: str
) -> None:
    ext = client.ApiextensionsV1Api(api_client)
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.test.kubemedic.dev"},
        "spec": {
            "group": "test.kubemedic.dev",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "minReplicas": {"type": "integer", "minimum": 0},
                                        "maxReplicas": {"type": "integer", "minimum": 1},
                                    },
                                    "x-kubernetes-validations": [
                                        {
                                            "rule": "self.minReplicas <= self.maxReplicas",
                                            "message": "`minReplicas` must not exceed `maxReplicas`",
                                        }
                                    ],
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    try:
        ext.create_custom_resource_definition(crd)
    except ApiException as exc:
        if exc.status != 409:
            raise
    custom = client.CustomObjectsApi(api_client)

    def create(spec: dict[str, Any]) -> Any:
        body = {
            "apiVersion": "test.kubemedic.dev/v1",
            "kind": "Widget",
            "metadata": {"generateName": "w-"},
        }
        return custom.create_namespaced_custom_object(
            "test.kubemedic.dev", "v1", namespace, "widgets", {**body, "spec": spec}
        )

    wait_for(
        lambda: create({"minReplicas": 1, "maxReplicas": 2}),
        timeout=30,
        what="the CRD to be served",
    )
    with pytest.raises(ApiException) as cel:
        create({"minReplicas": 5, "maxReplicas": 2})
    assert cel.value.status == 422
    assert "`minReplicas` must not exceed `maxReplicas`" in cel.value.body
    with pytest.raises(ApiException) as schema:
        create({"minReplicas": -1, "maxReplicas": 2})
    assert schema.value.status == 422
    assert "spec.minReplicas" in schema.value.body


def test_stop_leaves_no_process_behind() -> None:
    with tempfile.TemporaryDirectory(prefix="kubemedic-teardown-") as tmp:
        cluster = LocalCluster(workdir=Path(tmp), nodes=1, die_with_parent=True)
        cluster.start()
        pids = dict(cluster.pids)
        assert set(pids) == {
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kwok",
        }
        assert all(_alive(pid) for pid in pids.values())
        cluster.stop()
        leftovers = {name: pid for name, pid in pids.items() if _alive(pid)}
        assert leftovers == {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
