"""The notifier: consume the alert outbox, deliver through the notify pipeline, commit
only what every receiver has accepted (or that was muted, deduplicated or refused for
good), and keep the send record and silences in compacted Kafka topics.

At start it reads the send record and the silences from their topics, so a restart
or a replay of the outbox never notifies twice; it then tails the silences topic so
``spendwatch silence add|expire`` reaches it while it runs. Offsets are committed up to
the lowest alert still in flight, so an outage of a receiver delays but loses nothing.
Several notifiers may share the consumer group: they follow each other's send record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Hashable, Iterable, Mapping
from datetime import UTC, datetime
from typing import cast

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from alerting.config import AlertingConfig, SilenceConfig
from alerting.correlate_stage import CorrelateStage
from alerting.correlation import Correlator
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
    read_to_end,
)
from streams.compacted_tail import CompactedTail

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class KafkaSendRecord(MemorySendRecord):
    """The send record in memory, written through to a compacted topic before ``put``
    returns (``acks=all``); entries other notifiers write arrive through ``take``."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        super().__init__()
        self.producer = producer
        self.topic = topic

    def take(self, value: bytes) -> None:
        """Apply an entry read from the topic unless a later one is already known."""
        entry = SentEntry.from_json(value)
        known = self.entries.get(entry.key)
        if known is None or (entry.version, entry.sent_at) >= (known.version, known.sent_at):
            self.load(entry)

    async def put(self, entry: SentEntry) -> None:
        """Keeps trying while Kafka is unreachable: giving up here would send the
        notification, which the receiver already accepted, a second time."""
        self.load(entry)
        wait = 0.5
        while True:
            try:
                await self.producer.send_and_wait(
                    self.topic, key=entry.key.encode(), value=entry.to_json()
                )
                return
            except KafkaError as exc:
                log.warning("send record write failed (%s); retrying in %.1fs", exc, wait)
                await asyncio.sleep(wait)
                wait = min(wait * 2, 30.0)


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

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in partitions:
            self.pending.pop(tp, None)
            self.consumed.pop(tp, None)
            self.committed.pop(tp, None)

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
        idempotent: bool = True,
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
        self.idempotent = idempotent
        """False for brokers without idempotent producers (the demo's Tansu)."""
        self.silences = SilenceBook(config.silences)
        self.offsets = OffsetTracker()
        self.assigned: set[TopicPartition] = set()
        """The outbox partitions this notifier owns now."""
        self.ready = asyncio.Event()
        """Set once the send record and silences are loaded and the outbox is subscribed."""

    async def run(self, stop: asyncio.Event) -> None:
        await ensure_alert_topics(self.bootstrap, self.topics)
        producer = new_producer(self.bootstrap, self.idempotent)
        await producer.start()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        tasks: list[asyncio.Task[None]] = []
        try:
            record = KafkaSendRecord(producer, self.topics.sent)
            sent_tail = CompactedTail(self.bootstrap, self.topics.sent, record.take)
            silences_tail = CompactedTail(self.bootstrap, self.topics.silences, self._silence)
            await sent_tail.catch_up()
            await silences_tail.catch_up()
            dispatcher = self._dispatcher(record)
            seeded = await self._seed(dispatcher)
            log.info(
                "notifier: %d sent entries, %d silences, %d firing alerts loaded",
                len(record.entries),
                len(self.silences.all()),
                seeded,
            )
            await consumer.start()
            consumer.subscribe([self.topics.outbox], listener=_Rebalance(self, consumer))
            tasks = [
                asyncio.create_task(silences_tail.follow(), name="silences"),
                asyncio.create_task(sent_tail.follow(), name="send record"),
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

    def _silence(self, value: bytes) -> None:
        self.silences.upsert(SilenceConfig.model_validate_json(value))

    def _dispatcher(self, record: KafkaSendRecord) -> Dispatcher:
        firing: dict[str, Alert] = {}
        ended: dict[str, Alert] = {}
        inhibitor = Inhibitor(self.config.inhibit_rules, firing.values)
        router = Router(self.config.routes)
        correlator = Correlator(self.config.correlation)
        correlate = CorrelateStage(
            correlator, firing.values, record, router.receivers, ended.values
        )
        kit = StageKit(
            inhibitor, self.silences, record, utc_now, backoff=self.backoff, correlate=correlate
        )
        pipelines = {name: kit.pipeline(n) for name, n in self.notifiers.items()}
        return Dispatcher(
            router,
            pipelines,
            utc_now,
            self.offsets.release,
            firing,
            correlator=correlator,
            record=record,
            ended=ended,
        )

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
        """Commit what is done on the partitions this notifier still owns."""
        owned = consumer.assignment()
        ready = {tp: offset for tp, offset in self.offsets.committable().items() if tp in owned}
        if not ready:
            return
        try:
            await consumer.commit(ready)
        except KafkaError as exc:  # a rebalance under way: the next commit catches up
            log.warning("outbox commit deferred: %s", exc)
            return
        self.offsets.committed.update(ready)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """On losing outbox partitions, commit what is done there and forget them: their
    unfinished alerts go to the new owner, whose send record keeps them from repeating."""

    def __init__(self, service: NotifierService, consumer: AIOKafkaConsumer) -> None:
        self.service = service
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.service._commit(self.consumer)
        self.service.offsets.forget(revoked)
        self.service.assigned -= revoked

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.service.assigned |= assigned
        log.info("notifier: outbox partitions %s", sorted(tp.partition for tp in assigned))
