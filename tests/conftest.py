"""Fixtures shared by all tests.

The local control plane (hack/localcluster.py) is started once per test session, only
when a test asks for it (``cluster`` and everything built on it). To make local runs
fast, reuse a cluster that is already up::

    hack/cluster up && KUBEMEDIC_TEST_CLUSTER_DIR=/tmp/kubemedic-cluster pytest
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from crd_setup import install_crds
from localcluster import LocalCluster, running_cluster
from support.waiting import wait_for


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    reuse = os.environ.get("KUBEMEDIC_TEST_CLUSTER_DIR")
    if reuse:
        existing = LocalCluster.from_state(Path(reuse))
        if not existing.is_running():
            pytest.fail(
                f"KUBEMEDIC_TEST_CLUSTER_DIR={reuse} names no running cluster; run hack/cluster up"
            )
        yield existing
        return
    with running_cluster(nodes=3) as started:
        yield started


@pytest.fixture(scope="session")
def api_client(cluster: LocalCluster) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield api
    api.close()


@pytest.fixture(scope="session")
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture(scope="session")
def apps(api_client: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api_client)


@pytest.fixture(scope="session")
def crds(cluster: LocalCluster, api_client: client.ApiClient) -> None:
    """The kubemedic CRDs, installed from crds/ and Established; the `kubemedic` namespace."""
    install_crds(cluster, api_client)
    core = client.CoreV1Api(api_client)
    try:
        core.create_namespace({"metadata": {"name": "kubemedic"}})
    except ApiException as exc:
        if exc.status != 409:
            raise


@pytest.fixture(scope="session")
def custom(api_client: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)


@pytest.fixture
def namespace(request: pytest.FixtureRequest, core: client.CoreV1Api) -> Iterator[str]:
    """A fresh namespace per test, with its default ServiceAccount ready; deleted after."""
    base = request.node.name.lower().replace("_", "-")
    base = "".join(ch for ch in base if ch.isalnum() or ch == "-")[:40].strip("-")
    name = f"{base}-{uuid.uuid4().hex[:5]}"
    core.create_namespace({"metadata": {"name": name, "labels": {"kubemedic.dev/test": "true"}}})
    wait_for(
        lambda: core.read_namespaced_service_account("default", name),
        timeout=30,
        what=f"ServiceAccount {name}/default (created by kube-controller-manager)",
    )
    yield name
    try:
        core.delete_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise


def pod_summary(pods: list[Any]) -> list[str]:
    """One line per pod for failure messages."""
    lines = []
    for pod in pods:
        statuses = pod.status.container_statuses or []
        states = [
            f"{s.name}: ready={s.ready} restarts={s.restart_count} "
            f"waiting={(s.state.waiting.reason if s.state and s.state.waiting else None)}"
            for s in statuses
        ]
        lines.append(
            f"{pod.metadata.name} phase={pod.status.phase} node={pod.spec.node_name} {states}"
        )
    return lines
