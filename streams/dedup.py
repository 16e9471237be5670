"""Exactly-once counting per usage partition: duplicate events and replayed messages.

Each processed message leaves one small record in a changelogged table, keyed by its
own (partition, offset): the event ids it counted and the highest event minute in it.
From those records a restarted or new owner of the partition rebuilds, before it
processes anything, which event ids were already counted and where the watermark stood.

Every decision about message ``o`` is a function of the records of messages before
``o``, so replaying a message after a crash reproduces exactly the decisions of the
first run (its partials are then dropped by the buckets' owners by their (partition,
offset) tag):

- an event is a duplicate when a message before ``o`` counted it and that message is
  still within the dedup window for ``o``: its highest event minute is at least the
  watermark before ``o`` minus the window. A copy resent later than that counts again;
- the watermark before ``o`` is the highest event minute of the messages before it.

Records are deleted only once no replay can need them: when they are out of the window
for the partition's *committed* offset (the first message a replay would read), not
merely for the message being processed. Deleting them sooner would let a replay that
reaches back past the deletion count an event a second time.
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
    """Duplicate filter and watermark of one usage partition (see the module)."""

    partition: int
    window_minutes: int
    first_seen: dict[str, int] = field(default_factory=dict)
    """Event id to an offset it was counted at (the usual case: the only one)."""
    counted_again: dict[str, list[int]] = field(default_factory=dict)
    """Further offsets an event id was counted at (copies resent after the window)."""
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

        The usual message (ids all new and distinct) costs one dict and two set
        operations, all in C.
        """
        seen = self.first_seen
        distinct = dict.fromkeys(event_ids, offset)
        if len(distinct) == len(event_ids) and seen.keys().isdisjoint(distinct):
            seen.update(distinct)
            return IdFilter(None, 0, list(event_ids))
        horizon = self.watermark_before(offset) - self.window_minutes
        in_message: set[str] = set()
        kept: list[int] = []
        counted: list[str] = []
        for index, event_id in enumerate(event_ids):
            if event_id in in_message or self._counted_before(event_id, offset, horizon):
                continue
            in_message.add(event_id)
            kept.append(index)
            counted.append(event_id)
            self._note(event_id, offset)
        return IdFilter(kept, len(event_ids) - len(kept), counted)

    def _counted_before(self, event_id: str, offset: int, horizon: int) -> bool:
        """Counted by a message before ``offset`` that is within the window for it."""
        first = self.first_seen.get(event_id)
        if first is None:
            return False
        if first < offset and self._maximum_at(first, horizon) >= horizon:
            return True
        return any(
            other < offset and self._maximum_at(other, horizon) >= horizon
            for other in self.counted_again.get(event_id, ())
        )

    def _maximum_at(self, offset: int, default: int) -> int:
        """The highest event minute of the message at ``offset`` (``default`` if none)."""
        index = bisect.bisect_left(self.offsets, offset)
        if index < len(self.offsets) and self.offsets[index] == offset:
            return self.maxima[index]
        return default

    def _note(self, event_id: str, offset: int) -> None:
        first = self.first_seen.setdefault(event_id, offset)
        if first != offset:
            again = self.counted_again.setdefault(event_id, [])
            if offset not in again:
                again.append(offset)

    def _forget(self, event_id: str, offset: int) -> None:
        again = self.counted_again.get(event_id)
        if self.first_seen.get(event_id) == offset:
            if again:
                self.first_seen[event_id] = again.pop()
            else:
                del self.first_seen[event_id]
        elif again and offset in again:
            again.remove(offset)
        if again is not None and not again:
            del self.counted_again[event_id]

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

    def expire(self, committed: int | None) -> list[int]:
        """Forget the records no replay can need any more: out of the window for the
        committed offset ``committed`` (None: not known yet, keep everything); returns
        their offsets (to delete)."""
        if committed is None:
            return []
        horizon = self.watermark_before(committed) - self.window_minutes
        expired: list[int] = []
        while len(self.offsets) > 1 and self.offsets[0] < committed and self.maxima[0] < horizon:
            offset = self.offsets.pop(0)
            self.maxima.pop(0)
            for event_id in self.ids.pop(offset, []):
                self._forget(event_id, offset)
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
                self._note(event_id, offset)
        self._prefix = []
