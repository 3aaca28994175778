"""Series files (domain/timeseries.py), the peak forecaster (domain/forecast.py), ``forecast``.

We test these aspects:
- CSV (ISO or Unix timestamps) and Prometheus range-query JSON parse; bad files name the
  line or field; durations parse and bad ones are refused;
- a linear leak gets an ETA close to the true crossing, inside its interval;
- with a GC sawtooth the PEAKS decide: the ETA is when the peaks (not the mean) cross;
- steady series raise no alarm: flat, sawtooth without trend, a deploy step, warm-up then
  plateau; a restart starts a new regime;
- a daily cycle in two days of data: no alarm without growth, and with growth the ETA is
  when the projected daily peaks reach the limit;
- the CLI prints the JSON contract, null when not within the horizon, accepts quantities and
  exits 2 on a bad limit, horizon or file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kubemedic import cli
from kubemedic.domain.forecast import detect_period, forecast_crossing
from kubemedic.domain.timeseries import Series, SeriesError, parse_duration, parse_series

START = 1_700_000_000.0
MINUTE = 60.0
WEEK = 7 * 86400.0


def series(values: np.ndarray) -> Series:
    return Series(timestamps=tuple(START + MINUTE * np.arange(len(values))), values=tuple(values))


def test_csv_and_prometheus_parse() -> None:
    csv_text = "timestamp,value\n2024-01-01T00:01:00Z,2\n2024-01-01T00:00:00Z,1\n\n"
    parsed = parse_series(csv_text, source="a.csv")
    assert parsed.values == (1.0, 2.0)
    assert parsed.timestamps[1] - parsed.timestamps[0] == 60
    unix = parse_series("timestamp,value\n10,1\n20,3\n", source="b.csv")
    assert unix.timestamps == (10.0, 20.0)
    answer = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": {}, "values": [[1, "5"], [2, "6"]]}],
        },
    }
    assert parse_series(json.dumps(answer), source="c.json").values == (5.0, 6.0)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("time,val\n1,2\n", "header must be 'timestamp,value'"),
        ("timestamp,value\n1,2\nyesterday,3\n", "line 3"),
        ("timestamp,value\n1,abc\n2,3\n", "'abc' is not a number"),
        ("timestamp,value\n1,2\n", "at least 2 points"),
        ('{"data": {"result": []}}', "exactly one series"),
        ('{"status": "error", "error": "bad query"}', "bad query"),
        ("{not json", "not valid JSON"),
        ("", "empty"),
    ],
)
def test_bad_series_files_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(SeriesError, match=r"x\.csv") as exc:
        parse_series(text, source="x.csv")
    assert fragment in str(exc.value)


def test_durations() -> None:
    assert parse_duration("7d") == 7 * 86400
    assert parse_duration("1d12h") == 36 * 3600
    for bad in ("", "7", "seven days", "0h"):
        with pytest.raises(SeriesError):
            parse_duration(bad)


def test_linear_leak_eta_close_and_inside_interval() -> None:
    rng = np.random.default_rng(1)
    minutes = np.arange(2880)
    values = 200 + 0.1 * minutes + rng.normal(0, 1, len(minutes))  # 6 per hour
    result = forecast_crossing(series(values), limit=600, horizon_seconds=WEEK)
    assert result.eta is not None
    true_eta = START + MINUTE * (600 - 200) / 0.1
    hours_off = abs(result.eta - true_eta) / 3600
    assert hours_off < 3  # of ~19 h ahead
    assert result.eta_lower is not None
    assert result.eta_lower <= result.eta
    assert result.eta_upper is None or result.eta_upper >= result.eta


def test_sawtooth_peaks_decide() -> None:
    minutes = np.arange(2880)
    trend = 200 + 0.02 * minutes
    values = trend + 60 * ((minutes % 20) / 20)  # GC every 20 minutes, peaks 57 above trend
    assert detect_period(values) == 20
    result = forecast_crossing(series(values), limit=400, horizon_seconds=WEEK)
    assert result.eta is not None
    peaks_eta = START + MINUTE * (400 - 257) / 0.02
    mean_eta = START + MINUTE * (400 - 230) / 0.02
    assert abs(result.eta - peaks_eta) < abs(result.eta - mean_eta)
    assert abs(result.eta - peaks_eta) / 3600 < 2


@pytest.mark.parametrize(
    "shape",
    ["flat", "sawtooth", "deploy_step", "warmup_plateau", "restart_then_flat"],
)
def test_steady_series_raise_no_alarm(shape: str) -> None:
    rng = np.random.default_rng(7)
    minutes = np.arange(2880).astype(float)
    noise = rng.normal(0, 2, len(minutes))
    values = {
        "flat": 300 + noise,
        "sawtooth": 300 + 50 * ((minutes % 15) / 15) + noise,
        "deploy_step": 300 + np.where(minutes > 2000, 120, 0) + noise,
        "warmup_plateau": 300 + 150 * (1 - np.exp(-minutes / 240)) + noise,
        "restart_then_flat": np.where(minutes < 1000, 200 + 0.2 * minutes, 310) + noise,
    }[shape]
    result = forecast_crossing(series(values), limit=values.max() * 1.3, horizon_seconds=WEEK)
    assert result.eta is None, result.reason


def test_restart_starts_a_new_regime() -> None:
    minutes = np.arange(2880).astype(float)
    # a fast leak that restarted at minute 2000, then leaks slowly
    values = np.where(minutes < 2000, 100 + 0.3 * minutes, 100 + 0.05 * (minutes - 2000))
    result = forecast_crossing(series(values), limit=800, horizon_seconds=WEEK)
    assert result.regime_start == START + MINUTE * 2000
    assert result.slope_per_hour == pytest.approx(3.0, rel=0.05)


def test_already_over_the_limit_is_now() -> None:
    values = np.linspace(100, 200, 100)
    result = forecast_crossing(series(values), limit=150, horizon_seconds=WEEK)
    assert result.eta == result.now


def test_cli_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mem.csv"
    minutes = np.arange(600)
    rows = [f"{START + 60 * m:.0f},{100 * 2**20 + m * 2**16}" for m in minutes]
    path.write_text("timestamp,value\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert cli.main(["forecast", "--series", str(path), "--limit", "512Mi", "-o", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"eta", "eta_lower", "eta_upper", "method"} <= set(out)
    assert out["eta"].endswith("Z")
    # 100Mi + 64Ki a minute reaches 512Mi after 6592 minutes from the start
    expected = START + 60 * 6592
    from kubemedic.domain.timeseries import parse_timestamp  # noqa: PLC0415

    assert abs(parse_timestamp(out["eta"]) - expected) < 3600
    assert (
        cli.main(
            ["forecast", "--series", str(path), "--limit", "512Mi", "--horizon", "1h", "-o", "json"]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["eta"] is None
    assert out["eta_lower"] is None


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--limit", "12xyz"], "--limit '12xyz'"),
        (["--limit", "1Gi", "--horizon", "soon"], "--horizon"),
    ],
)
def test_cli_bad_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    path = tmp_path / "s.csv"
    path.write_text("timestamp,value\n1,1\n2,2\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        cli.main(["forecast", "--series", str(path), *argv])
    assert exc.value.code == 2
    assert fragment in capsys.readouterr().err


def test_cli_bad_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.csv"
    path.write_text("when,what\n1,1\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        cli.main(["forecast", "--series", str(path), "--limit", "1"])
    assert exc.value.code == 2
    assert "timestamp,value" in capsys.readouterr().err


def test_daily_cycle_in_two_days() -> None:
    """A cycle too long for envelope windows: one-cycle differences decide."""
    rng = np.random.default_rng(4)
    minutes = np.arange(2880).astype(float)
    cycle = 60 * np.sin(2 * np.pi * minutes / 1440)
    flat = 400 + cycle + rng.normal(0, 3, len(minutes))
    steady = forecast_crossing(series(flat), limit=flat.max() * 1.3, horizon_seconds=WEEK)
    assert steady.eta is None, steady.reason
    leak = flat + 0.05 * minutes  # 3 per hour
    result = forecast_crossing(series(leak), limit=700, horizon_seconds=WEEK)
    assert result.method == "seasonal-difference-peaks"
    assert result.slope_per_hour == pytest.approx(3.0, rel=0.15)
    # the daily peaks (level + 60) reach 700 first: the trend line alone would be later
    minute = np.arange(2880, 2880 + 7 * 1440).astype(float)
    clean = 400 + 60 * np.sin(2 * np.pi * minute / 1440) + 0.05 * minute
    truth = START + MINUTE * minute[np.argmax(clean >= 700)]
    assert result.eta is not None
    assert abs(result.eta - truth) / 3600 < 12
