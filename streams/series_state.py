"""Rolling spend of one series: minute, hour, day and month buckets, applied exactly once.

A series state takes partial buckets from many usage partitions. Each partial carries
the (partition, offset) of the message it came from; the state keeps, per source
partition, which offsets it applied (``AppliedOffsets``), in the same stored value as
the sums. Applying a partial again (a replay after a crash, a resend) is a no-op, in
whatever order partials arrive, and a crash between two writes can never leave sums
and positions disagreeing.

Windows are read from the buckets: 5 minutes and 1 hour from minute buckets, 24 hours
and 7 days from hour buckets, the calendar month from month buckets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from streams.applied_offsets import AppliedOffsets
from streams.rollup import N_METRICS, TOP_CONTRIBUTORS, top_contributors
from streams.series_buckets import Buckets

MINUTES_KEPT = 180
HOURS_KEPT = 24 * 8
DAYS_KEPT = 400
MONTHS_KEPT = 14
CONTRIBUTOR_MINUTES = 30
"""Minutes for which the largest contributors of each bucket are kept (at least until the
detectors have seen the bucket closed: see ``SeriesState.contributors_needed_from``)."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STORED_FORMAT = 2
"""Bucket levels stored as columns (``Buckets.columns``); states stored without a format
hold them as ``[start, *sums]`` rows and are read as such."""

WINDOWS = {"5m": 5, "1h": 60, "24h": 24 * 60, "7d": 7 * 24 * 60}
"""Rolling windows in minutes; ``mtd`` (calendar month to date) is read separately."""


_MONTH_OF_DAY: dict[int, int] = {}


def month_of_minute(minute: int) -> int:
    """``yyyymm`` of an epoch minute (UTC)."""
    day = minute // 1440
    month = _MONTH_OF_DAY.get(day)
    if month is None:
        when = _EPOCH + timedelta(days=day)
        month = _MONTH_OF_DAY[day] = when.year * 100 + when.month
    return month


def _trim(buckets: dict[int, Any], keep_from: int) -> None:
    for key in [k for k in buckets if k < keep_from]:
        del buckets[key]


