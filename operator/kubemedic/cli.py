"""The ``kubemedic`` command: run the operator, gather a bundle, diagnose a bundle offline.

Exit codes: 0 success; 1 a runtime failure (cluster unreachable, target missing);
2 bad input (a malformed bundle file, a bad flag) — with a message that names the
file and the field.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, NoReturn

import yaml
from pydantic import ValidationError

from kubemedic import __version__
from kubemedic.constants import API_GROUP, API_VERSION, INCIDENT_PLURAL
from kubemedic.domain.diagnose import diagnose_bundle
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.diagnosis import Diagnosis
from kubemedic.models.target import CLUSTER_SCOPED_KINDS, TargetKind, TargetRef

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2

logger = logging.getLogger("kubemedic")


class UsageError(Exception):
    """Bad input from the user: exit code 2 and the message."""


def _fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    print(f"kubemedic: error: {message}", file=sys.stderr)
    sys.exit(code)


def _progress(message: str) -> None:
    print(f"kubemedic: {message}", file=sys.stderr)


# -- bundle files -----------------------------------------------------------------


def load_bundle(path: Path) -> IncidentBundle:
    """Read and validate a bundle file (YAML or JSON); UsageError names path and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML or JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(
            f"{path}: a bundle must be a mapping with apiVersion '{API_GROUP}/{API_VERSION}' "
            f"and kind 'IncidentBundle', got {type(data).__name__}"
        )
    try:
        return IncidentBundle.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:10]:
            location = ".".join(str(p) for p in err["loc"]) or "(top level)"
            problems.append(f"  {location}: {err['msg']}")
        raise UsageError(f"{path}: invalid IncidentBundle:\n" + "\n".join(problems)) from None


def dump_bundle(bundle: IncidentBundle) -> str:
    return yaml.safe_dump(
        bundle.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=False
    )


# -- output -----------------------------------------------------------------------


def diagnosis_contract(diagnosis: Diagnosis) -> dict[str, Any]:
    """The stable JSON contract of ``diagnose -o json`` (see README, 'Diagnosis JSON')."""
    return {
        "category": diagnosis.category.value,
        "summary": diagnosis.summary,
        "confidence": round(diagnosis.confidence, 3),
        "evidence": list(diagnosis.evidence),
        "actions": [
            {
                "type": a.type.value,
                "target": {
                    "kind": a.target.kind,
                    "namespace": a.target.namespace,
                    "name": a.target.name,
                },
                "params": a.params,
                "risk": a.risk.value,
            }
            for a in diagnosis.actions
        ],
        "runbook": diagnosis.runbook,
    }


def render_diagnosis(diagnosis: Diagnosis, fmt: str) -> str:
    contract = diagnosis_contract(diagnosis)
    if fmt == "json":
        return json.dumps(contract, indent=2)
    if fmt == "yaml":
        return yaml.safe_dump(contract, sort_keys=False)
    lines = [
        f"Category:   {contract['category']}",
        f"Confidence: {contract['confidence']:.0%}",
        f"Summary:    {contract['summary']}",
        "Evidence:",
        *[f"  - {e}" for e in contract["evidence"]],
        "Proposed actions:",
        *[
            f"  - {a['type']} {a['target']['kind']}/{a['target']['name']} "
            f"{json.dumps(a['params'], sort_keys=True)} (risk {a['risk']})"
            for a in contract["actions"]
        ],
        "",
        contract["runbook"],
    ]
    return "\n".join(lines)


# -- commands ---------------------------------------------------------------------


def cmd_diagnose(args: argparse.Namespace) -> int:
    bundle = load_bundle(Path(args.bundle))
    print(render_diagnosis(diagnose_bundle(bundle), args.output))
    return EXIT_OK


def parse_target(value: str, namespace: str | None) -> TargetRef:
    kind_text, sep, name = value.partition("/")
    if not sep or not name:
        raise UsageError(f"--target must look like KIND/NAME (e.g. Deployment/web), got '{value}'")
    kinds = {k.value.lower(): k for k in TargetKind} | {
        "deploy": TargetKind.DEPLOYMENT,
        "po": TargetKind.POD,
        "sts": TargetKind.STATEFULSET,
        "ds": TargetKind.DAEMONSET,
        "svc": TargetKind.SERVICE,
        "pvc": TargetKind.PERSISTENT_VOLUME_CLAIM,
        "hpa": TargetKind.HORIZONTAL_POD_AUTOSCALER,
        "no": TargetKind.NODE,
    }
    kind = kinds.get(kind_text.lower())
    if kind is None:
        allowed = ", ".join(k.value for k in TargetKind)
        raise UsageError(f"--target kind '{kind_text}' is not supported; use one of: {allowed}")
    try:
        return TargetRef(
            kind=kind, namespace=None if kind in CLUSTER_SCOPED_KINDS else namespace, name=name
        )
    except ValidationError as exc:
        raise UsageError(f"--target '{value}': {exc.errors()[0]['msg']}") from None


