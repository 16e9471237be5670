"""A time-of-day spend profile: what a series normally spends per minute at this hour.

Two profiles of 96 quarter-hour slots, one for weekdays and one for weekends (of the
minutes given: the spike detector gives local time, ``utc_offset_hours``), each
slot an exponentially weighted mean of the per-minute spend observed in it. A new day
weighs ``day_weight``; the first day of a slot is a plain mean, so a recurring job seen
once is already expected the next day. Samples are clipped to ``growth`` times what the
slot already expects, so one incident cannot teach the profile that incidents are normal,
while a genuinely new recurring pattern is learned within a few days.

>>> p = TimeOfDayProfile.empty()
>>> monday = 4 * 1440  # epoch day 4 was a Monday
>>> for minute in range(monday, monday + 2 * 1440):
...     p.learn(minute, 100.0 if minute % 1440 < 60 else 10.0, 0.3, 3.0)
>>> round(p.expect(monday + 2 * 1440 + 30)), round(p.expect(monday + 2 * 1440 + 600))
(100, 10)
>>> round(p.expect(monday + 5 * 1440 + 30))  # Saturday: the weekdays' job stands in
100
>>> round(p.expect(monday + 5 * 1440 + 600))  # but not their rhythm: nothing known yet
0
>>> TimeOfDayProfile.empty().expect(monday)
0.0
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

SLOT_MINUTES = 15
SLOTS = 1440 // SLOT_MINUTES
FULL = SLOT_MINUTES
"""Samples after which a slot counts as seen (one full day of it)."""
MAX_COUNT = 255
"""Samples per slot are counted up to this (17 days of a slot; the rules ask for two)."""
JOB_RATIO = 2.0
"""A slot spending this many times the hours around it holds a recurring job."""


def slot_of(minute: int) -> int:
    """Index into the profile arrays: weekday slots first, then weekend slots."""
    day = minute // 1440
    weekend = (day + 3) % 7 >= 5  # 1970-01-01 was a Thursday
    return (minute % 1440) // SLOT_MINUTES + (SLOTS if weekend else 0)


@dataclass(slots=True)
class TimeOfDayProfile:
    means: array  # type: ignore[type-arg]
    counts: array  # type: ignore[type-arg]

    @classmethod
    def empty(cls) -> TimeOfDayProfile:
        return cls(array("f", bytes(4 * 2 * SLOTS)), array("B", bytes(2 * SLOTS)))

    def expect(self, minute: int) -> float:
        """The largest mean of this slot and its neighbours. Until the slot itself has been
        seen on its kind of day (weekday or weekend), the other kind's stand in where they
        hold a recurring job (``JOB_RATIO`` times the hours around them): weekdays may spend
        several times what weekends do, and would mask a spike on the first weekend, but a
        nightly job runs on both."""
        slot = slot_of(minute)
        best = self._near(slot)
        if self.counts[slot] < FULL:
            other = (slot + SLOTS) % (2 * SLOTS)
            stand_in = self._near(other)
            if stand_in > JOB_RATIO * self._around(other):
                best = max(best, stand_in)
        return max(best, 0.0)

    def _around(self, slot: int) -> float:
        """Mean of the seen slots 45 minutes to 2 hours before and after ``slot``."""
        base = slot - slot % SLOTS
        total, n = 0.0, 0
        for distance in range(3, 9):
            for near in (slot - distance, slot + distance):
                s = base + near % SLOTS
                if self.counts[s] >= FULL:
                    total += self.means[s]
                    n += 1
        return total / n if n else 0.0

    def usual(self, minute: int) -> float:
        """This slot's mean alone (the other kind of day's until seen; 0 if neither)."""
        slot = slot_of(minute)
        for s in (slot, (slot + SLOTS) % (2 * SLOTS)):
            if self.counts[s] >= FULL:
                return float(self.means[s])
        return 0.0

    def _near(self, slot: int) -> float:
        base = slot - slot % SLOTS
        best = -1.0
        for near in (slot - 1, slot, slot + 1):
            s = base + near % SLOTS
            if self.counts[s] >= FULL:
                best = max(best, self.means[s])
        return best

    def seen(self, minute: int, days: int = 1) -> bool:
        """Whether this slot has been learned on at least ``days`` days."""
        return bool(self.counts[slot_of(minute)] >= FULL * days)

    def learn(self, minute: int, value: float, day_weight: float, growth: float) -> None:
        slot = slot_of(minute)
        n = self.counts[slot]
        mean = self.means[slot]
        if n < FULL:
            self.means[slot] = mean + (value - mean) / (n + 1)
        else:
            rate = 1.0 - (1.0 - day_weight) ** (1.0 / SLOT_MINUTES)
            value = min(value, growth * mean) if mean > 0 else value
            self.means[slot] = mean + rate * (value - mean)
        if n < MAX_COUNT:
            self.counts[slot] = n + 1

    def learn_zeros(self, start: int, minutes: int, day_weight: float) -> None:
        """Learn ``minutes`` minutes of zero spend from ``start`` (capped at a week)."""
        minute, end = start, start + min(minutes, 7 * 1440)
        rate = 1.0 - (1.0 - day_weight) ** (1.0 / SLOT_MINUTES)
        while minute < end:
            run = min(end, minute - minute % SLOT_MINUTES + SLOT_MINUTES) - minute
            slot = slot_of(minute)
            n = self.counts[slot]
            if n < FULL:
                self.means[slot] = self.means[slot] * n / (n + run)
            else:
                self.means[slot] = self.means[slot] * (1.0 - rate) ** run
            self.counts[slot] = min(MAX_COUNT, n + run)
            minute += run
