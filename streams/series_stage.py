"""Stage two: partial buckets to rolling series state (the ``series`` agent).

Records of the buckets topic are applied to in-memory ``SeriesState`` objects at once
(reads see them immediately) and acknowledged only after the changed states were
written to the changelogged table, once per partition per flush interval rather than
once per record. An unflushed record is not committed (nor one whose changelog records
Kafka has not yet acknowledged: ``stored_acks``), so a crash replays it; the state's
per-source positions make the replay a no-op where it had already been stored.

The table's local store files a write under the partition of the event being processed,
so a partition's states are flushed while one of its records is current. A partition
that has gone quiet with unflushed records gets a tick record from a timer, and flushes
when the tick comes round. At most ``max_cached_series`` states stay in memory; the
least recently used clean ones are dropped and read back from the table when needed.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from faust.types import EventT, StreamT

from streams.delivery_guard import DeliveryGuard
from streams.detection_stage import DetectionStage
from streams.metrics import WorkerMetrics
from streams.series_state import SeriesState
from streams.settings import WorkerSettings
from streams.state_dir import write_or_stop
from streams.stored_acks import AckWhenStored

MAX_PENDING = 2000
"""Records held unacknowledged per partition before a flush is forced."""
DIRTY_SHARE = 10
"""A partition flushes once its changed states reach the cache size divided by this:
a backlog over many series (a recovery, a burst across every key) would otherwise hold
every changed state in memory until the flush interval, far past the cache's limit
(34,000 states against a limit of 5,000 at 100,000 keys), and the allocator keeps that
peak after it is freed."""
SCAN_YIELD_EVERY = 200
"""Series decoded between two turns of the event loop in a read across a dimension."""
TICK = b'{"tick":1}'


@dataclass
class _PartitionBuffer:
    dirty: set[str] = field(default_factory=set)
    pending: list[EventT[bytes]] = field(default_factory=list)
    since: float = field(default_factory=time.monotonic)
    tick_sent: bool = False
    evaluated_at: int = -1
    """The detection watermark when the partition was last evaluated."""


@dataclass
class SeriesStage:
    settings: WorkerSettings
    metrics: WorkerMetrics
    series_table: Any
    buckets_topic: Any
    detection: DetectionStage | None = None
    guard: DeliveryGuard | None = None
    rebalancing: Callable[[], bool] = lambda: False
    """True from the moment a rebalance starts revoking partitions until it is over."""
    cache: OrderedDict[str, SeriesState] = field(default_factory=OrderedDict)
    buffers: dict[int, _PartitionBuffer] = field(default_factory=dict)

    async def run(self, stream: StreamT[bytes]) -> AsyncIterator[None]:
        manual: StreamT[bytes] = stream.noack()  # type: ignore[attr-defined]
        acks = AckWhenStored(manual)
        async for event in manual.events():
            # Any records before it that Faust left out go first (``delivery_guard``).
            earlier = await self.guard.missing(event.message) if self.guard else []
            for each in [*earlier, event]:
                buffer = self.apply(each)
                due = time.monotonic() - buffer.since >= self.settings.flush_interval_s
                if due or self._full(buffer):
                    await self.flush(each.message.partition, acks)
            yield None

    def _full(self, buffer: _PartitionBuffer) -> bool:
        max_dirty = max(1, self.settings.max_cached_series // DIRTY_SHARE)
        return len(buffer.pending) >= MAX_PENDING or len(buffer.dirty) >= max_dirty

    async def tick(self) -> None:
        """Timer: nudge quiet partitions that hold unflushed records."""
        now = time.monotonic()
        detection = self.detection
        for partition, buffer in list(self.buffers.items()):
            quiet = now - buffer.since >= self.settings.flush_interval_s
            detect = detection is not None and detection.waiting_on(partition, buffer.evaluated_at)
            if (buffer.pending or detect) and quiet and not buffer.tick_sent:
                buffer.tick_sent = True
                await self.buckets_topic.send(key=b"tick", value=TICK, partition=partition)

    def state(self, name: str) -> SeriesState:
        state = self.cache.get(name)
        if state is None:
            stored = self.series_table.get(name.encode())
            state = SeriesState.from_bytes(stored) if stored else SeriesState()
            self.cache[name] = state
        else:
            self.cache.move_to_end(name)
        return state

    def apply(self, event: EventT[bytes]) -> _PartitionBuffer:
        buffer = self.buffers.setdefault(event.message.partition, _PartitionBuffer())
        buffer.pending.append(event)
        if event.value == TICK:
            return buffer
        record = orjson.loads(event.value)
        source_partition, source_offset, committed = record["p"], record["o"], record.get("k")
        if self.detection is not None and "w" in record:
            self.detection.sources.note(event.message.partition, source_partition, record["w"])
        units = record.get("u", {})
        contributors = record.get("c", {})
        for name, buckets in record["s"].items():
            state = self.state(name)
            # Written even when the record was applied before: a replayed record can be
            # one whose state reached the local store but not the changelog.
            buffer.dirty.add(name)
            applied = state.apply(
                source_partition,
                source_offset,
                buckets,
                units.get(name),
                contributors.get(name),
                committed,
            )
            if applied and self.detection is not None:
                self.detection.advance(state.newest_minute)
        return buffer

    async def flush(self, partition: int, acks: AckWhenStored) -> None:
        """Store the partition's changed series; acknowledge its records once stored.

        Not while a rebalance is under way: a write issued after the partition was
        revoked could reach the changelog after its new owner's writes and regress the
        state it later recovers. The records stay unacknowledged and are applied again.
        """
        buffer = self.buffers.get(partition)
        if buffer is None or self.rebalancing():
            return
        now_minute = int(time.time() // 60)
        for name in sorted(buffer.dirty):
            state = self.cache[name]
            write_or_stop(
                self.series_table, name.encode(), state.to_bytes(), self.settings.data_dir
            )
            if name.startswith("team="):
                mtd = state.window("mtd", now_minute)[0]
                self.metrics.team_mtd.labels(name[5:]).set(mtd / 1e9)
        self.metrics.series_flushed.inc(len(buffer.dirty))
        self.metrics.tally.series_writes += len(buffer.dirty)
        if self.detection is not None:
            buffer.evaluated_at = self.detection.watermark
            await self.detection.evaluate(partition, buffer.dirty, self.series)
        buffer.dirty.clear()
        sends = self.series_table.take_sends()
        if self.detection is not None:
            sends += self.detection.table.take_sends()
        await acks.ack(buffer.pending, sends)
        buffer.pending = []
        buffer.since = time.monotonic()
        buffer.tick_sent = False
        self._evict()

    def _evict(self) -> None:
        if self.detection is not None:
            self.detection.evict(self.settings.max_cached_series)
        excess = len(self.cache) - self.settings.max_cached_series
        if excess <= 0:
            return
        dirty = set().union(*(b.dirty for b in self.buffers.values()))
        for name in list(self.cache)[: excess + self.settings.max_cached_series // 10]:
            if name not in dirty:
                del self.cache[name]

    def forget_partitions(self) -> None:
        """After a rebalance: drop unflushed state; unacknowledged records come again."""
        self.cache.clear()
        self.buffers.clear()
        if self.detection is not None:
            self.detection.forget_partitions()

    def series(self, name: str) -> SeriesState | None:
        """Current state for reads: the in-memory one if loaded, else the stored one."""
        state = self.cache.get(name)
        if state is not None:
            return state
        stored = self.series_table.get(name.encode())
        return SeriesState.from_bytes(stored) if stored else None

    def names(self) -> set[str]:
        return set(self.cache) | {bytes(k).decode() for k in self.series_table}

    async def states_of(self, dimension: str) -> list[tuple[str, SeriesState]]:
        """Every series of ``dimension`` this worker holds, for reads across a dimension.

        Decoding is the cost (about 75 µs a series): only the dimension's series are
        decoded, and the event loop gets a turn every ``SCAN_YIELD_EVERY`` of them, so a
        read over 100,000 keys does not hold up the stream, recovery or other requests
        for seconds.
        """
        prefix = f"{dimension}="
        out: list[tuple[str, SeriesState]] = []
        for name in sorted(n for n in self.names() if n.startswith(prefix)):
            state = self.series(name)
            if state is not None:
                out.append((name, state))
                if len(out) % SCAN_YIELD_EVERY == 0:
                    await asyncio.sleep(0)
        return out