def cmd_bundle(args: argparse.Namespace) -> int:
    from kubemedic.clients.evidence import TargetNotFoundError, gather_bundle  # noqa: PLC0415
    from kubemedic.clients.kube import KubeReader, load_api_client  # noqa: PLC0415
    from kubemedic.domain.lifecycle import resolve_target  # noqa: PLC0415
    from kubemedic.models.incident import IncidentSpec  # noqa: PLC0415
    from kubemedic.service.prometheus import enrich_bundle  # noqa: PLC0415
    from kubemedic.settings import OperatorSettings  # noqa: PLC0415

    if bool(args.target) == bool(args.incident):
        raise UsageError("give exactly one of --target KIND/NAME or --incident NAME")
    namespace = args.namespace or "default"
    reader = KubeReader(load_api_client(args.kubeconfig))
    if args.incident:
        path = f"/apis/{API_GROUP}/{API_VERSION}/namespaces/{namespace}/{INCIDENT_PLURAL}/{args.incident}"
        incident = reader.get(path)
        if incident is None:
            _fail(f"Incident {namespace}/{args.incident} not found")
        spec = IncidentSpec.model_validate(incident["spec"])
        target = resolve_target(spec.target, incident_namespace=namespace)
    else:
        target = parse_target(args.target, namespace)
        spec = IncidentSpec(target=target)
    _progress(f"gathering evidence for {target.display()} ...")
    try:
        bundle = gather_bundle(reader, target)
    except TargetNotFoundError:
        _fail(f"{target.display()} not found")
    # The operator's enrichers too (the alert; PromQL with KUBEMEDIC_PROMETHEUS_URL), so the
    # file holds what the operator's diagnosis read.
    bundle, reports = enrich_bundle(bundle, spec=spec, settings=OperatorSettings())
    for report in reports:
        _progress(f"{report.condition_type}={report.status} ({report.reason}): {report.message}")
    text = dump_bundle(bundle)
    pods = sum(1 for o in bundle.objects if o.get("kind") == "Pod")
    events = sum(1 for o in bundle.objects if o.get("kind") == "Event")
    summary = (
        f"{len(bundle.objects)} objects ({pods} pods, {events} events), {len(bundle.logs)} logs"
    )
    if args.output and args.output != "-":
        Path(args.output).write_text(text, encoding="utf-8")
        _progress(f"wrote {args.output}: {summary}")
    else:
        sys.stdout.write(text)
        _progress(summary)
    return EXIT_OK


def cmd_decide(args: argparse.Namespace) -> int:
    """`approve` / `reject`: record a decision in the Incident's `spec.approvals`."""
    from kubemedic.clients.kube import load_api_client  # noqa: PLC0415
    from kubemedic.clients.remediation import ConflictError, Remediator  # noqa: PLC0415
    from kubemedic.models.incident import IncidentStatus  # noqa: PLC0415

    namespace = args.namespace or "default"
    remediator = Remediator(load_api_client(args.kubeconfig))
    decision = "Approve" if args.command == "approve" else "Reject"
    for _attempt in range(5):
        incident = remediator.read_incident(namespace, args.incident)
        if incident is None:
            _fail(f"Incident {namespace}/{args.incident} not found")
        status = IncidentStatus.model_validate(incident.get("status") or {})
        candidates = [a for a in status.proposed_actions if a.type.value != "Escalate"]
        if args.action:
            if status.proposed_action(args.action) is None:
                known = ", ".join(a.id for a in status.proposed_actions) or "none"
                raise UsageError(
                    f"--action '{args.action}' is not a proposed action of {args.incident}; "
                    f"proposed: {known}"
                )
            action_id = args.action
        elif candidates:
            waiting = [r.id for r in status.actions if r.state.value == "AwaitingApproval"]
            action_id = waiting[0] if waiting else candidates[0].id
        else:
            raise UsageError(
                f"Incident {args.incident} proposes no action that can be {decision.lower()}d"
            )
        approvals = [
            a
            for a in (incident.get("spec") or {}).get("approvals") or []
            if a.get("actionID") != action_id
        ]
        entry: dict[str, Any] = {
            "actionID": action_id,
            "decision": decision,
            "approvedBy": args.by or os.environ.get("USER") or "kubemedic-cli",
            "approvedAt": datetime.now(UTC)
            .replace(microsecond=0)
            .isoformat()
            .replace("+00:00", "Z"),
        }
        if args.reason:
            entry["reason"] = args.reason
        try:
            remediator.patch_incident_spec(
                namespace,
                args.incident,
                spec={"approvals": [*approvals, entry]},
                resource_version=str(incident["metadata"]["resourceVersion"]),
            )
        except ConflictError:
            continue
        verb = "approved" if decision == "Approve" else "rejected"
        _progress(f"{verb} action {action_id} of Incident {namespace}/{args.incident}")
        return EXIT_OK
    _fail(f"Incident {namespace}/{args.incident} kept changing; try again")


