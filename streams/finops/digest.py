"""The weekly digest per team, as Slack Block Kit: spend against last week, budget and
forecast, the week's anomalies, top movers and cost per call.

A week is the seven complete days before ``at`` (UTC). Messages stay within Slack's
limits (at most 50 blocks, section text at most 3,000 characters).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.findings import Alert
from schemas.money import format_usd, usd_to_nanos
from streams.finops.budgets import budget_line, daily_spend
from streams.finops.ledger import Ledger, date_of, day_of
from streams.rollup import ATTRIBUTION_FIELDS, CALLS, COST, UNATTRIBUTED

MAX_BLOCKS = 50
MAX_TEXT = 3000
TOP_MOVERS = 3
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SCHEDULE = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)@([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """A weekly time in UTC, written ``mon@09:00``."""

    weekday: int
    hour: int
    minute: int

    @classmethod
    def parse(cls, text: str) -> DigestSchedule:
        match = _SCHEDULE.match(text.strip().lower())
        if not match:
            raise ValueError(f"--schedule {text!r}: expected DAY@HH:MM in UTC, e.g. mon@09:00")
        return cls(_WEEKDAYS.index(match[1]), int(match[2]), int(match[3]))

    def next_after(self, now: datetime) -> datetime:
        """The first scheduled time strictly after ``now``."""
        now = now.astimezone(UTC)
        base = now.replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        candidate = base + timedelta(days=(self.weekday - now.weekday()) % 7)
        return candidate if candidate > now else candidate + timedelta(days=7)


def _sum_by(
    ledger: Ledger, team: str, dimension: str, first: int, last: int
) -> dict[str, list[int]]:
    index = ATTRIBUTION_FIELDS.index(dimension)
    out: dict[str, list[int]] = {}
    for _, who, sums in ledger.rows(first, last):
        if who[1] == team:
            acc = out.setdefault(who[index], [0, 0])
            acc[0] += sums[COST]
            acc[1] += sums[CALLS]
    return out


def _change(now: int, before: int) -> str:
    if not before:
        return "new" if now else "no spend"
    return f"{(now - before) / before * 100:+.0f}%"


def _movers(ledger: Ledger, team: str, week: tuple[int, int], prior: tuple[int, int]) -> list[str]:
    lines = []
    for dimension in ("app", "model"):
        now = _sum_by(ledger, team, dimension, *week)
        before = _sum_by(ledger, team, dimension, *prior)
        deltas = [(now.get(k, [0])[0] - before.get(k, [0])[0], k) for k in set(now) | set(before)]
        for delta, name in sorted(deltas, key=lambda d: (-abs(d[0]), d[1]))[:TOP_MOVERS]:
            if delta:
                sign = "+" if delta > 0 else "-"
                was = before.get(name, [0])[0]
                lines.append(
                    f"• {dimension} `{name}`: {sign}{format_usd(abs(delta))} "
                    f"({_change(now.get(name, [0])[0], was)})"
                )
    return lines


def _per_call(sums: Mapping[str, list[int]]) -> int | None:
    cost = sum(v[0] for v in sums.values())
    calls = sum(v[1] for v in sums.values())
    return round(cost / calls) if calls else None


def _section(text: str) -> dict[str, Any]:
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def team_digest(
    ledger: Ledger,
    team: str,
    at: datetime,
    budget: Decimal | None = None,
    alerts: Sequence[Alert] = (),
) -> dict[str, Any]:
    """``text`` (the notification fallback) and ``blocks`` for one team's digest."""
    today = day_of(at.date())
    week, prior = (today - 7, today - 1), (today - 14, today - 8)
    per_day = daily_spend(ledger, "team", today).get(team, {})
    spent = sum(v for d, v in per_day.items() if week[0] <= d <= week[1])
    before = sum(v for d, v in per_day.items() if prior[0] <= d <= prior[1])
    month = budget_line(per_day, at, budget)
    label = f"{date_of(week[0]).isoformat()} to {date_of(week[1]).isoformat()}"
    headline = (
        f"*{format_usd(spent)}* last week ({_change(spent, before)} on the week before, "
        f"{format_usd(before)})"
    )
    forecast = usd_to_nanos(month["forecast_month_end_usd"])
    budget_text = (
        f"Month to date {format_usd(month['mtd_nanos'])}; forecast for the month "
        f"{format_usd(forecast)}"
    )
    if budget is not None:
        share = month["forecast_share"]
        budget_text += (
            f" against a budget of {format_usd(usd_to_nanos(budget))}: *{month['status']}*"
            + (f" ({share * 100:.0f}% of budget)" if share is not None else "")
        )
    week_alerts = [
        a
        for a in alerts
        if (a.scope.dimension == "team" and a.scope.value == team) or a.labels.get("team") == team
        if week[0] <= day_of(a.fired_at.date()) <= week[1]
    ]
    alert_text = (
        "\n".join(f"• {a.severity.value} {a.state.value}: {a.summary}" for a in week_alerts[:10])
        or "No anomalies this week."
    )
    movers = _movers(ledger, team, week, prior) or ["No change worth a line."]
    unit_now = _per_call(_sum_by(ledger, team, "app", *week))
    unit_before = _per_call(_sum_by(ledger, team, "app", *prior))
    unit_text = "Cost per call: " + (
        "no calls this week"
        if unit_now is None
        else f"{format_usd(unit_now, 6)}"
        + (f" (was {format_usd(unit_before, 6)})" if unit_before is not None else "")
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"AI spend: {team}"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Week {label} (UTC)"}]},
        _section(headline),
        _section(budget_text),
        {"type": "divider"},
        _section("*Anomalies*\n" + alert_text),
        _section("*Top movers*\n" + "\n".join(movers)),
        _section(unit_text),
    ]
    return {"text": f"AI spend for {team}, week {label}: {format_usd(spent)}", "blocks": blocks}


def digest_teams(ledger: Ledger, at: datetime) -> list[str]:
    """Teams with spend in the last two weeks (the unattributed pseudo-team excluded)."""
    today = day_of(at.date())
    spend = daily_spend(ledger, "team", today)
    return sorted(
        team
        for team, days in spend.items()
        if team != UNATTRIBUTED and any(today - 14 <= d < today for d in days)
    )
