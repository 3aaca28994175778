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
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

import yaml
from pydantic import ValidationError

from kubemedic import __version__
from kubemedic.clients.bundle_file import (
    DEFAULT_MAX_BYTES,
    BundleFileError,
    parse_yaml,
    read_regular_file,
)
from kubemedic.constants import API_GROUP, API_VERSION, APPROVAL_PLURAL, INCIDENT_PLURAL
from kubemedic.domain.diagnose import diagnose_bundle
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.diagnosis import Diagnosis
from kubemedic.models.incident import IncidentSpec
from kubemedic.models.target import CLUSTER_SCOPED_KINDS, TargetKind, TargetRef
from kubemedic.settings import OperatorSettings

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

    from kubemedic.clients.cluster import Access

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


def _settings(**overrides: Any) -> OperatorSettings:
    """The settings (``KUBEMEDIC_*`` and flags); a bad value is a UsageError naming it."""
    try:
        return OperatorSettings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "settings"
        name = f"KUBEMEDIC_{field.upper()}" if err["loc"] else field
        raise UsageError(f"invalid setting {name}: {err['msg']}") from None


def _connect(kubeconfig: str | None, needs: Sequence[Access]) -> ApiClient:
    """An API client, once the cluster answered and granted ``needs`` (else exit 1)."""
    # NB: imported here: the kubernetes package must not load before `run` sets $KUBECONFIG.
    from kubemedic.clients.cluster import check_access, load_api_client  # noqa: PLC0415

    api = load_api_client(kubeconfig)
    check_access(api, needs)
    return api


def _cluster_problem(exc: Exception) -> str | None:
    """The one-line message for a cluster error (no kubeconfig, unreachable, forbidden)."""
    if "kubernetes" not in sys.modules:
        return None  # nothing talked to a cluster
    from kubemedic.clients.cluster import describe_api_error  # noqa: PLC0415

    return describe_api_error(exc)


# -- bundle files -----------------------------------------------------------------


