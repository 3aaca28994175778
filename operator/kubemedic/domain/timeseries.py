"""Recorded metric series for the offline ``forecast`` and ``detect`` commands: parse and check.

Two file formats, told apart by their first non-blank character:

- CSV with a header ``timestamp,value``: timestamps as ISO-8601 (``2024-01-01T00:00:00Z``,
  ``2024-01-01 00:00:00``; no zone means UTC) or Unix seconds;
- a Prometheus range-query answer (``/api/v1/query_range`` JSON, ``resultType: matrix``)
  with exactly one series, or the bare ``data`` / ``result`` part of it.

Every problem raises :class:`SeriesError` naming the line or field, so the CLI can exit 2
with it. Points are returned sorted by time, duplicates of one timestamp keep the last.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

#: ``7d``, ``36h``, ``90m``, ``30s``, ``1w``, or combinations such as ``1d12h``.
_DURATION_RE: Final = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_DURATION_UNITS: Final = (7 * 86400, 86400, 3600, 60, 1)


class SeriesError(ValueError):
    """A series file or value the user gave is not usable; the message says why."""


@dataclass(frozen=True)
class Series:
    """Points of one metric: Unix seconds and values, sorted by time."""

    timestamps: tuple[float, ...]
    values: tuple[float, ...]


def parse_duration(text: str) -> float:
    """Seconds of a Prometheus-style duration (``7d``, ``1d12h``, ``90m``)."""
    match = _DURATION_RE.match(text.strip())
    if not text.strip() or match is None or not any(match.groups()):
        msg = f"duration '{text}' must look like 7d, 36h, 90m, 1d12h or 1w"
        raise SeriesError(msg)
    seconds = sum(
        int(g) * unit for g, unit in zip(match.groups(), _DURATION_UNITS, strict=True) if g
    )
    if seconds <= 0:
        msg = f"duration '{text}' must be positive"
        raise SeriesError(msg)
    return float(seconds)


def parse_timestamp(text: str) -> float:
    """Unix seconds from ISO-8601 (no zone: UTC) or a number of Unix seconds."""
    value = text.strip()
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        if math.isfinite(number):
            return number
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        msg = f"timestamp '{text}' is neither ISO-8601 nor Unix seconds"
        raise SeriesError(msg) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def format_timestamp(seconds: float) -> str:
    """ISO-8601 in UTC with a ``Z``, to the second."""
    return datetime.fromtimestamp(round(seconds), tz=UTC).isoformat().replace("+00:00", "Z")


def _value(text: Any, where: str) -> float:
    try:
        number = float(text)
    except (TypeError, ValueError):
        msg = f"{where}: value '{text}' is not a number"
        raise SeriesError(msg) from None
    return number


def _finish(points: dict[float, float], source: str) -> Series:
    finite = {t: v for t, v in points.items() if math.isfinite(v)}
    if len(finite) < 2:
        msg = f"{source}: needs at least 2 points with finite values, found {len(finite)}"
        raise SeriesError(msg)
    ordered = sorted(finite.items())
    return Series(timestamps=tuple(t for t, _ in ordered), values=tuple(v for _, v in ordered))


def _parse_csv(text: str, source: str) -> Series:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    names = [h.strip().lower() for h in header or []]
    if names[:2] != ["timestamp", "value"]:
        msg = f"{source}: the CSV header must be 'timestamp,value', got '{','.join(header or [])}'"
        raise SeriesError(msg)
    points: dict[float, float] = {}
    for number, row in enumerate(reader, start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 2:
            msg = f"{source}: line {number}: expected 'timestamp,value', got '{','.join(row)}'"
            raise SeriesError(msg)
        where = f"{source}: line {number}"
        try:
            stamp = parse_timestamp(row[0])
        except SeriesError as exc:
            raise SeriesError(f"{where}: {exc}") from None
        points[stamp] = _value(row[1], where)
    return _finish(points, source)


def _parse_prometheus(text: str, source: str) -> Series:
    try:
        data = json.loads(text)
    except ValueError as exc:
        msg = f"{source}: not valid JSON: {exc}"
        raise SeriesError(msg) from None
    if isinstance(data, dict) and data.get("status") == "error":
        msg = f"{source}: Prometheus answered an error: {data.get('error', 'no message')}"
        raise SeriesError(msg)
    body = data.get("data", data) if isinstance(data, dict) else data
    result = body.get("result") if isinstance(body, dict) else body
    if not isinstance(result, list):
        msg = f"{source}: expected a Prometheus range-query answer with 'data.result'"
        raise SeriesError(msg)
    if len(result) != 1:
        msg = (
            f"{source}: 'data.result' must hold exactly one series, found {len(result)}; "
            "narrow the query (sum by, a label matcher)"
        )
        raise SeriesError(msg)
    series = result[0]
    values = series.get("values") if isinstance(series, dict) else None
    if not isinstance(values, list):
        msg = f"{source}: 'data.result[0].values' must be a list of [time, \"value\"] pairs"
        raise SeriesError(msg)
    points: dict[float, float] = {}
    for index, pair in enumerate(values):
        where = f"{source}: data.result[0].values[{index}]"
        if not isinstance(pair, list) or len(pair) != 2:
            msg = f'{where}: expected [time, "value"], got {pair!r}'
            raise SeriesError(msg)
        points[_value(pair[0], where)] = _value(pair[1], where)
    return _finish(points, source)


def parse_series(text: str, *, source: str) -> Series:
    """A series from CSV (``timestamp,value``) or Prometheus range-query JSON text."""
    stripped = text.lstrip()
    if not stripped:
        msg = f"{source}: the file is empty"
        raise SeriesError(msg)
    if stripped[0] in "{[":
        return _parse_prometheus(stripped, source)
    return _parse_csv(stripped, source)
