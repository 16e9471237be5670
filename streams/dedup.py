"""Exactly-once counting per usage partition: duplicate events and replayed messages.

Each processed message leaves one small record in a changelogged table, keyed by its
own (partition, offset): the event ids it saw first and the partition's watermark after
it. From those records a restarted or new owner of the partition rebuilds, before it
processes anything, which event ids were already counted and where the watermark stood.

An event is a duplicate when its id was first seen at *another* offset (or earlier in
the same message). Replaying a message after a crash therefore reproduces exactly the
decisions of the first run: its own first sightings count again, and the buckets'
owners drop the replayed partials by their (partition, offset) tag.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from streams.fast_decode import Row


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


@dataclass
class PartitionDedup:
    """Duplicate filter and watermark of one usage partition."""

    partition: int
    window_minutes: int
    first_seen: dict[str, int] = field(default_factory=dict)
    offsets: list[int] = field(default_factory=list)
    """Offsets with a record, ascending."""
    watermarks: list[int] = field(default_factory=list)
    ids: dict[int, list[str]] = field(default_factory=dict)

    def watermark_before(self, offset: int) -> int:
        """The watermark as it stood just before ``offset`` (-1 before any event)."""
        index = bisect.bisect_left(self.offsets, offset)
        return self.watermarks[index - 1] if index else -1

    def filter(self, rows: Iterable[Row], offset: int) -> Filtered:
        seen = self.first_seen
        in_message: set[str] = set()
        kept: list[Row] = []
        first: list[str] = []
        duplicates = 0
        for row in rows:
            event_id = row[0]
            where = seen.get(event_id)
            if (where is not None and where != offset) or event_id in in_message:
                duplicates += 1
                continue
            in_message.add(event_id)
            kept.append(row)
            if where is None:
                seen[event_id] = offset
                first.append(event_id)
        return Filtered(kept, duplicates, first)

    def remember(self, offset: int, watermark: int, first_seen: list[str]) -> bytes:
        """Note a processed message; returns the record value to store under its key."""
        index = bisect.bisect_left(self.offsets, offset)
        if index < len(self.offsets) and self.offsets[index] == offset:
            del self.offsets[index:]
            del self.watermarks[index:]
        self.offsets.append(offset)
        self.watermarks.append(watermark)
        previous = self.ids.get(offset, [])
        self.ids[offset] = sorted(set(previous) | set(first_seen))
        return orjson.dumps({"wm": watermark, "ids": self.ids[offset]})

    def expire(self, watermark: int) -> list[int]:
        """Forget records older than the window; returns their offsets (to delete)."""
        horizon = watermark - self.window_minutes
        expired: list[int] = []
        while len(self.offsets) > 1 and self.watermarks[0] < horizon:
            offset = self.offsets.pop(0)
            self.watermarks.pop(0)
            for event_id in self.ids.pop(offset, []):
                if self.first_seen.get(event_id) == offset:
                    del self.first_seen[event_id]
            expired.append(offset)
        return expired

    def load(self, records: Iterable[tuple[int, bytes]]) -> None:
        """Rebuild from stored records (offset, value), in any order."""
        for offset, value in sorted(records):
            record = orjson.loads(value)
            self.offsets.append(offset)
            self.watermarks.append(int(record["wm"]))
            ids = list(record["ids"])
            self.ids[offset] = ids
            for event_id in ids:
                self.first_seen.setdefault(event_id, offset)
