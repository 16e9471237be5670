"""River's spike model, the baseline the detection benchmark measures the detectors
against: it learns a day, then flags a 10x hour within minutes."""

from __future__ import annotations

import pickle

from bench.detection.river_spike import SEASON, RiverSpikeDetector
from detectors.config import DetectorsConfig
from schemas.findings import Finding, Scope, SeriesBucket
from tests.unit.detectors.conftest import rhythm_buckets

SCOPE = Scope.parse("team=search")
DETECTOR = RiverSpikeDetector(DetectorsConfig())
DAYS = 2 * SEASON


def run(state: object, buckets: list[SeriesBucket]) -> list[Finding]:
    return [f for bucket in buckets for f in DETECTOR.observe(state, bucket)]  # type: ignore[arg-type]


def test_it_flags_a_tenfold_hour_within_minutes_after_a_day() -> None:
    spike = SEASON + 600
    buckets = rhythm_buckets(SCOPE, DAYS, usd_per_minute=2.0, spike=(spike, 60, 10.0))
    found = run(DETECTOR.new_state(SCOPE, buckets[0].start_minute), buckets)
    during = [f for f in found if buckets[spike].start_minute < f.at.timestamp() // 60]
    first = min(int(f.at.timestamp() // 60) for f in during)
    assert first - buckets[spike].start_minute <= 5
    assert all(f.observed > 5 * f.expected for f in during if f.at.timestamp() // 60 < first + 3)


def test_a_restored_state_goes_on_as_the_original() -> None:
    buckets = rhythm_buckets(SCOPE, DAYS, usd_per_minute=2.0, spike=(SEASON + 600, 60, 10.0))
    state = DETECTOR.new_state(SCOPE, buckets[0].start_minute)
    run(state, buckets[: SEASON + 300])
    copy = pickle.loads(pickle.dumps(state))
    assert run(copy, buckets[SEASON + 300 :]) == run(state, buckets[SEASON + 300 :])


def test_nothing_before_a_season_and_open_buckets_are_not_looked_at() -> None:
    buckets = rhythm_buckets(SCOPE, SEASON, usd_per_minute=2.0, spike=(600, 60, 10.0))
    state = DETECTOR.new_state(SCOPE, buckets[0].start_minute)
    assert run(state, buckets) == []
    late = rhythm_buckets(SCOPE, 1, usd_per_minute=50.0, start=buckets[-1].start_minute + 1)[0]
    opened = SeriesBucket(
        SCOPE, late.start_minute, 1, cost_nanos=late.cost_nanos, calls=1, closed=False
    )
    assert DETECTOR.observe(state, opened) == []
    assert state.last == buckets[-1].start_minute  # not learned either
