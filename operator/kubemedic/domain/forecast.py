"""When will a series reach its limit? A forecast of the PEAKS, with an interval.

What runs out (a container's memory, a volume, a node's disk) fails when its highest values
reach the limit: GC sawtooth peaks and daily highs get there long before the mean does. So
the forecaster does not fit the mean:

1. **Period.** The dominant cycle (GC sawtooth, daily seasonality) is found from the
   autocorrelation of the detrended series (the first strong local maximum after it turned
   negative). A cycle too long for several envelope windows (a daily cycle in two days of
   data) is handled by one-cycle differences instead of steps 3-4: each point against the
   same phase one cycle earlier; the median difference is the growth, the medians of 8
   blocks of differences bound it, and the last cycle's peak is the level.
2. **Last regime.** A restart (the series falls far below its previous window's range) or a
   deploy step (it jumps far above it) that persists starts a new regime; only the last one
   is fitted: the history before it describes another process.
3. **Peak envelope.** A trailing rolling maximum over a window of at least one period,
   sampled every half window: the envelope is what the limit is compared with.
4. **Trend with uncertainty.** Theil-Sen (``scipy.stats.theilslopes``: the median of pairwise
   slopes, robust to outliers, with a confidence interval for the slope) on the envelope.
   A forecast needs the slope's lower bound above zero AND the recent half of the regime
   still rising at a good part of that rate, so warm-up-then-plateau and seasonal series do
   not raise alarms.
5. **ETA.** The envelope's level now plus slope x time meets the limit at ``eta``;
   ``eta_lower`` takes the fast slope and the high end of the envelope's scatter,
   ``eta_upper`` the slow slope and the low end (``None`` when the slow slope is not rising).

Why scipy's Theil-Sen and not statsmodels or scikit-learn (measured in
``bench/forecast_accuracy.py``): statsmodels' quantile regression fits the upper quantile
too, but its standard errors assume independent residuals, which sawtooth and seasonal
residuals are not, so its intervals are too narrow and steady series raise alarms;
scikit-learn's Theil-Sen has no confidence interval. scipy is the one library needed
(statsmodels and scikit-learn both depend on it anyway).

Pure: arrays in, a :class:`Forecast` out; "now" is the last timestamp of the series.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy import stats

from kubemedic.domain.timeseries import Series

METHOD: Final = "peak-envelope-theil-sen"
METHOD_SEASONAL: Final = "seasonal-difference-peaks"
#: One-cycle differences are split into this many blocks; their medians bound the slope.
SEASONAL_BLOCKS: Final = 8
#: Fewest points a forecast is made from.
MIN_POINTS: Final = 8
#: The envelope window is at least this share of the series (and at least one period).
MIN_WINDOW_FRACTION: Final = 1 / 48
MIN_WINDOW_POINTS: Final = 3
#: Confidence of the slope interval (two-sided).
CONFIDENCE: Final = 0.95
#: The recent half of the regime must rise at least at this share of the whole regime's rate.
RECENT_RATE_SHARE: Final = 0.3
#: A regime change: the series leaves its previous window's range by this share of the range.
CHANGE_RANGE_SHARE: Final = 0.5
#: An autocorrelation peak weaker than this is no period.
MIN_PERIOD_ACF: Final = 0.3
#: Fewest envelope samples a trend is fitted to.
MIN_ENVELOPE_SAMPLES: Final = 4

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Forecast:
    """The result: Unix seconds for the ETAs (``None``: not within the horizon)."""

    eta: float | None
    eta_lower: float | None
    eta_upper: float | None
    method: str
    reason: str
    now: float
    level_now: float | None = None
    slope_per_hour: float | None = None
    slope_interval_per_hour: tuple[float, float] | None = None
    period_seconds: float | None = None
    regime_start: float | None = None
    points: int = 0


def detect_period(values: FloatArray) -> int | None:
    """The dominant cycle in points (autocorrelation of the detrended series), or None."""
    n = len(values)
    if n < 12:
        return None
    x = np.arange(n, dtype=np.float64)
    slope, intercept = np.polyfit(x, values, 1)
    residual = values - (slope * x + intercept)
    residual -= residual.mean()
    power = float(np.dot(residual, residual))
    if power <= 0:
        return None
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(residual, size)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), size)[:n] / power
    top = n // 2
    # NB: a cycle's peak comes after the autocorrelation has gone negative; maxima before
    # that are noise on the slope of the first lags.
    negative = np.nonzero(acf[1:top] < 0)[0]
    if not len(negative):
        return None
    peaks = [
        lag
        for lag in range(max(2, int(negative[0]) + 1), top)
        if acf[lag] > MIN_PERIOD_ACF and acf[lag] >= acf[lag - 1] and acf[lag] >= acf[lag + 1]
    ]
    if not peaks:
        return None
    strongest = max(acf[lag] for lag in peaks)
    # NB: the first peak nearly as strong as the strongest is the fundamental; its multiples
    # correlate as well.
    return next(lag for lag in peaks if acf[lag] >= 0.8 * strongest)


def regime_start(values: FloatArray, window: int) -> int:
    """Index where the last persistent restart or step begins (0: no change)."""
    n = len(values)
    persist = max(2, window // 2)
    if n < window + persist + 1:
        return 0
    windows = np.lib.stride_tricks.sliding_window_view(values, window)
    scale = float(np.median(np.abs(values))) or 1.0
    for i in range(n - persist, window - 1, -1):
        previous = windows[i - window]
        low, high = float(previous.min()), float(previous.max())
        margin = CHANGE_RANGE_SHARE * (high - low) + 0.01 * scale
        ahead = values[i : i + persist]
        if bool(np.all(ahead > high + margin)) or bool(np.all(ahead < low - margin)):
            return i
    return 0


def _envelope(times: FloatArray, values: FloatArray, window: int) -> tuple[FloatArray, FloatArray]:
    """Trailing rolling maximum over ``window`` points, sampled every half window."""
    stride = max(1, window // 2)
    ends = np.arange(len(values) - 1, window - 2, -stride)[::-1]
    peaks = np.array([values[e - window + 1 : e + 1].max() for e in ends], dtype=np.float64)
    return times[ends], peaks


def _seasonal_difference(
    times: FloatArray,
    values: FloatArray,
    *,
    period: int,
    limit: float,
    horizon: float,
    now: float,
    points: int,
    common: dict[str, Any],
) -> Forecast:
    """Trend from one-cycle differences; the last cycle's peak is the level it starts from."""
    span = float(times[period] - times[0])
    growth = values[period:] - values[:-period]
    blocks = [float(np.median(b)) for b in np.array_split(growth, SEASONAL_BLOCKS) if len(b)]
    slope, low, high = (
        3600.0 * g / span for g in (float(np.median(growth)), min(blocks), max(blocks))
    )
    peak_at = len(values) - period + int(np.argmax(values[-period:]))
    peak = float(values[peak_at])
    fitted = {
        **common,
        "level_now": peak,
        "slope_per_hour": slope,
        "slope_interval_per_hour": (low, high),
    }

    last_times, last_values = times[-period:], values[-period:]

    def at(rate: float) -> float:
        # NB: the last cycle's shape, raised by the growth per cycle, is projected forward: the
        # limit is met on the rise of the first cycle whose peak reaches it.
        per_cycle = rate * span / 3600.0
        cycles = max(1, math.ceil((limit - peak) / per_cycle))
        first = int(np.argmax(last_values + cycles * per_cycle >= limit))
        return max(now, float(last_times[first]) + cycles * span)

    # NB: ``at`` divides by the growth, so it is called only once the growth is known positive.
    eta = at(slope) if low > 0 else None
    bounds: tuple[float | None, float | None]
    if eta is None:
        bounds, reason = (None, None), "no consistent growth from one cycle to the next"
    elif eta - now > horizon:
        eta, bounds, reason = None, (None, None), "the limit is not reached within the horizon"
    else:
        bounds, reason = (at(high), at(low)), "the cycle's peaks rise towards the limit"
    return Forecast(
        eta=eta,
        eta_lower=bounds[0],
        eta_upper=bounds[1],
        method=METHOD_SEASONAL,
        now=now,
        reason=reason,
        points=points,
        **fitted,
    )


