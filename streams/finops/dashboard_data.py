"""The dashboard's data: spend per team per day, budget burn, top keys and models, unit cost.

Amounts are exact USD decimal strings; the page parses them only to draw.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from schemas.money import usd_text
from streams.finops.budgets import budget_report
from streams.finops.ledger import Ledger, date_of, day_of
from streams.finops.showback import Period, showback
from streams.rollup import CALLS, COST

TOP = 10


def _daily(ledger: Ledger, first: int, last: int) -> tuple[dict[str, list[int]], list[int]]:
    teams: dict[str, list[int]] = {}
    calls = [0] * (last - first + 1)
    for day, who, sums in ledger.rows(first, last):
        teams.setdefault(who[1], [0] * (last - first + 1))[day - first] += sums[COST]
        calls[day - first] += sums[CALLS]
    return teams, calls


def _unit_trend(ledger: Ledger, at: datetime, months: int = 4) -> list[dict[str, Any]]:
    period = Period.of_day(day_of(at.date()))
    out = []
    for _ in range(months):
        total = showback(ledger, period, ["app"])["total"]
        if total["calls"]:
            out.append(
                {
                    "period": str(period),
                    "cost_per_call_usd": total["cost_per_call_usd"],
                    "cost_per_unit_usd": total["cost_per_unit_usd"],
                }
            )
        period = period.previous()
    return out[::-1]


def dashboard_data(
    ledger: Ledger, at: datetime, budgets: Mapping[str, Decimal], days: int = 30
) -> dict[str, Any]:
    today = day_of(at.date())
    first = today - days + 1
    teams, calls = _daily(ledger, first, today)
    team_cost = [sum(v) for v in zip(*teams.values(), strict=True)] if teams else [0] * days
    month = showback(ledger, Period.of_day(today), ["team"])
    keys = showback(ledger, Period.of_day(today), ["api_key_id"])["rows"][:TOP]
    models = showback(ledger, Period.of_day(today), ["provider", "model"])["rows"][:TOP]
    burn = budget_report(ledger, at, budgets)["series"]
    return {
        "at": at.isoformat(),
        "days": [date_of(d).isoformat() for d in range(first, today + 1)],
        "spend_by_team": {t: [usd_text(v) for v in values] for t, values in sorted(teams.items())},
        "cost_per_call_usd": [
            usd_text(round(c / n)) if n else None for c, n in zip(team_cost, calls, strict=True)
        ],
        "month": {
            "period": month["period"],
            "total_usd": month["total"]["cost_usd"],
            "calls": month["total"]["calls"],
            "teams": [{"team": r["team"], "cost_usd": r["cost_usd"]} for r in month["rows"]],
            "unattributed_usd": month["unattributed"]["cost_usd"],
        },
        "budgets": {
            name.split("=", 1)[1]: line for name, line in burn.items() if name.startswith("team=")
        },
        "top_keys": [
            {"api_key_id": r["api_key_id"], "cost_usd": r["cost_usd"], "calls": r["calls"]}
            for r in keys
        ],
        "top_models": [
            {
                "model": f"{r['provider']}:{r['model']}",
                "cost_usd": r["cost_usd"],
                "calls": r["calls"],
            }
            for r in models
        ],
        "unit_cost_trend": _unit_trend(ledger, at),
    }
