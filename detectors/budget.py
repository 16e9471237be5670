"""Monthly budgets: multi-window, multi-burn-rate alerts and a month-end forecast.

For a series with a budget (``budgets: {team=search: 1200}``) the sustainable rate is
the budget over the minutes of the calendar month (UTC). A rule fires when both its
long and its short window spend faster than ``factor`` times that rate (SRE workbook:
1 h and 5 min at 14.4x and 6 h and 30 min at 6x page, 3 d and 6 h at 1x is a ticket);
the short window makes it stop soon after the burn does. The forecast adds the mean
rate of the last day to the month's spend so far and reports when the month would end
over budget.
"""

from __future__ import annotations

import calendar
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache

from detectors.base import finding, usd
from detectors.config import BurnRule, DetectorsConfig
from schemas.findings import Finding, Scope, SeriesBucket, Severity, minute_to_datetime


def month_bounds(minute: int) -> tuple[int, int, int]:
    """``(yyyymm, first minute, minutes in month)`` of an epoch minute (UTC).

    >>> month_bounds(0)
    (197001, 0, 44640)
    """
    when = minute_to_datetime(minute)
    days = calendar.monthrange(when.year, when.month)[1]
    first = minute - ((when.day - 1) * 1440 + when.hour * 60 + when.minute)
    return when.year * 100 + when.month, first, days * 1440


@lru_cache(maxsize=4096)
def _month_of_day(day: int) -> int:
    when = minute_to_datetime(day * 1440)
    return when.year * 100 + when.month


@dataclass(slots=True)
class BudgetState:
    born: int
    last: int = -1
    minutes: deque[int] = field(default_factory=lambda: deque(maxlen=60))
    """Spend of each of the last 60 minutes, newest last."""
    hours: deque[int] = field(default_factory=lambda: deque(maxlen=72))
    """Spend of each of the last full hours, newest last."""
    hour: int = -1
    hour_sum: int = 0
    month: int = 0
    month_to_date: int = 0


class BudgetDetector:
    """See the module docstring. Findings: ``budget_burn`` and ``budget_forecast``."""

    name = "budget_burn"
    forecast_name = "budget_forecast"

    def __init__(self, config: DetectorsConfig) -> None:
        self.config = config
        self.cfg = config.budget

    def applies_to(self, scope: Scope) -> bool:
        return self.cfg.enabled and scope.name in self.config.budgets

    def new_state(self, scope: Scope, minute: int) -> BudgetState:
        return BudgetState(born=minute)

    def observe(self, state: BudgetState, bucket: SeriesBucket) -> list[Finding]:
        if not bucket.closed or bucket.start_minute <= state.last:
            return []
        budget = self.config.budget_nanos(bucket.scope) or 0
        for minute in range(max(state.last + 1, bucket.start_minute - 4320), bucket.start_minute):
            if state.last >= 0:
                self._add(state, minute, 0)
        per_minute, rest = divmod(bucket.cost_nanos, bucket.width_minutes)
        for i in range(bucket.width_minutes):
            self._add(state, bucket.start_minute + i, per_minute + (rest if i == 0 else 0))
        state.last = bucket.start_minute + bucket.width_minutes - 1
        _, _, month_minutes = month_bounds(state.last)
        sustainable = budget / month_minutes
        history = state.last + 1 - state.born
        found: list[Finding] = []
        fired = [r for r in self.cfg.rules if self._burning(state, r, sustainable, history)]
        if fired:
            rule = min(fired, key=lambda r: list(Severity).index(r.severity))
            found.append(self._burn_finding(state, bucket, rule, sustainable, history))
        if self.cfg.forecast and history >= self.cfg.forecast_min_history_minutes:
            forecast = self._forecast(state, bucket, budget, month_minutes)
            if forecast:
                found.append(forecast)
        return found

    def _add(self, state: BudgetState, minute: int, cost: int) -> None:
        yyyymm = _month_of_day(minute // 1440)
        if yyyymm != state.month:
            state.month, state.month_to_date = yyyymm, 0
        state.month_to_date += cost
        state.minutes.append(cost)
        hour = minute // 60
        if hour != state.hour:
            if state.hour >= 0:
                state.hours.append(state.hour_sum)
            state.hour, state.hour_sum = hour, 0
        state.hour_sum += cost

    def _window(self, state: BudgetState, minutes: int, history: int) -> tuple[int, int]:
        """Spend and covered minutes of about the last ``minutes`` (at most the history)."""
        minutes = max(1, min(minutes, history))
        if minutes <= len(state.minutes):
            recent = state.minutes
            return sum(recent[-i] for i in range(1, minutes + 1)), minutes
        in_hour = state.last % 60 + 1
        full = min(len(state.hours), max(0, (minutes - in_hour) // 60))
        spent = state.hour_sum + sum(list(state.hours)[len(state.hours) - full :])
        return spent, in_hour + 60 * full

    def _burning(
        self, state: BudgetState, rule: BurnRule, sustainable: float, history: int
    ) -> bool:
        if history < rule.short_minutes or sustainable <= 0:
            return False
        for length in (rule.short_minutes, rule.long_minutes):
            spent, covered = self._window(state, length, history)
            if spent / covered <= rule.factor * sustainable:
                return False
        return True

    def _burn_finding(
        self,
        state: BudgetState,
        bucket: SeriesBucket,
        rule: BurnRule,
        sustainable: float,
        history: int,
    ) -> Finding:
        spent, covered = self._window(state, rule.long_minutes, history)
        rate = spent / covered
        expected = sustainable * covered
        return finding(
            self.name,
            bucket,
            rule.severity,
            window_minutes=covered,
            measure="burn_rate",
            observed=rate / sustainable,
            expected=rule.factor,
            impact_nanos=round(spent - expected),
            headline=(
                f"budget burning at {rate / sustainable:.1f}x the sustainable rate over "
                f"{_span(covered)} (rule {_span(rule.long_minutes)}/{_span(rule.short_minutes)} "
                f"at {rule.factor:g}x); {usd(spent)} spent, {usd(expected)} sustainable"
            ),
            labels={"rule": f"{rule.long_minutes}m/{rule.short_minutes}m"},
        )

    def _forecast(
        self, state: BudgetState, bucket: SeriesBucket, budget: int, month_minutes: int
    ) -> Finding | None:
        history = state.last + 1 - state.born
        spent, covered = self._window(state, self.cfg.forecast_history_minutes, history)
        _, first, _ = month_bounds(state.last)
        remaining = first + month_minutes - state.last - 1
        projected = state.month_to_date + spent / covered * remaining
        if projected <= budget:
            return None
        rate = spent / covered
        left = budget - state.month_to_date
        runs_out = "now" if left <= 0 or rate <= 0 else f"in {_span(round(left / rate))}"
        return finding(
            self.forecast_name,
            bucket,
            Severity.WARNING,
            window_minutes=covered,
            measure="usd_month_end",
            observed=projected / 1e9,
            expected=budget / 1e9,
            impact_nanos=round(projected - budget),
            headline=(
                f"month-end forecast {usd(projected)} exceeds the budget {usd(budget)} "
                f"({usd(state.month_to_date)} spent so far; at this rate it runs out {runs_out})"
            ),
            labels={"month": str(state.month)},
        )


def _span(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0 or minutes > 600:
        return f"{minutes / 60:.0f}h"
    return f"{minutes}m"
