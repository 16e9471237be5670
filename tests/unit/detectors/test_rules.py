"""Unit-cost drift, budgets, static thresholds and policy checks on crafted bucket streams."""

from __future__ import annotations

import copy
import math
from decimal import Decimal

import pytest

from detectors.base import PerScope
from detectors.budget import BudgetDetector, month_bounds
from detectors.config import DetectorsConfig
from detectors.policy import PolicyDetector
from detectors.quantile_filter import spreads
from detectors.static import StaticThresholdDetector
from detectors.unit_cost import UnitCostDetector
from detectors.unit_cost_model import FEATURES, profile_of
from schemas.findings import Finding, Scope, SeriesBucket, Severity
from tests.unit.detectors.conftest import MONDAY, rhythm_buckets


def feed(detector: object, scope: Scope, buckets: list[SeriesBucket]) -> list[Finding]:
    state = detector.new_state(scope, buckets[0].start_minute)  # type: ignore[attr-defined]
    return [f for b in buckets for f in detector.observe(state, b)]  # type: ignore[attr-defined]


APP = Scope.parse("app=search-rerank")


@pytest.mark.parametrize(("seed", "factor"), [(1, 3.0), (2, 4.0), (3, 16.0)])
def test_pricier_calls_at_constant_volume_are_drift(seed: int, factor: float) -> None:
    start = 600
    buckets = rhythm_buckets(
        APP, 900, seed=seed, cost_per_call_factor=lambda i: factor if i >= start else 1.0
    )
    found = feed(UnitCostDetector(DetectorsConfig()), APP, buckets)
    assert found and all(f.detector == "unit_cost_drift" for f in found)
    assert min(f.at for f in found) <= buckets[start + 10].end
    assert found[0].observed > 2 * found[0].expected
    assert "cost per call" in found[0].summary


def test_more_calls_at_the_usual_price_are_not_drift() -> None:
    buckets = rhythm_buckets(APP, 900, seed=4, spike=(600, 60, 10.0))
    assert feed(UnitCostDetector(DetectorsConfig()), APP, buckets) == []


def test_small_series_drift_is_judged_on_a_longer_window() -> None:
    buckets = rhythm_buckets(
        APP, 900, seed=5, calls_per_minute=3, usd_per_minute=0.2,
        cost_per_call_factor=lambda i: 4.0 if i >= 600 else 1.0,
    )  # fmt: skip
    found = feed(UnitCostDetector(DetectorsConfig()), APP, buckets)
    assert found
    assert max(f.window_end - f.window_start for f in found).total_seconds() > 5 * 60


