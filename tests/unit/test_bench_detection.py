"""Scoring of the detection benchmark (bench/detection/): matching alerts to incidents."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from bench.detection.scenario import WARMUP_S, Scenario, budgets_from_day, build_scenario
from bench.detection.score import score, table
from schemas.findings import Alert, AlertState, Contributor, Scope, Severity
from streams.synthetic_org import Incident, TrafficProfile


def alert(at: datetime, scope: str, contributors: tuple[str, ...] = ()) -> Alert:
    return Alert(
        alert_id=f"{scope}-{at:%H%M}",
        detector="spend_spike",
        scope=Scope.parse(scope),
        severity=Severity.ERROR,
        state=AlertState.FIRING,
        fired_at=at,
        updated_at=at,
        measure="usd",
        observed=10.0,
        expected=1.0,
        impact_nanos=9 * 10**9,
        summary=f"{scope}: spike",
        contributors=tuple(Contributor(series=c, cost_nanos=10**9) for c in contributors),
    )


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    base = Scenario(
        seed=0,
        profile=TrafficProfile(seed=0, teams=2),
        days=3,
        start_offset_days=0,
        incidents=(Incident.runaway_loop("key-search-1", WARMUP_S + 3600, 1800, 20.0),),
        batch=Incident.nightly_batch("key-support-2", 2 * 3600, 1800, 1.0),
        teams_of_keys={"key-search-1": "search", "key-support-2": "support"},
        apps_of_keys={"key-search-1": "search-rerank", "key-support-2": "support-bot"},
    )
    return base


def test_alerts_match_by_series_or_contributor_and_in_time(scenario: Scenario) -> None:
    t0 = scenario.start + timedelta(seconds=WARMUP_S + 3600)
    alerts = [
        alert(t0 - timedelta(hours=20), "team=support"),  # warm-up: not scored
        alert(t0 + timedelta(minutes=1), "org=all", ("api_key_id=key-search-1",)),
        alert(t0 + timedelta(minutes=2), "api_key_id=key-search-1"),
        alert(t0 + timedelta(minutes=3), "team=support"),  # unrelated: false
        alert(t0 + timedelta(hours=3), "api_key_id=key-search-1"),  # too late: false
        alert(scenario.start + timedelta(days=2, hours=2, minutes=5), "api_key_id=key-support-2"),
    ]
    result = score(scenario, alerts, 3 * 86_400)
    assert (result.alerts, result.matched, result.batch_alerts) == (5, 2, 1)
    (label,) = result.labels
    assert label.first_alert == t0 + timedelta(minutes=1)
    rows = {row["kind"]: row for row in table([result])}
    assert rows["runaway_loop"]["recall"] == 1.0
    assert rows["runaway_loop"]["ttd_median_min"] == 1.0
    assert rows["overall"]["precision"] == 0.4
    assert rows["overall"]["false_alerts_per_day"] == 1.5
    assert rows["overall"]["batch_alerts_after_warmup"] == 1


def test_a_missed_incident_lowers_recall(scenario: Scenario) -> None:
    result = score(scenario, [], 3 * 86_400)
    row = table([result])[0]
    assert (row["recall"], row["ttd_median_min"]) == (0.0, None)


def test_scenarios_vary_by_seed_and_label_every_kind() -> None:
    one, two = build_scenario(1), build_scenario(2)
    assert one.profile != two.profile
    kinds = {i.kind for i in one.incidents}
    assert kinds == {"runaway_loop", "leaked_key", "model_switch", "prompt_bloat",
                     "team_spike", "gradual_creep", "budget_exhaustion"}  # fmt: skip
    assert all(i.start_s >= WARMUP_S for i in one.incidents)
    assert replace(one, seed=1) == one


def test_budgets_leave_a_margin_over_a_month_of_the_warmup_day() -> None:
    budgets = budgets_from_day({"search": 10 * 10**9, "unattributed": 10**9, "idle": 0})
    assert budgets == {"team=search": 480}