def cmd_run(args: argparse.Namespace) -> int:
    from kubemedic.settings import OperatorSettings  # noqa: PLC0415

    kubeconfig = args.kubeconfig or OperatorSettings().kubeconfig
    if kubeconfig:
        # NB: the kubernetes package reads $KUBECONFIG when it is first imported, and kopf's
        # login uses that package: set it before kopf (or anything else) imports it.
        os.environ["KUBECONFIG"] = kubeconfig

    import kopf  # noqa: PLC0415 - only the operator needs kopf loaded
    from prometheus_client import start_http_server  # noqa: PLC0415

    import kubemedic.handlers  # noqa: F401, PLC0415 - registers the handlers

    overrides: dict[str, Any] = {}
    if args.namespace:
        overrides["namespaces"] = args.namespace
    for name in ("metrics_port", "health_port", "kubeconfig"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    settings = OperatorSettings(**overrides)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.bind_address)
        logger.info("metrics on http://%s:%d/metrics", settings.bind_address, settings.metrics_port)
    liveness = (
        f"http://{settings.bind_address}:{settings.health_port}/healthz"
        if settings.health_port
        else None
    )
    kopf.run(
        standalone=True,
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        liveness_endpoint=liveness,
        memo=kopf.Memo(settings=settings),
    )
    return EXIT_OK


# -- time series and logs (issue 13): logs templates, forecast, detect --------------
# NB: one self-contained block; numpy/scipy load only when these commands run.


def _read_text(path_text: str, *, errors: str = "strict") -> tuple[Path, str]:
    path = Path(path_text)
    try:
        return path, path.read_text(encoding="utf-8", errors=errors)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None


def cmd_logs_templates(args: argparse.Namespace) -> int:
    from kubemedic.domain.logtemplates import group_lines  # noqa: PLC0415

    # NB: a stray invalid byte in a log must not lose the file: it becomes U+FFFD.
    _path, text = _read_text(args.file, errors="replace")
    # NB: only "\n" ends a line (str.splitlines would also split at form feeds and U+2028,
    # and the line numbers would no longer match an editor's).
    groups = group_lines(text.split("\n"))
    if args.output == "json":
        templates = [
            {"id": g.id, "template": g.template, "count": g.count, "lines": list(g.lines)}
            for g in groups
        ]
        print(json.dumps({"templates": templates}, indent=2))
    else:
        for g in groups:
            print(f"{g.count:>8}  #{g.id:<5} {g.template}")
    return EXIT_OK


def _load_series(path_text: str) -> Any:
    from kubemedic.domain.timeseries import SeriesError, parse_series  # noqa: PLC0415

    path, text = _read_text(path_text)
    try:
        return parse_series(text, source=str(path))
    except SeriesError as exc:
        raise UsageError(str(exc)) from None


def _iso(seconds: float | None) -> str | None:
    from kubemedic.domain.timeseries import format_timestamp  # noqa: PLC0415

    return None if seconds is None else format_timestamp(seconds)


def cmd_forecast(args: argparse.Namespace) -> int:
    from kubemedic.domain.forecast import forecast_crossing  # noqa: PLC0415
    from kubemedic.domain.quantity import parse_quantity  # noqa: PLC0415
    from kubemedic.domain.timeseries import SeriesError, parse_duration  # noqa: PLC0415

    try:
        limit = float(parse_quantity(args.limit))
    except ValueError:
        raise UsageError(
            f"--limit '{args.limit}' is not a number or Kubernetes quantity (e.g. 512Mi, 2Gi, 0.8)"
        ) from None
    try:
        horizon = parse_duration(args.horizon)
    except SeriesError as exc:
        raise UsageError(f"--horizon: {exc}") from None
    series = _load_series(args.series)
    result = forecast_crossing(series, limit=limit, horizon_seconds=horizon)
    contract = {
        "eta": _iso(result.eta),
        "eta_lower": _iso(result.eta_lower),
        "eta_upper": _iso(result.eta_upper),
        "method": result.method,
        "reason": result.reason,
        "limit": limit,
        "horizon_seconds": horizon,
        "now": _iso(result.now),
        "level_now": result.level_now,
        "slope_per_hour": result.slope_per_hour,
        "slope_interval_per_hour": list(result.slope_interval_per_hour)
        if result.slope_interval_per_hour
        else None,
        "period_seconds": result.period_seconds,
        "regime_start": _iso(result.regime_start),
        "points": result.points,
    }
    if args.output == "json":
        print(json.dumps(contract, indent=2))
    elif result.eta is None:
        print(f"limit {args.limit} not reached within {args.horizon}: {result.reason}")
    else:
        print(
            f"limit {args.limit} reached at {contract['eta']} "
            f"(between {contract['eta_lower']} and {contract['eta_upper'] or 'never'}): "
            f"{result.reason}"
        )
    return EXIT_OK


