"""The spike detector's model of one series: a River anomaly detector in a ``QuantileFilter``.

``SeasonalSpend`` follows River's anomaly-detector protocol. Its expectation of spend per
minute is the larger of a short-term level (an exponentially weighted mean, gaps counted
as zero) and the time-of-day profile (``profile.py``); its noise is the exponentially
weighted variance around the level. ``score_one`` is the one-sided standardised excess of
a minute's spend over the expectation (0 for a drop, capped at ``SCORE_CAP``).

A River ``QuantileFilter`` (``quantile_filter.py``) around it keeps the ``THRESHOLD_Q``
quantile of the scores of the minutes no spike was reported on (River's P² estimator):
the series' own robust threshold. A series whose unreported minutes often score high
(rises of almost the ``ratio`` or almost the dollar floor) is held to that threshold where
it is above the configured ``z`` (up to 1.5 times ``z``: ``quantile_filter.spreads``); a
steady one keeps ``z``. Reported minutes stay out, so an incident never raises the bar
for the next one.

>>> model = new_model()
>>> for minute in range(120):
...     model.learn_one({"minute": minute, "spend": 100.0 + minute % 3}, alpha=0.1)
>>> round(model.anomaly_detector.expect(120))
101
>>> model.anomaly_detector.score_one({"minute": 120, "spend": 50.0})  # one-sided
0.0
>>> model.anomaly_detector.score_one({"minute": 120, "spend": 1e6}) == SCORE_CAP
True
>>> from detectors.quantile_filter import threshold
>>> 0 < threshold(model) < SCORE_CAP
True
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

from river.base import AnomalyDetector

from detectors.config import SpikeConfig
from detectors.profile import TimeOfDayProfile
from detectors.quantile_filter import QuantileFilter

THRESHOLD_Q = 0.999
"""Quantile of the normal minutes' scores used as the series' threshold (about one
minute and a half a day above it)."""
SCORE_CAP = 24.0
PROFILE_GROWTH = 3.0
_DEFAULTS = SpikeConfig()
ALPHA = 1.0 - 0.5 ** (1 / _DEFAULTS.level_half_life_minutes)
"""Learning rate of the level per minute by default (the spike detector sets its own:
higher while history is short, lower while anomalous)."""
DAY_WEIGHT = _DEFAULTS.profile_day_weight


class SeasonalSpend(AnomalyDetector):
    """See the module docstring. ``x``: ``{"minute": local epoch minute, "spend":
    nano-USD per minute}``, plus ``"width"`` minutes when learning a bucket."""

    def __init__(self) -> None:
        self.level = 0.0
        self.var = 0.0
        self.profile = TimeOfDayProfile.empty()

    def expect(self, minute: int) -> float:
        """Expected spend per minute (nano-USD) at local ``minute``."""
        return max(self.level, self.profile.expect(minute))

    def score_one(self, x: dict[Hashable, Any]) -> float:
        excess = x["spend"] - self.expect(int(x["minute"]))
        if excess <= 0:
            return 0.0
        spread = math.sqrt(self.var)
        return SCORE_CAP if excess >= SCORE_CAP * spread else excess / spread

    def learn_one(
        self, x: dict[Hashable, Any], *, alpha: float = ALPHA, day_weight: float = DAY_WEIGHT
    ) -> None:
        """Learn ``x["width"]`` minutes (default 1) of ``x["spend"]`` per minute, the
        level and variance at rate ``alpha``."""
        spend = x["spend"]
        deviation = spend - self.level
        self.level += alpha * deviation
        self.var = (1.0 - alpha) * (self.var + alpha * deviation * deviation)
        start = int(x["minute"])
        for m in range(start, start + int(x.get("width", 1))):
            self.profile.learn(m, spend, day_weight, PROFILE_GROWTH)

    def learn_gap(self, minute: int, minutes: int, half_life: float, day_weight: float) -> None:
        """Learn ``minutes`` minutes without spend from local ``minute``."""
        decay = 0.5 ** (minutes / half_life)
        self.var = decay * self.var + (1.0 - decay) * self.level * self.level
        self.level *= decay
        self.profile.learn_zeros(minute, minutes, day_weight)


def new_model() -> QuantileFilter:
    """A ``SeasonalSpend`` in a River ``QuantileFilter``. Protection is the spike
    detector's: it learns anomalous minutes at a reduced rate, and those it reports
    through ``scorer(model)``, out of the quantile."""
    return QuantileFilter(SeasonalSpend(), q=THRESHOLD_Q, protect_anomaly_detector=False)


def scorer(model: QuantileFilter) -> SeasonalSpend:
    found = model.anomaly_detector
    assert isinstance(found, SeasonalSpend)
    return found