def test_a_quiet_series_is_reported_once_its_drift_has_cost_the_dollar_floor() -> None:
    """About a cent a minute more never makes $2 in one window of at most an hour; the
    drift as a whole does, and is reported then, not before."""

    def buckets(drift_minutes: int) -> list[SeriesBucket]:
        return rhythm_buckets(
            APP, 1200, seed=6, calls_per_minute=20, usd_per_minute=0.005,
            cost_per_call_factor=lambda i: 3.0 if 600 <= i < 600 + drift_minutes else 1.0,
        )  # fmt: skip

    long = buckets(600)
    found = feed(UnitCostDetector(DetectorsConfig()), APP, long)
    assert found
    first = found[0]
    assert 2 * 10**9 <= first.impact_nanos < 3 * 10**9
    drift_so_far = sum(b.cost_nanos * 2 // 3 for b in long[600:] if b.end <= first.at)
    assert drift_so_far >= 2 * 10**9 * 0.8
    assert (first.window_end - first.window_start).total_seconds() > 60 * 60
    short = buckets(45)
    assert sum(b.cost_nanos * 2 // 3 for b in short[600:645]) < 2 * 10**9
    assert feed(UnitCostDetector(DetectorsConfig()), APP, short) == []


def test_a_series_with_erratic_unit_costs_is_held_to_its_own_threshold() -> None:
    """Windows at 1.8x the usual cost per call, now and then, are normal for this series: River's
    quantile of its scores rises above ``z``, and a window just past the 2x floor that
    ``z`` alone would call drift is not, while the same state without the learned
    quantile calls it drift."""
    buckets = rhythm_buckets(
        APP, 6000, seed=7,
        cost_per_call_factor=lambda i: 1.8 if i % 240 < 5 else 1.0,  # a window in 48
    )  # fmt: skip
    detector = UnitCostDetector(DetectorsConfig())
    cfg = detector.config.unit_cost
    state = detector.new_state(APP, MONDAY)
    assert [f for b in buckets for f in detector.observe(state, b)] == []
    profile = profile_of(state.model)
    held_to = spreads(cfg.z, state.model)
    assert held_to > cfg.z
    spread = math.sqrt(profile.moments[1])
    excess = max(math.log(cfg.ratio) * 1.01, (cfg.z + held_to) / 2 * spread)
    assert cfg.z * spread < excess < held_to * spread
    window = {f: profile.mean(i) for i, f in enumerate(FEATURES)}
    window["cost_per_call"] += excess

    plain = copy.deepcopy(state)
    plain.model.reset_quantile()
    assert detector._drifted(plain, cfg, window) == ["cost_per_call"]
    assert detector._drifted(state, cfg, window) == []


TEAM = Scope.parse("team=search")


def budget_config(usd: str) -> DetectorsConfig:
    return DetectorsConfig.model_validate({"budgets": {"team=search": usd}})


def flat(minutes: int, usd_per_minute: float, start: int = MONDAY) -> list[SeriesBucket]:
    cost = round(usd_per_minute * 1e9)
    return [SeriesBucket(TEAM, start + i, 1, cost, 10) for i in range(minutes)]


def test_fast_burn_pages_and_slow_burn_opens_a_ticket() -> None:
    _, _, month_minutes = month_bounds(MONDAY)
    sustainable = 3000 / month_minutes
    fast = feed(BudgetDetector(budget_config("3000")), TEAM, flat(90, sustainable * 20))
    assert any(f.severity is Severity.CRITICAL and f.detector == "budget_burn" for f in fast)
    assert not any(f.at.minute < 5 and f.at.hour == 0 for f in fast)
    slow = feed(BudgetDetector(budget_config("3000")), TEAM, flat(400, sustainable * 1.5))
    burns = [f for f in slow if f.detector == "budget_burn"]
    assert burns and {f.severity for f in burns} == {Severity.WARNING}
    within = feed(BudgetDetector(budget_config("3000")), TEAM, flat(400, sustainable * 0.8))
    assert [f for f in within if f.detector == "budget_burn"] == []


def test_month_end_forecast_names_when_the_money_runs_out() -> None:
    _, _, month_minutes = month_bounds(MONDAY)
    rate = 3000 / month_minutes * 1.4
    found = feed(BudgetDetector(budget_config("3000")), TEAM, flat(720, rate))
    forecasts = [f for f in found if f.detector == "budget_forecast"]
    assert forecasts and "runs out in" in forecasts[-1].summary
    assert forecasts[-1].observed > forecasts[-1].expected == 3000.0
    assert feed(BudgetDetector(budget_config("3000")), TEAM, flat(720, rate / 2)) == []


def test_budget_applies_only_to_series_with_a_budget() -> None:
    detector = BudgetDetector(budget_config("10"))
    assert detector.applies_to(TEAM)
    assert not detector.applies_to(Scope.parse("team=other"))


def test_static_threshold_counts_the_open_bucket() -> None:
    config = DetectorsConfig.model_validate(
        {"static": [{"dimension": "api_key_id", "window_minutes": 5, "max_usd": "50"}]}
    )
    key = Scope.parse("api_key_id=k-9")
    detector = StaticThresholdDetector(config)
    assert detector.applies_to(key) and not detector.applies_to(TEAM)
    state = detector.new_state(key, MONDAY)
    for i in range(4):
        assert detector.observe(state, SeriesBucket(key, MONDAY + i, 1, 12 * 10**9, 5)) == []
    (found,) = detector.observe(state, SeriesBucket(key, MONDAY + 4, 1, 3 * 10**9, 1, closed=False))
    assert found.observed == 51.0 and found.impact_nanos == 10**9
    assert found.severity is Severity.ERROR


def test_static_threshold_counts_the_still_open_buckets_before_the_open_one() -> None:
    config = DetectorsConfig.model_validate(
        {"static": [{"dimension": "api_key_id", "window_minutes": 5, "max_usd": "50"}]}
    )
    key = Scope.parse("api_key_id=k-9")
    detector = StaticThresholdDetector(config)
    state = detector.new_state(key, MONDAY)
    for i in range(3):
        assert detector.observe(state, SeriesBucket(key, MONDAY + i, 1, 12 * 10**9, 5)) == []
    newest = SeriesBucket(key, MONDAY + 4, 1, 3 * 10**9, 1, closed=False)
    assert detector.observe(state, newest) == []  # $39 without the minute still open
    newest.before = (12 * 10**9,)
    (found,) = detector.observe(state, newest)
    assert found.observed == 51.0


KEY = Scope.parse("api_key_id=key-new")


def test_a_never_seen_key_spending_is_reported_after_warmup_only() -> None:
    config = DetectorsConfig()
    late = PolicyDetector(config, origin_minute=MONDAY - 2 * 1440)
    buckets = [SeriesBucket(KEY, MONDAY + i, 1, 10**9, 3) for i in range(5)]
    found = feed(late, KEY, buckets)
    assert found and found[0].detector == "new_key_spend" and "never-seen" in found[0].summary
    assert found[0].at == buckets[1].end
    early = PolicyDetector(config, origin_minute=MONDAY - 60)
    assert feed(early, KEY, buckets) == []
    owned = DetectorsConfig.model_validate({"policy": {"key_owners": {"key-new": "search"}}})
    assert feed(PolicyDetector(owned, origin_minute=MONDAY - 2 * 1440), KEY, buckets) == []


def test_a_long_idle_key_spending_again_is_reported() -> None:
    detector = PolicyDetector(DetectorsConfig(), origin_minute=MONDAY)
    state = detector.new_state(KEY, MONDAY)
    assert detector.observe(state, SeriesBucket(KEY, MONDAY, 1, 10**10, 3)) == []
    back = MONDAY + 8 * 1440
    (found,) = detector.observe(state, SeriesBucket(KEY, back, 1, 3 * 10**9, 3))
    assert "long idle" in found.summary


def test_unpriced_unattributed_and_unapproved() -> None:
    config = DetectorsConfig.model_validate(
        {"policy": {"approved": {"search": {"models": ["gpt-4o*"], "providers": ["openai"]}}}}
    )
    detector = PolicyDetector(config, origin_minute=MONDAY)
    model = Scope.parse("model=mystery-1")
    (unpriced,) = feed(detector, model, [SeriesBucket(model, MONDAY, 1, 0, 7, unpriced_calls=7)])
    assert unpriced.detector == "unpriced_model" and "7 calls" in unpriced.summary
    nobody = Scope.parse("team=unattributed")
    spend = [SeriesBucket(nobody, MONDAY + i, 1, 10**9, 3) for i in range(10)]
    found = feed(detector, nobody, spend)
    assert found and found[0].detector == "unattributed_spend" and found[0].observed == 6.0
    contributors = {"model=gpt-4o-mini": 10**9, "model=claude-opus-4-1": 2 * 10**9,
                    "provider=anthropic": 2 * 10**9, "api_key_id=k": 3 * 10**9}  # fmt: skip
    bucket = SeriesBucket(TEAM, MONDAY, 1, 3 * 10**9, 3, contributors=contributors)
    (bad,) = feed(detector, TEAM, [bucket])
    assert bad.detector == "unapproved_model"
    assert bad.labels["unapproved"] == "model=claude-opus-4-1, provider=anthropic"
    assert not detector.applies_to(Scope.parse("team=growth"))


def test_config_errors_name_the_path() -> None:
    with pytest.raises(ValueError, match=r"budgets\.team=x: must be a positive"):
        DetectorsConfig.model_validate({"budgets": {"team=x": "-1"}})
    with pytest.raises(ValueError, match=r"overrides\.team=research\.spike\.ratio"):
        DetectorsConfig.model_validate({"overrides": {"team=research": {"spike": {"ratio": 0}}}})
    with pytest.raises(ValueError, match=r"budgets\.nonsense: not a series name"):
        DetectorsConfig.model_validate({"budgets": {"nonsense": "5"}})
    with pytest.raises(ValueError, match="short_minutes"):
        DetectorsConfig.model_validate(
            {
                "budget": {
                    "rules": [
                        {"long_minutes": 5, "short_minutes": 60, "factor": 2, "severity": "error"}
                    ]
                }
            }
        )


def test_overrides_apply_per_series_and_per_dimension() -> None:
    config = DetectorsConfig.model_validate(
        {
            "overrides": {
                "team": {"spike": {"ratio": 4}},
                "team=research": {"spike": {"min_impact_usd": "50"}},
            }
        }
    )
    research = config.spike_for(Scope.parse("team=research"))
    assert (research.ratio, research.min_impact_usd) == (4, Decimal("50"))
    assert config.spike_for(Scope.parse("team=search")).min_impact_usd == Decimal("2")
    assert config.spike_for(Scope.parse("app=x")).ratio == 3.0
    assert DetectorsConfig.model_validate({}) == DetectorsConfig()


def test_settings_are_cached_per_dimension_unless_a_series_has_its_own() -> None:
    config = DetectorsConfig.model_validate(
        {"overrides": {"team": {"spike": {"ratio": 4}}, "team=research": {"spike": {"ratio": 6}}}}
    )
    settings = PerScope(config.spike_for, config.settings_key)
    teams = [settings(Scope.parse(f"team=t-{i}")) for i in range(1_000)]
    assert {cfg.ratio for cfg in teams} == {4}
    assert settings(Scope.parse("team=research")).ratio == 6
    assert settings(Scope.parse("api_key_id=k-1")).ratio == 3.0
    assert len(settings._cache) == 3
