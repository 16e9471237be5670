"""The raw ceiling: what any Python consumer of the batched topic pays at least.

An in-process aiokafka consumer that only ``orjson.loads`` the batch messages (columnar
or envelopes) and sums ``input_tokens``, timed like a worker: from the first records it
read to the last.
"""

from __future__ import annotations

import time

import orjson

from bench.throughput.config import BenchError
from bench.throughput.progress import STALL_S, Rate, Sample, rate_from_samples

CEILING_POLL_RECORDS = 4


async def raw_ceiling(
    bootstrap: str,
    topic: str,
    partitions: int,
    expected_events: int,
    expected_tokens: int | None = None,
) -> Rate:
    """aiokafka + ``orjson.loads`` + summing ``input_tokens`` over the batched topic."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        events = tokens = 0
        samples: list[Sample] = [(time.perf_counter(), 0)]
        while events < expected_events:
            # Few records per call: the clock starts at the first, so it must be small.
            fetched = await consumer.getmany(timeout_ms=1000, max_records=CEILING_POLL_RECORDS)
            if not fetched:
                if time.perf_counter() - samples[-1][0] > STALL_S:
                    raise BenchError(
                        f"raw ceiling: no messages for {STALL_S:.0f}s "
                        f"({events}/{expected_events} events read)"
                    )
                continue
            for records in fetched.values():
                for record in records:
                    batch = orjson.loads(record.value)
                    if "columns" in batch:
                        columns = batch["columns"]
                        events += len(columns["event_id"])
                        tokens += sum(columns.get("input_tokens", ()))
                    else:
                        events += len(batch["events"])
                        tokens += sum(e.get("input_tokens", 0) for e in batch["events"])
            samples.append((time.perf_counter(), events))
    finally:
        await consumer.stop()
    if expected_tokens is not None and tokens != expected_tokens:
        raise BenchError(f"raw ceiling summed {tokens} input tokens, produced {expected_tokens}")
    return rate_from_samples(samples)
