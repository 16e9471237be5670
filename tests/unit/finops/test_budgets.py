from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from schemas.money import usd_to_nanos
from streams.finops.budgets import budget_line, budget_report, team_outlook
from streams.finops.forecast import fit_forecast
from streams.finops.ledger import Ledger, day_of

NOV_15 = datetime(2026, 11, 15, 12, tzinfo=UTC)
TODAY = day_of(NOV_15.date())


def test_forecast_recovers_weekly_rhythm_and_trend() -> None:
    days = np.arange(84)
    weekly = np.array([10, 10, 10, 10, 10, 3, 3], dtype=float)
    first = 7 * 3000 + 4  # a Monday: epoch day 4 was one
    y = weekly[(days + first + 3) % 7] * 1e9 + days * 1e7
    forecast = fit_forecast(first, y, horizon=14)
    future = np.arange(84, 98)
    expected = weekly[(future + first + 3) % 7] * 1e9 + future * 1e7
    assert np.allclose(forecast.mean, expected, rtol=1e-6)
    assert forecast.sigma < 1


def test_month_end_forecast_and_variance_on_a_steady_spend() -> None:
    per_day = {d: 10**9 for d in range(TODAY - 60, TODAY)}  # $1 a day, every day
    per_day[TODAY] = 5 * 10**8
    line = budget_line(per_day, NOV_15, Decimal(20))
    assert line["mtd_usd"] == "14.500000000"
    # 14 complete days, today's $1 forecast (more than the $0.50 so far), 15 more days.
    assert usd_to_nanos(line["forecast_month_end_usd"]) == 30 * 10**9
    assert line["variance_usd"] == "10.000000000"
    assert line["status"] == "over"
    assert line["burn_rate_usd_per_day"] == "1.000000000"


def test_budget_report_covers_budgeted_series_without_spend() -> None:
    report = budget_report(Ledger(), NOV_15, {"team=ghost": Decimal(100)})
    ghost = report["series"]["team=ghost"]
    assert ghost["mtd_usd"] == "0.000000000"
    assert ghost["status"] == "ok"


def test_team_outlook_on_synthetic_traffic(events_lines: list[bytes]) -> None:
    ledger = Ledger.from_jsonl(events_lines)
    outlook = team_outlook(ledger, datetime(2026, 11, 1, 3, tzinfo=UTC), horizon=90)
    assert set(outlook["teams"]) >= {"search", "support", "research", "growth", "platform"}
    team = outlook["teams"]["platform"]
    assert len(team["daily"]) == 90
    assert len(team["weeks"]) == 13


def test_interval_of_a_total_covers_about_nine_in_ten() -> None:
    """Weekly rhythm + trend + noise: the 28-day total falls in the 90% interval ~90% of
    the time once the coefficients' uncertainty is counted (seeded, so deterministic)."""
    rng = np.random.default_rng(5)
    weekly = np.array([10, 11, 12, 11, 10, 4, 3], dtype=float)
    covered = 0
    runs = 300
    for _ in range(runs):
        t = np.arange(56 + 28)
        y = weekly[t % 7] + 0.05 * t + rng.normal(0, 1.5, len(t))
        _, low, high = fit_forecast(0, y[:56] * 1e9, 28).total()
        covered += low <= y[56:].sum() * 1e9 <= high
    assert 0.85 <= covered / runs <= 0.95
