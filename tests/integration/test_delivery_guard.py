"""The delivery guard on Apache Kafka: the messages Faust left out between two it handed
out are read from the broker, in order, unless the broker has no records there
(transaction markers)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from streams.delivery_guard import DeliveryGuard, PartitionReader
from tests.support.kafka_io import produce


@dataclass(frozen=True)
class Delivered:
    """What the guard reads of a Faust message: its partition and offset."""

    tp: TopicPartition
    offset: int


def as_event(record: Any) -> tuple[int, bytes]:
    """Stands in for the app's Faust event factory: what the test checks of a record."""
    return record.offset, record.value


@asynccontextmanager
async def guarding(
    bootstrap: str, start_of: Callable[[Any], int | None] = lambda tp: None
) -> AsyncIterator[DeliveryGuard]:
    """A guard reading from ``bootstrap``, its reader closed after."""
    reader = PartitionReader(bootstrap)
    try:
        yield DeliveryGuard(reader, as_event, start_of=start_of)
    finally:
        await reader.close()


async def ten_messages(bootstrap: str, topic: str) -> TopicPartition:
    """Messages ``m0`` to ``m9`` on partition 0 of ``topic``, at offsets 0 to 9."""
    await produce(bootstrap, topic, [(b"k", b"m%d" % i) for i in range(10)])
    return TopicPartition(topic, 0)


async def test_what_faust_left_out_is_read_from_the_broker_in_order(
    kafka_bootstrap: str, names: Callable[[str], str]
) -> None:
    tp = await ten_messages(kafka_bootstrap, names("usage"))
    committed = {tp: 3}
    async with guarding(kafka_bootstrap, committed.get) as guard:
        assert await guard.missing(Delivered(tp, 3)) == []  # where Faust resumes it
        assert await guard.missing(Delivered(tp, 4)) == []  # the next one
        assert await guard.missing(Delivered(tp, 7)) == [(5, b"m5"), (6, b"m6")]
        assert await guard.missing(Delivered(tp, 9)) == [(8, b"m8")]
        assert guard.fetched == 3
        # Faust handing out one of them after all: a replay, nothing to add.
        assert await guard.missing(Delivered(tp, 6)) == []
        # After a rebalance the partition starts again from the committed offset.
        guard.forget()
        committed[tp] = 2
        assert await guard.missing(Delivered(tp, 2)) == []
        assert await guard.missing(Delivered(tp, 3)) == []
        assert guard.fetched == 3


async def test_with_nothing_committed_a_partition_starts_at_the_start_of_the_log(
    kafka_bootstrap: str, names: Callable[[str], str]
) -> None:
    """A worker revoked before its first commit (Faust discards that commit): its
    successor knows of none, and the messages before its first one are read."""
    tp = await ten_messages(kafka_bootstrap, names("usage"))
    async with guarding(kafka_bootstrap) as guard:
        assert await guard.missing(Delivered(tp, 3)) == [(0, b"m0"), (1, b"m1"), (2, b"m2")]
        assert await guard.missing(Delivered(tp, 4)) == []
        guard.forget()
        assert await guard.missing(Delivered(tp, 0)) == []  # the log's first message
        assert guard.fetched == 3


async def test_with_nothing_committed_the_start_is_the_earliest_offset_still_kept(
    kafka_bootstrap: str, names: Callable[[str], str]
) -> None:
    """Records deleted by retention (here by DeleteRecords) are not asked for."""
    tp = await ten_messages(kafka_bootstrap, names("usage"))
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_records({tp: RecordsToDelete(before_offset=4)})
    finally:
        await admin.close()
    async with guarding(kafka_bootstrap) as guard:
        assert await guard.missing(Delivered(tp, 6)) == [(4, b"m4"), (5, b"m5")]


async def test_offsets_the_broker_has_no_record_for_yield_nothing(
    kafka_bootstrap: str, names: Callable[[str], str]
) -> None:
    """Transactions leave commit markers between their records: offsets with no message."""
    topic = names("usage")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=names("tx"))
    await producer.start()
    try:
        for batch in range(2):
            async with producer.transaction():
                for i in range(2):
                    await producer.send_and_wait(topic, b"%d-%d" % (batch, i), key=b"k")
    finally:
        await producer.stop()
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        records = await consumer.getmany(tp, timeout_ms=10_000)
        offsets = [r.offset for r in records[tp]]
    finally:
        await consumer.stop()
    assert offsets == [0, 1, 3, 4]  # offset 2 is the first transaction's marker
    async with guarding(kafka_bootstrap) as guard:
        assert [await guard.missing(Delivered(tp, o)) for o in offsets] == [[], [], [], []]
        assert guard.fetched == 0


async def test_an_assignment_starting_after_the_committed_offset_gets_the_ones_before(
    kafka_bootstrap: str, names: Callable[[str], str]
) -> None:
    """A worker taking a partition over: Faust cleared the first messages after its seek."""
    tp = await ten_messages(kafka_bootstrap, names("usage"))
    committed = {tp: 2}
    async with guarding(kafka_bootstrap, committed.get) as guard:
        assert await guard.missing(Delivered(tp, 5)) == [(2, b"m2"), (3, b"m3"), (4, b"m4")]
        assert await guard.missing(Delivered(tp, 6)) == []
        assert guard.fetched == 3
        # Starting at the committed offset, or at a replay before it: nothing to add.
        guard.forget()
        assert await guard.missing(Delivered(tp, 2)) == []
        guard.forget()
        assert await guard.missing(Delivered(tp, 1)) == []
        assert await guard.missing(Delivered(tp, 2)) == []
        assert guard.fetched == 3
