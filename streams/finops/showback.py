"""Showback and chargeback: spend per team, app, ... for a calendar month, from a ledger.

Each row has spend, calls, tokens, cost per call, cost per unit of value, share of the
total and the change against the previous month. Spend whose first grouping dimension
is unknown (no team, say) is its own ``unattributed`` line; rows plus that line add up
to the total exactly, in integer nano-USD.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from schemas.money import usd_text
from streams.finops.ledger import Ledger, day_of, month_of_day
from streams.rollup import (
    ATTRIBUTION_FIELDS,
    CACHE_READ,
    CALLS,
    COST,
    ERRORS,
    INPUT,
    N_METRICS,
    OUTPUT,
    UNATTRIBUTED,
)

GROUPABLE = ATTRIBUTION_FIELDS
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_NANO = Decimal("0.000000001")


@dataclass(frozen=True, slots=True)
class Period:
    """A calendar month, ``YYYY-MM``."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.match(text.strip())
        if not match:
            raise ValueError(f"period {text!r}: expected a month as YYYY-MM, e.g. 2026-11")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of_day(cls, day: int) -> Period:
        month = month_of_day(day)
        return cls(month // 100, month % 100)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def key(self) -> int:
        return self.year * 100 + self.month

    def previous(self) -> Period:
        return Period(self.year - 1, 12) if self.month == 1 else Period(self.year, self.month - 1)

    def next(self) -> Period:
        return Period(self.year + 1, 1) if self.month == 12 else Period(self.year, self.month + 1)

    def first_day(self) -> int:
        return day_of(date(self.year, self.month, 1))

    def last_day(self) -> int:
        return self.next().first_day() - 1

    @property
    def days(self) -> int:
        return self.last_day() - self.first_day() + 1


def parse_by(text: str | Sequence[str]) -> tuple[str, ...]:
    """``team,app`` to ("team", "app"), checking each name."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text)]
    names = [n for n in names if n]
    if not names:
        raise ValueError("--by: name at least one dimension")
    for name in names:
        if name not in GROUPABLE:
            raise ValueError(f"--by: unknown dimension {name!r}; expected {', '.join(GROUPABLE)}")
    if len(set(names)) != len(names):
        raise ValueError("--by: a dimension is named twice")
    return tuple(names)


def _group(
    ledger: Ledger, period: Period, by: tuple[str, ...]
) -> tuple[dict[tuple[str, ...], list[int]], dict[tuple[str, ...], dict[str, Decimal]]]:
    index = [ATTRIBUTION_FIELDS.index(d) for d in by]
    sums: dict[tuple[str, ...], list[int]] = {}
    for _, who, row in ledger.rows(period.first_day(), period.last_day()):
        group = tuple(who[i] for i in index)
        acc = sums.setdefault(group, [0] * N_METRICS)
        for i in range(N_METRICS):
            acc[i] += row[i]
    units: dict[tuple[str, ...], dict[str, Decimal]] = {}
    for (month, who), amounts in ledger.units.items():
        if month == period.key:
            group = tuple(who[i] for i in index)
            acc_u = units.setdefault(group, {})
            for name, amount in amounts.items():
                acc_u[name] = acc_u.get(name, Decimal(0)) + amount
    return sums, units


def _per(nanos: int, count: Decimal | int) -> str | None:
    if not count:
        return None
    usd = (Decimal(nanos) / Decimal(count) / 10**9).quantize(_NANO, rounding=ROUND_HALF_EVEN)
    return format(usd, "f")


def _line(
    sums: list[int],
    units: dict[str, Decimal],
    total_nanos: int,
    previous_nanos: int | None,
    unit_costs: dict[str, int] | None = None,
) -> dict[str, Any]:
    """One report line; ``unit_costs`` is the spend of the rows that report each unit."""
    cost = sums[COST]
    unit_costs = unit_costs or {}
    change = None
    if previous_nanos:
        change = round((cost - previous_nanos) / previous_nanos * 100, 2)
    return {
        "cost_nanos": cost,
        "cost_usd": usd_text(cost),
        "calls": sums[CALLS],
        "errors": sums[ERRORS],
        "input_tokens": sums[INPUT],
        "output_tokens": sums[OUTPUT],
        "cache_read_tokens": sums[CACHE_READ],
        "cost_per_call_usd": _per(cost, sums[CALLS]),
        "units": {k: format(v, "f") for k, v in sorted(units.items())},
        "cost_per_unit_usd": {
            k: _per(unit_costs.get(k, cost), v) for k, v in sorted(units.items())
        },
        "share": round(cost / total_nanos, 6) if total_nanos else 0.0,
        "previous_cost_usd": None if previous_nanos is None else usd_text(previous_nanos),
        "change_pct": change,
    }


def showback(ledger: Ledger, period: Period, by: Sequence[str]) -> dict[str, Any]:
    """The report as plain JSON-ready data (see the module docstring)."""
    dims = parse_by(by)
    sums, units = _group(ledger, period, dims)
    before, _ = _group(ledger, period.previous(), dims)
    total = [sum(s[i] for s in sums.values()) for i in range(N_METRICS)]
    total_units: dict[str, Decimal] = {}
    unit_costs: dict[str, int] = {}
    for group, amounts in units.items():
        for name, amount in amounts.items():
            total_units[name] = total_units.get(name, Decimal(0)) + amount
            unit_costs[name] = unit_costs.get(name, 0) + sums.get(group, [0])[COST]
    prev_total = sum(s[COST] for s in before.values())
    rows = []
    unattributed = [0] * N_METRICS
    unattributed_units: dict[str, Decimal] = {}
    unattributed_prev = 0
    for group in sorted(sums, key=lambda g: (-sums[g][COST], g)):
        if group[0] == UNATTRIBUTED:
            for i in range(N_METRICS):
                unattributed[i] += sums[group][i]
            for name, amount in units.get(group, {}).items():
                unattributed_units[name] = unattributed_units.get(name, Decimal(0)) + amount
            unattributed_prev += before.get(group, [0])[COST]
            continue
        prev = before.get(group)
        line = _line(sums[group], units.get(group, {}), total[COST], prev[COST] if prev else None)
        rows.append({**dict(zip(dims, group, strict=True)), **line})
    return {
        "period": str(period),
        "previous_period": str(period.previous()),
        "by": list(dims),
        "rows": rows,
        "unattributed": _line(
            unattributed, unattributed_units, total[COST], unattributed_prev or None
        ),
        "total": _line(total, total_units, total[COST], prev_total or None, unit_costs),
    }