def load_bundle(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> IncidentBundle:
    """Read and validate a bundle file (YAML or JSON); UsageError names path and problem.

    Only a regular file of at most ``max_bytes`` is read, within nesting and number limits
    (``clients/bundle_file.py``): a FIFO, ``/dev/zero`` or a crafted file is an error, never
    a hang, a traceback or unbounded memory.
    """
    try:
        data = parse_yaml(read_regular_file(path, max_bytes=max_bytes))
    except BundleFileError as exc:
        raise UsageError(f"{path}: {exc}") from None
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
    bundle = load_bundle(Path(args.bundle), max_bytes=_settings().bundle_max_bytes)
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
    from kubemedic.clients.cluster import Access  # noqa: PLC0415
    from kubemedic.clients.evidence import (  # noqa: PLC0415
        TargetNotFoundError,
        gather_bundle,
        resource_of,
    )
    from kubemedic.clients.incidents import IncidentStore  # noqa: PLC0415
    from kubemedic.clients.kube import KubeReader  # noqa: PLC0415
    from kubemedic.domain.lifecycle import resolve_target  # noqa: PLC0415
    from kubemedic.models.incident import IncidentSpec  # noqa: PLC0415
    from kubemedic.service.prometheus import enrich_bundle  # noqa: PLC0415

    if bool(args.target) == bool(args.incident):
        raise UsageError("give exactly one of --target KIND/NAME or --incident NAME")
    namespace = args.namespace or "default"
    settings = _settings()
    if args.incident:
        api = _connect(
            args.kubeconfig,
            [Access("get", INCIDENT_PLURAL, group=API_GROUP, namespace=namespace)],
        )
        incident = IncidentStore(api).get(namespace, args.incident)
        if incident is None:
            _fail(f"Incident {namespace}/{args.incident} not found")
        spec = IncidentSpec.model_validate(incident["spec"])
        target = resolve_target(spec.target, incident_namespace=namespace)
    else:
        target = parse_target(args.target, namespace)
        spec = IncidentSpec(target=target)
        group, resource = resource_of(target.kind)
        api = _connect(
            args.kubeconfig,
            [Access("get", resource, group=group, namespace=target.namespace)],
        )
    reader = KubeReader(api)
    _progress(f"gathering evidence for {target.display()} ...")
    try:
        bundle = gather_bundle(reader, target)
    except TargetNotFoundError:
        _fail(f"{target.display()} not found")
    # The operator's enrichers too (the alert; PromQL with KUBEMEDIC_PROMETHEUS_URL), so the
    # file holds what the operator's diagnosis read.
    bundle, reports = enrich_bundle(bundle, spec=spec, settings=settings)
    for report in reports:
        _progress(f"{report.condition_type}={report.status} ({report.reason}): {report.message}")
    text = dump_bundle(bundle)
    pods = sum(1 for o in bundle.objects if o.get("kind") == "Pod")
    events = sum(1 for o in bundle.objects if o.get("kind") == "Event")
    summary = (
        f"{len(bundle.objects)} objects ({pods} pods, {events} events), {len(bundle.logs)} logs"
    )
    if args.output and args.output != "-":
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot write {args.output}: {exc.strerror}")
        _progress(f"wrote {args.output}: {summary}")
    else:
        sys.stdout.write(text)
        _progress(summary)
    return EXIT_OK


def cmd_decide(args: argparse.Namespace) -> int:
    """`approve` / `reject`: create an IncidentApproval as the logged-in user."""
    from kubernetes.client.exceptions import ApiException  # noqa: PLC0415

    from kubemedic.clients.approvals import ApprovalClient, ApprovalRefusedError  # noqa: PLC0415
    from kubemedic.clients.cluster import Access  # noqa: PLC0415
    from kubemedic.models.approval import Decision  # noqa: PLC0415
    from kubemedic.service.approvals import (  # noqa: PLC0415
        DecisionInputError,
        IncidentMissingError,
        decide,
    )

    if args.by is not None:
        raise UsageError(
            "--by is no longer accepted: the approver is the user you are logged in as "
            "(what `kubectl auth whoami` shows), and admission refuses any other name; "
            "log in as the approver instead"
        )
    namespace = args.namespace or "default"
    decision = Decision.APPROVE if args.command == "approve" else Decision.REJECT
    try:
        decided = decide(
            ApprovalClient(
                _connect(
                    args.kubeconfig,
                    [
                        Access("create", APPROVAL_PLURAL, group=API_GROUP, namespace=namespace),
                        Access("get", INCIDENT_PLURAL, group=API_GROUP, namespace=namespace),
                    ],
                )
            ),
            namespace=namespace,
            incident=args.incident,
            action=args.action,
            decision=decision,
            reason=args.reason,
        )
    except DecisionInputError as exc:
        raise UsageError(str(exc)) from None
    except IncidentMissingError as exc:
        _fail(str(exc))
    except ApprovalRefusedError as exc:
        _fail(f"the API server refused the decision (HTTP {exc.status}): {exc}")
    except ApiException as exc:
        _fail(f"the API server answered HTTP {exc.status} ({exc.reason}); nothing was decided")
    verb = "approved" if decision is Decision.APPROVE else "rejected"
    _progress(
        f"{verb} action {decided.action_id} of Incident {namespace}/{args.incident} "
        f"as {decided.approver} (IncidentApproval {namespace}/{decided.name})"
    )
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """Run the operator: check the cluster first, then start kopf.

    NB: fail fast, not wait: every problem found before kopf starts (no kubeconfig, the
    cluster unreachable, the CRDs missing, a permission missing, the Lease's namespace
    missing) exits 1 with one line, so a Deployment shows it in CrashLoopBackOff with the
    reason in its log instead of a replica that looks alive and does nothing (README).
    """
    overrides: dict[str, Any] = {}
    if args.namespace:
        overrides["namespaces"] = args.namespace
    for name in ("metrics_port", "health_port", "kubeconfig"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    settings = _settings(**overrides)
    if settings.kubeconfig:
        # NB: the kubernetes package reads $KUBECONFIG when it is first imported, and kopf's
        # login uses that package: set it before kopf (or anything else) imports it.
        os.environ["KUBECONFIG"] = settings.kubeconfig

    import kopf  # noqa: PLC0415 - only the operator needs kopf loaded
    from prometheus_client import start_http_server  # noqa: PLC0415

    import kubemedic.handlers  # noqa: F401, PLC0415 - registers the handlers
    from kubemedic.clients.cluster import require_namespace  # noqa: PLC0415
    from kubemedic.service.runtime import build_runtime, operator_access  # noqa: PLC0415

    api = _connect(settings.kubeconfig, operator_access(settings))
    if settings.leader_election:
        require_namespace(
            api,
            settings.lease_namespace or settings.operator_namespace,
            setting="KUBEMEDIC_LEASE_NAMESPACE"
            if settings.lease_namespace
            else "KUBEMEDIC_OPERATOR_NAMESPACE",
        )
    try:
        runtime = build_runtime(settings)
    except ValueError as exc:
        raise UsageError(f"invalid setting: {exc}") from None
    logger.info("cluster %s reachable, permissions checked; starting", api.configuration.host)
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
        memo=runtime,
    )
    return EXIT_OK


# -- kubemedic prompt: what leaves the cluster ------------------------------------------


def load_incident_spec(path: Path) -> IncidentSpec:
    """An Incident manifest (or its bare ``spec``) from a file; UsageError names the field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: cannot read an Incident: {exc}") from None
    if isinstance(data, dict) and data.get("kind") == "Incident":
        data = data.get("spec")
        where = "spec."
    else:
        where = ""
    if not isinstance(data, dict):
        raise UsageError(f"{path}: an Incident (kind: Incident) or its spec must be a mapping")
    try:
        return IncidentSpec.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"  {where}{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()[:10]
        ]
        raise UsageError(f"{path}: invalid Incident spec:\n" + "\n".join(problems)) from None


def cmd_prompt(args: argparse.Namespace) -> int:
    """The messages the operator would send the model for a bundle, built by the operator's
    own function (:func:`kubemedic.service.llm.incident_prompt`)."""
    import dataclasses  # noqa: PLC0415

    from kubemedic.clients.tokenizer import TokenizerError, load_token_counter  # noqa: PLC0415
    from kubemedic.service import llm  # noqa: PLC0415
    from kubemedic.settings import OperatorSettings  # noqa: PLC0415

    bundle = load_bundle(Path(args.bundle))
    spec = load_incident_spec(Path(args.incident)) if args.incident else None
    if args.max_tokens is not None and not 256 <= args.max_tokens <= 1_000_000:
        raise UsageError(f"--max-tokens: {args.max_tokens} is out of range (256 to 1000000)")
    try:
        settings = OperatorSettings()
    except ValidationError as exc:
        raise UsageError(f"settings (KUBEMEDIC_* environment): {exc}") from None
    budget = llm.budget_from_settings(settings)
    if args.max_tokens is not None:
        budget = dataclasses.replace(
            budget,
            total_tokens=args.max_tokens,
            knowledge_tokens=min(budget.knowledge_tokens, args.max_tokens // 2),
        )
    counter = llm.estimate_counter(llm.DEFAULT_CHARS_PER_TOKEN)
    if settings.llm_tokenizer:
        try:
            counter = load_token_counter(settings.llm_tokenizer)
        except TokenizerError as exc:
            _progress(f"{exc}; estimating tokens instead")
    prompt = llm.incident_prompt(
        bundle,
        rules=diagnose_bundle(bundle),
        spec=spec,
        knowledge=(),
        counter=counter,
        redactor=llm.redactor_from_settings(settings),
        budget=budget,
    )
    if args.output == "json":
        messages = [{"role": m["role"], "content": m["content"]} for m in prompt.messages]
        print(json.dumps({"messages": messages, "total_tokens": prompt.total_tokens}, indent=2))
    else:
        for message in prompt.messages:
            print(f"=== {message['role']} ===\n{message['content']}\n")
        print(f"=== {prompt.total_tokens} tokens ===")
    return EXIT_OK


def add_prompt_command(sub: Any) -> None:
    prompt = sub.add_parser(
        "prompt",
        help="print the messages the operator would send the model for a bundle",
        description="Print exactly the chat messages the operator would send the model for "
        "a bundle (after scoping, budgeting and redaction), to audit what leaves the cluster. "
        "Uses the KUBEMEDIC_* settings of the environment; runbook knowledge is not included.",
    )
    prompt.add_argument(
        "--bundle", required=True, metavar="FILE", help="IncidentBundle file (YAML or JSON)"
    )
    prompt.add_argument(
        "--incident", metavar="FILE", help="Incident manifest (or its spec) the bundle is for"
    )
    prompt.add_argument(
        "--max-tokens",
        type=int,
        metavar="N",
        help="prompt token budget (default: KUBEMEDIC_LLM_PROMPT_TOKEN_BUDGET)",
    )
    prompt.add_argument(
        "-o", "--output", choices=["json", "text"], default="text", help="output format"
    )
    prompt.set_defaults(func=cmd_prompt)


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
    except Exception as exc:
        # NB: the checks before each command catch most cluster problems; this is for the
        # cluster going away (or a permission changing) while the command runs.
        message = _cluster_problem(exc)
        if message is None:
            raise
        _fail(message)
    return code


if __name__ == "__main__":
    sys.exit(main())
