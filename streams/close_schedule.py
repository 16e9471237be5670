"""Which series a partition's flush must look at again, though they did not change.

A series whose newest buckets are not yet closed waits for event time to move on: for
the partition's slowest source to pass them (``source_progress``), or, once the series
has gone quiet, for the worker's watermark to be the allowed lateness past them. Looking
at every such series on every flush costs a state read and decode each, and a worker
with a million keys that each called once has a million of them. So each waiting series
is filed under the mark it needs, in two heaps, and a flush takes only those whose mark
has been reached, at most ``limit`` at a time (the rest come with the next flush).

Series with a firing alert (resolving needs clean minutes to pass) or an open bucket not
yet shown to the detectors since it changed are few; they are looked at every time.

>>> schedule = CloseSchedule()
>>> schedule.wait("team=a", low_needed=12, world_needed=21, always=False)
>>> schedule.wait("team=b", low_needed=None, world_needed=15, always=False)
>>> schedule.take(low=11, world=11, limit=10)
set()
>>> sorted(schedule.take(low=16, world=16, limit=10))
['team=a', 'team=b']
>>> schedule.take(low=30, world=30, limit=10)  # taken ones wait again only when filed
set()
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

NEVER = 1 << 62
"""A mark no event time reaches: the series changes before that rule can close it."""


@dataclass
class CloseSchedule:
    always: set[str] = field(default_factory=set)
    by_low: list[tuple[int, str]] = field(default_factory=list)
    """(low mark of the partition's sources needed, series), a heap."""
    by_world: list[tuple[int, str]] = field(default_factory=list)
    """(watermark, no later than the low mark, needed, series), a heap."""
    filed: dict[str, tuple[int, int]] = field(default_factory=dict)
    """The entry each waiting series holds now; older heap entries are stale."""

    def wait(
        self, name: str, low_needed: int | None, world_needed: int | None, always: bool
    ) -> None:
        """File ``name`` to be taken once either mark is reached (None: not by that
        one), or every time when ``always``. Replaces what it was filed under."""
        if always:
            self.always.add(name)
        else:
            self.always.discard(name)
        low = NEVER if low_needed is None else low_needed
        world = NEVER if world_needed is None else world_needed
        if low == NEVER and world == NEVER:
            self.filed.pop(name, None)
            return
        if self.filed.get(name) == (low, world):
            return
        self.filed[name] = (low, world)
        if low != NEVER:
            heapq.heappush(self.by_low, (low, name))
        if world != NEVER:
            heapq.heappush(self.by_world, (world, name))

    def due(self, low: int, world: int) -> bool:
        """Whether a series filed in a heap has its mark reached."""
        self._prune()
        return bool(
            (self.by_low and self.by_low[0][0] <= low)
            or (self.by_world and self.by_world[0][0] <= world)
        )

    def take(self, low: int, world: int, limit: int) -> set[str]:
        """The series to look at: every ``always`` one, and up to ``limit`` whose mark
        is reached (they leave the heaps; file them again if they still wait)."""
        taken = set(self.always)
        count = 0
        for index, heap, reached in ((0, self.by_low, low), (1, self.by_world, world)):
            while heap and heap[0][0] <= reached and count < limit:
                mark, name = heapq.heappop(heap)
                filed = self.filed.get(name)
                if filed is not None and filed[index] == mark and name not in taken:
                    del self.filed[name]
                    taken.add(name)
                    count += 1
        return taken

    def _prune(self) -> None:
        """Drop stale heap tops (series filed again since, or no longer waiting)."""
        for index, heap in ((0, self.by_low), (1, self.by_world)):
            while heap and self.filed.get(heap[0][1], (None, None))[index] != heap[0][0]:
                heapq.heappop(heap)
