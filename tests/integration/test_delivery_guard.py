"""The delivery guard on Apache Kafka: the messages Faust left out between two it handed
out are read from the broker, in order, unless the broker has no records there
(transaction markers)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

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


async def test_what_faust_left_out_is_read_from_the_broker_in_order(
    kafka_bootstrap: str, names: Callable[[str], str]
) -> None:
    topic = names("usage")
    await produce(kafka_bootstrap, topic, [(b"k", b"m%d" % i) for i in range(10)])
    tp = TopicPartition(topic, 0)
    reader = PartitionReader(kafka_bootstrap)
    guard = DeliveryGuard(reader, as_event)
    try:
        # Where an assignment starts is Faust's (it seeks to the committed offset).
        assert await guard.missing(Delivered(tp, 3)) == []
        assert await guard.missing(Delivered(tp, 4)) == []  # the next one
        assert await guard.missing(Delivered(tp, 7)) == [(5, b"m5"), (6, b"m6")]
        assert await guard.missing(Delivered(tp, 9)) == [(8, b"m8")]
        assert guard.fetched == 3
        # Faust handing out one of them after all: a replay, nothing to add.
        assert await guard.missing(Delivered(tp, 6)) == []
        # After a rebalance the partition starts wherever Faust resumes it.
        guard.forget()
        assert await guard.missing(Delivered(tp, 2)) == []
        assert await guard.missing(Delivered(tp, 3)) == []
    finally:
        await reader.close()


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
    reader = PartitionReader(kafka_bootstrap)
    guard = DeliveryGuard(reader, as_event)
    try:
        assert [await guard.missing(Delivered(tp, o)) for o in offsets] == [[], [], [], []]
        assert guard.fetched == 0
    finally:
        await reader.close()
