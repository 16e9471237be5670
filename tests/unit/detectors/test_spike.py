"""Spend spike and creep: fast on big spikes, quiet on rhythm and recurring jobs."""

from __future__ import annotations

import copy
import math
import random
from datetime import timedelta

import pytest

from detectors.config import DetectorsConfig
from detectors.quantile_filter import spreads
from detectors.seasonal import scorer
from detectors.spike import SpikeDetector
from schemas.findings import Finding, Scope, SeriesBucket
from tests.unit.detectors.conftest import MONDAY, rhythm_buckets

SCOPE = Scope.parse("api_key_id=k-1")


def run(buckets: list[SeriesBucket], config: DetectorsConfig | None = None) -> list[Finding]:
    detector = SpikeDetector(config or DetectorsConfig())
    state = detector.new_state(SCOPE, buckets[0].start_minute)
    return [f for b in buckets for f in detector.observe(state, b)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_normal_rhythm_raises_nothing_after_warmup(seed: int) -> None:
    found = run(rhythm_buckets(SCOPE, 3 * 1440, seed=seed, usd_per_minute=0.5 + seed))
    assert found == []


@pytest.mark.parametrize(("seed", "factor"), [(1, 5.0), (2, 12.0), (3, 40.0)])
def test_spike_of_5x_or_more_is_found_within_two_minutes(seed: int, factor: float) -> None:
    start = 1440 + 600 + seed * 97
    buckets = rhythm_buckets(SCOPE, 1440 + 900, seed=seed, spike=(start, 30, factor))
    found = [f for f in run(buckets) if f.detector == "spend_spike"]
    assert found
    first = min(f.at for f in found)
    assert first <= buckets[start].start + (buckets[start].end - buckets[start].start) * 2
    assert all(f.at >= buckets[start].end for f in found)
    assert found[0].impact_nanos > 0
    assert "api_key_id=k-1" in found[0].summary and "top: " in found[0].summary


def test_open_bucket_reports_before_the_minute_closes() -> None:
    buckets = rhythm_buckets(SCOPE, 300, seed=4)
    detector = SpikeDetector(DetectorsConfig())
    state = detector.new_state(SCOPE, buckets[0].start_minute)
    for bucket in buckets:
        assert detector.observe(state, bucket) == []
    last = buckets[-1]
    open_view = SeriesBucket(
        SCOPE, last.start_minute + 1, 1, last.cost_nanos * 30, 10, closed=False
    )
    (found,) = detector.observe(state, open_view)
    assert "still open" in found.summary
    assert state.last == last.start_minute


def test_an_incident_does_not_become_the_baseline() -> None:
    spike_at = 1440 + 600
    buckets = rhythm_buckets(SCOPE, 1440 + 800, seed=5, spike=(spike_at, 90, 8.0))
    found = [f for f in run(buckets) if f.detector == "spend_spike"]
    late = [f for f in found if f.at >= buckets[spike_at + 80].end]
    assert late, "still anomalous after 80 minutes of the same incident"


def test_tiny_series_never_report_however_large_the_ratio() -> None:
    buckets = rhythm_buckets(SCOPE, 1440 + 300, seed=6, usd_per_minute=0.001, spike=(1500, 30, 50))
    assert run(buckets) == []


def test_nothing_is_reported_during_warmup() -> None:
    buckets = rhythm_buckets(SCOPE, 50, seed=7, spike=(20, 20, 30.0))
    assert run(buckets) == []
    assert run(buckets, DetectorsConfig.model_validate({"spike": {"warmup_minutes": 10}}))


def test_a_recurring_nightly_burst_is_learned() -> None:
    buckets = rhythm_buckets(SCOPE, 4 * 1440, seed=8)
    for day in range(4):
        for minute in range(day * 1440 + 120, day * 1440 + 150):
            buckets[minute].cost_nanos *= 10
    found = run(buckets)
    assert found, "the first night is new behaviour"
    assert [f for f in found if f.at >= buckets[1440].start] == []


def test_gradual_creep_is_reported_as_creep() -> None:
    growth = [1.0] * (2 * 1440) + [1.05 ** (i / 60) for i in range(1440)]
    buckets = rhythm_buckets(SCOPE, 3 * 1440, seed=9, usd_per_minute=2.0)
    for bucket, factor in zip(buckets, growth, strict=True):
        bucket.cost_nanos = round(bucket.cost_nanos * factor)
    found = run(buckets)
    assert {f.detector for f in found} == {"spend_creep"}
    assert min(f.at for f in found) >= buckets[2 * 1440 + 8 * 60].start


def test_gaps_count_as_zero_spend() -> None:
    buckets = rhythm_buckets(SCOPE, 400, seed=10)
    sparse = [b for b in buckets if b.start_minute % 3 == 0]
    detector = SpikeDetector(DetectorsConfig())
    state = detector.new_state(SCOPE, MONDAY)
    for bucket in sparse:
        detector.observe(state, bucket)
    dense = detector.new_state(SCOPE, MONDAY)
    for bucket in buckets:
        detector.observe(dense, bucket)
    assert scorer(state.model).level < scorer(dense.model).level * 0.6
    assert state.history == dense.history


def test_creep_needs_two_days_of_history_and_forgets_a_verdict_when_history_lapses() -> None:
    growth = [1.0] * 1440 + [1.05 ** (i / 60) for i in range(1440)]
    buckets = rhythm_buckets(SCOPE, 2 * 1440, seed=11, usd_per_minute=2.0)
    for bucket, factor in zip(buckets, growth, strict=True):
        bucket.cost_nanos = round(bucket.cost_nanos * factor)
    assert [f for f in run(buckets) if f.detector == "spend_creep"] == []


@pytest.mark.parametrize("offset_hours", [-8.0, 5.5])
def test_weekends_are_the_organisations_local_weekends(offset_hours: float) -> None:
    """A quiet local weekend is learned as the weekend, however far from UTC it is."""
    shift = round(offset_hours * 60)

    def usd_per_minute(minute: int) -> float:
        local_day = (minute + shift) // 1440
        return 0.1 if (local_day + 3) % 7 >= 5 else 1.0  # 1970-01-01 was a Thursday

    buckets = [
        SeriesBucket(SCOPE, m, 1, round(usd_per_minute(m) * 1e9), 10)
        for m in range(MONDAY, MONDAY + 14 * 1440)
    ]
    config = DetectorsConfig.model_validate({"spike": {"utc_offset_hours": offset_hours}})
    detector = SpikeDetector(config)
    state = detector.new_state(SCOPE, MONDAY)
    for bucket in buckets:
        detector.observe(state, bucket)
    scorer(state.model).level = 0.0  # the profile alone
    monday = MONDAY + 14 * 1440
    for minute in (monday - shift + 60, monday + 4 * 1440 - shift + 60):  # Mon, Fri 01:00
        assert detector.expected(state, config.spike, minute) == pytest.approx(1e9, rel=0.01)
    for minute in (monday - shift - 120, monday + 5 * 1440 - shift + 60):  # Sun 22:00, Sat 01:00
        assert detector.expected(state, config.spike, minute) == pytest.approx(1e8, rel=0.01)


def test_creep_that_completes_as_the_weekend_begins_is_still_reported() -> None:
    """Four hours at 2.6x end at Friday midnight; Saturday has no history to judge against,
    but the verdict on the hours that had it stands for the next bucket."""
    wednesday = MONDAY + 2 * 1440
    friday_evening = wednesday + 2 * 1440 + 20 * 60

    def usd_per_minute(minute: int) -> float:
        return 2.6 if friday_evening <= minute < friday_evening + 240 else 1.0

    buckets = [
        SeriesBucket(SCOPE, m, 1, round(usd_per_minute(m) * 1e9), 10)
        for m in range(wednesday, friday_evening + 240 + 60)
    ]
    found = run(buckets)
    assert [f.detector for f in found] == ["spend_creep"]
    (creep,) = found
    assert creep.at == buckets[-60].end  # Saturday's first minute
    assert creep.observed > 2 * creep.expected
    assert "over 4 h" in creep.summary


def test_a_short_spike_on_a_small_series_is_caught_by_the_five_minute_window() -> None:
    """$0.15 a minute, then five minutes at 4.8x: three minutes of it stay under the $2
    floor and ten minutes dilute it under 3x; five minutes hold it."""
    spike_at = MONDAY + 1440

    def usd_per_minute(minute: int) -> float:
        return 0.72 if spike_at <= minute < spike_at + 5 else 0.15

    buckets = [
        SeriesBucket(SCOPE, m, 1, round(usd_per_minute(m) * 1e9), 10)
        for m in range(MONDAY, spike_at + 60)
    ]
    found = run(buckets)
    assert found and {f.window_end - f.window_start for f in found} == {timedelta(minutes=5)}
    assert buckets[1440 + 3].end <= found[0].at <= buckets[1440 + 4].end
    without_five = DetectorsConfig.model_validate({"spike": {"windows_minutes": [1, 3, 10, 30]}})
    assert run(buckets, without_five) == []


def test_an_open_bucket_counts_the_still_open_buckets_before_it() -> None:
    """$0.20 a minute, then $2 a minute: one minute is $1.80 over, under the $2 floor.
    While the first spike minute waits out its lateness and the next is open, only the
    three minutes through both (given as ``before``) hold enough excess."""
    detector = SpikeDetector(DetectorsConfig())
    state = detector.new_state(SCOPE, MONDAY)
    for m in range(MONDAY, MONDAY + 90):
        assert detector.observe(state, SeriesBucket(SCOPE, m, 1, round(0.2e9), 10)) == []
    spike = 2 * 10**9
    first = SeriesBucket(SCOPE, MONDAY + 90, 1, spike, 100, closed=False)
    assert detector.observe(state, first) == []
    second = SeriesBucket(SCOPE, MONDAY + 91, 1, spike, 100, closed=False)
    assert detector.observe(state, second) == []  # as if the minute before were $0.20
    second.before = (spike,)
    (found,) = detector.observe(state, second)
    assert found.window_end - found.window_start == timedelta(minutes=3)
    assert found.observed == pytest.approx(4.2)
    assert "(minute still open)" in found.summary


def test_a_series_with_erratic_normal_minutes_is_held_to_its_own_threshold() -> None:
    """Minutes at almost 3x, often, are normal for this series: River's quantile of its
    scores rises above ``z`` and a spike just past 3x that ``z`` alone would report is
    held, while the same state without the learned quantile reports it."""
    detector = SpikeDetector(DetectorsConfig())
    cfg = detector.config.spike
    state = detector.new_state(SCOPE, MONDAY)
    rng = random.Random(1)
    for i in range(2 * 1440):
        usd = rng.uniform(0.9, 1.1) + (1.9 if i % 41 == 0 else 0.0)
        detector.observe(state, SeriesBucket(SCOPE, MONDAY + i, 1, round(usd * 1e9), 10))
    minute = MONDAY + 2 * 1440
    expected = detector.expected(state, cfg, minute)
    spread = math.sqrt(scorer(state.model).var)
    held_to = spreads(cfg.z, state.model)
    assert held_to > cfg.z
    cost = 3 * expected + (held_to * spread - 2 * expected) / 2  # past 3x, under held_to
    excess = cost - expected
    assert cost > cfg.ratio * expected and excess >= float(cfg.min_impact_usd) * 1e9
    assert cfg.z < excess / spread < held_to
    spike = SeriesBucket(SCOPE, minute, 1, round(cost), 10)

    plain = copy.deepcopy(state)
    plain.model.reset_quantile()
    assert [f.detector for f in detector.observe(plain, spike)] == ["spend_spike"]
    assert detector.observe(state, spike) == []
