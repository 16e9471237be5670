"""Plain aiokafka producing and consuming for integration tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


async def produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    """Send (key, value) messages in order and wait until the broker has them all."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send(topic, key=key, value=value)
        await producer.flush()
    finally:
        await producer.stop()


async def read_json_until(
    bootstrap: str, topic: str, done: Callable[[list[Any]], bool], seconds: float
) -> list[Any]:
    """JSON values of ``topic`` from the start, until ``done`` holds or time runs out."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    values: list[Any] = []
    deadline = time.monotonic() + seconds
    try:
        while not done(values) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                values.extend(orjson.loads(r.value) for r in records if r.value)
    finally:
        await consumer.stop()
    return values
