"""How far each source (usage) partition has got in event time, per buckets partition.

A team, app, model or org series combines partial buckets from every usage partition.
Its own newest minute is the fastest source's: when one source races ahead of another
(a backfill, a worker catching up on one partition), closing a bucket by it alone would
close a minute holding the partials of the fast source only, and teach the detectors a
sum that is too small (and then count the late partials into a later minute as a jump).

Every partial record carries its source's event-time watermark (``w``). Records from one
source to one buckets partition arrive in order, so once a source's mark on a partition
has passed a minute, every partial of that minute it will send there (within the
allowed lateness) has arrived. A partition's low mark is the slowest mark among the
sources that sent to it in the last ``idle_s`` seconds; a source that went quiet stops
holding buckets open (its later partials, if any, count as late ones do).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

IDLE_S = 10.0
"""Seconds without a record after which a source no longer holds a partition's buckets."""


@dataclass
class SourceProgress:
    idle_s: float = IDLE_S
    marks: dict[int, dict[int, tuple[int, float]]] = field(default_factory=dict)
    """Per buckets partition, per source partition: (watermark minute, monotonic time of
    its last record)."""

    def note(self, partition: int, source: int, minute: int, now: float | None = None) -> None:
        """A record from ``source`` reached ``partition`` with watermark ``minute``."""
        sources = self.marks.setdefault(partition, {})
        known = sources.get(source)
        best = minute if known is None else max(known[0], minute)
        sources[source] = (best, time.monotonic() if now is None else now)

    def low(self, partition: int, now: float | None = None) -> int | None:
        """The slowest active source's watermark on ``partition`` (None: none known)."""
        sources = self.marks.get(partition)
        if not sources:
            return None
        now = time.monotonic() if now is None else now
        active = [minute for minute, seen in sources.values() if now - seen <= self.idle_s]
        return min(active) if active else None

    def forget(self) -> None:
        """After a rebalance: marks are learnt again from the records that follow."""
        self.marks.clear()
