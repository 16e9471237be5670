"""The benchmark's input: synthetic usage events, produced to this run's own topics."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bench.throughput.config import BenchError

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer

from bench.throughput.messages import Message, Produced, input_messages

WINDOW_S = 1800.0
"""Simulated time the events span; it ends ``END_MARGIN_S`` before now."""
END_MARGIN_S = 300.0


def synthetic_events(
    n: int,
    *,
    seed: int = 0,
    end: datetime | None = None,
    window_s: float = WINDOW_S,
) -> Iterator[dict[str, Any]]:
    """``n`` events of ``streams.synthetic`` traffic over ``window_s`` seconds up to ``end``.

    ``end`` defaults to ``END_MARGIN_S`` before now, so a worker's default limits (5 min
    in the future, 7 days old) accept every event. The profile's rate is scaled so the
    window holds a few percent more than ``n`` events; the first ``n`` are yielded.
    """
    from streams.synthetic import CHUNK_MS, TrafficGenerator
    from streams.synthetic_org import TrafficProfile

    if n < 1:
        return
    window_s = max(60.0, math.ceil(window_s / 60) * 60.0)
    end = end or datetime.now(UTC) - timedelta(seconds=END_MARGIN_S)
    start = end - timedelta(seconds=window_s)
    chunk_s = CHUNK_MS / 1000
    probe = TrafficGenerator(TrafficProfile(seed=seed, calls_per_second=1.0), start=start)
    per_unit_rate = sum(
        probe.rate_at((k + 0.5) * chunk_s) * chunk_s for k in range(int(window_s // chunk_s))
    )
    margin = 1.05 + 6 / math.sqrt(n)
    profile = TrafficProfile(seed=seed, calls_per_second=n * margin / per_unit_rate)
    generator = TrafficGenerator(profile, start=start)
    produced = 0
    # The window, then up to END_MARGIN_S more (still in the past) if Poisson fell short.
    for batch in generator.iter_batches(window_s + END_MARGIN_S, chunk_s):
        for event in batch.events:
            yield event
            produced += 1
            if produced >= n:
                return
    raise BenchError(f"the traffic generator made only {produced} of {n} events")


async def ensure_topics(bootstrap: str, prefixes: Sequence[str], partitions: int) -> None:
    """The usage topic of every prefix, with exactly ``partitions`` partitions."""
    from streams.settings import WorkerSettings
    from streams.topics import ensure_topics as create

    for prefix in prefixes:
        settings = WorkerSettings(bootstrap=bootstrap, topic_prefix=prefix, partitions=partitions)
        deadline = time.monotonic() + 30
        # Right after creation the broker may describe a topic with no partitions yet.
        while (found := (await create(settings)).get(settings.usage_topic)) != partitions:
            if found or time.monotonic() > deadline:
                raise BenchError(f"{settings.usage_topic} has {found} partitions, not {partitions}")
            await asyncio.sleep(0.2)


def bench_producer(bootstrap: str) -> AIOKafkaProducer:
    """The producer of the bench's inputs: big batches, leader acknowledgement only."""
    from aiokafka import AIOKafkaProducer

    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks=1,
        linger_ms=20,
        max_batch_size=1_048_576,
        max_request_size=4 * 1_048_576,
        compression_type=None,
    )


async def produce_inputs(
    bootstrap: str,
    *,
    batched_topic: str,
    single_topic: str,
    events: Iterable[Mapping[str, Any]],
    single_events: int,
    partitions: int,
    batch_size: int,
    columnar: bool = True,
    keep: list[Message] | None = None,
) -> Produced:
    """Produce every event to ``batched_topic`` in batches (columnar unless ``columnar`` is
    False), the first ``single_events`` also one per message to ``single_topic``; return
    once Kafka acknowledged all. The batch messages are also appended to ``keep``."""
    stats = Produced()
    started = time.perf_counter()
    producer = bench_producer(bootstrap)
    await producer.start()
    try:
        pending: list[asyncio.Future[Any]] = []
        for single, message in input_messages(
            events,
            partitions=partitions,
            batch_size=batch_size,
            single_events=single_events,
            counts=stats,
            columnar=columnar,
        ):
            topic = single_topic if single else batched_topic
            if keep is not None and not single:
                keep.append(message)
            pending.append(
                await producer.send(
                    topic, message.value, key=message.key, partition=message.partition
                )
            )
            if len(pending) >= 2000:
                await asyncio.gather(*pending)
                pending.clear()
        await producer.flush()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    stats.seconds = time.perf_counter() - started
    return stats


async def delete_run_topics(bootstrap: str, token: str) -> list[str]:
    """Best effort: delete this run's topics (ours and the workers' changelogs)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(token)]
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()
