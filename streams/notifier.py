"""The notifier: consume the alert outbox, deliver through the notify pipeline, commit
only what every receiver has accepted (or that was muted, deduplicated or refused for
good), and keep the send record and silences in compacted Kafka topics.

At start it reads the send record and the silences from their topics, so a restart
or a replay of the outbox never notifies twice; it then tails the silences topic so
``spendwatch silence add|expire`` reaches it while it runs. Offsets are committed up to
the lowest alert still in flight, so an outage of a receiver delays but loses nothing.
One notifier per consumer group is the supported deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Hashable, Iterable, Mapping
from datetime import UTC, datetime
from typing import cast

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import ValidationError

from alerting.config import AlertingConfig, SilenceConfig
from alerting.delivery import MemorySendRecord, Notifier, SentEntry
from alerting.dispatcher import Dispatcher
from alerting.inhibit_stage import Inhibitor
from alerting.pipeline import StageKit, build_notifier
from alerting.retry_stage import DEFAULT_BACKOFF, Backoff
from alerting.routing import Router
from alerting.silence_stage import SilenceBook
from schemas.findings import Alert
from streams.alert_topics import (
    DEFAULT_TOPICS,
    AlertTopics,
    ensure_alert_topics,
    new_producer,
    partitions_of,
    read_to_end,
)

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class KafkaSendRecord(MemorySendRecord):
    """The send record in memory, written through to a compacted topic before ``put``
    returns (``acks=all``), and rebuilt from it at start."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        super().__init__()
        self.producer = producer
        self.topic = topic

    async def load_from(self, bootstrap: str) -> int:
        records = await read_to_end(bootstrap, self.topic)
        for record in sorted(records, key=lambda r: r.offset):
            if record.value is not None:
                self.load(SentEntry.from_json(record.value))
        return len(self.entries)

    async def put(self, entry: SentEntry) -> None:
        await self.producer.send_and_wait(self.topic, key=entry.key.encode(), value=entry.to_json())
        self.load(entry)


class OffsetTracker:
    """Which outbox offsets may be committed: up to the lowest one still in flight."""

    def __init__(self) -> None:
        self.pending: dict[TopicPartition, set[int]] = {}
        self.consumed: dict[TopicPartition, int] = {}
        self.committed: dict[TopicPartition, int] = {}

    def consumed_one(self, tp: TopicPartition, offset: int) -> None:
        self.pending.setdefault(tp, set()).add(offset)
        self.consumed[tp] = max(offset, self.consumed.get(tp, -1))

    def release(self, tokens: Iterable[Hashable]) -> None:
        for token in tokens:
            tp, offset = cast(tuple[TopicPartition, int], token)
            self.pending.get(tp, set()).discard(offset)

    def committable(self) -> dict[TopicPartition, int]:
        """Next offsets to commit that moved since the last commit."""
        ready = {}
        for tp, last in self.consumed.items():
            waiting = self.pending.get(tp)
            offset = min(waiting) if waiting else last + 1
            if offset > self.committed.get(tp, -1):
                ready[tp] = offset
        return ready


