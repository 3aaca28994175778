"""``kubemedic logs templates``, ``kubemedic forecast`` and ``kubemedic detect``: the
offline time-series and log tools (issue 13), on recorded files.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from kubemedic.cli.common import (
    EXIT_OK,
    UsageError,
    add_format_option,
    progress,
)

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
        progress(f"{len(findings)} anomalies in {len(series.values)} points")
    return EXIT_OK


def add_timeseries_commands(sub: Any) -> None:
    logs = sub.add_parser("logs", help="work with log files offline")
    logs_sub = logs.add_subparsers(dest="logs_command", required=True, metavar="COMMAND")
    templates = logs_sub.add_parser(
        "templates",
        help="group the lines of a log file by template",
        description="Mine templates from a log file (JSON, logfmt, klog, syslog, log4j or "
        "plain lines; no configuration): every non-empty line lands in exactly one template.",
    )
    templates.add_argument("file", metavar="FILE", help="the log file")
    add_format_option(templates, help="output format; json is the stable contract (default: text)")
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
    add_format_option(forecast)
    forecast.set_defaults(func=cmd_forecast)

    detect = sub.add_parser(
        "detect",
        help="find anomalies in a recorded series",
        description="Run the online anomaly detector over a recorded series (CSV "
        "'timestamp,value' or a Prometheus range-query JSON answer): one finding per episode.",
    )
    detect.add_argument("--series", required=True, metavar="FILE", help="the series file")
    add_format_option(detect)
    detect.set_defaults(func=cmd_detect)
