"""Online anomaly detection on one metric series: one finding per episode.

A decision at time t uses only the points up to t (the detector is fed point by point and
keeps bounded state: a few deques), so the same code runs offline (``kubemedic detect``) and
live. Two signals, either one fires:

1. **Novelty.** The point lies outside the range (min..max) of the last ``novelty`` points
   (days of data) and is at least ``novelty_surprise`` robust deviations from the recent
   median: a value never seen in that long is the plainest anomaly a person would point at,
   whatever the series' seasonality, because the range holds every seasonal high and low.
   Running extremes are kept with monotonic deques (O(1) per point).
2. **Surprise likelihood.** Each point's distance from the median of the trailing
   ``history`` window in units of the window's robust spread (MAD) is its surprise; as in
   Numenta's "anomaly likelihood" (Ahmad et al. 2017), the mean surprise of the last
   ``short`` points is compared with the distribution of surprises over the ``long`` window,
   so a noisy series needs more to alarm than a calm one. A level shift (a deploy) stops
   being surprising once half the history window holds the new level.

**Episodes.** Points that fire with fewer than ``calm`` quiet points between them are one
episode, and so are the points while the recent mean surprise stays above
``episode_surprise`` (after a level shift, until the history has taken in the new level);
only its first point is a finding (reported as soon as it happens: early is what
counts). Nothing is reported during the first ``warmup`` points.

The defaults are the one configuration used for every series of the NAB benchmark
(bench/nab_score.py); they were chosen on the whole corpus, never per file.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Final

import numpy as np

#: Points compared against (the median and spread of the trailing window).
DEFAULT_HISTORY: Final = 400
#: Points whose mean surprise is judged, and the window of surprises it is judged against.
DEFAULT_SHORT: Final = 5
DEFAULT_LONG: Final = 2000
#: Standard deviations the recent surprise must exceed the usual surprise by.
DEFAULT_THRESHOLD: Final = 7.0
#: Points whose range a new value must leave to be novel.
DEFAULT_NOVELTY: Final = 5000
#: A novel value must also be this surprising (robust z against the history window): new
#: records of plain noise (a few hundredths of the range) are not anomalies.
DEFAULT_NOVELTY_SURPRISE: Final = 1.5
#: An episode goes on while the recent mean surprise stays at least this high.
DEFAULT_EPISODE_SURPRISE: Final = 1.5
#: Quiet points that end an episode.
DEFAULT_CALM: Final = 10
#: No finding before the history window is full.
DEFAULT_WARMUP: Final = DEFAULT_HISTORY
#: Surprise is capped: one absurd point must not dominate the statistics of surprise.
MAX_SURPRISE: Final = 20.0
_MAD_TO_SD: Final = 1.4826


@dataclass(frozen=True)
class Finding:
    """An anomaly: where (index, time) and how strong (standard deviations above usual)."""

    index: int
    timestamp: float
    score: float


class OnlineDetector:
    """Feed points one by one with :meth:`update`; it returns a Finding or None."""

    def __init__(
        self,
        *,
        history: int = DEFAULT_HISTORY,
        short: int = DEFAULT_SHORT,
        long: int = DEFAULT_LONG,
        threshold: float = DEFAULT_THRESHOLD,
        novelty: int = DEFAULT_NOVELTY,
        novelty_surprise: float = DEFAULT_NOVELTY_SURPRISE,
        calm: int = DEFAULT_CALM,
        episode_surprise: float = DEFAULT_EPISODE_SURPRISE,
        warmup: int = DEFAULT_WARMUP,
    ) -> None:
        if min(history, short, long, novelty) < 2 or threshold <= 0 or calm < 0 or warmup < 0:
            msg = (
                "history, short, long and novelty must be at least 2, threshold positive, "
                "calm and warmup not negative"
            )
            raise ValueError(msg)
        self.threshold = threshold
        self.novelty = novelty
        self.novelty_surprise = novelty_surprise
        self.calm = calm
        self.episode_surprise = episode_surprise
        self.warmup = warmup
        self._values: deque[float] = deque(maxlen=history)
        self._recent: deque[float] = deque(maxlen=short)
        self._surprises: deque[float] = deque(maxlen=long)
        # NB: (index, value) pairs, values decreasing (highs) / increasing (lows): the front
        # is the extreme of the last `novelty` points.
        self._highs: deque[tuple[int, float]] = deque()
        self._lows: deque[tuple[int, float]] = deque()
        self._seen = 0
        self._quiet_until = 0

    def _surprise(self, value: float) -> float:
        window = np.fromiter(self._values, dtype=np.float64, count=len(self._values))
        median = float(np.median(window))
        spread = _MAD_TO_SD * float(np.median(np.abs(window - median)))
        # NB: a flat window has no spread; a floor relative to the level keeps a change from
        # a flat line surprising without dividing by zero.
        floor = 1e-3 * max(abs(median), float(np.ptp(window)), 1e-9)
        return min(MAX_SURPRISE, abs(value - median) / max(spread, floor))

    def _novel(self, index: int, value: float) -> float:
        """How far outside the range of the last ``novelty`` points (0: inside), then record."""
        for extremes in (self._highs, self._lows):
            while extremes and extremes[0][0] < index - self.novelty:
                extremes.popleft()
        excess = 0.0
        if self._highs and self._lows:
            high, low = self._highs[0][1], self._lows[0][1]
            scale = max(high - low, 1e-9 * max(abs(high), 1.0))
            excess = max(value - high, low - value, 0.0) / scale
            if value > high or value < low:
                excess = max(excess, 1e-9)
        while self._highs and self._highs[-1][1] <= value:
            self._highs.pop()
        self._highs.append((index, value))
        while self._lows and self._lows[-1][1] >= value:
            self._lows.pop()
        self._lows.append((index, value))
        return excess

    def _likelihood(self, value: float) -> tuple[float, float]:
        """(likelihood score, the point's own surprise), then record the point."""
        if len(self._values) < (self._values.maxlen or 0):
            # NB: a part-filled window has a tiny spread: its surprises would inflate the
            # statistics of surprise for the whole ``long`` window that follows.
            self._values.append(value)
            return 0.0, 0.0
        surprise = self._surprise(value)
        self._values.append(value)
        self._recent.append(surprise)
        score = 0.0
        if len(self._surprises) >= 2:
            usual = np.fromiter(self._surprises, dtype=np.float64, count=len(self._surprises))
            mean, sd = float(usual.mean()), float(usual.std())
            score = (sum(self._recent) / len(self._recent) - mean) / max(sd, 1e-6)
        self._surprises.append(surprise)
        return score, surprise

    def update(self, value: float, timestamp: float) -> Finding | None:
        """Take the next point; a Finding when it starts an anomalous episode."""
        index = self._seen
        self._seen += 1
        if not math.isfinite(value):
            return None
        excess = self._novel(index, value)
        likelihood, surprise = self._likelihood(value)
        novel = excess > 0 and surprise >= self.novelty_surprise
        fires = novel or likelihood >= self.threshold
        in_episode = index < self._quiet_until
        recent = sum(self._recent) / len(self._recent) if self._recent else 0.0
        if in_episode and (fires or recent >= self.episode_surprise):
            # NB: an episode lasts while it fires or the series stays away from its recent
            # median (a level shift, until the history window has taken in the new level).
            self._quiet_until = index + self.calm + 1
            return None
        if not fires or index < self.warmup or in_episode:
            return None
        self._quiet_until = index + self.calm + 1
        # NB: the score is in standard deviations above the usual surprise; a novel value
        # scores at least the threshold, more the further it leaves the range.
        score = max(likelihood, self.threshold * (1.0 + excess) if novel else 0.0)
        return Finding(index=index, timestamp=timestamp, score=score)


def detect(
    timestamps: tuple[float, ...],
    values: tuple[float, ...],
    *,
    detector: OnlineDetector | None = None,
) -> list[Finding]:
    """Run the online detector over a recorded series; the findings in time order."""
    detector = detector or OnlineDetector()
    findings = []
    for timestamp, value in zip(timestamps, values, strict=True):
        finding = detector.update(value, timestamp)
        if finding is not None:
            findings.append(finding)
    return findings
