"""A watchdog for a known Faust consumer stall: partitions assigned but never fetched.

After a rebalance or a restart, faust-streaming sometimes leaves assigned partitions out
of its fetches (faust-streaming issues #471 and #629): the worker says it is ready, reads
nothing more from them, and their messages wait forever while nothing is lost. Every
``interval_s`` the watchdog compares each assigned input partition's end offset with
the position the worker reached (the last offset read, else the committed one). A
partition with unread messages whose position has not moved for ``STALL_CHECKS`` checks
in a row is stalled, whether or not the others flow:

- when no input partition has read anything, it puts every one back among the fetched
  partitions and seeks them to their committed offsets, as Faust itself does after a
  rebalance;
- when others flow, it puts the stalled ones back and seeks each to the position it
  reached, so the ones that flow are not read again.

Messages read again are no-ops downstream (dedup records and applied offsets), and any
Faust skips after a seek are read by the delivery guard.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from streams.delivery_guard import faust_committed

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


STALL_CHECKS = 2
"""Checks in a row a partition with unread messages must not move to count as stalled."""


class Check(NamedTuple):
    stalled: set[Any]
    """Partitions behind and unmoved for ``Stalls.checks`` checks (reported once)."""
    moved: bool
    """Whether any partition read something since the check before."""


@dataclass
class Stalls:
    """Which partitions are stalled, from one reading of positions per check."""

    checks: int = STALL_CHECKS
    last_read: dict[Any, int | None] = field(default_factory=dict)
    still: dict[Any, int] = field(default_factory=dict)
    """Checks in a row each partition has been behind without moving."""

    def observe(self, read: Mapping[Any, int | None], behind: set[Any]) -> Check:
        """This check's verdict on the ``read`` offsets, given which partitions are
        ``behind``; a stalled partition's count starts again once reported.

        >>> stalls = Stalls()
        >>> [stalls.observe({"a": 1, "b": 5}, {"a"}).stalled for _ in range(3)]
        [set(), set(), {'a'}]
        """
        moved = any(self.last_read.get(tp) != offset for tp, offset in read.items())
        still = {}
        for tp, offset in read.items():
            unmoved = tp in self.last_read and self.last_read[tp] == offset
            if tp in behind and unmoved:
                still[tp] = self.still.get(tp, 0) + 1
        self.last_read = dict(read)
        stalled = {tp for tp, n in still.items() if n >= self.checks}
        self.still = {tp: n for tp, n in still.items() if tp not in stalled}
        return Check(stalled, moved)


@dataclass
class FetchWatchdog:
    app: Any
    topics: frozenset[str]
    stalls: Stalls = field(default_factory=Stalls)
    kicks: int = 0

    async def check(self) -> None:
        app = self.app
        consumer = app.consumer
        if app.rebalancing or app.in_recovery:
            self.stalls = Stalls()
            return
        tps = {tp for tp in consumer.assignment() if tp.topic in self.topics}
        if not tps:
            return
        read = {tp: app.monitor.tp_read_offsets.get(tp) for tp in tps}
        committed = faust_committed(consumer)
        behind = unread(await consumer.highwaters(*tps), read, committed)
        stalled, flowing = self.stalls.observe(read, behind)
        if not stalled:
            return
        self.kicks += 1
        names = ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in stalled))
        if not flowing:
            log.warning(
                "partitions %s have unread messages but nothing was read for %d checks: "
                "fetching them again from the committed offsets",
                names,
                self.stalls.checks,
            )
            consumer.resume_partitions(tps)
            await consumer.perform_seek()
            return
        log.warning(
            "partitions %s have unread messages and read nothing for %d checks while "
            "others flow: fetching them again from where they stopped",
            names,
            self.stalls.checks,
        )
        consumer.resume_partitions(stalled)
        for tp in stalled:
            position = read[tp] if read[tp] is not None else committed.get(tp)
            await consumer.seek(tp, position or 0)
