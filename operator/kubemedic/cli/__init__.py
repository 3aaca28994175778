"""The ``kubemedic`` command: run the operator, gather a bundle, diagnose a bundle offline,
approve, show what would reach the model, and the offline time-series and log tools.

One module per group of commands; this one builds the parser and maps errors to exit codes:
0 success; 1 a runtime failure (cluster unreachable, target missing); 2 bad input (a malformed
bundle file, a bad flag) — with a message that names the file and the field.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from kubemedic import __version__
from kubemedic.cli.bundle_commands import cmd_bundle, cmd_diagnose, load_bundle
from kubemedic.cli.common import (
    EXIT_USAGE,
    UsageError,
    add_kubeconfig_option,
    cluster_problem,
    fail,
)
from kubemedic.cli.decision_commands import cmd_decide
from kubemedic.cli.prompt_command import add_prompt_command
from kubemedic.cli.run_command import cmd_run
from kubemedic.cli.timeseries_commands import add_timeseries_commands

__all__ = ["build_parser", "load_bundle", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubemedic",
        description="Turn Kubernetes incidents into diagnoses and safe, approved fixes.",
    )
    parser.add_argument("--version", action="version", version=f"kubemedic {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run the operator",
        description="Run the operator: watch Incidents, "
        "gather evidence, diagnose, and write the diagnosis to each Incident's status.",
    )
    run.add_argument(
        "-n",
        "--namespace",
        action="append",
        metavar="NS",
        help="watch only this namespace (repeatable); default: all namespaces",
    )
    run.add_argument(
        "--metrics-port",
        type=int,
        help="port of the Prometheus /metrics endpoint (default 9090, "
        "0 disables; env KUBEMEDIC_METRICS_PORT)",
    )
    run.add_argument(
        "--health-port",
        type=int,
        help="port of the liveness /healthz endpoint (default 8080, "
        "0 disables; env KUBEMEDIC_HEALTH_PORT)",
    )
    add_kubeconfig_option(run)
    run.set_defaults(func=cmd_run)

    bundle = sub.add_parser(
        "bundle",
        help="gather the evidence for a target into a bundle file",
        description="Gather an IncidentBundle (objects, events, logs) from the live cluster.",
    )
    bundle.add_argument(
        "--target", metavar="KIND/NAME", help="the target, e.g. Deployment/web or Node/worker-1"
    )
    bundle.add_argument(
        "--incident", metavar="NAME", help="gather for this Incident's target instead"
    )
    bundle.add_argument(
        "-n", "--namespace", help="namespace of the target or Incident (default 'default')"
    )
    bundle.add_argument(
        "-o", "--output", metavar="FILE", help="write the bundle here (default: stdout)"
    )
    add_kubeconfig_option(bundle)
    bundle.set_defaults(func=cmd_bundle)

    diagnose = sub.add_parser(
        "diagnose",
        help="diagnose a bundle file offline (no cluster needed)",
        description="Diagnose an IncidentBundle file with the rule engine.",
    )
    diagnose.add_argument(
        "--bundle", required=True, metavar="FILE", help="IncidentBundle file (YAML or JSON)"
    )
    diagnose.add_argument(
        "-o",
        "--output",
        choices=["json", "yaml", "text"],
        default="text",
        help="output format; json is the stable contract (default: text)",
    )
    diagnose.set_defaults(func=cmd_diagnose)
    add_prompt_command(sub)
    for verb, text in (
        ("approve", "approve a proposed action"),
        ("reject", "reject a proposed action"),
    ):
        decide = sub.add_parser(
            verb,
            help=text,
            description=f"{text.capitalize()} of an Incident: creates an IncidentApproval "
            "as the user you are logged in as (RBAC on incidentapprovals decides who may).",
        )
        decide.add_argument("incident", metavar="INCIDENT", help="the Incident's name")
        decide.add_argument(
            "-n", "--namespace", help="the Incident's namespace (default 'default')"
        )
        decide.add_argument(
            "--action", metavar="ID", help="the action ID (default: the one awaiting approval)"
        )
        # NB: kept only to explain why it is refused: the approver is the logged-in user.
        decide.add_argument("--by", help=argparse.SUPPRESS)
        decide.add_argument("--reason", help="why, for the record")
        add_kubeconfig_option(decide)
        decide.set_defaults(func=cmd_decide)
    add_timeseries_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        code: int = args.func(args)
    except UsageError as exc:
        fail(str(exc), EXIT_USAGE)
    except Exception as exc:
        # NB: the checks before each command catch most cluster problems; this is for the
        # cluster going away (or a permission changing) while the command runs.
        message = cluster_problem(exc)
        if message is None:
            raise
        fail(message)
    return code


if __name__ == "__main__":
    sys.exit(main())
