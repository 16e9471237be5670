"""River's suggested spend-spike model, as a baseline for ``spendwatch bench detection``.

Per series: River's ``PredictiveAnomalyDetection`` around a ``HoltWinters`` forecaster
with a daily season (1,440 minutes), wrapped in a ``QuantileFilter`` that protects the
model from the buckets it flags. A run of closed minutes in a row is a spike when the
filter flags each of them, their spend is above the forecast (one-sided) and their
excess adds up to the spike detector's ``min_impact_usd`` (so tiny keys do not page).

Closed buckets only: the scorer updates its error statistics on every score, so it
cannot look at a still-open bucket without learning from it. A gap is learned as minutes
of zero spend (the forecaster needs every minute), at most ``MAX_GAP`` of them.

This is not a detector the worker runs: it is here to measure the detectors' own
statistics against River's models on the same labelled traffic
(``--spike-model river``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from river import anomaly, time_series

from detectors.base import usd
from detectors.config import SpikeConfig, nanos
from detectors.spike import SpikeDetector, spike_finding
from schemas.findings import Finding, Scope, SeriesBucket

SEASON = 1440
MAX_GAP = SEASON
NANOS_PER_USD = 1e9


@dataclass(slots=True)
class RiverSpikeState:
    model: Any
    """River's ``QuantileFilter`` (River's typing is partial: held as ``Any``)."""
    last: int = -1
    history: int = 0
    run: tuple[float, float, int] = (0.0, 0.0, 0)
    """Spend, forecast and minutes of the flagged minutes in a row so far."""


def new_model(q: float = 0.995) -> Any:
    holt_winters: Any = time_series.HoltWinters  # untyped in River
    forecaster = holt_winters(alpha=0.3, beta=0.01, gamma=0.3, seasonality=SEASON)
    scorer = anomaly.PredictiveAnomalyDetection(
        forecaster, horizon=1, n_std=3.5, warmup_period=SEASON + 2
    )  # scores 0 until the forecaster has seen a season
    return anomaly.QuantileFilter(scorer, q=q, protect_anomaly_detector=True)


class RiverSpikeDetector(SpikeDetector):
    """The spike detector's settings and series, River's model (see the module
    docstring). Findings: ``spend_spike``."""

    def new_state(self, scope: Scope, minute: int) -> RiverSpikeState:  # type: ignore[override]
        return RiverSpikeState(model=new_model())

    def observe(self, state: RiverSpikeState, bucket: SeriesBucket) -> list[Finding]:  # type: ignore[override]
        if not bucket.closed or bucket.start_minute <= state.last:
            return []
        cfg = self.settings(bucket.scope)
        width = bucket.width_minutes
        if state.last >= 0:
            gap = (bucket.start_minute - state.last) // width - 1
            for _ in range(min(gap, MAX_GAP)):
                self._feed(state, 0.0)
        y = bucket.cost_nanos / NANOS_PER_USD
        found = self._judge(state, cfg, bucket, y)
        self._feed(state, y)
        state.last = bucket.start_minute
        return [found] if found else []

    @staticmethod
    def _feed(state: RiverSpikeState, y: float) -> None:
        if state.history <= SEASON:  # the forecaster cannot forecast before a season
            state.model.anomaly_detector.learn_one(None, y)
        else:
            state.model.learn_one(None, y)
        state.history += 1

    def _judge(
        self, state: RiverSpikeState, cfg: SpikeConfig, bucket: SeriesBucket, y: float
    ) -> Finding | None:
        if state.history <= max(cfg.warmup_minutes, SEASON + 2):
            return None
        scorer: Any = state.model.anomaly_detector
        expected = max(0.0, scorer.predictive_model.forecast(1)[0])
        # the filter's verdict on this minute, as learn_one will reach it (scoring
        # moves the scorer's error statistics, so score a copy)
        if y <= expected or not state.model.classify(_score_copy(scorer, y)):
            state.run = (0.0, 0.0, 0)
            return None
        observed, expected_sum, minutes = state.run
        state.run = (observed + y, expected_sum + expected, minutes + bucket.width_minutes)
        observed, expected_sum, minutes = state.run
        observed_n, expected_n = observed * NANOS_PER_USD, expected_sum * NANOS_PER_USD
        if observed_n - expected_n < nanos(cfg.min_impact_usd):
            return None
        headline = (
            f"spend {usd(round(observed_n))} in {minutes} min, forecast {usd(round(expected_n))}"
        )
        return spike_finding(
            self.name,
            bucket,
            cfg,
            minutes,
            (observed_n, expected_n),
            headline,
            {"kind": "spike", "model": "river"},
        )


def _score_copy(scorer: Any, y: float) -> float:
    kept = copy.deepcopy((scorer.dynamic_mae, scorer.dynamic_se_variance))
    try:
        return float(scorer.score_one(None, y))
    finally:
        scorer.dynamic_mae, scorer.dynamic_se_variance = kept
