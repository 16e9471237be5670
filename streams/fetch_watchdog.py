"""A watchdog for a known Faust consumer stall: partitions assigned but never fetched.

After a rebalance or a restart, faust-streaming sometimes leaves assigned partitions out
of its fetches (faust-streaming issues #471 and #629): the worker says it is ready, reads
nothing more from them, and their messages wait forever while nothing is lost. Every
``interval_s`` the watchdog compares each assigned input partition's end offset with
the position the worker reached (the last offset read, else the committed one). When
some partitions have unread messages and no input partition has read anything for two
checks in a row, it puts them back among the fetched partitions and seeks every
partition to its committed offset, as Faust itself does after a rebalance. Messages
read again are no-ops downstream (dedup records and applied offsets).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


def unread(
    ends: Mapping[Any, int],
    read: Mapping[Any, int | None],
    committed: Mapping[Any, int | None],
) -> set[Any]:
    """Partitions whose end offset is past the position the worker reached.

    >>> sorted(unread({"a": 10, "b": 5, "c": 7}, {"a": 9, "b": 2}, {"c": 7}))
    ['b']
    """
    behind = set()
    for tp, end in ends.items():
        last = read.get(tp)
        position = last + 1 if last is not None else (committed.get(tp) or 0)
        if end > position:
            behind.add(tp)
    return behind


@dataclass
class FetchWatchdog:
    app: Any
    topics: frozenset[str]
    idle_checks: int = 0
    last_read: dict[Any, int | None] = field(default_factory=dict)
    kicks: int = 0

    async def check(self) -> None:
        app = self.app
        consumer = app.consumer
        if app.rebalancing or app.in_recovery:
            self.idle_checks = 0
            return
        tps = {tp for tp in consumer.assignment() if tp.topic in self.topics}
        if not tps:
            return
        read = {tp: app.monitor.tp_read_offsets.get(tp) for tp in tps}
        moved = read != self.last_read
        self.last_read = read
        if moved:
            self.idle_checks = 0
            return
        ends = await consumer.highwaters(*tps)
        committed = getattr(consumer, "_committed_offset", {})
        behind = unread(ends, read, committed)
        if not behind:
            self.idle_checks = 0
            return
        self.idle_checks += 1
        if self.idle_checks < 2:
            return
        self.idle_checks = 0
        self.kicks += 1
        log.warning(
            "partitions %s have unread messages but nothing was read for two checks: "
            "fetching them again from the committed offsets",
            ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in behind)),
        )
        consumer.resume_partitions(tps)
        await consumer.perform_seek()
