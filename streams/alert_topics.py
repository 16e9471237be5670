"""The alerting topics: the outbox of alerts, the send record and the silences.

The outbox (``alerts``) is keyed by alert id and compacted, so it holds every alert's
latest version; the send record (``alerts-sent``, keyed ``receiver/alert_id``) and the
silences (``silences``, keyed by silence id) are compacted too, so a notifier rebuilds
both by reading them from the start.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from alerting.config import SilenceConfig
from schemas.findings import Alert

_COMPACT = {"cleanup.policy": "compact"}


@dataclass(frozen=True, slots=True)
class AlertTopics:
    prefix: str = "spendwatch."
    outbox_partitions: int = 4

    @property
    def outbox(self) -> str:
        return f"{self.prefix}alerts"

    @property
    def sent(self) -> str:
        return f"{self.prefix}alerts-sent"

    @property
    def silences(self) -> str:
        return f"{self.prefix}silences"


DEFAULT_TOPICS = AlertTopics()


async def ensure_alert_topics(bootstrap: str, topics: AlertTopics) -> None:
    """Create the three topics (compacted) if missing."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(topics.outbox, topics.outbox_partitions, 1, topic_configs=_COMPACT),
            NewTopic(topics.sent, 1, 1, topic_configs=_COMPACT),
            NewTopic(topics.silences, 1, 1, topic_configs=_COMPACT),
        ]
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


def new_producer(bootstrap: str, idempotent: bool = True) -> AIOKafkaProducer:
    """``acks=all``; idempotent unless the broker has no idempotent producers (Tansu)."""
    return AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=idempotent)


async def publish_alerts(
    producer: AIOKafkaProducer, topics: AlertTopics, alerts: Iterable[Alert]
) -> None:
    """Put alerts in the outbox (keyed by alert id, so one alert's versions stay in order)."""
    for alert in alerts:
        await producer.send_and_wait(
            topics.outbox, key=alert.alert_id.encode(), value=alert.model_dump_json().encode()
        )


async def publish_silence(
    producer: AIOKafkaProducer, topics: AlertTopics, silence: SilenceConfig
) -> None:
    await producer.send_and_wait(
        topics.silences, key=silence.id.encode(), value=silence.model_dump_json().encode()
    )


async def partitions_of(
    bootstrap: str, topic: str, timeout_s: float = 30.0
) -> list[TopicPartition]:
    """The topic's partitions, waiting for a just-created topic to be described."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                with contextlib.suppress(KafkaError):
                    (described,) = await admin.describe_topics([topic])
                    found = sorted(p["partition"] for p in described.get("partitions") or ())
                    if found and not described.get("error_code"):
                        return [TopicPartition(topic, p) for p in found]
                await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def read_to_end(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of a (compacted) topic, from the start to its end now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await partitions_of(bootstrap, topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord[bytes, bytes]] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batches = await consumer.getmany(*partitions, timeout_ms=500)
            for batch in batches.values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()
