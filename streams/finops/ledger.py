"""The spend ledger: exact daily sums per attribution (key, team, app, feature, model,
provider, environment), the one input of every FinOps view.

It is built the same way from both sources, so a report over a file and a report from
the live worker agree to the nano-USD:

- offline, from a JSON Lines file of events, through the worker's own decoder and pricing
  (``RowDecoder``) and its own summing (``sum_rows``), with day-sized buckets;
- live, from the worker's ``attribution`` series (their day and month buckets).

Units of value are kept per calendar month, as the worker's series keep them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.decode import DecodeLimits, EventDecoder
from schemas.pricing import PriceBook
from streams.fast_decode import RowDecoder
from streams.rollup import (
    ATTRIBUTION,
    ATTRIBUTION_FIELDS,
    attribution_fields,
    sum_rows,
)
from streams.series_state import SeriesState

Attribution = tuple[str, str, str, str, str, str, str]
"""(api_key_id, team, app, feature, model, provider, environment)."""
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_NO_LATENESS = 10**12
_OFFLINE_LIMITS = DecodeLimits(
    max_future_skew=timedelta(days=36_500), max_age=timedelta(days=36_500)
)
"""A file is read whole, whatever its age: the worker's time limits do not apply."""


class LedgerInputError(ValueError):
    """An input file line that is not a valid usage event."""


def day_of(when: date) -> int:
    """Days since 1970-01-01."""
    return when.toordinal() - _EPOCH_ORDINAL


def date_of(day: int) -> date:
    return date.fromordinal(day + _EPOCH_ORDINAL)


def month_of_day(day: int) -> int:
    d = date_of(day)
    return d.year * 100 + d.month


@dataclass
class Ledger:
    """Daily metric sums (``streams.rollup.METRICS`` order) per attribution."""

    days: dict[tuple[int, Attribution], list[int]] = field(default_factory=dict)
    units: dict[tuple[int, Attribution], dict[str, Decimal]] = field(default_factory=dict)
    """Units of value per (yyyymm, attribution)."""
    last_minute: dict[str, int] = field(default_factory=dict)
    """Newest event minute per api_key_id (live only; offline it is filled from rows)."""

    def add_day(self, day: int, who: Attribution, sums: Iterable[int]) -> None:
        current = self.days.get((day, who))
        if current is None:
            self.days[(day, who)] = list(sums)
        else:
            for i, v in enumerate(sums):
                current[i] += v

    def add_units(self, month: int, who: Attribution, amounts: dict[str, Any]) -> None:
        acc = self.units.setdefault((month, who), {})
        for name, amount in amounts.items():
            acc[name] = acc.get(name, Decimal(0)) + Decimal(amount)

    def merge(self, other: Ledger) -> None:
        for (day, who), sums in other.days.items():
            self.add_day(day, who, sums)
        for (month, who), amounts in other.units.items():
            self.add_units(month, who, amounts)
        for key, minute in other.last_minute.items():
            self.last_minute[key] = max(minute, self.last_minute.get(key, -1))

    def rows(self, first_day: int, last_day: int) -> Iterator[tuple[int, Attribution, list[int]]]:
        """(day, attribution, sums) with ``first_day <= day <= last_day``."""
        for (day, who), sums in self.days.items():
            if first_day <= day <= last_day:
                yield day, who, sums

    def day_span(self) -> tuple[int, int] | None:
        if not self.days:
            return None
        days = [d for d, _ in self.days]
        return min(days), max(days)

    def to_json(self, first_day: int | None = None, last_day: int | None = None) -> dict[str, Any]:
        lo = -(10**9) if first_day is None else first_day
        hi = 10**9 if last_day is None else last_day
        bounded = first_day is not None and last_day is not None
        months = {month_of_day(d) for d in range(lo, hi + 1)} if bounded else None
        return {
            "days": [[day, *who, *sums] for day, who, sums in self.rows(lo, hi)],
            "units": [
                [month, *who, {k: str(v) for k, v in amounts.items()}]
                for (month, who), amounts in self.units.items()
                if months is None or month in months
            ],
            "last_minute": self.last_minute,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ledger:
        ledger = cls()
        width = len(ATTRIBUTION_FIELDS)
        for row in data.get("days", []):
            ledger.add_day(row[0], tuple(row[1 : 1 + width]), row[1 + width :])
        for row in data.get("units", []):
            ledger.add_units(row[0], tuple(row[1 : 1 + width]), row[1 + width])
        ledger.last_minute.update(data.get("last_minute", {}))
        return ledger

    @classmethod
    def from_states(cls, states: Iterable[tuple[str, SeriesState]]) -> Ledger:
        """From the worker's ``attribution`` series (other series are ignored)."""
        ledger = cls()
        prefix = f"{ATTRIBUTION}="
        for name, state in states:
            if not name.startswith(prefix):
                continue
            who: Attribution = attribution_fields(name[len(prefix) :])  # type: ignore[assignment]
            for day, sums in state.days.items():
                ledger.add_day(day, who, sums)
            for month, amounts in state.units.items():
                ledger.add_units(month, who, amounts)
            key = who[0]
            ledger.last_minute[key] = max(state.newest_minute, ledger.last_minute.get(key, -1))
        return ledger

    @classmethod
    def from_jsonl(
        cls, lines: Iterable[bytes], prices: PriceBook | None = None, source: str = "input"
    ) -> Ledger:
        """Decode, price and sum a JSON Lines file of events exactly as the worker does.

        Raises ``LedgerInputError`` naming the line and the field at the first bad line.
        """
        decoder = RowDecoder(EventDecoder(prices or PriceBook(), _OFFLINE_LIMITS))
        now = datetime.now(UTC)
        rows = []
        for number, line in enumerate(lines, start=1):
            raw = line.strip()
            if not raw:
                continue
            decoded = decoder.decode(raw, now)
            if decoded.rejected or len(decoded.rows) != 1:
                reason = decoded.rejected[0].reason if decoded.rejected else "not one event"
                raise LedgerInputError(f"{source}:{number}: {reason}")
            rows.extend(decoded.rows)
        return cls.from_rows(rows)

    @classmethod
    def from_rows(cls, rows: list[Any]) -> Ledger:
        """From decoded rows (``streams.fast_decode.ROW_FIELDS``), via ``sum_rows``."""
        ledger = cls()
        totals = sum_rows(rows, -1, _NO_LATENESS, bucket_minutes=1440)
        for combo, sums in totals.combos.items():
            day = combo[0] // 1440
            who: Attribution = combo[1:]
            ledger.add_day(day, who, sums)
            amounts = totals.units.get(combo)
            if amounts:
                ledger.add_units(month_of_day(day), who, amounts)
        for row in rows:
            key, minute = row[4], row[1]
            if minute > ledger.last_minute.get(key, -1):
                ledger.last_minute[key] = minute
        return ledger
