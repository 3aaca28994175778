"""Rule-engine benchmark: accuracy per category on the scenario suite, and time per diagnosis.

Run: ``.venv/bin/python bench/diagnosis_accuracy.py [--rounds 50]``.

Method: every bundle in tests/scenarios/ is parsed once (parsing is not what is measured),
then ``diagnose_bundle`` runs on each bundle ``--rounds`` times, in a different bundle order
per round so caches and allocation patterns do not favour one bundle. Each call is timed
with ``time.perf_counter_ns``. A diagnosis is correct when category, first action type and
the first action's expected params all match tests/scenarios/index.yaml.

Reports per-category accuracy, and median / p99 / max of the time per diagnosis over all
calls, and writes the same as JSON to bench/results/diagnosis.json.
"""

import argparse
import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Final

import yaml

ROOT: Final = Path(__file__).resolve().parents[1]
# NB: the package lives under operator/ (no __init__.py there), as pytest's pythonpath says.
sys.path.insert(0, str(ROOT / "operator"))

from kubemedic.domain.rule_engine import diagnose_bundle
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.diagnosis import Diagnosis

SCENARIOS: Final = ROOT / "tests" / "scenarios"
RESULT: Final = ROOT / "bench" / "results" / "diagnosis.json"


def is_correct(entry: dict[str, Any], result: Diagnosis) -> bool:
    first = result.actions[0]
    params = entry.get("firstActionParams") or {}
    return (
        result.category.value == entry["category"]
        and first.type.value == entry["firstAction"]
        and all(first.params.get(key) == value for key, value in params.items())
    )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50, help="diagnoses per bundle (default 50)")
    args = parser.parse_args()

    index = yaml.safe_load((SCENARIOS / "index.yaml").read_text())["scenarios"]
    bundles = {
        entry["file"]: IncidentBundle.model_validate(
            yaml.safe_load((SCENARIOS / entry["file"]).read_text())
        )
        for entry in index
    }
    per_category: dict[str, dict[str, int]] = {}
    misses: list[dict[str, str]] = []
    for entry in index:
        result = diagnose_bundle(bundles[entry["file"]])
        stats = per_category.setdefault(entry["category"], {"total": 0, "correct": 0})
        stats["total"] += 1
        if is_correct(entry, result):
            stats["correct"] += 1
        else:
            misses.append(
                {
                    "file": entry["file"],
                    "expected": f"{entry['category']}/{entry['firstAction']}",
                    "got": f"{result.category.value}/{result.actions[0].type.value}",
                }
            )

    # NB: a seeded shuffle for a reproducible order, not for security.
    rng = random.Random(0)
    order = list(bundles)
    timings_ms: list[float] = []
    per_bundle_ms: dict[str, list[float]] = {name: [] for name in order}
    for _ in range(args.rounds):
        rng.shuffle(order)
        for name in order:
            start = time.perf_counter_ns()
            diagnose_bundle(bundles[name])
            elapsed = (time.perf_counter_ns() - start) / 1e6
            timings_ms.append(elapsed)
            per_bundle_ms[name].append(elapsed)

    total = sum(s["total"] for s in per_category.values())
    correct = sum(s["correct"] for s in per_category.values())
    print(f"Scenario accuracy: {correct}/{total} = {correct / total:.1%}")
    print(f"{'category':<20} {'correct':>7} {'total':>5} {'accuracy':>9}")
    for category, stats in sorted(per_category.items()):
        print(
            f"{category:<20} {stats['correct']:>7} {stats['total']:>5} "
            f"{stats['correct'] / stats['total']:>9.1%}"
        )
    for miss in misses:
        print(f"  MISS {miss['file']}: expected {miss['expected']}, got {miss['got']}")
    median = statistics.median(timings_ms)
    p99 = percentile(timings_ms, 0.99)
    slowest = max(per_bundle_ms, key=lambda name: statistics.median(per_bundle_ms[name]))
    print(
        f"Time per diagnosis over {len(timings_ms)} calls ({args.rounds} rounds x {len(bundles)} "
        "bundles): "
        f"median {median:.2f} ms, p99 {p99:.2f} ms, max {max(timings_ms):.2f} ms"
    )
    print(f"Slowest bundle (median): {slowest} {statistics.median(per_bundle_ms[slowest]):.2f} ms")

    RESULT.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "diagnosis_accuracy",
        "engine": "rules",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "rounds": args.rounds,
        "bundles": len(bundles),
        "accuracy": correct / total,
        "perCategory": {
            category: {**stats, "accuracy": stats["correct"] / stats["total"]}
            for category, stats in sorted(per_category.items())
        },
        "misses": misses,
        "timeMs": {
            "median": round(median, 4),
            "p99": round(p99, 4),
            "max": round(max(timings_ms), 4),
            "perBundleMedian": {
                name: round(statistics.median(values), 4)
                for name, values in sorted(per_bundle_ms.items())
            },
        },
    }
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Wrote {RESULT.relative_to(ROOT)}")
    return 0 if correct == total else 1


if __name__ == "__main__":
    sys.exit(main())
