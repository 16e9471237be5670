r"""A log line a minute (``progress_log_s``) on what the worker booked: a silent worker
is otherwise a mystery.

>>> from streams.metrics import ProgressTally
>>> clock = iter([0.0, 60.0, 120.0]).__next__
>>> tally = ProgressTally()
>>> log = ProgressLog(tally, clock=clock)
>>> tally.events, tally.messages, tally.series_writes = 6000, 6, 40
>>> print(*log.line().split("; "), sep="\n")
booked 6,000 events (+6,000, 100/s) from 6 messages
0 duplicates, 0 late, 0 rejected
40 series writes
>>> log.line() is None  # nothing new: no line
True
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import astuple, dataclass, field

from streams.metrics import ProgressTally

log = logging.getLogger("spendwatch.progress")


@dataclass
class ProgressLog:
    tally: ProgressTally
    clock: Callable[[], float] = time.monotonic
    last: tuple[int, ...] = ()
    last_at: float = field(default=-1.0)

    def __post_init__(self) -> None:
        self.last_at = self.clock()
        self.last = astuple(ProgressTally())

    def line(self) -> str | None:
        """What changed since the last line (None: nothing did)."""
        now, counts = self.clock(), astuple(self.tally)
        if counts == self.last:
            self.last_at = now
            return None
        t, new_events = self.tally, counts[0] - self.last[0]
        rate = new_events / (now - self.last_at) if now > self.last_at else 0.0
        self.last, self.last_at = counts, now
        return (
            f"booked {t.events:,} events (+{new_events:,}, {rate:,.0f}/s) from "
            f"{t.messages:,} messages; {t.duplicates:,} duplicates, {t.late:,} late, "
            f"{t.rejected:,} rejected; {t.series_writes:,} series writes"
        )

    async def tick(self) -> None:
        text = self.line()
        if text:
            log.info(text)
