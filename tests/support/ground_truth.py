"""Synthetic usage streams with duplicates and disorder, and their exact expected totals."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaProducer

from schemas.money import usd_to_nanos
from schemas.pricing import PriceBook
from streams.producer import encode_batch, partition_for
from streams.synthetic import TrafficGenerator
from streams.synthetic_org import TrafficProfile


@dataclass
class Truth:
    """Expected totals of the unique events, per series."""

    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cost_nanos: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unique: int = 0
    sent: int = 0

    def add(self, event: dict[str, Any], cost: int) -> None:
        self.unique += 1
        for name in (
            f"api_key_id={event['api_key_id']}",
            f"team={event.get('team') or 'unattributed'}",
            f"model={event['model']}",
            "org=all",
        ):
            self.calls[name] += 1
            self.cost_nanos[name] += cost

    def keys(self) -> dict[str, dict[str, int]]:
        return {
            name.split("=", 1)[1]: {"calls": self.calls[name], "cost_nanos": self.cost_nanos[name]}
            for name in self.calls
            if name.startswith("api_key_id=")
        }


@dataclass
class UsageStream:
    messages: list[tuple[int, bytes, bytes]]
    """(partition, key, value) in send order."""
    truth: Truth


def _unique_events(events: int, seed: int) -> list[dict[str, Any]]:
    """The first ``events`` events of synthetic traffic ending a minute ago; the rate is
    doubled until the span holds enough (a weekend night's trough holds far fewer)."""
    rate = 2000.0
    for _ in range(6):
        span = events / rate * 6 + 600  # room for the night and weekend troughs
        start = datetime.now(UTC) - timedelta(seconds=span + 60)
        profile = TrafficProfile(seed=seed, calls_per_second=rate)
        unique: list[dict[str, Any]] = []
        for chunk in TrafficGenerator(profile, start=start).iter_batches(span, step_s=300.0):
            unique.extend(chunk.events)
            if len(unique) >= events:
                return unique[:events]
        rate *= 2
    raise RuntimeError(f"generated only {len(unique)} of {events} events")


def build_stream(
    events: int,
    partitions: int,
    *,
    seed: int = 7,
    duplicate_share: float = 0.02,
    batch: int = 1000,
    disorder_window: int = 2000,
) -> UsageStream:
    """``events`` unique events ending a minute ago, with duplicates and local disorder.

    Duplicates are resent copies (same event_id), half within the same message and half
    in a later message; disorder shuffles each partition's events within windows of
    ``disorder_window`` events (a few minutes of event time, inside the lateness).
    """
    rng = random.Random(seed)
    unique = _unique_events(events, seed)
    truth = Truth()
    prices = PriceBook()
    per_partition: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for event in unique:
        truth.add(event, _cost(prices, event))
        per_partition[partition_for(event["api_key_id"], partitions)].append(event)
    messages: list[tuple[int, bytes, bytes]] = []
    for partition, in_order in sorted(per_partition.items()):
        stream = _with_duplicates(_disorder(in_order, disorder_window, rng), duplicate_share, rng)
        truth.sent += len(stream)
        for i in range(0, len(stream), batch):
            chunk = stream[i : i + batch]
            messages.append((partition, chunk[0]["api_key_id"].encode(), encode_batch(chunk)))
    return UsageStream(_interleave(messages), truth)


def _cost(prices: PriceBook, event: dict[str, Any]) -> int:
    if "cost_usd" in event:
        return usd_to_nanos(Decimal(event["cost_usd"]))
    nanos, _ = prices.price(
        event["provider"], event["model"], datetime.fromisoformat(event["timestamp"]),
        event["input_tokens"], event["output_tokens"], event["cache_read_tokens"],
        event["cache_write_tokens"],
    )  # fmt: skip
    return nanos


def _disorder(stream: list[dict[str, Any]], window: int, rng: random.Random) -> list[Any]:
    out: list[dict[str, Any]] = []
    for i in range(0, len(stream), window):
        part = stream[i : i + window]
        rng.shuffle(part)
        out.extend(part)
    return out


def _with_duplicates(
    stream: list[dict[str, Any]], share: float, rng: random.Random
) -> list[dict[str, Any]]:
    out = list(stream)
    for index in rng.sample(range(len(stream)), int(len(stream) * share)):
        copy = dict(stream[index])
        offset = rng.choice([1, 3, 1500, 5000])  # same message or a later one
        out.insert(min(len(out), index + offset), copy)
    return out


def _interleave(messages: list[tuple[int, bytes, bytes]]) -> list[tuple[int, bytes, bytes]]:
    queues: dict[int, list[tuple[int, bytes, bytes]]] = defaultdict(list)
    for message in messages:
        queues[message[0]].append(message)
    out = []
    while any(queues.values()):
        for partition in sorted(queues):
            if queues[partition]:
                out.append(queues[partition].pop(0))
    return out


async def produce(bootstrap: str, topic: str, messages: list[tuple[int, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=10, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for partition, key, value in messages:
            await producer.send(topic, value=value, key=key, partition=partition)
        await producer.flush()
    finally:
        await producer.stop()


def decode_totals(rows: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {k: {"calls": v["calls"], "cost_nanos": v["cost_nanos"]} for k, v in rows.items()}
