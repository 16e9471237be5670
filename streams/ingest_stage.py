"""Stage one: usage messages to per-series partial buckets (the ``ingest`` agent).

Per message: decode and price (``RowDecoder``), dead-letter what is invalid, drop
duplicate event ids (``PartitionDedup``), sum per combination and fan out to series
(``rollup``), send one partial record per buckets-topic partition, and store the
message's dedup record in a changelogged table. Validation uses the message's Kafka
timestamp as "now", so a replay decides exactly as the first run did.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from faust.types import EventT, StreamT

from streams.dead_letter import dead_letter_record
from streams.dedup import PartitionDedup, parse_record_key, record_key
from streams.fast_decode import RowDecoder
from streams.metrics import WorkerMetrics
from streams.rollup import fan_out, partial_records, sum_rows
from streams.settings import WorkerSettings
from streams.state_dir import write_or_stop


@dataclass
class IngestStage:
    settings: WorkerSettings
    decoder: RowDecoder
    metrics: WorkerMetrics
    dlq_topic: Any
    buckets_topic: Any
    dedup_table: Any
    partitions: dict[int, PartitionDedup] = field(default_factory=dict)

    async def run(self, stream: StreamT[bytes]) -> AsyncIterator[None]:
        # Acknowledge by hand, after the message is fully processed: a worker stopped or
        # cancelled half-way through a message must leave it to be processed again.
        manual: StreamT[bytes] = stream.noack()  # type: ignore[attr-defined]
        async for event in manual.events():
            await self.process(event)
            await manual.ack(event)
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

    async def process(self, event: EventT[bytes]) -> None:
        message = event.message
        partition, offset = message.partition, message.offset
        raw = event.value if isinstance(event.value, bytes) else bytes(event.value or b"")
        now = datetime.fromtimestamp(message.timestamp, UTC) if message.timestamp else None
        decoded = self.decoder.decode(raw, now or datetime.now(UTC))
        for rejected in decoded.rejected:
            await self.dlq_topic.send(
                key=message.key,
                value=dead_letter_record(
                    rejected,
                    source_topic=message.topic,
                    partition=partition,
                    offset=offset,
                    received_at=now or datetime.now(UTC),
                ),
            )
        dedup = self._partition(partition)
        filtered = dedup.filter(decoded.rows, offset)
        totals = sum_rows(
            filtered.rows,
            dedup.watermark_before(offset),
            self.settings.lateness_minutes,
            self.settings.bucket_minutes,
        )
        self.metrics.observe_rows(decoded, filtered.rows, filtered.duplicates, totals.late)
        partials = fan_out(totals, self.settings.dimensions)
        records = partial_records(partials, partition, offset, self.settings.series_partitions)
        for target, value in records.items():
            await self.buckets_topic.send(key=str(target).encode(), value=value, partition=target)
        if decoded.rows:
            message_max = max(row[1] for row in decoded.rows)
            record = dedup.remember(offset, message_max, filtered.first_seen)
            self._write(record_key(partition, offset).encode(), record)
        for old in dedup.expire(totals.watermark):
            self._write(record_key(partition, old).encode(), None)

    def _write(self, key: bytes, value: bytes | None) -> None:
        write_or_stop(self.dedup_table, key, value, self.settings.data_dir)
