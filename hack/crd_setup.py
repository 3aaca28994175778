"""Install kubemedic's CRDs (and whatever else ``crds/`` holds) on a local cluster.

One helper for the test fixtures and the benchmarks: ``kubectl apply --server-side`` of the
whole ``crds/`` directory (so a reused cluster is updated in place), then a wait until every
CustomResourceDefinition found there is Established — a resource can be created only then.
The CRD names are read from the files, so a new CRD needs no change here.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from kubernetes import client

from localcluster import ROOT, LocalCluster, bin_dir, wait_until

CRDS_DIR = ROOT / "crds"


def crd_names(directory: Path = CRDS_DIR) -> list[str]:
    """The names of the CustomResourceDefinitions in ``directory``'s YAML files."""
    names = []
    for path in sorted(directory.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                names.append(str(doc["metadata"]["name"]))
    return names


def install_crds(cluster: LocalCluster, api: client.ApiClient) -> None:
    """Apply ``crds/`` server-side and wait until each CRD in it is Established."""
    subprocess.run(
        [
            str(bin_dir() / "kubectl"),
            f"--kubeconfig={cluster.kubeconfig}",
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            str(CRDS_DIR),
        ],
        check=True,
        capture_output=True,
    )
    ext = client.ApiextensionsV1Api(api)
    for name in crd_names():
        wait_until(
            lambda n=name: any(
                c.type == "Established" and c.status == "True"
                for c in ext.read_custom_resource_definition(n).status.conditions or []
            ),
            timeout=30,
            what=f"CRD {name} Established",
        )
