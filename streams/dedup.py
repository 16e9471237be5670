"""Exactly-once counting per usage partition: duplicate events and replayed messages.

Each processed message leaves one small record in a changelogged table, keyed by its
own (partition, offset): the event ids it saw first and the partition's watermark after
it. From those records a restarted or new owner of the partition rebuilds, before it
processes anything, which event ids were already counted and where the watermark stood.

An event is a duplicate when it was counted at a *lower* offset (or earlier in the same
message), so replaying a message after a crash reproduces exactly the decisions of the
first run: its own first sightings count again, and the buckets' owners drop the
replayed partials by their (partition, offset) tag. Records expire after the dedup
window of event time: a copy resent later than that counts again.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from streams.rows import Row


def record_key(partition: int, offset: int) -> str:
    return f"{partition}|{offset:020d}"


def parse_record_key(key: str) -> tuple[int, int]:
    partition, offset = key.split("|", 1)
    return int(partition), int(offset)


@dataclass(slots=True)
class Filtered:
    rows: list[Row]
    duplicates: int
    first_seen: list[str]


@dataclass(slots=True)
class IdFilter:
    """Which events of a message count: ``kept`` positions (None: all of them)."""

    kept: list[int] | None
    duplicates: int
    first_seen: list[str]


@dataclass
class PartitionDedup:
    """Duplicate filter and watermark of one usage partition.

    Every decision about message ``o`` depends only on the records of messages *before*
    ``o``: an event is a duplicate when it was counted at a lower offset (or earlier in
    the same message), and the watermark before ``o`` is the highest event minute of
    the messages before it. Replays, and messages handed out of order around a
    rebalance, therefore decide exactly as the first run did.
    """

    partition: int
    window_minutes: int
    first_seen: dict[str, int] = field(default_factory=dict)
    """Event id to the lowest offset it was counted at."""
    offsets: list[int] = field(default_factory=list)
    """Offsets with a record, ascending."""
    maxima: list[int] = field(default_factory=list)
    """The highest event minute of each recorded message (aligned with ``offsets``)."""
    ids: dict[int, list[str]] = field(default_factory=dict)
    _prefix: list[int] = field(default_factory=list)

    def watermark_before(self, offset: int) -> int:
        """The highest event minute of the messages before ``offset`` (-1 if none)."""
        index = bisect.bisect_left(self.offsets, offset)
        if not index:
            return -1
        if len(self._prefix) != len(self.maxima):
            self._prefix = list(itertools.accumulate(self.maxima, max))
        return self._prefix[index - 1]

    def filter(self, rows: Iterable[Row], offset: int) -> Filtered:
        rows = list(rows)
        verdict = self.filter_ids([row[0] for row in rows], offset)
        if verdict.kept is not None:
            rows = [rows[i] for i in verdict.kept]
        return Filtered(rows, verdict.duplicates, verdict.first_seen)

    def filter_ids(self, event_ids: list[str], offset: int) -> IdFilter:
        """``filter`` on a message's event ids, in message order.

        The usual message (ids all new and distinct) costs two set operations in C.
        """
        seen = self.first_seen
        distinct = dict.fromkeys(event_ids)
        if len(distinct) == len(event_ids) and seen.keys().isdisjoint(distinct):
            seen.update(dict.fromkeys(distinct, offset))
            return IdFilter(None, 0, list(distinct))
        in_message: set[str] = set()
        kept: list[int] = []
        first: list[str] = []
        for index, event_id in enumerate(event_ids):
            where = seen.get(event_id)
            if event_id in in_message or (where is not None and where < offset):
                continue
            in_message.add(event_id)
            kept.append(index)
            if where is None or where > offset:
                seen[event_id] = offset
                first.append(event_id)
        return IdFilter(kept, len(event_ids) - len(kept), first)

    def remember(self, offset: int, message_max: int, first_seen: list[str]) -> bytes:
        """Note a processed message; returns the record value to store under its key."""
        index = bisect.bisect_left(self.offsets, offset)
        prefix_valid = len(self._prefix) == len(self.maxima)
        if index < len(self.offsets) and self.offsets[index] == offset:
            self.maxima[index] = max(self.maxima[index], message_max)
            self._prefix = []
        else:
            self.offsets.insert(index, offset)
            self.maxima.insert(index, message_max)
            if prefix_valid and index == len(self._prefix):  # the usual case: a new last offset
                self._prefix.append(max(self._prefix[-1], message_max) if index else message_max)
            else:
                self._prefix = []
        previous = self.ids.get(offset)
        self.ids[offset] = sorted(
            set(first_seen) if previous is None else set(previous) | set(first_seen)
        )
        return orjson.dumps({"wm": self.maxima[index], "ids": self.ids[offset]})

    def expire(self, watermark: int) -> list[int]:
        """Forget records older than the window; returns their offsets (to delete)."""
        horizon = watermark - self.window_minutes
        expired: list[int] = []
        while len(self.offsets) > 1 and self.maxima[0] < horizon:
            offset = self.offsets.pop(0)
            self.maxima.pop(0)
            for event_id in self.ids.pop(offset, []):
                if self.first_seen.get(event_id) == offset:
                    del self.first_seen[event_id]
            expired.append(offset)
        if expired:
            self._prefix = []
        return expired

    def load(self, records: Iterable[tuple[int, bytes]]) -> None:
        """Rebuild from stored records (offset, value), in any order."""
        for offset, value in sorted(records):
            record = orjson.loads(value)
            self.offsets.append(offset)
            self.maxima.append(int(record["wm"]))
            ids = list(record["ids"])
            self.ids[offset] = ids
            for event_id in ids:
                self.first_seen.setdefault(event_id, offset)
        self._prefix = []
