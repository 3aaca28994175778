"""Render charts/kubemedic with the helm that hack/build-tools.sh builds."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

import yaml

from localcluster import KUBE_VERSION, ROOT, bin_dir

CHART: Final = ROOT / "charts" / "kubemedic"
CI_VALUES: Final = sorted((CHART / "ci").glob("*-values.yaml"))
RELEASE: Final = "kubemedic"


def helm_binary() -> Path | None:
    """The helm binary, or None when hack/build-tools.sh has not built it."""
    helm = bin_dir() / "helm"
    return helm if helm.exists() else None


def helm(
    *args: str, check: bool = True, kubeconfig: Path | None = None
) -> subprocess.CompletedProcess[str]:
    binary = helm_binary()
    if binary is None:
        msg = f"no helm in {bin_dir()}; run hack/build-tools.sh"
        raise FileNotFoundError(msg)
    argv = [str(binary), *args]
    if kubeconfig is not None:
        argv.append(f"--kubeconfig={kubeconfig}")
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        msg = f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}"
        raise AssertionError(msg)
    return result


def template_args(
    *,
    values: Path | None = None,
    sets: Sequence[str] = (),
    namespace: str = "kubemedic",
    release: str = RELEASE,
) -> list[str]:
    # NB: helm built without version ldflags assumes Kubernetes v1.20 unless told.
    args = [
        "template",
        release,
        str(CHART),
        "--namespace",
        namespace,
        "--kube-version",
        KUBE_VERSION,
    ]
    if values is not None:
        args += ["--values", str(values)]
    for item in sets:
        args += ["--set", item]
    return args


def render(
    *,
    values: Path | None = None,
    sets: Sequence[str] = (),
    namespace: str = "kubemedic",
    release: str = RELEASE,
) -> list[dict[str, Any]]:
    """The objects `helm template` renders (CRDs not included), in order."""
    out = helm(
        *template_args(values=values, sets=sets, namespace=namespace, release=release)
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def of_kind(objects: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o.get("kind") == kind]


def one(objects: Iterable[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [o for o in of_kind(objects, kind) if name is None or o["metadata"]["name"] == name]
    assert len(found) == 1, (
        f"expected one {kind} {name or ''}, found {[o['metadata']['name'] for o in found]}"
    )
    return found[0]


def operator_deployment(objects: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return next(
        o
        for o in of_kind(objects, "Deployment")
        if o["metadata"]["labels"].get("app.kubernetes.io/component") == "operator"
    )


def container_env(container: dict[str, Any]) -> dict[str, Any]:
    """name -> value (a string) or the valueFrom mapping."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}
