"""The contract every detector keeps: pickling, independence, determinism, first bucket."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from detectors.base import Detector
from detectors.budget import BudgetDetector
from detectors.config import DetectorsConfig
from detectors.policy import PolicyDetector
from detectors.spike import SpikeDetector
from detectors.static import StaticThresholdDetector
from detectors.suite import DetectorSuite
from detectors.unit_cost import UnitCostDetector
from schemas.findings import Finding, Scope, SeriesBucket
from tests.unit.detectors.conftest import MONDAY, rhythm_buckets

CONFIG = DetectorsConfig.model_validate(
    {
        "budgets": {"team=search": "5000"},
        "static": [{"dimension": "team", "window_minutes": 5, "max_usd": "20"}],
        "policy": {"approved": {"search": {"models": ["gpt-4o-mini"]}}},
        "spike": {"warmup_minutes": 30},
    }
)
SCOPE = Scope.parse("team=search")


def detectors() -> list[Detector]:
    return [
        SpikeDetector(CONFIG),
        UnitCostDetector(CONFIG),
        BudgetDetector(CONFIG),
        StaticThresholdDetector(CONFIG),
        PolicyDetector(CONFIG, origin_minute=MONDAY - 10_000),
    ]


def stream() -> list[SeriesBucket]:
    """Four hours with a big spike in the third and pricier calls in the fourth, plus an
    open view before each close."""
    closed = rhythm_buckets(
        SCOPE,
        240,
        spike=(150, 20, 12.0),
        usd_per_minute=2.0,
        cost_per_call_factor=lambda i: 4.0 if 200 <= i < 230 else 1.0,
    )
    out: list[SeriesBucket] = []
    for bucket in closed:
        out.append(
            SeriesBucket(
                scope=bucket.scope,
                start_minute=bucket.start_minute,
                width_minutes=1,
                cost_nanos=bucket.cost_nanos // 2,
                calls=bucket.calls // 2,
                closed=False,
                contributors=bucket.contributors,
            )
        )
        out.append(bucket)
    return out


def run(detector: Detector, state: Any, buckets: list[SeriesBucket]) -> list[Finding]:
    found: list[Finding] = []
    for bucket in buckets:
        found.extend(detector.observe(state, bucket))
    return found


IDS = [type(d).__name__ for d in detectors()]


@pytest.mark.parametrize("index", range(len(IDS)), ids=IDS)
def test_detector_applies_and_finds_something_on_the_spiky_stream(index: int) -> None:
    detector = detectors()[index]
    assert detector.applies_to(SCOPE)
    found = run(detector, detector.new_state(SCOPE, MONDAY), stream())
    assert found, "the stream has a 12x spike, a budget, a threshold and unapproved models"
    assert all(f.scope == SCOPE and f.summary.startswith("team=search") for f in found)


@pytest.mark.parametrize("index", range(len(IDS)), ids=IDS)
def test_state_pickles_and_restores_mid_stream(index: int) -> None:
    detector = detectors()[index]
    buckets = stream()
    straight = detector.new_state(SCOPE, MONDAY)
    expected = run(detector, straight, buckets)
    resumed = detector.new_state(SCOPE, MONDAY)
    half = len(buckets) // 2 + 1
    first = run(detector, resumed, buckets[:half])
    restored = pickle.loads(pickle.dumps(resumed))
    assert first + run(detector, restored, buckets[half:]) == expected


@pytest.mark.parametrize("index", range(len(IDS)), ids=IDS)
def test_a_fresh_state_is_independent_of_another(index: int) -> None:
    detector = detectors()[index]
    a = detector.new_state(SCOPE, MONDAY)
    b = detector.new_state(SCOPE, MONDAY)
    before = pickle.dumps(b)
    run(detector, a, stream())
    assert pickle.dumps(b) == before
    assert pickle.dumps(a) != before


@pytest.mark.parametrize("index", range(len(IDS)), ids=IDS)
def test_same_input_same_output_across_instances(index: int) -> None:
    one, two = detectors()[index], detectors()[index]
    buckets = stream()
    assert run(one, one.new_state(SCOPE, MONDAY), buckets) == run(
        two, two.new_state(SCOPE, MONDAY), buckets
    )


@pytest.mark.parametrize("index", range(len(IDS)), ids=IDS)
def test_works_from_the_first_bucket_open_or_closed(index: int) -> None:
    detector = detectors()[index]
    first = stream()[:2]
    for bucket in first:
        state = detector.new_state(SCOPE, bucket.start_minute)
        assert isinstance(detector.observe(state, bucket), list)


def test_suite_round_trips_and_reports_bytes_per_series() -> None:
    suite = DetectorSuite(CONFIG, origin_minute=MONDAY)
    state = suite.new_state(SCOPE, MONDAY)
    buckets = stream()
    half = len(buckets) // 2
    found = [f for b in buckets[:half] for f in suite.observe(state, b)]
    raw = suite.dumps(state)
    restored = suite.loads(raw)
    rest = [f for b in buckets[half:] for f in suite.observe(restored, b)]
    fresh = suite.new_state(SCOPE, MONDAY)
    assert found + rest == [f for b in buckets for f in suite.observe(fresh, b)]
    assert 0 < len(raw) < 20_000


def test_states_read_back_share_their_series_scope_and_plan() -> None:
    suite = DetectorSuite(CONFIG, origin_minute=MONDAY)
    raw = suite.dumps(suite.new_state(Scope.parse("api_key_id=k-1"), MONDAY))
    first, second = suite.loads(raw), suite.loads(raw)
    assert first.scope is second.scope
    assert first.scope == Scope.parse("api_key_id=k-1")
    plans = [suite.detectors_for(Scope.parse(f"api_key_id=k-{i}")) for i in range(100)]
    assert all(plan is plans[0] for plan in plans)


def test_suite_rejects_a_bucket_of_another_series() -> None:
    suite = DetectorSuite(CONFIG)
    state = suite.new_state(SCOPE, MONDAY)
    other = rhythm_buckets(Scope.parse("team=other"), 1)[0]
    with pytest.raises(ValueError, match="team=other"):
        suite.observe(state, other)


def test_loads_refuses_foreign_bytes() -> None:
    with pytest.raises(ValueError, match="format"):
        DetectorSuite(CONFIG).loads(pickle.dumps((99, None)))


def test_open_views_ahead_do_not_block_an_older_closed_bucket() -> None:
    suite = DetectorSuite(CONFIG, origin_minute=MONDAY)
    buckets = rhythm_buckets(SCOPE, 100)
    state = suite.new_state(SCOPE, MONDAY)
    for bucket in buckets[:-1]:
        suite.observe(state, bucket)
    ahead = SeriesBucket(SCOPE, buckets[-1].start_minute + 1, 1, 10**9, 5, closed=False)
    suite.observe(state, ahead)
    suite.observe(state, buckets[-1])
    assert state.last_minute == buckets[-1].start_minute
    assert state.states["spend_spike"].last == buckets[-1].start_minute
    assert suite.observe(state, buckets[-1]) == []
    assert suite.is_idle(state, buckets[-1].start_minute + CONFIG.idle_evict_minutes + 1)
    assert not suite.is_idle(state, buckets[-1].start_minute + 60)
