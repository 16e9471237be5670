"""Cyclic garbage collection for a worker that holds a large, long-lived heap.

CPython's collector runs a full collection once enough middle-generation collections
have run (``threshold2``) and the objects promoted to its oldest generation since the
last one exceed a quarter of it, and a full collection visits every tracked object. A
loaded worker holds millions of them (cached series and detector states, dedup
windows), and while it works through a backlog every decoded record, every partial and
every state read back from RocksDB lives across a few young collections and is
promoted. With a million keys the worker spent 43 % of its samples in the collector
(py-spy ``--native``), its series writes slowing from 3,800 to 1,100 a second.

Two changes, both standard for long-running CPython services (measured with 200,000
keys in BENCHMARKS.md: the first cut the collector's share of CPU from 30 % to 13 %,
the second, on top of it, to 9 %; freezing alone, at CPython's thresholds, left 28 %):

- A larger youngest generation (``threshold0`` 50,000, ``threshold1`` 20): a record's
  temporaries die before a young collection sees them, instead of being promoted and
  counted towards a full one.
- The surviving heap is frozen (``gc.freeze``) every ``freeze_every_s``: frozen objects
  are never visited again, so a full collection only visits what arrived since. Frozen
  objects are still freed when their last reference goes (reference counting); only
  cyclic garbage among them waits, for the whole collection that runs every
  ``full_every_s`` (unfreeze, collect, freeze again), so none is kept for good.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

FREEZE_EVERY_S = 30.0
FULL_EVERY_S = 900.0
TICK_S = 5.0
"""How often the worker's timer asks the collector whether a freeze or a collection is due."""
THRESHOLDS = (50_000, 20, 10)
"""Young-generation allocations, then young collections per middle one and middle ones
per full one (CPython's defaults: 700, 10, 10)."""


@dataclass
class HeapCollector:
    freeze_every_s: float = FREEZE_EVERY_S
    full_every_s: float = FULL_EVERY_S
    thresholds: tuple[int, int, int] = THRESHOLDS
    clock: Callable[[], float] = time.monotonic
    full_collections: int = field(default=0, init=False)
    freezes: int = field(default=0, init=False)
    started: bool = field(default=False, init=False)
    _last_freeze: float = field(default=0.0, init=False)
    _last_full: float = field(default=0.0, init=False)

    def start(self) -> None:
        """Set the thresholds and freeze what start-up built (modules, app, config)."""
        gc.set_threshold(*self.thresholds)
        gc.collect()
        gc.freeze()
        self._last_freeze = self._last_full = self.clock()
        self.started = True

    def tick(self) -> str | None:
        """Start, freeze or fully collect when due; returns what it did."""
        if not self.started:
            self.start()
            return "start"
        now = self.clock()
        if now - self._last_full >= self.full_every_s:
            started = time.perf_counter()
            gc.unfreeze()
            found = gc.collect()
            gc.freeze()
            self._last_freeze = self._last_full = now
            self.full_collections += 1
            log.info(
                "full garbage collection: %d unreachable, %.3f s, %d objects frozen",
                found,
                time.perf_counter() - started,
                gc.get_freeze_count(),
            )
            return "full"
        if now - self._last_freeze >= self.freeze_every_s:
            gc.collect(1)  # the young garbage goes first, not into the frozen heap
            gc.freeze()
            self._last_freeze = now
            self.freezes += 1
            return "freeze"
        return None

    async def timer(self) -> None:
        """For an app timer: the first call starts (the worker is up by then)."""
        self.tick()
