"""Anomaly benchmark: the NAB score (standard profile) of kubemedic's online detector.

Run: ``.venv/bin/python bench/nab_score.py [--data ../shared/data/nab] [--set threshold=4 ...]``.

Data: the Numenta Anomaly Benchmark (github.com/numenta/NAB, MIT): ``data/<group>/*.csv``
(``timestamp,value``) and ``combined_windows.json`` (the labelled anomaly windows). Get it from
that repository into ``../shared/data/nab/`` beside the project root when absent.

Scoring: NAB's published method (Lavin & Ahmad 2015, arXiv:1510.03336; NAB's sweeper.py),
standard profile A_TP = 1, A_FP = -0.11, A_FN = -1:

- a detection inside a window scores A_TP x sigma(y), y = -(window end - i + 1)/window length
  (in [-1, 0)), sigma(y) = 2/(1 + e^(5y)) - 1; only the best (earliest) detection of a window
  counts; a window without one scores A_FN;
- a detection outside every window scores A_FP x 1 before the first window, and
  A_FP x (-sigma(y)) after one, y = distance to the previous window's end / (its length - 1)
  (y > 3: the full A_FP);
- detections in the probationary period (the first min(15 %, 750) points) are not scored;
- the corpus score is 100 x (S - S_null) / (S_perfect - S_null), summed over all files, where
  the null detector finds nothing and the perfect one finds every window at its first point.

Also reported: window recall (windows with a detection) and false detections (outside all
windows) per 1,000 scored points. One detector configuration for all files (the module's
defaults; ``--set`` overrides one for experiments). Writes bench/results/nab.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "operator"))

from kubemedic.domain.anomaly import OnlineDetector, detect
from kubemedic.domain.timeseries import parse_series, parse_timestamp

DEFAULT_DATA: Final = next(
    (
        base / "shared" / "data" / "nab"
        for base in (ROOT.parent, ROOT.parent.parent)
        if (base / "shared" / "data" / "nab").is_dir()
    ),
    ROOT.parent / "shared" / "data" / "nab",
)
RESULT: Final = ROOT / "bench" / "results" / "nab.json"
A_TP: Final = 1.0
A_FP: Final = 0.11
A_FN: Final = 1.0
#: NAB's README scoreboard, standard profile.
SCOREBOARD: Final = {
    "ARTime": 74.9,
    "Numenta HTM": 70.5,
    "CAD OSE": 69.9,
    "Skyline": 58.2,
    "KNN CAD": 58.0,
    "Random Cut Forest": 51.7,
    "Twitter ADVec": 47.1,
    "Windowed Gaussian": 39.6,
    "null": 0.0,
}


def scaled_sigmoid(position: float) -> float:
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


@dataclass
class FileScore:
    raw: float
    null: float
    perfect: float
    windows: int
    windows_hit: int
    false_detections: int
    scored_points: int


def score_file(n: int, windows: list[tuple[int, int]], detections: list[int]) -> FileScore:
    """NAB score of one file: ``windows`` as (first, last) row indices, detections as rows."""
    probation = min(math.floor(0.15 * n), 750)
    window_of = [-1] * n
    for k, (first, last) in enumerate(windows):
        for i in range(first, last + 1):
            window_of[i] = k
    best: dict[int, float] = {}
    raw = 0.0
    false_detections = 0
    detected = set(detections)
    prev_end: int | None = None
    prev_len = 0
    for i in range(n):
        k = window_of[i]
        if k >= 0:
            first, last = windows[k]
            length = last - first + 1
            if i in detected and i >= probation:
                value = A_TP * scaled_sigmoid(-(last - i + 1) / length)
                best[k] = max(best.get(k, -math.inf), value)
            if i == last:
                prev_end, prev_len = last, length
        elif i in detected and i >= probation:
            false_detections += 1
            if prev_end is None:
                raw -= A_FP
            else:
                position = abs(prev_end - i) / max(prev_len - 1, 1)
                raw += A_FP * scaled_sigmoid(position)
    raw += sum(best.values()) - A_FN * (len(windows) - len(best))
    return FileScore(
        raw=raw,
        null=-A_FN * len(windows),
        perfect=A_TP * scaled_sigmoid(-1.0) * len(windows),
        windows=len(windows),
        windows_hit=len(best),
        false_detections=false_detections,
        scored_points=n - probation,
    )


def window_rows(timestamps: tuple[float, ...], spans: list[list[str]]) -> list[tuple[int, int]]:
    rows = []
    for start_text, end_text in spans:
        start, end = parse_timestamp(start_text), parse_timestamp(end_text)
        inside = [i for i, t in enumerate(timestamps) if start <= t <= end]
        if inside:
            rows.append((inside[0], inside[-1]))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="override a parameter"
    )
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"{args.data} not found: copy github.com/numenta/NAB's data there", file=sys.stderr)
        return 2
    overrides = {k: float(v) for k, v in (s.split("=", 1) for s in args.set)}
    floats = {"threshold", "novelty_surprise", "episode_surprise"}
    params = {k: (v if k in floats else int(v)) for k, v in overrides.items()}
    labels = json.loads((args.data / "combined_windows.json").read_text())
    totals = FileScore(0, 0, 0, 0, 0, 0, 0)
    per_file = {}
    started = time.process_time()
    points = 0
    for name in sorted(labels):
        path = args.data / "data" / name
        series = parse_series(path.read_text(encoding="utf-8"), source=str(path))
        findings = detect(series.timestamps, series.values, detector=OnlineDetector(**params))  # type: ignore[arg-type]
        points += len(series.values)
        score = score_file(
            len(series.values),
            window_rows(series.timestamps, labels[name]),
            [f.index for f in findings],
        )
        per_file[name] = {
            "raw": round(score.raw, 3),
            "windows": score.windows,
            "hit": score.windows_hit,
            "false": score.false_detections,
        }
        for field in (
            "raw",
            "null",
            "perfect",
            "windows",
            "windows_hit",
            "false_detections",
            "scored_points",
        ):
            setattr(totals, field, getattr(totals, field) + getattr(score, field))
    cpu = time.process_time() - started
    normalised = 100 * (totals.raw - totals.null) / (totals.perfect - totals.null)
    summary = {
        "nab_score_standard": round(normalised, 1),
        "window_recall": round(totals.windows_hit / totals.windows, 3),
        "windows": totals.windows,
        "false_detections_per_1000_points": round(
            1000 * totals.false_detections / totals.scored_points, 3
        ),
        "false_detections": totals.false_detections,
        "points": points,
        "cpu_seconds_per_1000_points": round(1000 * cpu / points, 4),
        "overrides": overrides,
    }
    for name, row in per_file.items():
        print(f"  {name:<60} {row}")
    print(json.dumps(summary))
    print("published (standard profile): " + ", ".join(f"{k} {v}" for k, v in SCOREBOARD.items()))
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(
        json.dumps({**summary, "scoreboard": SCOREBOARD, "files": per_file}, indent=2) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