def cmd_detect(args: argparse.Namespace) -> int:
    from kubemedic.domain.anomaly import detect  # noqa: PLC0415

    series = _load_series(args.series)
    findings = detect(series.timestamps, series.values)
    anomalies = [{"timestamp": _iso(f.timestamp), "score": round(f.score, 3)} for f in findings]
    contract: dict[str, Any] = {
        "anomalies": anomalies,
        "points": len(series.values),
        "first": _iso(series.timestamps[0]),
        "last": _iso(series.timestamps[-1]),
        "method": "online novelty + surprise likelihood, one finding per episode",
    }
    if args.output == "json":
        print(json.dumps(contract, indent=2))
    else:
        for anomaly in anomalies:
            print(f"{anomaly['timestamp']}  score {anomaly['score']:.1f}")
        _progress(f"{len(findings)} anomalies in {len(series.values)} points")
    return EXIT_OK


def _add_timeseries_commands(sub: Any) -> None:
    logs = sub.add_parser("logs", help="work with log files offline")
    logs_sub = logs.add_subparsers(dest="logs_command", required=True, metavar="COMMAND")
    templates = logs_sub.add_parser(
        "templates",
        help="group the lines of a log file by template",
        description="Mine templates from a log file (JSON, logfmt, klog, syslog, log4j or "
        "plain lines; no configuration): every non-empty line lands in exactly one template.",
    )
    templates.add_argument("file", metavar="FILE", help="the log file")
    templates.add_argument(
        "-o",
        "--output",
        choices=["json", "text"],
        default="text",
        help="output format; json is the stable contract (default: text)",
    )
    templates.set_defaults(func=cmd_logs_templates)

    forecast = sub.add_parser(
        "forecast",
        help="when will a recorded series reach a limit",
        description="Forecast when the peaks of a recorded series (CSV 'timestamp,value' or a "
        "Prometheus range-query JSON answer) reach a limit, with an interval.",
    )
    forecast.add_argument("--series", required=True, metavar="FILE", help="the series file")
    forecast.add_argument(
        "--limit", required=True, help="the limit: a number or a quantity such as 512Mi"
    )
    forecast.add_argument(
        "--horizon", default="7d", help="how far ahead to look, e.g. 36h, 7d (default 7d)"
    )
    forecast.add_argument(
        "-o", "--output", choices=["json", "text"], default="text", help="output format"
    )
    forecast.set_defaults(func=cmd_forecast)

    detect = sub.add_parser(
        "detect",
        help="find anomalies in a recorded series",
        description="Run the online anomaly detector over a recorded series (CSV "
        "'timestamp,value' or a Prometheus range-query JSON answer): one finding per episode.",
    )
    detect.add_argument("--series", required=True, metavar="FILE", help="the series file")
    detect.add_argument(
        "-o", "--output", choices=["json", "text"], default="text", help="output format"
    )
    detect.set_defaults(func=cmd_detect)


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
    run.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, then $KUBECONFIG)")
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
    bundle.add_argument(
        "--kubeconfig", help="kubeconfig file (default: in-cluster, then $KUBECONFIG)"
    )
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
    for verb, text in (
        ("approve", "approve a proposed action"),
        ("reject", "reject a proposed action"),
    ):
        decide = sub.add_parser(
            verb,
            help=text,
            description=f"{text.capitalize()} of an Incident: "
            "writes `spec.approvals` (RBAC on incidents decides who may).",
        )
        decide.add_argument("incident", metavar="INCIDENT", help="the Incident's name")
        decide.add_argument(
            "-n", "--namespace", help="the Incident's namespace (default 'default')"
        )
        decide.add_argument(
            "--action", metavar="ID", help="the action ID (default: the one awaiting approval)"
        )
        decide.add_argument("--by", help="who decides, for the record (default $USER)")
        decide.add_argument("--reason", help="why, for the record")
        decide.add_argument(
            "--kubeconfig", help="kubeconfig file (default: in-cluster, then $KUBECONFIG)"
        )
        decide.set_defaults(func=cmd_decide)
    _add_timeseries_commands(sub)
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
        _fail(str(exc), EXIT_USAGE)
    return code


if __name__ == "__main__":
    sys.exit(main())