class NotifierService:
    """Runs until ``stop`` is set; ``notifiers`` default to those the config describes."""

    def __init__(
        self,
        bootstrap: str,
        config: AlertingConfig,
        topics: AlertTopics = DEFAULT_TOPICS,
        group_id: str = "spendwatch-notifier",
        notifiers: Mapping[str, Notifier] | None = None,
        backoff: Backoff = DEFAULT_BACKOFF,
    ) -> None:
        self.bootstrap = bootstrap
        self.config = config
        self.topics = topics
        self.group_id = group_id
        self.notifiers = (
            dict(notifiers)
            if notifiers is not None
            else {r.name: build_notifier(r) for r in config.receivers}
        )
        self.backoff = backoff
        self.silences = SilenceBook(config.silences)
        self.offsets = OffsetTracker()
        self.ready = asyncio.Event()
        """Set once the send record and silences are loaded and the outbox is subscribed."""

    async def run(self, stop: asyncio.Event) -> None:
        await ensure_alert_topics(self.bootstrap, self.topics)
        producer = new_producer(self.bootstrap)
        await producer.start()
        consumer = AIOKafkaConsumer(
            self.topics.outbox,
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        tasks: list[asyncio.Task[None]] = []
        try:
            record = KafkaSendRecord(producer, self.topics.sent)
            loaded = await record.load_from(self.bootstrap)
            silences_tail = SilencesTail(self.bootstrap, self.topics.silences, self.silences)
            await silences_tail.catch_up()
            log.info(
                "notifier: %d sent entries, %d silences loaded", loaded, len(self.silences.all())
            )
            dispatcher = self._dispatcher(record)
            seeded = await self._seed(dispatcher)
            log.info("notifier: %d firing alerts known from the outbox", seeded)
            await consumer.start()
            tasks = [
                asyncio.create_task(silences_tail.follow(), name="silences"),
                asyncio.create_task(dispatcher.run(), name="dispatcher"),
            ]
            self.ready.set()
            await self._consume(consumer, dispatcher, stop)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._commit(consumer)
            await consumer.stop()
            await producer.stop()
            for notifier in self.notifiers.values():
                await notifier.aclose()

    def _dispatcher(self, record: KafkaSendRecord) -> Dispatcher:
        firing: dict[str, Alert] = {}
        inhibitor = Inhibitor(self.config.inhibit_rules, firing.values)
        kit = StageKit(inhibitor, self.silences, record, utc_now, backoff=self.backoff)
        pipelines = {name: kit.pipeline(n) for name, n in self.notifiers.items()}
        router = Router(self.config.routes)
        return Dispatcher(router, pipelines, utc_now, self.offsets.release, firing)

    async def _seed(self, dispatcher: Dispatcher) -> int:
        """Learn which alerts fire now from the (compacted) outbox, without notifying, so
        inhibition holds across a restart; delivery itself resumes at committed offsets."""
        for record in await read_to_end(self.bootstrap, self.topics.outbox):
            alert = self._decode(record.value, record.topic, record.offset)
            if alert is not None:
                dispatcher.remember(alert)
        return len(dispatcher.firing())

    async def _consume(
        self, consumer: AIOKafkaConsumer, dispatcher: Dispatcher, stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            for tp, records in batches.items():
                for record in records:
                    self.offsets.consumed_one(tp, record.offset)
                    alert = self._decode(record.value, tp.topic, record.offset)
                    if alert is None:
                        self.offsets.release([(tp, record.offset)])
                    else:
                        dispatcher.submit(alert, (tp, record.offset))
            dispatcher.flush_due()
            await self._commit(consumer)

    @staticmethod
    def _decode(value: bytes | None, topic: str, offset: int) -> Alert | None:
        if value is None:
            return None
        try:
            return Alert.model_validate_json(value)
        except ValidationError as exc:
            log.error("%s@%d is not an alert, skipped: %s", topic, offset, exc)
            return None

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        ready = self.offsets.committable()
        if ready:
            await consumer.commit(ready)
            self.offsets.committed.update(ready)


class SilencesTail:
    """Keeps a silence book in step with the silences topic."""

    def __init__(self, bootstrap: str, topic: str, book: SilenceBook) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.book = book
        self._position: dict[int, int] = {}

    def _apply(self, partition: int, offset: int, value: bytes | None) -> None:
        self._position[partition] = offset + 1
        if value is None:
            return
        try:
            self.book.upsert(SilenceConfig.model_validate_json(value))
        except ValidationError as exc:
            log.error("silences %d@%d is not a silence, skipped: %s", partition, offset, exc)

    async def catch_up(self) -> None:
        for record in sorted(await read_to_end(self.bootstrap, self.topic), key=lambda r: r.offset):
            self._apply(record.partition, record.offset, record.value)

    async def follow(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = await partitions_of(self.bootstrap, self.topic)
            consumer.assign(partitions)
            for tp in partitions:
                consumer.seek(tp, self._position.get(tp.partition, 0))
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        self._apply(record.partition, record.offset, record.value)
        finally:
            await consumer.stop()
