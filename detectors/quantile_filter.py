"""River's quantile filter, light enough for a worker: a series' own robust threshold.

``QuantileFilter`` is River's ``anomaly.QuantileFilter`` on River's own parts: the
``base.AnomalyFilter`` protocol around a wrapped ``base.AnomalyDetector``, and the P²
streaming quantile (``RsQuantile``, the Rust estimator inside River's ``stats.Quantile``).
Same rule: a score is anomalous at or above the ``q`` quantile of the scores learned so
far, and with ``protect_anomaly_detector`` the wrapped detector does not learn those.
Importing ``river.anomaly`` or ``river.stats`` loads SciPy and every River detector, about
95 MiB in each worker process; these parts load none of it.
``tests/unit/detectors/test_quantile_filter.py`` checks it against River's own filter.

>>> from river.base import AnomalyDetector
>>> class Identity(AnomalyDetector):
...     def learn_one(self, x): pass
...     def score_one(self, x): return x["v"]
>>> f = QuantileFilter(Identity(), q=0.9)
>>> for v in range(100):
...     f.learn_one({"v": float(v)})
>>> round(threshold(f))
89
>>> f.classify(f.score_one({"v": 95.0})), f.classify(f.score_one({"v": 50.0}))
(True, False)
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from river._river_rust.stats import RsQuantile
from river.base import AnomalyDetector, AnomalyFilter


class QuantileFilter(AnomalyFilter):
    """See the module docstring. ``quantile`` is None before the first score (no score
    is anomalous then, as in River)."""

    def __init__(
        self, anomaly_detector: AnomalyDetector, q: float, protect_anomaly_detector: bool = True
    ) -> None:
        if not 0 < q < 1:
            raise ValueError(f"q must be between 0 and 1, not {q}")
        super().__init__(anomaly_detector, protect_anomaly_detector)
        self.q = q
        self.quantile: RsQuantile | None = None

    def classify(self, score: float) -> bool:
        return self.quantile is not None and bool(score >= self.quantile.get())

    def learn_one(self, x: dict[Hashable, Any], **learn_kwargs: Any) -> None:
        score = self.score_one(x)
        if not self.protect_anomaly_detector or not self.classify(score):
            self.anomaly_detector.learn_one(x, **learn_kwargs)
        if self.quantile is None:
            self.quantile = RsQuantile(self.q)
        self.quantile.update(score)

    def reset_quantile(self) -> None:
        """Forget the scores learned so far (the wrapped detector keeps its state)."""
        self.quantile = None


MAX_RAISE = 1.5
"""How far a series' own threshold may raise a configured one (times)."""


def threshold(model: QuantileFilter) -> float:
    """The quantile the filter keeps of its series' scores (0 before any)."""
    return 0.0 if model.quantile is None else float(model.quantile.get())


def spreads(configured: float, model: QuantileFilter) -> float:
    """The threshold a series is held to: the configured one, or the filter's quantile
    where that is higher, up to ``MAX_RAISE`` times the configured one: a bound on how far
    a series' history can silence it.

    >>> from river.base import AnomalyDetector
    >>> class Identity(AnomalyDetector):
    ...     def learn_one(self, x): pass
    ...     def score_one(self, x): return x["v"]
    >>> f = QuantileFilter(Identity(), q=0.5)
    >>> spreads(6.0, f)
    6.0
    >>> f.learn_one({"v": 7.0}); spreads(6.0, f)
    7.0
    >>> f.learn_one({"v": 20.0}); f.learn_one({"v": 20.0}); spreads(6.0, f)
    9.0
    """
    return max(configured, min(threshold(model), MAX_RAISE * configured))
