"""Every message of a partition, in offset order, none left out.

Exact counting needs each usage partition's messages processed in offset order with
none missing: whether an event is a duplicate depends on every message before it. Faust
can break that around a restart or a rebalance: messages fetched while recovery seeks to
the committed offsets are cleared from its stream buffers and never handed to the agent
(faust-streaming issues #216, #221, #596), while later ones are. A message after such a
hole would count the copies of events that the missing one holds; the missing one,
replayed later, would count them again. And as the missing ones are never acknowledged,
Faust would not commit past them until the next restart.

``DeliveryGuard.missing`` is asked before each message is processed. After the first
message of an assignment each one should follow the one before; when one does not, the
guard reads the messages in between from the broker itself (``PartitionReader``, a consumer
of its own: seeking Faust's consumer from an agent races its fetcher) and hands them to
the agent to process, and acknowledge, first. A hole the broker has no records for
(transaction markers, compaction) yields nothing. Should Faust deliver the missing
messages after all, they are replays, which decide as before and are skipped downstream.

The first message of an assignment should be the one at the committed offset (Faust
seeks there; ``start_of``). Faust can clear that one and the next ones too, and its
commits would then pass them, as it commits up to the last offset acknowledged in a
row from the first: a worker taking over a partition in a rebalance started 74
messages after the committed offset, and those were never counted. So where the first
message comes later than the committed offset, the ones before it are read from the
broker as well. Where Faust knows no committed offset, none was committed (or 0: Faust
keeps neither), and the group resumes the partition at the start of the log, as its
``auto_offset_reset`` says: the ones before the first message are read from there (the
reader starts at the earliest offset still kept). A worker revoked before its first
commit has that commit discarded by Faust, and its successor's first message came 57
messages into the log; those were never counted. No broker is asked on the way: an
agent that waited for one when its first message came, as recovery completed, stopped
receiving messages (1 run in 3 of a restart after a failed state write).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from faust.types import TP, ConsumerMessage

log = logging.getLogger(__name__)

FETCH_TIMEOUT_S = 60.0
LOG_START = 0
"""Where a partition with no committed offset starts: the reader, seeking there, starts at
the earliest offset the broker still keeps."""


class PartitionReader:
    """Reads records of a partition from the broker: a consumer of its own, outside the
    worker's group."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()
        """Both agents ask; one read at a time (the consumer's assignment changes)."""

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=10,  # an agent waits for the answer
            )
            await consumer.start()
            self._consumer = consumer
        return self._consumer

    async def fetch(
        self, topic: str, partition: int, start: int, end: int
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """The records at offsets ``start`` to ``end - 1`` (fewer where offsets hold no
        record), in order."""
        async with self._lock:
            consumer = await self._started()
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, start)
            records: list[ConsumerRecord[bytes, bytes]] = []
            async with asyncio.timeout(FETCH_TIMEOUT_S):
                while await consumer.position(tp) < end:
                    batches = await consumer.getmany(tp, timeout_ms=100)
                    records += [r for r in batches.get(tp, []) if r.offset < end]
            return records

    async def close(self) -> None:
        async with self._lock:
            if self._consumer is not None:
                consumer, self._consumer = self._consumer, None
                await consumer.stop()


MakeEvent = Callable[[ConsumerRecord[bytes, bytes]], Any]


def faust_event(app: faust.App, record: ConsumerRecord[bytes, bytes]) -> faust.Event:
    """A record the guard read itself, as the event Faust would have made of it."""
    timestamp = record.timestamp / 1000.0 if record.timestamp is not None else 0.0
    message = ConsumerMessage(
        record.topic, record.partition, record.offset, timestamp, record.timestamp_type,
        record.headers, record.key, record.value, record.checksum,
        record.serialized_key_size, record.serialized_value_size,
        TP(record.topic, record.partition), generation_id=app.consumer_generation_id,
    )  # fmt: skip
    return faust.Event(app, record.key, record.value, record.headers, message)


def faust_committed(consumer: Any) -> Mapping[Any, int | None]:
    """The committed offset of each partition as Faust's consumer knows it (set when it
    seeks to the committed offsets after an assignment, and on each commit; none for a
    partition with nothing, or 0, committed). Faust keeps it private: this is the one
    place that reads it."""
    committed: Mapping[Any, int | None] = getattr(consumer, "_committed_offset", {})
    return committed


def committed_start(app: faust.App) -> Callable[[Any], int | None]:
    """Where Faust resumes a partition: its consumer's committed offset."""

    def start_of(tp: Any) -> int | None:
        offset = faust_committed(app.consumer).get(tp)
        return offset if isinstance(offset, int) else None

    return start_of


@dataclass
class DeliveryGuard:
    reader: PartitionReader
    make_event: MakeEvent
    """A Faust event for a record read by the reader (``faust_event``)."""
    expected: dict[Any, int] = field(default_factory=dict)
    """Topic partition to the offset the agent should see next."""
    fetched: int = 0
    """Messages read by the guard because Faust did not hand them out."""
    start_of: Callable[[Any], int | None] = lambda tp: None
    """The committed offset of a topic partition (where an assignment starts), None if
    none was committed."""

    def forget(self) -> None:
        """On a rebalance: Faust seeks to the committed offsets again."""
        self.expected.clear()

    async def missing(self, message: Any) -> list[Any]:
        """The messages before ``message`` that the agent has not seen, as events in
        offset order: empty unless Faust left some out."""
        tp, offset = message.tp, message.offset
        expected = self.expected.get(tp)
        if expected is None:
            start = self.start_of(tp)
            if start is None:
                start = LOG_START
            if offset <= start:
                self.expected[tp] = offset + 1
                return []
            expected = start
        self.expected[tp] = max(expected, offset + 1)
        if offset <= expected:  # the next one, or a replay of an earlier one
            return []
        records = await self.reader.fetch(tp.topic, tp.partition, expected, offset)
        if records:
            log.warning(
                "%s[%d]: offset %d arrived but not %d..%d: read %d messages from the broker",
                tp.topic, tp.partition, offset, expected, offset - 1, len(records),
            )  # fmt: skip
            self.fetched += len(records)
        return [self.make_event(record) for record in records]
