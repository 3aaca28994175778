"""Forecast benchmark: ETA error on leaking series, false alarms on steady ones (synthetic, hard).

Run: ``.venv/bin/python bench/forecast_accuracy.py [--seeds 20] [--baselines]``.

The set: 2 days of history at one point a minute, 7-day horizon, ``--seeds`` random draws
of each kind (slopes, noise, periods, amplitudes and limits drawn at random per seed).

Leaking kinds (the limit is placed so the noise-free PEAKS reach it 4 h to 5 days ahead):
``linear`` (trend + noise), ``sawtooth`` (GC sawtooth whose peaks rise), ``seasonal``
(daily cycle on a trend), ``restarts`` (OOM-kill style resets, then the same leak),
``step_then_leak`` (a deploy step, then a leak), ``accelerating`` (quadratic growth).
Steady kinds (the limit is 1.15-2x the highest value seen; no crossing exists):
``flat``, ``seasonal_flat``, ``sawtooth_flat``, ``deploy_step`` (a step up, then flat),
``warmup_plateau`` (saturating growth, then flat), ``restarts_flat`` (resets, no leak).

Truth: the noise-free model is run forward minute by minute; the true crossing is the first
minute its value reaches the limit. Reported per kind: detection rate (an ETA within the
horizon), median and p90 of |ETA - truth| / (truth - now), interval coverage (truth inside
[eta_lower, eta_upper]); for steady kinds the false-alarm rate. ``--baselines`` also runs
the mean trend (statsmodels OLS) and an upper-quantile trend (statsmodels QuantReg, q=0.95)
on the whole series, alarming when the slope's 95 % lower bound is above zero and the
line reaches the limit within the horizon.

Writes bench/results/forecast.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Final

import numpy as np

ROOT: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "operator"))

from kubemedic.domain.forecast import forecast_crossing
from kubemedic.domain.timeseries import Series

RESULT: Final = ROOT / "bench" / "results" / "forecast.json"
STEP: Final = 60.0
HISTORY: Final = 2 * 86400.0
HORIZON: Final = 7 * 86400.0
DAY: Final = 86400.0

Model = Callable[[np.ndarray], np.ndarray]


def _sawtooth(t: np.ndarray, period: float) -> np.ndarray:
    return (t % period) / period


def make_case(kind: str, rng: np.random.Generator) -> tuple[Model, float, bool]:
    """(noise-free model, noise sd, leaking?) for one draw of a kind; values ~ hundreds of MiB."""
    base = rng.uniform(200, 400)
    slope = rng.uniform(2, 12) / 3600.0  # MiB per second (2-12 MiB/h)
    noise = rng.uniform(1, 6)
    gc = rng.uniform(5, 30) * 60.0
    amp = rng.uniform(20, 80)
    phase = rng.uniform(0, DAY)
    if kind == "linear":
        return (lambda t: base + slope * t), noise, True
    if kind == "sawtooth":
        return (lambda t: base + slope * t + amp * _sawtooth(t, gc)), noise, True
    if kind == "seasonal":
        return (
            (lambda t: base + slope * t + amp * np.sin(2 * np.pi * (t + phase) / DAY)),
            noise,
            True,
        )
    if kind == "restarts":
        # NB: restarts (crashes, deploys) at two random times; the last at least 6 h ago.
        first, last = sorted(rng.uniform(0.1, 1.0, 2) * (HISTORY - 6 * 3600))
        fast = slope * 3

        def restarting(t: np.ndarray) -> np.ndarray:
            since = np.where(t >= last, t - last, np.where(t >= first, t - first, t))
            return base + fast * since

        return restarting, noise, True
    if kind == "step_then_leak":
        at = rng.uniform(0.3, 0.6) * HISTORY
        return (lambda t: base + np.where(t > at, 80 + slope * (t - at), 0.0)), noise, True
    if kind == "accelerating":
        return (lambda t: base + slope * t * (1 + t / HISTORY)), noise, True
    if kind == "flat":
        return (lambda t: base + 0 * t), noise, False
    if kind == "seasonal_flat":
        return (lambda t: base + amp * np.sin(2 * np.pi * (t + phase) / DAY)), noise, False
    if kind == "sawtooth_flat":
        return (lambda t: base + amp * _sawtooth(t, gc)), noise, False
    if kind == "deploy_step":
        at = rng.uniform(0.5, 0.9) * HISTORY
        height = rng.uniform(50, 150)
        return (lambda t: base + np.where(t > at, height, 0.0)), noise, False
    if kind == "warmup_plateau":
        tau = rng.uniform(2, 6) * 3600.0
        return (lambda t: base + 150 * (1 - np.exp(-t / tau))), noise, False
    if kind == "restarts_flat":
        every = rng.uniform(6, 12) * 3600.0
        return (lambda t: base + 60 * np.minimum(1.0, (t % every) / 1800.0)), noise, False
    raise ValueError(kind)


LEAKING: Final = ("linear", "sawtooth", "seasonal", "restarts", "step_then_leak", "accelerating")
STEADY: Final = (
    "flat",
    "seasonal_flat",
    "sawtooth_flat",
    "deploy_step",
    "warmup_plateau",
    "restarts_flat",
)


def draw(kind: str, seed: int) -> tuple[Series, float, float | None]:
    """(series, limit, true crossing in Unix seconds or None)."""
    rng = np.random.default_rng([seed, zlib.crc32(kind.encode())])
    model, noise, leaking = make_case(kind, rng)
    t = np.arange(0.0, HISTORY + STEP, STEP)
    values = model(t) + rng.normal(0, noise, len(t))
    future = np.arange(HISTORY + STEP, HISTORY + 2 * HORIZON, STEP)
    clean_future = model(future)
    if leaking:
        lead = rng.uniform(4 * 3600, 5 * DAY)
        limit = float(model(np.array([HISTORY + lead]))[0])
        # NB: the peaks may reach it earlier than the trend point does: truth is the peaks.
        # With restarts, only the current run counts (earlier runs may have gone higher).
        recent = values[t >= HISTORY - 4 * 3600] if kind == "restarts" else values
        limit = max(limit, float(recent.max()) + 3 * noise)
        crossing = (
            future[np.argmax(clean_future >= limit)] if (clean_future >= limit).any() else None
        )
    else:
        limit = float(values.max()) * rng.uniform(1.15, 2.0)
        crossing = None
    start = 1.7e9
    series = Series(timestamps=tuple(start + t), values=tuple(values))
    return series, limit, None if crossing is None else start + float(crossing)


def baseline(series: Series, limit: float, *, quantile: float | None) -> float | None:
    import statsmodels.api as sm  # noqa: PLC0415

    t = (np.asarray(series.timestamps) - series.timestamps[-1]) / 3600.0
    y = np.asarray(series.values)
    x = sm.add_constant(t)
    fit = sm.OLS(y, x).fit() if quantile is None else sm.QuantReg(y, x).fit(q=quantile)
    level, slope = fit.params
    low = fit.conf_int(0.05)[1][0]
    if low <= 0 or slope <= 0:
        return None
    eta = series.timestamps[-1] + 3600 * max(0.0, limit - level) / slope
    return eta if eta - series.timestamps[-1] <= HORIZON else None


def ours(series: Series, limit: float) -> tuple[float | None, float | None, float | None]:
    result = forecast_crossing(series, limit=limit, horizon_seconds=HORIZON)
    return result.eta, result.eta_lower, result.eta_upper


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--baselines", action="store_true", help="also statsmodels OLS, QuantReg")
    args = parser.parse_args()
    methods: dict[str, Callable[[Series, float], tuple[float | None, float | None, float | None]]]
    methods = {"kubemedic": ours}
    if args.baselines:
        methods["ols_mean"] = lambda s, lim: (baseline(s, lim, quantile=None), None, None)
        methods["quantreg_95"] = lambda s, lim: (baseline(s, lim, quantile=0.95), None, None)
    report: dict[str, dict[str, object]] = {}
    for name, method in methods.items():
        rows: dict[str, object] = {}
        started = time.process_time()
        calls = 0
        for kind in LEAKING + STEADY:
            errors, covered, detected, alarms = [], 0, 0, 0
            for seed in range(args.seeds):
                series, limit, truth = draw(kind, seed)
                eta, lower, upper = method(series, limit)
                calls += 1
                now = series.timestamps[-1]
                if truth is None:
                    alarms += eta is not None
                    continue
                if truth - now > HORIZON:
                    continue
                if eta is None:
                    continue
                detected += 1
                errors.append(abs(eta - truth) / (truth - now))
                if lower is not None and upper is not None and lower <= truth <= upper:
                    covered += 1
            if kind in STEADY:
                rows[kind] = {"false_alarm_rate": round(alarms / args.seeds, 3)}
            else:
                rows[kind] = {
                    "detection_rate": round(detected / args.seeds, 3),
                    "median_relative_eta_error": round(float(statistics.median(errors)), 3)
                    if errors
                    else None,
                    "p90_relative_eta_error": round(float(np.percentile(errors, 90)), 3)
                    if errors
                    else None,
                    "interval_coverage": round(covered / detected, 3)
                    if detected and name == "kubemedic"
                    else None,
                }
        cpu = time.process_time() - started
        rows["cpu_ms_per_series"] = round(1000 * cpu / calls, 2)
        report[name] = rows
        print(f"== {name}")
        for kind, row in rows.items():
            print(f"  {kind:<16} {row}")
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps({"seeds": args.seeds, "methods": report}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
