"""Usage events as the Kafka messages the benchmark produces: batches and single events.

Every message carries its explicit partition: murmur2 of ``api_key_id``, as Kafka's
partitioner and ``UsageProducer`` pick it, so all events of a key stay on one partition.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from bench.throughput.config import DEFAULT_BATCH_SIZE
from streams.producer import encode_batch, partition_for

MAX_MESSAGE_BYTES = 900_000
"""Below the broker's default ``message.max.bytes`` (1 MiB)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One Kafka message to produce, with its explicit partition."""

    partition: int
    key: bytes
    value: bytes
    events: int


@dataclass(slots=True)
class Produced:
    """What was produced (counted while the messages are made) and how long it took."""

    events: int = 0
    messages: int = 0
    single_events: int = 0
    input_tokens: int = 0
    seconds: float = 0.0


def envelope(encoded_events: Sequence[bytes]) -> bytes:
    """``{"schema_version":1,"events":[...]}`` from already JSON-encoded events."""
    return b'{"schema_version":1,"events":[' + b",".join(encoded_events) + b"]}"


class BatchAssembler:
    """Groups events per target partition into batch messages: columnar batches (as
    ``UsageProducer`` sends them) when given the events, else envelopes of the encoded
    events.

    Every event of a message hashes to the message's partition; a message holds at most
    ``batch_size`` events and about ``max_bytes`` bytes (counted as an envelope, which is
    the larger form).
    """

    def __init__(
        self, partitions: int, batch_size: int = DEFAULT_BATCH_SIZE, max_bytes: int = 900_000
    ) -> None:
        if partitions < 1 or batch_size < 1:
            raise ValueError("partitions and batch_size must be at least 1")
        self.partitions = partitions
        self.batch_size = batch_size
        self.max_bytes = max_bytes
        self._events: dict[int, list[bytes]] = {}
        self._dicts: dict[int, list[Mapping[str, Any]]] = {}
        self._keys: dict[int, bytes] = {}
        self._sizes: dict[int, int] = {}

    def add(
        self, api_key_id: str, encoded: bytes, event: Mapping[str, Any] | None = None
    ) -> Message | None:
        """Queue one event (``event`` too for a columnar message); returns a full message
        when this event completed one."""
        partition = partition_for(api_key_id, self.partitions)
        ready = None
        if self._sizes.get(partition, 0) + len(encoded) + 64 > self.max_bytes:
            ready = self._take(partition)
        buffer = self._events.setdefault(partition, [])
        if not buffer:
            self._keys[partition] = api_key_id.encode()
        buffer.append(encoded)
        if event is not None:
            self._dicts.setdefault(partition, []).append(event)
        self._sizes[partition] = self._sizes.get(partition, 0) + len(encoded) + 1
        if ready is None and len(buffer) >= self.batch_size:
            ready = self._take(partition)
        return ready

    def flush(self) -> list[Message]:
        """The partly filled messages, one per partition that has events."""
        return [m for p in sorted(self._events) if (m := self._take(p)) is not None]

    def _take(self, partition: int) -> Message | None:
        events = self._events.pop(partition, [])
        dicts = self._dicts.pop(partition, [])
        self._sizes.pop(partition, None)
        key = self._keys.pop(partition, b"")
        if not events:
            return None
        value = encode_batch(dicts) if len(dicts) == len(events) else envelope(events)
        return Message(partition, key, value, len(events))


def single_message(
    event: Mapping[str, Any], partitions: int, encoded: bytes | None = None
) -> Message:
    """``event`` alone in a message (``encoded`` when it is already JSON-encoded)."""
    key = str(event["api_key_id"])
    value = orjson.dumps(event) if encoded is None else encoded
    return Message(partition_for(key, partitions), key.encode(), value, 1)


def input_messages(
    events: Iterable[Mapping[str, Any]],
    *,
    partitions: int,
    batch_size: int = DEFAULT_BATCH_SIZE,
    single_events: int = 0,
    counts: Produced | None = None,
    columnar: bool = True,
) -> Iterator[tuple[bool, Message]]:
    """``(single, message)`` in production order: every event in batches of up to
    ``batch_size`` events (``single`` False; columnar unless ``columnar`` is False), the
    first ``single_events`` events also one per message (``single`` True, each before
    the batch that holds it). Counts events, input tokens and messages into ``counts`` as
    it goes."""
    counts = Produced() if counts is None else counts
    assembler = BatchAssembler(partitions, batch_size, MAX_MESSAGE_BYTES)
    for event in events:
        encoded = orjson.dumps(event)
        counts.events += 1
        counts.input_tokens += int(event.get("input_tokens", 0))
        if counts.single_events < single_events:
            counts.single_events += 1
            yield True, single_message(event, partitions, encoded)
        message = assembler.add(str(event["api_key_id"]), encoded, event if columnar else None)
        if message is not None:
            counts.messages += 1
            yield False, message
    for message in assembler.flush():
        counts.messages += 1
        yield False, message


def batch_messages(
    events: Iterable[Mapping[str, Any]],
    partitions: int,
    batch_size: int = DEFAULT_BATCH_SIZE,
    *,
    columnar: bool = True,
) -> list[Message]:
    """All events as batch messages grouped per partition (for tests and small runs)."""
    return [
        m
        for _, m in input_messages(
            events, partitions=partitions, batch_size=batch_size, columnar=columnar
        )
    ]
