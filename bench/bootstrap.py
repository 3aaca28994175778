"""The one cluster bootstrap every live benchmark shares.

A fresh local control plane (``hack/localcluster.py``) in a temporary directory — or a
running one reused with ``--cluster-dir`` — with the kubemedic CRDs applied and Established
(``hack/crd_setup.py``, which the test fixtures use too), and the benchmark's namespaces
created with their default ServiceAccount (pods cannot be created before it exists). Before
this module each benchmark carried its own copy, and some raced the CRDs being Established.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "hack")]

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from crd_setup import install_crds
from localcluster import LocalCluster, wait_until


@dataclass(frozen=True)
class BenchCluster:
    """A ready cluster: its handle, an API client, and a scratch directory next to it."""

    cluster: LocalCluster
    api: client.ApiClient
    workdir: Path


def create_namespaces(api: client.ApiClient, namespaces: Sequence[str]) -> None:
    """Create each namespace (an existing one is fine) and wait for its default ServiceAccount."""
    core = client.CoreV1Api(api)
    for namespace in namespaces:
        try:
            core.create_namespace({"metadata": {"name": namespace}})
        except ApiException as exc:
            if exc.status != 409:
                raise
    for namespace in namespaces:
        wait_until(
            lambda ns=namespace: core.read_namespaced_service_account("default", ns),
            timeout=30,
            what=f"default ServiceAccount in {namespace}",
        )


@contextlib.contextmanager
def bench_cluster(
    prefix: str,
    *,
    nodes: int,
    namespaces: Sequence[str] = (),
    cluster_dir: str | None = None,
) -> Iterator[BenchCluster]:
    """A cluster with the CRDs and ``namespaces``: a fresh one, or the one in ``cluster_dir``."""
    with tempfile.TemporaryDirectory(prefix=f"kubemedic-{prefix}-") as tmp:
        workdir = Path(tmp)
        with contextlib.ExitStack() as stack:
            if cluster_dir:
                cluster = LocalCluster.from_state(Path(cluster_dir))
            else:
                cluster = stack.enter_context(
                    LocalCluster(workdir=workdir / "cluster", nodes=nodes, die_with_parent=True)
                )
            api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
            install_crds(cluster, api)
            create_namespaces(api, namespaces)
            yield BenchCluster(cluster=cluster, api=api, workdir=workdir)
