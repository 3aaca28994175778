"""Rule-engine benchmark: accuracy per category and per part, harmful first actions, time.

Run: ``.venv/bin/python bench/diagnosis_accuracy.py [--rounds 50] [--check]``.

Parts (see tests/scenarios/corpus.py): ``original`` (tests/scenarios/*.yaml, written with the
engine), ``realistic`` (tests/scenarios/realistic/, written independently; its misses may be
studied) and ``heldout`` (tests/scenarios/heldout/, same provenance, never tuned on: report it,
do not fix against it). A diagnosis is correct when category, first action type and the
first action's expected params all match the part's index.yaml; a first action is harmful
when ``corpus.harms`` says so (an action on a recovered or overloaded target, SetResources
for a container the template lacks, a type the index forbids). Goal: 0 harmful.

Timing: every bundle is parsed once (parsing is not what is measured), then
``diagnose_bundle`` runs on each bundle ``--rounds`` times, in a different bundle order per
round so caches and allocation patterns do not favour one bundle; each call is timed with
``time.perf_counter_ns``. The median must stay under 5 ms.

Prints per-part, per-category accuracy, every miss and harm, and median / p99 / max time per
diagnosis; writes the same as JSON to bench/results/diagnosis.json. Exit code 0 when the
measurement ran; with ``--check``, 1 when a harmful first action was proposed or the median
time is 5 ms or more.
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

ROOT: Final = Path(__file__).resolve().parents[1]
# NB: the package lives under operator/ (no __init__.py there), as pytest's pythonpath says;
# the corpus helpers live under tests/ (shared with tests/unit/test_realistic_scenarios.py).
sys.path.insert(0, str(ROOT / "operator"))
sys.path.insert(0, str(ROOT / "tests"))

from kubemedic.domain.rule_engine import diagnose_bundle
from scenarios import corpus

RESULT: Final = ROOT / "bench" / "results" / "diagnosis.json"
PART_ORDER: Final = ("original", "realistic", "heldout")
MEDIAN_BUDGET_MS: Final = 5.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def score(cases: list[corpus.Case]) -> dict[str, Any]:
    """Accuracy per part and category, misses and harms, one diagnosis per bundle."""
    parts: dict[str, dict[str, Any]] = {}
    for case in cases:
        bundle = corpus.load(case.path)
        result = diagnose_bundle(bundle)
        part = parts.setdefault(
            case.part,
            {
                "total": 0,
                "correct": 0,
                "perCategory": {},
                "misses": [],
                "harms": [],
                "unknownWithoutEvidence": [],
            },
        )
        stats = part["perCategory"].setdefault(case.entry["category"], {"total": 0, "correct": 0})
        part["total"] += 1
        stats["total"] += 1
        got = f"{result.category.value}/{result.actions[0].type.value}"
        if corpus.is_correct(case.entry, result):
            part["correct"] += 1
            stats["correct"] += 1
        else:
            part["misses"].append(
                {
                    "file": case.file,
                    "expected": f"{case.entry['category']}/{case.entry['firstAction']}",
                    "got": got,
                    "why": case.expected_failure() or "not recorded",
                }
            )
        if result.category.value == "Unknown" and not result.evidence:
            part["unknownWithoutEvidence"].append(case.file)
        for harm in corpus.harms(case.entry, bundle, result):
            part["harms"].append({"file": case.file, "got": got, "harm": harm})
    for part in parts.values():
        part["accuracy"] = part["correct"] / part["total"]
        for stats in part["perCategory"].values():
            stats["accuracy"] = stats["correct"] / stats["total"]
    return parts


def time_diagnoses(
    cases: list[corpus.Case], rounds: int
) -> tuple[list[float], dict[str, float], dict[str, float]]:
    """All call times, the median per bundle and the median per part (ms)."""
    bundles = {case.id: corpus.load(case.path) for case in cases}
    # NB: a seeded shuffle for a reproducible order, not for security.
    rng = random.Random(0)
    order = list(bundles)
    timings_ms: list[float] = []
    per_bundle: dict[str, list[float]] = {name: [] for name in order}
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            start = time.perf_counter_ns()
            diagnose_bundle(bundles[name])
            elapsed = (time.perf_counter_ns() - start) / 1e6
            timings_ms.append(elapsed)
            per_bundle[name].append(elapsed)
    per_part = {
        part: statistics.median(
            [t for case in cases if case.part == part for t in per_bundle[case.id]]
        )
        for part in dict.fromkeys(case.part for case in cases)
    }
    per_bundle_median = {name: statistics.median(values) for name, values in per_bundle.items()}
    return timings_ms, per_bundle_median, per_part


def report(parts: dict[str, dict[str, Any]]) -> None:
    for name in PART_ORDER:
        part = parts[name]
        print(
            f"\n[{name}] accuracy {part['correct']}/{part['total']} = {part['accuracy']:.1%}, "
            f"harmful first actions: {len(part['harms'])}, Unknown answers citing no evidence: "
            f"{len(part['unknownWithoutEvidence'])}"
        )
        print(f"  {'category':<20} {'correct':>7} {'total':>5} {'accuracy':>9}")
        for category, stats in sorted(part["perCategory"].items()):
            print(
                f"  {category:<20} {stats['correct']:>7} {stats['total']:>5} "
                f"{stats['accuracy']:>9.1%}"
            )
        for miss in part["misses"]:
            print(
                f"  MISS {miss['file']}: expected {miss['expected']}, got {miss['got']} "
                f"({miss['why']})"
            )
        for harm in part["harms"]:
            print(f"  HARM {harm['file']}: {harm['got']}: {harm['harm']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50, help="diagnoses per bundle (default 50)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when a first action is harmful or the median time is 5 ms or more",
    )
    args = parser.parse_args()

    cases = corpus.cases(*PART_ORDER)
    parts = score(cases)
    report(parts)
    timings_ms, per_bundle, per_part = time_diagnoses(cases, args.rounds)
    median = statistics.median(timings_ms)
    p99 = percentile(timings_ms, 0.99)
    slowest = max(per_bundle, key=lambda name: per_bundle[name])
    harmful = sum(len(part["harms"]) for part in parts.values())
    print(
        f"\nHarmful first actions, all parts: {harmful} (goal 0)\n"
        f"Time per diagnosis over {len(timings_ms)} calls ({args.rounds} rounds x {len(cases)} "
        f"bundles): median {median:.2f} ms (budget {MEDIAN_BUDGET_MS:.0f} ms), "
        f"p99 {p99:.2f} ms, max {max(timings_ms):.2f} ms\n"
        f"Median per part: "
        + ", ".join(f"{part} {value:.2f} ms" for part, value in per_part.items())
        + f"\nSlowest bundle (median): {slowest} {per_bundle[slowest]:.2f} ms"
    )

    RESULT.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "diagnosis_accuracy",
        "engine": "rules",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "rounds": args.rounds,
        "bundles": len(cases),
        "parts": {name: parts[name] for name in PART_ORDER},
        "harmful": harmful,
        "timeMs": {
            "median": round(median, 4),
            "p99": round(p99, 4),
            "max": round(max(timings_ms), 4),
            "perPartMedian": {part: round(value, 4) for part, value in per_part.items()},
            "perBundleMedian": {
                name: round(value, 4) for name, value in sorted(per_bundle.items())
            },
        },
    }
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Wrote {RESULT.relative_to(ROOT)}")
    if args.check and (harmful or median >= MEDIAN_BUDGET_MS):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