@dataclass(slots=True)
class SeriesState:
    minutes: Buckets = field(default_factory=Buckets)
    hours: Buckets = field(default_factory=Buckets)
    days: Buckets = field(default_factory=Buckets)
    months: Buckets = field(default_factory=Buckets)
    units: dict[int, dict[str, Decimal]] = field(default_factory=dict)
    """Units of value per month."""
    applied: dict[int, AppliedOffsets] = field(default_factory=dict)
    """Source partition to the offsets of its messages already applied."""
    contributors: dict[int, dict[str, int]] = field(default_factory=dict)
    """Recent minutes to the cost of their largest contributing series."""
    contributors_needed_from: int = -1
    """Oldest minute the detectors have yet to see closed (-1: none seen yet); the
    contributors of that minute and later stay, as far back as minute buckets do."""
    newest_minute: int = -1

    def apply(
        self,
        source_partition: int,
        source_offset: int,
        buckets: list[list[int]],
        units: list[Any] | None = None,
        contributors: list[Any] | None = None,
        committed: int | None = None,
    ) -> bool:
        """Add one message's partial; False (and no change) when already applied.
        ``committed``: the source partition's committed offset when the partial was
        sent (every partial below it was stored before, so none is applied again)."""
        seen = self.applied.get(source_partition)
        if seen is None:
            seen = self.applied[source_partition] = AppliedOffsets()
        if committed is not None:
            seen.settle(min(committed, source_offset) - 1)
        if not seen.add(source_offset):
            return False
        for minute, *sums in buckets:
            self.minutes.add(minute, sums)
            self.hours.add(minute // 60, sums)
            self.days.add(minute // 1440, sums)
            self.months.add(month_of_minute(minute), sums)
            self.newest_minute = max(self.newest_minute, minute)
        for minute, amounts in units or ():
            acc = self.units.setdefault(month_of_minute(minute), {})
            for name, amount in amounts.items():
                acc[name] = acc.get(name, Decimal(0)) + Decimal(amount)
        keep_from = self._contributors_from()
        for minute, costs in contributors or ():
            if minute < keep_from:
                continue
            shares = self.contributors.setdefault(minute, {})
            for part, cost in costs.items():
                shares[part] = shares.get(part, 0) + cost
            if len(shares) > 4 * TOP_CONTRIBUTORS:
                self.contributors[minute] = top_contributors(shares)
        self._expire()
        return True

    def _expire(self) -> None:
        """Drop old buckets, in steps (a scan per apply would cost more than the apply)."""
        newest = self.newest_minute
        if len(self.minutes) > MINUTES_KEPT + 30:
            self.minutes.trim_before(newest - MINUTES_KEPT)
        if len(self.hours) > HOURS_KEPT + 24:
            self.hours.trim_before(newest // 60 - HOURS_KEPT)
        if len(self.days) > DAYS_KEPT + 31:
            self.days.trim_before(newest // 1440 - DAYS_KEPT)
        if len(self.contributors) > CONTRIBUTOR_MINUTES + 10:
            _trim(self.contributors, self._contributors_from())
        if len(self.months) > MONTHS_KEPT:
            keep_from = self.months.starts[-MONTHS_KEPT]
            self.months.trim_before(keep_from)
            _trim(self.units, keep_from)

    def window(self, name: str, now_minute: int) -> list[int]:
        """Sums over the window ending with (and including) minute ``now_minute``."""
        if name == "mtd":
            return self.months.get(month_of_minute(now_minute)) or [0] * N_METRICS
        length = WINDOWS[name]
        end = now_minute + 1
        if length <= MINUTES_KEPT:
            return self.minutes.window_sum(end - length, end)
        hour_end = end // 60 + (1 if end % 60 else 0)
        return self.hours.window_sum(hour_end - length // 60, hour_end)

    def _contributors_from(self) -> int:
        oldest = self.newest_minute - MINUTES_KEPT
        if self.contributors_needed_from < 0:  # not evaluated yet: keep what buckets exist
            return oldest
        return max(
            oldest, min(self.newest_minute - CONTRIBUTOR_MINUTES, self.contributors_needed_from)
        )

    def contributors_between(self, start: int, end: int) -> dict[str, int]:
        """Largest contributing series over minutes ``start <= m < end`` (recent only)."""
        total: dict[str, int] = {}
        for minute, costs in self.contributors.items():
            if start <= minute < end:
                for part, cost in costs.items():
                    total[part] = total.get(part, 0) + cost
        return total

    def total(self) -> list[int]:
        """Every bucket still kept at day level (for reconciliation)."""
        return self.days.window_sum(-(10**9), 10**9)

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "v": STORED_FORMAT,
                "m": self.minutes.columns(),
                "h": self.hours.columns(),
                "d": self.days.columns(),
                "M": self.months.columns(),
                "u": [[k, {n: str(a) for n, a in v.items()}] for k, v in self.units.items()],
                "a": [[p, *seen.to_json()] for p, seen in self.applied.items()],
                "n": self.newest_minute,
                "c": [[k, v] for k, v in self.contributors.items()],
                "f": self.contributors_needed_from,
            }
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> SeriesState:
        data = orjson.loads(raw)
        packed = Buckets.from_columns if data.get("v") == STORED_FORMAT else Buckets.from_rows
        return cls(
            minutes=packed(data["m"]),
            hours=packed(data["h"]),
            days=packed(data["d"]),
            months=packed(data["M"]),
            units={k: {n: Decimal(a) for n, a in v.items()} for k, v in data["u"]},
            applied={row[0]: AppliedOffsets.from_json(row[1:]) for row in data["a"]},
            newest_minute=data["n"],
            contributors={row[0]: row[1] for row in data.get("c", ())},
            contributors_needed_from=data.get("f", -1),
        )
