"""Run every benchmark in one go and collect their results in bench/results/all.json.

Each benchmark reports medians and p99s from repeated runs and writes its own JSON file;
this script runs them one after another (never in parallel: they would skew each other on
2 cores) and merges the files. Usage: make bench  (or .venv/bin/python bench/run_all.py)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

#: (script, result file) in the order they run; a missing script is skipped with a note.
BENCHMARKS = [
    ("diagnosis_accuracy.py", "diagnosis.json"),
    ("llm_overhead.py", "llm.json"),
    ("live_diagnosis.py", "live.json"),
    ("alert_ingestion.py", "alerts.json"),
    ("failover.py", "failover.json"),
    ("mttr.py", "mttr.json"),
]


def main() -> int:
    merged: dict[str, object] = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    failed = []
    for script, result in BENCHMARKS:
        path = ROOT / "bench" / script
        if not path.exists():
            merged[script] = "not present"
            continue
        print(f"==> {script}", flush=True)
        started = time.monotonic()
        code = subprocess.run([sys.executable, str(path)], cwd=ROOT, check=False).returncode
        if code != 0:
            failed.append(script)
            merged[script] = f"failed with exit code {code}"
            continue
        merged[script] = {
            "seconds": round(time.monotonic() - started, 1),
            "results": json.loads((RESULTS / result).read_text()),
        }
    (RESULTS / "all.json").write_text(json.dumps(merged, indent=2) + "\n")
    print(f"wrote {RESULTS / 'all.json'}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
