"""The light quantile filter decides exactly as River's ``anomaly.QuantileFilter``."""

from __future__ import annotations

import pickle
import random
from collections.abc import Hashable
from typing import Any

import pytest
from river import anomaly
from river.base import AnomalyDetector

from detectors.quantile_filter import QuantileFilter, threshold


class Recorder(AnomalyDetector):
    """Scores ``x["v"]`` and records what it was taught."""

    def __init__(self) -> None:
        self.learned: list[float] = []

    def learn_one(self, x: dict[Hashable, Any]) -> None:
        self.learned.append(x["v"])

    def score_one(self, x: dict[Hashable, Any]) -> float:
        return float(x["v"])


@pytest.mark.parametrize("protect", [True, False])
@pytest.mark.parametrize("q", [0.5, 0.99, 0.999])
def test_same_verdicts_quantiles_and_learning_as_rivers_filter(q: float, protect: bool) -> None:
    ours = QuantileFilter(Recorder(), q=q, protect_anomaly_detector=protect)
    rivers = anomaly.QuantileFilter(Recorder(), q=q, protect_anomaly_detector=protect)
    rng = random.Random(7)
    for _ in range(3000):
        x = {"v": rng.lognormvariate(0, 1) * (20 if rng.random() < 0.01 else 1)}
        assert ours.classify(ours.score_one(x)) == rivers.classify(rivers.score_one(x))
        ours.learn_one(x)
        rivers.learn_one(x)
        assert threshold(ours) == rivers.quantile.get()
    assert ours.anomaly_detector.learned == rivers.anomaly_detector.learned
    if protect:
        assert len(ours.anomaly_detector.learned) < 3000


def test_pickles_with_its_quantile_and_resets_it() -> None:
    f = QuantileFilter(Recorder(), q=0.9)
    for v in range(50):
        f.learn_one({"v": float(v)})
    restored = pickle.loads(pickle.dumps(f))
    assert threshold(restored) == threshold(f) > 40
    restored.reset_quantile()
    assert threshold(restored) == 0.0 and threshold(f) > 40
    assert restored.anomaly_detector.learned == f.anomaly_detector.learned


def test_q_outside_zero_and_one_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        QuantileFilter(Recorder(), q=1.0)