def forecast_crossing(series: Series, *, limit: float, horizon_seconds: float) -> Forecast:
    """When the series' peaks reach ``limit``, if within ``horizon_seconds`` of its end."""
    times = np.asarray(series.timestamps, dtype=np.float64)
    values = np.asarray(series.values, dtype=np.float64)
    now = float(times[-1])

    def none(reason: str, **extra: object) -> Forecast:
        return Forecast(
            eta=None,
            eta_lower=None,
            eta_upper=None,
            method=METHOD,
            reason=reason,
            now=now,
            points=len(values),
            **extra,  # type: ignore[arg-type]
        )

    if len(values) < MIN_POINTS:
        return none(f"too few points ({len(values)}; at least {MIN_POINTS} needed)")
    period = detect_period(values)
    window = max(MIN_WINDOW_POINTS, period or 0, math.ceil(len(values) * MIN_WINDOW_FRACTION))
    window = min(window, max(MIN_WINDOW_POINTS, len(values) // 3))
    step = float(np.median(np.diff(times)))
    period_seconds = period * step if period else None
    start = regime_start(values, window)
    regime_times, regime_values = times[start:], values[start:]
    common = {"period_seconds": period_seconds, "regime_start": float(times[start])}
    if regime_values.max() >= limit:
        return Forecast(
            eta=now,
            eta_lower=now,
            eta_upper=now,
            method=METHOD,
            reason="the limit is already reached",
            now=now,
            level_now=float(regime_values[-window:].max()),
            points=len(values),
            **common,  # type: ignore[arg-type]
        )
    if period and period > window and len(regime_values) >= 2 * period:
        # NB: a cycle too long for several envelope windows (a daily cycle in 2 days of
        # data): compare each point with the same phase one cycle earlier instead.
        return _seasonal_difference(
            regime_times,
            regime_values,
            period=period,
            limit=limit,
            horizon=horizon_seconds,
            now=now,
            points=len(values),
            common=common,
        )
    env_times, env_values = _envelope(regime_times, regime_values, window)
    if len(env_values) < MIN_ENVELOPE_SAMPLES:
        return none("too little data since the last restart or step", **common)
    hours = (env_times - now) / 3600.0
    fit = stats.theilslopes(env_values, hours, alpha=CONFIDENCE)
    slope, level_now = float(fit.slope), float(fit.intercept)
    low, high = float(fit.low_slope), float(fit.high_slope)
    residual = env_values - (level_now + slope * hours)
    scatter = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
    fitted = {
        **common,
        "level_now": level_now,
        "slope_per_hour": slope,
        "slope_interval_per_hour": (low, high),
    }
    if low <= 0:
        return none("no significant upward trend in the peaks", **fitted)
    half = len(env_values) // 2
    if len(env_values) - half >= MIN_ENVELOPE_SAMPLES:
        recent = stats.theilslopes(env_values[half:], hours[half:], alpha=CONFIDENCE)
        if float(recent.slope) < RECENT_RATE_SHARE * slope:
            return none("the peaks stopped rising recently (a plateau)", **fitted)
        if float(recent.low_slope) > slope:
            # NB: growth that accelerates: the recent rate is the one that reaches the limit.
            slope, level_now = float(recent.slope), float(recent.intercept)
            low, high = float(recent.low_slope), float(recent.high_slope)
            residual = env_values[half:] - (level_now + slope * hours[half:])
            scatter = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
            fitted |= {
                "level_now": level_now,
                "slope_per_hour": slope,
                "slope_interval_per_hour": (low, high),
            }
    headroom = limit - level_now
    eta = now + 3600.0 * max(0.0, headroom) / slope
    if eta - now > horizon_seconds:
        return none("the limit is not reached within the horizon", **fitted)
    eta_lower = now + 3600.0 * max(0.0, headroom - scatter) / high
    eta_upper = now + 3600.0 * (headroom + scatter) / low
    return Forecast(
        eta=eta,
        eta_lower=eta_lower,
        eta_upper=eta_upper,
        method=METHOD,
        reason="the peaks rise towards the limit",
        now=now,
        points=len(values),
        **fitted,  # type: ignore[arg-type]
    )
