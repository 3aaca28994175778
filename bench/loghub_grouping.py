"""Log-template benchmark: grouping accuracy on the Loghub 2k samples, one configuration for all.

Run: ``.venv/bin/python bench/loghub_grouping.py [--data ../shared/data/loghub-2k] [--drain3]``.

Data: Loghub (github.com/logpai/loghub; Zhu et al., ISSRE 2023), 2,000 raw lines per system
(``X/X_2k.log``) and the ground-truth event of every line (``X/X_2k.log_structured.csv``,
column ``EventId``). Get it from that repository into ``../shared/data/loghub-2k/`` beside
the project root when the folder is absent.

Method: the RAW lines (headers included — no per-system log format) go through
``kubemedic.domain.logtemplates.group_lines`` with its default configuration. Grouping
accuracy (Zhu et al., ICSE-SEIP 2019): a line is correct when the set of lines in its parsed
group is exactly the set of lines sharing its ground-truth event. With ``--drain3`` the same
extracted messages also go through drain3 (PyPI; not a dependency of kubemedic: install it
yourself) with its default masking-free configuration and ``sim_th=0.5, depth=4``, for
comparison. The published Drain figures are per-dataset tuned, with per-dataset header
formats and masking regexes.

Writes bench/results/loghub.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "operator"))

from kubemedic.domain.logtemplates import extract_message, group_lines

# NB: ``../shared`` beside the project root; a worktree one level deeper finds it one up.
DEFAULT_DATA: Final = next(
    (
        base / "shared" / "data" / "loghub-2k"
        for base in (ROOT.parent, ROOT.parent.parent)
        if (base / "shared" / "data" / "loghub-2k").is_dir()
    ),
    ROOT.parent / "shared" / "data" / "loghub-2k",
)
RESULT: Final = ROOT / "bench" / "results" / "loghub.json"
#: Zhu et al., "Tools and Benchmarks for Automated Log Parsing", ICSE-SEIP 2019, Table III.
PUBLISHED_DRAIN: Final = {
    "HDFS": 0.998,
    "BGL": 0.963,
    "HPC": 0.887,
    "Thunderbird": 0.955,
    "Windows": 0.997,
    "Linux": 0.690,
    "Mac": 0.787,
    "Android": 0.911,
    "HealthApp": 0.780,
    "Apache": 1.000,
    "OpenSSH": 0.788,
    "Proxifier": 0.527,
}


def grouping_accuracy(truth: list[str], predicted: list[int]) -> float:
    """Share of lines whose parsed group equals their ground-truth group exactly."""
    by_truth: dict[str, set[int]] = defaultdict(set)
    by_pred: dict[int, set[int]] = defaultdict(set)
    for index, (t, p) in enumerate(zip(truth, predicted, strict=True)):
        by_truth[t].add(index)
        by_pred[p].add(index)
    correct = sum(1 for index, t in enumerate(truth) if by_truth[t] == by_pred[predicted[index]])
    return correct / len(truth)


def load(system_dir: Path) -> tuple[list[str], list[str]]:
    name = system_dir.name
    raw = (system_dir / f"{name}_2k.log").read_text(encoding="utf-8", errors="replace")
    lines = [line for line in raw.splitlines() if line.strip()]
    with (system_dir / f"{name}_2k.log_structured.csv").open(encoding="utf-8") as handle:
        truth = [row["EventId"] for row in csv.DictReader(handle)]
    if len(lines) != len(truth):
        msg = f"{system_dir}: {len(lines)} lines but {len(truth)} ground-truth rows"
        raise SystemExit(msg)
    return lines, truth


def ours(lines: list[str]) -> list[int]:
    assigned = [0] * len(lines)
    for group in group_lines(lines):
        for number in group.lines:
            assigned[number - 1] = group.id
    return assigned


def drain3_groups(lines: list[str]) -> list[int]:
    from drain3 import TemplateMiner as Drain3Miner  # noqa: PLC0415
    from drain3.template_miner_config import TemplateMinerConfig  # noqa: PLC0415

    config = TemplateMinerConfig()
    config.drain_sim_th = 0.5
    config.drain_depth = 4
    config.profiling_enabled = False
    miner = Drain3Miner(config=config)
    return [miner.add_log_message(extract_message(line))["cluster_id"] for line in lines]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--drain3", action="store_true", help="also measure drain3 (PyPI)")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(
            f"{args.data} not found: copy the 2k samples of github.com/logpai/loghub there",
            file=sys.stderr,
        )
        return 2
    rows = []
    for name in PUBLISHED_DRAIN:
        lines, truth = load(args.data / name)
        started = time.perf_counter()
        accuracy = grouping_accuracy(truth, ours(lines))
        seconds = time.perf_counter() - started
        row = {
            "system": name,
            "kubemedic": round(accuracy, 3),
            "published_drain": PUBLISHED_DRAIN[name],
            "lines_per_second": round(len(lines) / seconds),
        }
        if args.drain3:
            row["drain3"] = round(grouping_accuracy(truth, drain3_groups(lines)), 3)
        rows.append(row)
        extra = f"  drain3 {row['drain3']:.3f}" if args.drain3 else ""
        print(
            f"{name:<12} kubemedic {accuracy:.3f}  published Drain {PUBLISHED_DRAIN[name]:.3f}"
            f"{extra}  ({row['lines_per_second']} lines/s)"
        )
    summary: dict[str, object] = {
        "mean_kubemedic": round(statistics.mean(r["kubemedic"] for r in rows), 3),  # type: ignore[misc]
        "mean_published_drain": round(statistics.mean(PUBLISHED_DRAIN.values()), 3),
    }
    if args.drain3:
        summary["mean_drain3"] = round(statistics.mean(r["drain3"] for r in rows), 3)  # type: ignore[misc]
    print(json.dumps(summary))
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps({"systems": rows, **summary}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
