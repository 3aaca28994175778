"""Commands that need a cluster, tried without one: one line saying what is missing, exit 1.

No kubeconfig, and a kubeconfig whose server is a free local port (nothing listens): the
commands run in-process; ``kubemedic run`` runs as a subprocess with a timeout, since it must
fail at start-up instead of retrying. Forbidden and missing CRDs need a real API server:
tests/integration/test_cli_access.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from kubemedic import cli
from kubemedic.clients.cluster import describe_api_error
from localcluster import free_port

ROOT = Path(__file__).resolve().parents[2]

COMMANDS = [
    ["approve", "inc-1", "-n", "shop"],
    ["reject", "inc-1", "-n", "shop", "--reason", "no"],
    ["bundle", "--target", "Deployment/web", "-n", "shop"],
    ["bundle", "--incident", "inc-1", "-n", "shop"],
]


@pytest.fixture(autouse=True)
def _not_in_a_pod(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # NB: in a pod, the in-cluster ServiceAccount would be used before any kubeconfig.
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def unreachable_kubeconfig(directory: Path) -> tuple[Path, str]:
    """A kubeconfig whose server is a local port nobody listens on."""
    server = f"https://127.0.0.1:{free_port()}"
    path = directory / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path, server


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    captured = capsys.readouterr()
    assert captured.out == ""
    return int(exited.value.code or 0), captured.err


@pytest.mark.timeout(60)
@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: "-".join(a[:2]))
def test_no_kubeconfig_is_one_line(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "missing-kubeconfig"
    monkeypatch.setenv("KUBECONFIG", str(missing))
    code, err = run_cli(argv, capsys)
    assert code == 1
    assert err.count("\n") == 1, err
    assert err.startswith("kubemedic: error: no kubeconfig: "), err
    assert str(missing) in err
    assert "KUBECONFIG" in err
    assert "Traceback" not in err


@pytest.mark.timeout(60)
def test_the_kubeconfig_flag_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.yaml"
    code, err = run_cli(["approve", "x", "--kubeconfig", str(missing)], capsys)
    assert code == 1
    assert f"no kubeconfig: {missing} (--kubeconfig) does not exist" in err


@pytest.mark.timeout(60)
def test_a_broken_kubeconfig_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("apiVersion: v1\nkind: Config\ncurrent-context: gone\ncontexts: []\n")
    monkeypatch.setenv("KUBECONFIG", str(path))
    code, err = run_cli(["bundle", "--target", "Deployment/web"], capsys)
    assert code == 1
    assert err.count("\n") == 1, err
    assert f"kubeconfig {path} cannot be used" in err
    assert "gone" in err


@pytest.mark.timeout(120)
@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: "-".join(a[:2]))
def test_an_unreachable_cluster_is_one_line(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    kubeconfig, server = unreachable_kubeconfig(tmp_path)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    code, err = run_cli(argv, capsys)
    assert code == 1
    assert err.count("\n") == 1, err
    assert err.startswith(f"kubemedic: error: cluster unreachable: cannot connect to {server} ")
    assert "refused" in err.lower()
    assert "Traceback" not in err


def _run_operator(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubemedic", "run", "--metrics-port", "0", "--health-port", "0"],
        env={**os.environ, "PYTHONPATH": str(ROOT / "operator"), **env},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


@pytest.mark.timeout(120)
def test_run_without_a_kubeconfig_exits_at_start_up(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    done = _run_operator({"KUBECONFIG": str(missing)})
    assert done.returncode == 1, done.stderr
    assert f"kubemedic: error: no kubeconfig: {missing}" in done.stderr
    assert "Traceback" not in done.stderr
    assert "kopf" not in done.stderr  # it never started


@pytest.mark.timeout(120)
def test_run_with_an_unreachable_cluster_exits_at_start_up(tmp_path: Path) -> None:
    kubeconfig, server = unreachable_kubeconfig(tmp_path)
    done = _run_operator({"KUBECONFIG": str(kubeconfig)})
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(
        f"kubemedic: error: cluster unreachable: cannot connect to {server} "
    ), done.stderr
    assert done.stderr.count("\n") == 1, "one line, no retry warnings"
    assert "KeyError" not in done.stderr


@pytest.mark.timeout(60)
def test_a_bad_setting_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.setenv("KUBEMEDIC_WORKERS", "many")
    code, err = run_cli(["bundle", "--target", "Deployment/web"], capsys)
    assert code == 2
    assert "invalid setting KUBEMEDIC_WORKERS" in err


def _api_error(status: int, message: str) -> ApiException:
    exc = ApiException(status=status, reason="Forbidden" if status == 403 else "Unauthorized")
    exc.body = f'{{"kind": "Status", "message": "{message}"}}'
    return exc


def test_refusals_name_the_server_and_what_was_refused() -> None:
    forbidden = describe_api_error(
        _api_error(
            403,
            'incidents.kubemedic.dev \\"x\\" is forbidden: User \\"bob\\" cannot patch '
            'resource \\"incidents\\" in API group \\"kubemedic.dev\\"',
        ),
        server="https://10.0.0.1:6443",
    )
    assert forbidden is not None
    assert forbidden.startswith("forbidden on https://10.0.0.1:6443: ")
    assert 'User "bob" cannot patch resource "incidents"' in forbidden
    unauthorized = describe_api_error(_api_error(401, "Unauthorized"), server="https://h:1")
    assert unauthorized is not None
    assert unauthorized.startswith("unauthorized: https://h:1 rejected")
    assert describe_api_error(_api_error(500, "boom"), server="s") is None
    assert describe_api_error(ValueError("not a cluster error")) is None
