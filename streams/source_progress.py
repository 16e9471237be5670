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

A source not heard from at all may be the slowest of all: at a worker's start or after a
rebalance, one usage partition's backlog can be through every minute of a backfill before
the first partial of another arrives. So while fewer sources than there are (``expected``,
the usage topic's partitions) have sent to a partition, it holds every bucket for
``idle_s`` from its first record: a source with nothing for that partition stops holding
it then, as a quiet one does.

Wall-clock silence misleads while this worker is still reading a backlog: a source whose
usage partition it consumes and has unread records of (``behind``) is not quiet, only
slow, however long since its last record here (on a loaded machine ten seconds pass
easily). It keeps holding while it is behind, an unheard one for at most
``UNHEARD_MAX_S``: a partition it has no keys for must not wait on its backlog forever.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

IDLE_S = 10.0
"""Seconds without a record after which a source no longer holds a partition's buckets."""
HELD = -1
"""The low mark while a source not yet heard from may still be behind: no bucket closes."""
UNHEARD_MAX_S = 120.0
"""Longest a source that is behind but has sent nothing to a partition holds it."""


def _never_behind(source: int) -> bool:
    return False


@dataclass
class SourceProgress:
    idle_s: float = IDLE_S
    expected: int = 0
    """Source (usage) partitions there are; 0: only those heard from count."""
    behind: Callable[[int], bool] = _never_behind
    """Whether this worker consumes the source and has records of it still to read."""
    marks: dict[int, dict[int, tuple[int, float]]] = field(default_factory=dict)
    """Per buckets partition, per source partition: (watermark minute, monotonic time of
    its last record)."""
    first_heard: dict[int, float] = field(default_factory=dict)
    """Per buckets partition, the monotonic time of its first record (since ``forget``)."""

    def note(self, partition: int, source: int, minute: int, now: float | None = None) -> None:
        """A record from ``source`` reached ``partition`` with watermark ``minute``."""
        now = time.monotonic() if now is None else now
        sources = self.marks.setdefault(partition, {})
        self.first_heard.setdefault(partition, now)
        known = sources.get(source)
        best = minute if known is None else max(known[0], minute)
        sources[source] = (best, now)

    def low(self, partition: int, now: float | None = None) -> int | None:
        """The slowest active source's watermark on ``partition`` (None: none known;
        ``HELD`` while a source not heard from yet may still be behind)."""
        sources = self.marks.get(partition)
        if not sources:
            return None
        now = time.monotonic() if now is None else now
        if len(sources) < self.expected:
            waited = now - self.first_heard[partition]
            if waited <= self.idle_s or (
                waited <= UNHEARD_MAX_S
                and any(self.behind(s) for s in range(self.expected) if s not in sources)
            ):
                return HELD
        active = [
            minute
            for source, (minute, seen) in sources.items()
            if now - seen <= self.idle_s or self.behind(source)
        ]
        return min(active) if active else None

    def forget(self) -> None:
        """After a rebalance: marks are learnt again from the records that follow."""
        self.marks.clear()
        self.first_heard.clear()
