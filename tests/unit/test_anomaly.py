"""Online anomaly detection (domain/anomaly.py) and ``kubemedic detect``.

We test these aspects:
- a spike in a noisy seasonal series is found, at the spike, once;
- a steady seasonal series (many cycles) and a level shift after a deploy yield at most one
  finding each (one episode is one finding), and the shift's finding is at the shift;
- online: the decision for a point does not change when later points are added;
- bad configuration is refused; non-finite values are skipped;
- the CLI prints the JSON contract from CSV and Prometheus JSON, and exits 2 on a bad file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kubemedic import cli
from kubemedic.domain.anomaly import OnlineDetector, detect

START = 1_700_000_000.0
STEP = 300.0  # five minutes: 288 points a day


def seasonal(n: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100 + 30 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 2, n)


def stamps(n: int) -> tuple[float, ...]:
    return tuple(START + STEP * np.arange(n))


def test_spike_found_once_at_the_spike() -> None:
    values = seasonal(3000)
    values[2500:2503] += 80
    findings = detect(stamps(3000), tuple(values))
    assert [f.index for f in findings] == [2500]
    assert findings[0].score > 0


def test_steady_seasonal_series_is_quiet() -> None:
    values = seasonal(4000, seed=5)
    assert len(detect(stamps(4000), tuple(values))) <= 1


def test_level_shift_is_one_finding_at_the_shift() -> None:
    values = seasonal(4000, seed=11)
    values[2000:] += 60
    findings = detect(stamps(4000), tuple(values))
    assert len(findings) == 1
    assert 2000 <= findings[0].index < 2050


def test_online_decisions_do_not_depend_on_the_future() -> None:
    values = seasonal(3000, seed=8)
    values[1500] += 100
    values[2600:] += 50
    full = detect(stamps(3000), tuple(values))
    prefix = detect(stamps(2000), tuple(values[:2000]))
    assert [f for f in full if f.index < 2000] == prefix


def test_non_finite_values_are_skipped() -> None:
    values = list(seasonal(600))
    values[300] = float("nan")
    detector = OnlineDetector(warmup=10)
    findings = [detector.update(v, 0.0) for v in values]
    assert findings[300] is None


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        OnlineDetector(threshold=0)


def test_cli_contract_csv_and_prometheus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = seasonal(3000)
    values[2500] += 90
    times = stamps(3000)
    csv_path = tmp_path / "cpu.csv"
    csv_path.write_text(
        "timestamp,value\n" + "\n".join(f"{t:.0f},{v}" for t, v in zip(times, values, strict=True)),
        encoding="utf-8",
    )
    assert cli.main(["detect", "--series", str(csv_path), "-o", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["anomalies"] == [
        {"timestamp": out["anomalies"][0]["timestamp"], "score": out["anomalies"][0]["score"]}
    ]
    assert out["anomalies"][0]["timestamp"] == "2023-11-23T14:33:20Z"
    prom_path = tmp_path / "cpu.json"
    answer = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {"pod": "a"},
                    "values": [[t, str(v)] for t, v in zip(times, values, strict=True)],
                }
            ],
        },
    }
    prom_path.write_text(json.dumps(answer), encoding="utf-8")
    assert cli.main(["detect", "--series", str(prom_path), "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["anomalies"] == out["anomalies"]


def test_cli_bad_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"data": {"result": [{"values": [[1, "x"]]}]}}', encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        cli.main(["detect", "--series", str(path)])
    assert exc.value.code == 2
    assert "'x' is not a number" in capsys.readouterr().err
