"""Stage two: partial buckets to rolling series state (the ``series`` agent).

Records of the buckets topic are applied to in-memory ``SeriesState`` objects at once
(reads see them immediately) and acknowledged only after the changed states were
written to the changelogged table, once per partition per flush interval rather than
once per record. An unflushed record is not committed, so a crash replays it; the state's
per-source positions make the replay a no-op where it had already been stored.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from faust.types import EventT, StreamT

from streams.metrics import WorkerMetrics
from streams.producer import partition_for
from streams.series_state import SeriesState
from streams.settings import WorkerSettings

MAX_PENDING = 2000
"""Records held unacknowledged per partition before a flush is forced."""


@dataclass
class _PartitionBuffer:
    dirty: set[str] = field(default_factory=set)
    pending: list[EventT[bytes]] = field(default_factory=list)
    since: float = field(default_factory=time.monotonic)


@dataclass
class SeriesStage:
    settings: WorkerSettings
    metrics: WorkerMetrics
    series_table: Any
    cache: dict[str, SeriesState] = field(default_factory=dict)
    buffers: dict[int, _PartitionBuffer] = field(default_factory=dict)
    on_change: Callable[[str, SeriesState], None] | None = None
    """Called after a state changed (detectors hook in here)."""

    async def run(self, stream: StreamT[bytes]) -> AsyncIterator[None]:
        manual: StreamT[bytes] = stream.noack()  # type: ignore[attr-defined]
        async for event in manual.events():
            self.apply(event)
            buffer = self.buffers[event.message.partition]
            due = time.monotonic() - buffer.since >= self.settings.flush_interval_s
            if due or len(buffer.pending) >= MAX_PENDING:
                await self.flush(event.message.partition, manual)
            yield None

    def state(self, name: str) -> SeriesState:
        state = self.cache.get(name)
        if state is None:
            stored = self.series_table.get(name.encode())
            state = SeriesState.from_bytes(stored) if stored else SeriesState()
            self.cache[name] = state
        return state

    def apply(self, event: EventT[bytes]) -> None:
        record = orjson.loads(event.value)
        source_partition, source_offset = record["p"], record["o"]
        units = record.get("u", {})
        buffer = self.buffers.setdefault(event.message.partition, _PartitionBuffer())
        for name, buckets in record["s"].items():
            state = self.state(name)
            if state.apply(source_partition, source_offset, buckets, units.get(name)):
                buffer.dirty.add(name)
                if self.on_change is not None:
                    self.on_change(name, state)
        buffer.pending.append(event)

    async def flush(self, partition: int, stream: StreamT[bytes]) -> None:
        """Store the partition's changed series, then acknowledge its records.

        Runs while an event of ``partition`` is current: the table's local store files
        a write under the current event's partition, which must own the series.
        """
        buffer = self.buffers.get(partition)
        if buffer is None:
            return
        now_minute = int(time.time() // 60)
        for name in sorted(buffer.dirty):
            state = self.cache[name]
            self.series_table[name.encode()] = state.to_bytes()
            if name.startswith("team="):
                mtd = state.window("mtd", now_minute)[0]
                self.metrics.team_mtd.labels(name[5:]).set(mtd / 1e9)
        self.metrics.series_flushed.inc(len(buffer.dirty))
        buffer.dirty.clear()
        for pending in buffer.pending:
            await stream.ack(pending)
        buffer.pending.clear()
        buffer.since = time.monotonic()

    def forget_partitions(self) -> None:
        """After a rebalance: drop unflushed state; unacknowledged records come again."""
        self.cache.clear()
        self.buffers.clear()

    def owns(self, name: str, partition: int) -> bool:
        return partition_for(name, self.settings.series_partitions) == partition

    def series(self, name: str) -> SeriesState | None:
        """Current state for reads: the in-memory one if loaded, else the stored one."""
        state = self.cache.get(name)
        if state is not None:
            return state
        stored = self.series_table.get(name.encode())
        return SeriesState.from_bytes(stored) if stored else None

    def names(self) -> set[str]:
        return set(self.cache) | {bytes(k).decode() for k in self.series_table}
