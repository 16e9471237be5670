"""Stage one: usage messages to per-series partial buckets (the ``ingest`` agent).

Per message: decode and price (``RowDecoder``; a columnar message stays in columns),
dead-letter what is invalid, drop duplicate event ids (``PartitionDedup``), sum per
combination (``rollup``, or ``columnar_rollup`` for columns) and fan out to series, send
one partial record per buckets-topic partition, and store the message's dedup record in
a changelogged table. Validation uses the message's Kafka
timestamp as "now", so a replay decides exactly as the first run did.

A message is acknowledged (and so committed) only once Kafka has stored everything it
produced: its partial records, its dead letters and its dedup records. A committed
usage offset therefore means every partial of the messages below it is in the buckets
topic, ahead of any record sent later; each partial record carries that offset (``k``),
and a series applies nothing older again (``SeriesState.apply``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from faust.types import EventT, StreamT

from streams.columnar_rollup import sum_columns
from streams.dead_letter import dead_letter_record
from streams.dedup import PartitionDedup, parse_record_key, record_key
from streams.delivery_guard import DeliveryGuard
from streams.fast_decode import DecodedRows, RowDecoder
from streams.key_owners import KeyOwnerMap
from streams.metrics import WorkerMetrics
from streams.rollup import MessageTotals, fan_out, partial_records, sum_rows
from streams.rows import REPORTED
from streams.settings import WorkerSettings
from streams.state_dir import write_or_stop
from streams.stored_acks import AckWhenStored


@dataclass
class IngestStage:
    settings: WorkerSettings
    decoder: RowDecoder
    metrics: WorkerMetrics
    dlq_topic: Any
    buckets_topic: Any
    dedup_table: Any
    partitions: dict[int, PartitionDedup] = field(default_factory=dict)
    guard: DeliveryGuard | None = None
    committed: Callable[[int], int | None] = lambda partition: None
    """The offset this worker last committed for a usage partition (None: not yet)."""
    owners: KeyOwnerMap = field(default_factory=KeyOwnerMap)
    """Replaced whole when the config file changes (``streams.config_reload``)."""

    async def run(self, stream: StreamT[bytes]) -> AsyncIterator[None]:
        # Acknowledge by hand, after the message is fully processed: a worker stopped or
        # cancelled half-way through a message must leave it to be processed again.
        # The ack waits for the message's dedup records to be stored (``stored_acks``).
        manual: StreamT[bytes] = stream.noack()  # type: ignore[attr-defined]
        acks = AckWhenStored(manual)
        async for event in manual.events():
            # Any messages before it that Faust left out go first (``delivery_guard``).
            earlier = await self.guard.missing(event.message) if self.guard else []
            for each in [*earlier, event]:
                sent = await self.process(each)
                await acks.ack([each], [*sent, *self.dedup_table.take_sends()])
            yield None

    def forget_partitions(self) -> None:
        """After a rebalance: rebuild partition state from the table when next needed."""
        self.partitions.clear()

    def _partition(self, partition: int) -> PartitionDedup:
        state = self.partitions.get(partition)
        if state is None:
            state = PartitionDedup(partition, self.settings.dedup_window_minutes)
            prefix = f"{partition}|".encode()
            state.load(
                (parse_record_key(key.decode())[1], value)
                for key, value in self.dedup_table.items()
                if key.startswith(prefix)
            )
            self.partitions[partition] = state
        return state

    def _count(
        self, decoded: DecodedRows, dedup: PartitionDedup, offset: int
    ) -> tuple[MessageTotals, list[str], int, int]:
        """Totals of the message's events that count, the event ids it counted first,
        how many duplicates it dropped and how many counted events had reported costs."""
        watermark = dedup.watermark_before(offset)
        lateness, bucket = self.settings.lateness_minutes, self.settings.bucket_minutes
        batch = decoded.columns
        if batch is not None:
            verdict = dedup.filter_ids(batch.event_id, offset)
            totals = sum_columns(batch, verdict.kept, watermark, lateness, bucket)
            sources = batch.cost_source if verdict.kept is None else batch.cost_source[verdict.kept]
            reported = int(np.count_nonzero(sources == REPORTED))
            return totals, verdict.first_seen, verdict.duplicates, reported
        filtered = dedup.filter(decoded.rows, offset)
        totals = sum_rows(filtered.rows, watermark, lateness, bucket)
        reported = sum(1 for row in filtered.rows if row[14] == REPORTED)
        return totals, filtered.first_seen, filtered.duplicates, reported

    async def process(self, event: EventT[bytes]) -> list[asyncio.Future[Any]]:
        """Count one message; returns the records it sent, stored once they are done."""
        message = event.message
        sent: list[asyncio.Future[Any]] = []
        partition, offset = message.partition, message.offset
        raw = event.value if isinstance(event.value, bytes) else bytes(event.value or b"")
        now = datetime.fromtimestamp(message.timestamp, UTC) if message.timestamp else None
        decoded = self.decoder.decode(raw, now or datetime.now(UTC))
        for rejected in decoded.rejected:
            dead: asyncio.Future[Any] = await self.dlq_topic.send(
                key=message.key,
                value=dead_letter_record(
                    rejected,
                    source_topic=message.topic,
                    partition=partition,
                    offset=offset,
                    received_at=now or datetime.now(UTC),
                ),
            )
            sent.append(dead)
        dedup = self._partition(partition)
        totals, first_seen, duplicates, reported = self._count(decoded, dedup, offset)
        totals = self.owners.attribute_totals(totals)
        self.metrics.observe(decoded, totals, reported, duplicates)
        partials = fan_out(totals, self.settings.dimensions)
        records = partial_records(
            partials,
            partition,
            offset,
            self.settings.series_partitions,
            totals.watermark,
            self.committed(partition),
        )
        for target, value in records.items():
            sent.append(
                await self.buckets_topic.send(
                    key=str(target).encode(), value=value, partition=target
                )
            )
        message_max = (
            decoded.columns.max_minute
            if decoded.columns is not None
            else max((row[1] for row in decoded.rows), default=-1)
        )
        if message_max >= 0:
            record = dedup.remember(offset, message_max, first_seen)
            self._write(record_key(partition, offset).encode(), record)
        for old in dedup.expire(self.committed(partition)):
            self._write(record_key(partition, old).encode(), None)
        return sent

    def _write(self, key: bytes, value: bytes | None) -> None:
        write_or_stop(self.dedup_table, key, value, self.settings.data_dir)
