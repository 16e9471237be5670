"""``UsageProducer``: publish usage events to Kafka in batches, from any Python service.

Events are validated before they leave the process (a bad event raises at ``send``),
grouped per target partition (murmur2 of ``api_key_id``, as Kafka's own partitioner),
and sent as one batch message per partition when a batch is full or its linger has
passed, one at a time per partition so they land in the order sent: a columnar batch by
default (``columnar=False`` sends ``{"events": [...]}``).
The Kafka producer is idempotent with ``acks=all`` (``idempotent=False`` for brokers
without idempotent producers, such as the demo's Tansu); ``close`` flushes.

>>> async def main():                                   # doctest: +SKIP
...     async with UsageProducer("127.0.0.1:9092") as producer:
...         await producer.send({"event_id": "e1", "timestamp": 1764417600000,
...                              "provider": "openai", "model": "gpt-4o",
...                              "api_key_id": "key-7", "input_tokens": 1200})
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterable, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Self, TypeVar

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2

from schemas.columnar import columns_of
from schemas.event import UsageEvent

T = TypeVar("T")


def partition_for(api_key_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for this key."""
    return int((murmur2(api_key_id.encode()) & 0x7FFFFFFF) % partitions)


def encode_batch(events: Iterable[Mapping[str, Any]], *, columnar: bool = True) -> bytes:
    """One batch message: columnar (``schemas/columnar.py``) unless ``columnar`` is False
    or an event has something columns cannot say exactly; else ``{"events": [...]}``."""
    events = list(events)
    if columnar:
        batch = columns_of(events)
        if batch is not None:
            return orjson.dumps(batch)
    return orjson.dumps({"schema_version": 1, "events": events})


class UsageProducer:
    """Async, batching usage-event producer (see the module docstring)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str = "spendwatch.usage",
        *,
        linger_s: float = 0.05,
        max_batch_events: int = 1000,
        max_batch_bytes: int = 900_000,
        retries: int = 5,
        retry_backoff_s: float = 0.2,
        validate: bool = True,
        idempotent: bool = True,
        columnar: bool = True,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.linger_s = linger_s
        self.max_batch_events = max_batch_events
        self.max_batch_bytes = max_batch_bytes
        self.retries = retries
        self.retry_backoff_s = retry_backoff_s
        self.validate = validate
        self.idempotent = idempotent
        self.columnar = columnar
        self._producer: AIOKafkaProducer | None = None
        self._partitions = 0
        self._buffers: dict[int, list[dict[str, Any]]] = {}
        self._sizes: dict[int, int] = {}
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self._order: dict[int, asyncio.Lock] = {}
        """Per partition: held while a batch is sent, so batches land in launch order."""
        self._errors: list[BaseException] = []
        self.sent_events = 0
        self.sent_messages = 0

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            enable_idempotence=self.idempotent,
            linger_ms=5,
            max_batch_size=1_048_576,
            max_request_size=4 * 1_048_576,
            compression_type=None,
        )
        await self._producer.start()
        partitions = await self._producer.partitions_for(self.topic)
        self._partitions = len(partitions)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def send(self, event: UsageEvent | Mapping[str, Any]) -> None:
        """Queue one event; raises ``pydantic.ValidationError`` when it is not valid."""
        self._raise_background_error()
        if self._producer is None:
            raise RuntimeError("UsageProducer.start() was not called")
        if isinstance(event, UsageEvent):
            data = event.model_dump(mode="json", exclude_none=True)
        else:
            data = dict(event)
            if self.validate:
                UsageEvent.model_validate(data)
        partition = partition_for(str(data["api_key_id"]), self._partitions)
        buffer = self._buffers.setdefault(partition, [])
        buffer.append(data)
        self._sizes[partition] = self._sizes.get(partition, 0) + 200
        if len(buffer) >= self.max_batch_events or self._sizes[partition] >= self.max_batch_bytes:
            self._launch(partition)
        elif partition not in self._timers:
            loop = asyncio.get_running_loop()
            self._timers[partition] = loop.call_later(self.linger_s, self._launch, partition)

    async def send_many(self, events: Iterable[UsageEvent | Mapping[str, Any]]) -> None:
        for event in events:
            await self.send(event)

    def _launch(self, partition: int) -> None:
        timer = self._timers.pop(partition, None)
        if timer is not None:
            timer.cancel()
        events = self._buffers.pop(partition, [])
        self._sizes.pop(partition, None)
        if not events:
            return
        task = asyncio.get_running_loop().create_task(self._send_batch(partition, events))
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._errors.append(task.exception())  # type: ignore[arg-type]

    async def _send_batch(self, partition: int, events: list[dict[str, Any]]) -> None:
        assert self._producer is not None
        value = encode_batch(events, columnar=self.columnar)
        key = str(events[0]["api_key_id"]).encode()
        # One batch at a time per partition (asyncio locks are fair): Kafka's accumulator
        # would let a short batch overtake a full one waiting for room, and a retried batch
        # would land after its successors; either makes the older events late.
        async with self._order.setdefault(partition, asyncio.Lock()):
            for attempt in range(self.retries + 1):
                try:
                    await self._producer.send_and_wait(
                        self.topic, value=value, key=key, partition=partition
                    )
                    break
                except KafkaError:
                    if attempt == self.retries:
                        raise
                    await asyncio.sleep(self.retry_backoff_s * 2**attempt)
        self.sent_events += len(events)
        self.sent_messages += 1

    async def flush(self) -> None:
        """Send every buffered event now and wait until Kafka acknowledged all of them."""
        for partition in list(self._buffers):
            self._launch(partition)
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
        self._raise_background_error()

    async def close(self) -> None:
        try:
            await self.flush()
        finally:
            if self._producer is not None:
                await self._producer.stop()
                self._producer = None

    def _raise_background_error(self) -> None:
        if self._errors:
            error = self._errors.pop(0)
            self._errors.clear()
            raise RuntimeError(f"sending a usage batch failed: {error}") from error


class SyncUsageProducer:
    """Blocking wrapper for code without an event loop; runs one in a background thread."""

    def __init__(self, bootstrap: str, topic: str = "spendwatch.usage", **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._producer = UsageProducer(bootstrap, topic, **options)
        self._call(self._producer.start())

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = 120) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    def send(self, event: UsageEvent | Mapping[str, Any]) -> None:
        self._call(self._producer.send(event))

    def flush(self) -> None:
        self._call(self._producer.flush())

    def close(self) -> None:
        try:
            self._call(self._producer.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            with contextlib.suppress(RuntimeError):
                self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
