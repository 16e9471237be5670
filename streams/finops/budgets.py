"""Budgets and forecasts per team and app: month to date, burn rate, month-end forecast with
an interval, variance against budget, and a 90-day daily forecast per team.

Month to date and budgets are exact (integer nano-USD, Decimal budgets); forecasts come
from ``forecast.fit_forecast`` on the complete days before ``at``. The month-end forecast
is the exact spend of the complete days, plus the larger of today's spend so far and
today's forecast, plus the forecast of the days left.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from schemas.money import usd_text, usd_to_nanos
from streams.finops.forecast import fit_forecast
from streams.finops.ledger import Ledger, date_of
from streams.finops.showback import Period
from streams.rollup import ATTRIBUTION_FIELDS, COST

OUTLOOK_DAYS = 90


def daily_spend(ledger: Ledger, dimension: str, last_day: int) -> dict[str, dict[int, int]]:
    """Exact nanos per day per value of ``dimension``, up to and including ``last_day``."""
    index = ATTRIBUTION_FIELDS.index(dimension)
    out: dict[str, dict[int, int]] = {}
    for day, who, sums in ledger.rows(-(10**9), last_day):
        per_day = out.setdefault(who[index], {})
        per_day[day] = per_day.get(day, 0) + sums[COST]
    return out


def _history(per_day: Mapping[int, int], today: int) -> tuple[int, list[int]]:
    """First day and the complete-day series before ``today`` (gaps are zero-spend days)."""
    past = [d for d in per_day if d < today]
    if not past:
        return today, []
    first = min(past)
    return first, [per_day.get(d, 0) for d in range(first, today)]


def budget_line(per_day: Mapping[int, int], at: datetime, budget: Decimal | None) -> dict[str, Any]:
    """One team's or app's month: exact MTD, burn rate, forecast, variance."""
    today = (at.date().toordinal()) - date_of(0).toordinal()
    period = Period.of_day(today)
    first, last = period.first_day(), period.last_day()
    elapsed_days = (today - first) + (at.hour * 3600 + at.minute * 60 + at.second) / 86400
    complete = sum(v for d, v in per_day.items() if first <= d < today)
    today_so_far = per_day.get(today, 0)
    mtd = complete + today_so_far
    hist_first, history = _history(per_day, today)
    forecast = fit_forecast(hist_first, history, horizon=last - today + 1)
    today_mean, today_lo, today_hi = forecast.total(0, 1)
    rest, rest_lo, rest_hi = forecast.total(1, None)
    end = complete + max(today_so_far, today_mean) + rest
    end_lo = complete + max(today_so_far, today_lo) + rest_lo
    end_hi = complete + max(today_so_far, today_hi) + rest_hi
    burn = round(mtd / elapsed_days) if elapsed_days > 0 else 0
    line: dict[str, Any] = {
        "period": str(period),
        "mtd_usd": usd_text(mtd),
        "mtd_nanos": mtd,
        "burn_rate_usd_per_day": usd_text(burn),
        "forecast_month_end_usd": usd_text(end),
        "forecast_interval_usd": [usd_text(end_lo), usd_text(end_hi)],
        "history_days": len(history),
        "budget_usd": None,
    }
    if budget is not None:
        budget_nanos = usd_to_nanos(budget)
        sustainable = budget_nanos / period.days
        line.update(
            budget_usd=format(budget, "f"),
            used_share=round(mtd / budget_nanos, 4) if budget_nanos else None,
            variance_usd=usd_text(end - budget_nanos),
            forecast_share=round(end / budget_nanos, 4) if budget_nanos else None,
            burn_vs_sustainable=round(burn / sustainable, 3) if sustainable else None,
            status=_status(end_lo, end, budget_nanos),
        )
    return line


def _status(low: int, mean: int, budget: int) -> str:
    if low > budget:
        return "over"
    if mean > budget:
        return "at risk"
    return "ok"


def budget_report(ledger: Ledger, at: datetime, budgets: Mapping[str, Decimal]) -> dict[str, Any]:
    """Every team and app seen, plus every budgeted one, keyed by series name."""
    today = at.date().toordinal() - date_of(0).toordinal()
    lines: dict[str, Any] = {}
    for dimension in ("team", "app"):
        spend = daily_spend(ledger, dimension, today)
        names = {f"{dimension}={v}" for v in spend} | {
            b for b in budgets if b.startswith(f"{dimension}=")
        }
        for name in sorted(names):
            value = name.split("=", 1)[1]
            lines[name] = budget_line(spend.get(value, {}), at, budgets.get(name))
    return {"at": at.isoformat(), "series": lines}


def team_outlook(ledger: Ledger, at: datetime, horizon: int = OUTLOOK_DAYS) -> dict[str, Any]:
    """Per team: a daily forecast for ``horizon`` days from today, with 90% intervals,
    and its weekly totals."""
    today = at.date().toordinal() - date_of(0).toordinal()
    out: dict[str, Any] = {}
    for team, per_day in sorted(daily_spend(ledger, "team", today).items()):
        first, history = _history(per_day, today)
        forecast = fit_forecast(first, history, horizon)
        weeks = []
        for start in range(0, horizon, 7):
            mean, lo, hi = forecast.total(start, min(start + 7, horizon))
            weeks.append(
                {
                    "week_of": date_of(today + start).isoformat(),
                    "usd": usd_text(mean),
                    "low_usd": usd_text(lo),
                    "high_usd": usd_text(hi),
                }
            )
        out[team] = {
            "history_days": len(history),
            "daily_sigma_usd": usd_text(round(forecast.sigma)),
            "total_usd": usd_text(forecast.total()[0]),
            "weeks": weeks,
            "daily": [[date_of(d).isoformat(), usd_text(m)] for d, m, _, _ in forecast.daily()],
        }
    return {"at": at.isoformat(), "horizon_days": horizon, "teams": out}
