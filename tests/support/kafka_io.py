"""Plain aiokafka producing and consuming for integration tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

if TYPE_CHECKING:
    from tests.support.worker_process import WorkerProcess


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


async def read_topic(bootstrap: str, topic: str, count: int, seconds: float = 60) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    out: list[Any] = []
    try:
        deadline = time.monotonic() + seconds
        while len(out) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            out += [m for msgs in batch.values() for m in msgs]
    finally:
        await consumer.stop()
    return out


async def wait_for_key(worker: WorkerProcess, key: str, calls: int, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    row = None
    while time.monotonic() < deadline:
        row = worker.get("/v1/spend/keys")["keys"].get(key)
        if row and row["calls"] >= calls:
            return row
        await asyncio.sleep(0.25)
    return row
