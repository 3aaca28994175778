"""What every ``kubemedic`` command shares: exit codes, messages, settings, the cluster
connection (checked before a command does anything).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, NoReturn

from pydantic import ValidationError

from kubemedic.settings import OperatorSettings

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

    from kubemedic.clients.cluster import Access


EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2


class UsageError(Exception):
    """Bad input from the user: exit code 2 and the message."""


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    print(f"kubemedic: error: {message}", file=sys.stderr)
    sys.exit(code)


def progress(message: str) -> None:
    print(f"kubemedic: {message}", file=sys.stderr)


def operator_settings(**overrides: Any) -> OperatorSettings:
    """The settings (``KUBEMEDIC_*`` and flags); a bad value is a UsageError naming it."""
    try:
        return OperatorSettings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "settings"
        name = f"KUBEMEDIC_{field.upper()}" if err["loc"] else field
        raise UsageError(f"invalid setting {name}: {err['msg']}") from None


def connect(kubeconfig: str | None, needs: Sequence[Access]) -> ApiClient:
    """An API client, once the cluster answered and granted ``needs`` (else exit 1)."""
    # NB: imported here: the kubernetes package must not load before `run` sets $KUBECONFIG.
    from kubemedic.clients.cluster import check_access, load_api_client  # noqa: PLC0415

    api = load_api_client(kubeconfig)
    check_access(api, needs)
    return api


def cluster_problem(exc: Exception) -> str | None:
    """The one-line message for a cluster error (no kubeconfig, unreachable, forbidden)."""
    if "kubernetes" not in sys.modules:
        return None  # nothing talked to a cluster
    from kubemedic.clients.cluster import describe_api_error  # noqa: PLC0415

    return describe_api_error(exc)


def add_kubeconfig_option(parser: argparse.ArgumentParser) -> None:
    """``--kubeconfig``, worded the same on every command that talks to a cluster."""
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: in-cluster, then $KUBECONFIG)"
    )


def add_format_option(parser: argparse.ArgumentParser, *, help: str = "output format") -> None:
    """``-o/--output json|text`` for the offline commands (json is their stable contract)."""
    parser.add_argument("-o", "--output", choices=["json", "text"], default="text", help=help)
