"""Which source offsets a series state has already applied, as compact ranges.

A series gets partial buckets from many messages of each usage partition, and the
same partial may arrive more than once (a replay after a crash or a rebalance), and
not always in offset order (two workers' producers, before and after a rebalance). The
state therefore remembers exactly which offsets it applied, as sorted inclusive ranges:
a series present in every message keeps a single range.

Offsets at or below a *floor* count as applied. Each partial record carries its source
partition's committed offset, and the floor rises to it (``settle``): the ingest stage
commits an offset only once every partial of the messages below it is stored, so those
came ahead of this record and none is applied again (a replay of the usage partition
starts at the committed offset). The exact ranges thus cover the few seconds of messages
between commits. Offsets more than ``horizon`` below the highest one seen count as
applied too, a bound for records that carry no committed offset (a source partition
not yet committed since this worker took it).

>>> seen = AppliedOffsets()
>>> [seen.add(o) for o in (5, 7, 6, 6)]
[True, True, True, False]
>>> seen.ranges
[[5, 7]]
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

HORIZON = 100_000
"""Offsets (messages) kept exactly below the highest applied one."""


@dataclass
class AppliedOffsets:
    ranges: list[list[int]] = field(default_factory=list)
    """Sorted, disjoint, non-adjacent inclusive ranges ``[first, last]``."""
    floor: int = -1
    """Every offset at or below this counts as applied."""

    def __contains__(self, offset: int) -> bool:
        if offset <= self.floor:
            return True
        index = bisect.bisect_right(self.ranges, [offset, float("inf")]) - 1
        return index >= 0 and self.ranges[index][1] >= offset

    def add(self, offset: int, horizon: int = HORIZON) -> bool:
        """Record ``offset``; False when it was already applied."""
        if offset in self:
            return False
        ranges = self.ranges
        index = bisect.bisect_right(ranges, [offset, float("inf")])
        joins_left = index > 0 and ranges[index - 1][1] == offset - 1
        joins_right = index < len(ranges) and ranges[index][0] == offset + 1
        if joins_left and joins_right:
            ranges[index - 1][1] = ranges[index][1]
            del ranges[index]
        elif joins_left:
            ranges[index - 1][1] = offset
        elif joins_right:
            ranges[index][0] = offset
        else:
            ranges.insert(index, [offset, offset])
        self._prune(horizon)
        return True

    def settle(self, floor: int) -> None:
        """Count every offset at or below ``floor`` as applied (the floor only rises).

        >>> seen = AppliedOffsets([[3, 4], [7, 7], [9, 12]])
        >>> seen.settle(10); seen.ranges, 8 in seen, 13 in seen
        ([[11, 12]], True, False)
        """
        if floor <= self.floor:
            return
        self.floor = floor
        while self.ranges and self.ranges[0][1] <= floor:
            del self.ranges[0]
        if self.ranges and self.ranges[0][0] <= floor:
            self.ranges[0][0] = floor + 1

    def _prune(self, horizon: int) -> None:
        self.settle(self.ranges[-1][1] - horizon)

    def to_json(self) -> list[object]:
        return [self.floor, self.ranges]

    @classmethod
    def from_json(cls, data: list[object]) -> AppliedOffsets:
        floor, ranges = data
        assert isinstance(floor, int) and isinstance(ranges, list)
        return cls([list(r) for r in ranges], floor)
