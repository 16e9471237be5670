"""The unit-cost detector's model of one series: a River anomaly detector in a
``QuantileFilter``.

``UnitCostProfile`` follows River's anomaly-detector protocol on multivariate ``x``: the
scaled features of a window of calls (``FEATURES``: log cost per call, log input tokens
per call, log output/input ratio). It learns an exponentially weighted mean and variance
of each (a plain mean over the first windows, so the first window does not linger as the
baseline for a day). ``score_one`` is the largest one-sided standardised excess of a
feature over its mean (capped at ``SCORE_CAP``); ``drifted`` names the features above a
threshold.

A River ``QuantileFilter`` (``quantile_filter.py``) around it keeps the ``THRESHOLD_Q``
quantile of the scores of windows that did not drift: the series' own threshold where
its unit costs are more erratic than the configured ``z`` allows for.

River's ``HalfSpaceTrees`` was measured in this role at about 170 KB and 190 µs per series
and window, against a few hundred bytes and microseconds here.

>>> model = new_model()
>>> for i in range(20):
...     model.learn_one({"cost_per_call": 1.0 + i % 2 / 10, "input_tokens_per_call": 6.0,
...                      "output_input_ratio": -1.0})
>>> profile = model.anomaly_detector
>>> profile.score_one({"cost_per_call": 0.5, "input_tokens_per_call": 6.0,
...                    "output_input_ratio": -1.0})
0.0
>>> profile.drifted({"cost_per_call": 2.0, "input_tokens_per_call": 6.0,
...                  "output_input_ratio": -1.0}, floor=0.7, spreads=4.0)
['cost_per_call']
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

from river.base import AnomalyDetector

from detectors.config import UnitCostConfig
from detectors.quantile_filter import QuantileFilter

FEATURES = ("cost_per_call", "input_tokens_per_call", "output_input_ratio")
THRESHOLD_Q = 0.99
"""Windows are five minutes or longer: a lower quantile than the spike model's."""
SCORE_CAP = 16.0
HALF_LIFE = UnitCostConfig().half_life_windows
"""Windows over which a learned mean halves its weight, by default (the detector's)."""


class UnitCostProfile(AnomalyDetector):
    """See the module docstring."""

    def __init__(self) -> None:
        self.learned = 0
        self.moments = [0.0] * 2 * len(FEATURES)
        """Mean and variance of each feature, in ``FEATURES`` order."""

    def mean(self, feature: int) -> float:
        return self.moments[2 * feature]

    def _excess(self, x: dict[Hashable, Any]) -> list[tuple[float, float]]:
        """(excess over the mean, standard deviation) of each feature."""
        m = self.moments
        return [(x[f] - m[2 * i], math.sqrt(m[2 * i + 1])) for i, f in enumerate(FEATURES)]

    def score_one(self, x: dict[Hashable, Any]) -> float:
        if not self.learned:
            return 0.0
        best = 0.0
        for excess, spread in self._excess(x):
            if excess <= 0:
                continue
            if excess >= SCORE_CAP * spread:
                return SCORE_CAP
            best = max(best, excess / spread)
        return best

    def drifted(self, x: dict[Hashable, Any], floor: float, spreads: float) -> list[str]:
        """The features above their mean by ``floor`` (a log ratio) and ``spreads``
        standard deviations."""
        return [
            f
            for f, (excess, spread) in zip(FEATURES, self._excess(x), strict=True)
            if excess > max(floor, spreads * spread)
        ]

    def learn_one(self, x: dict[Hashable, Any], *, half_life: float = HALF_LIFE) -> None:
        """Learn a window; each at least the weight of a plain mean of those so far."""
        m = self.moments
        alpha = max(1.0 - 0.5 ** (1.0 / half_life), 1.0 / (self.learned + 1))
        for i, f in enumerate(FEATURES):
            deviation = x[f] - m[2 * i]
            m[2 * i] += alpha * deviation
            m[2 * i + 1] = (1.0 - alpha) * (m[2 * i + 1] + alpha * deviation**2)
        self.learned += 1


def new_model() -> QuantileFilter:
    """A ``UnitCostProfile`` in a River ``QuantileFilter``. Protection is the
    detector's: drifting windows are not learned at all."""
    return QuantileFilter(UnitCostProfile(), q=THRESHOLD_Q, protect_anomaly_detector=False)


def profile_of(model: QuantileFilter) -> UnitCostProfile:
    found = model.anomaly_detector
    assert isinstance(found, UnitCostProfile)
    return found
