"""Asking a worker over HTTP: one series' calls, the flush counter, every series it holds;
and asking the broker whether a killed worker has left its consumer group."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from bench.throughput.config import BenchError
from bench.throughput.progress import parse_counter

METRIC_FLUSHES = "spendwatch_series_flushes_total"


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes] | None:
    """(status, body), or None while nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None


def series_url(base: str, name: str) -> str:
    return f"{base}/v1/series/{urllib.parse.quote(name, safe='=')}?window=all"


def series_calls(base: str, name: str, timeout: float = 5.0) -> int | None:
    """Calls of series ``name`` over everything kept, or None when it cannot say yet."""
    answer = http_get(series_url(base, name), timeout)
    if answer is None or answer[0] != 200:
        return None
    try:
        calls = orjson.loads(answer[1]).get("calls")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return calls if isinstance(calls, int) else None


def flush_count(base: str) -> int | None:
    """States written to the series table so far (``spendwatch_series_flushes_total``)."""
    answer = http_get(f"{base}/metrics")
    if answer is None or answer[0] != 200:
        return None
    found = parse_counter(answer[1].decode(errors="replace"), METRIC_FLUSHES)
    return None if found is None else int(found)


@dataclass(frozen=True, slots=True)
class SeriesCount:
    per_dimension: dict[str, int]
    calls: dict[str, int]
    """Per dimension, the calls summed over its series (each must equal the events)."""

    @property
    def total(self) -> int:
        return sum(self.per_dimension.values())


def count_series(
    base: str, dimensions: Sequence[str], limit: int, timeout: float = 300.0
) -> SeriesCount:
    """Every series this worker holds, per dimension (``/v1/top/DIM?local=1``: this worker
    alone; the run has one worker, which owns every partition)."""
    per_dimension: dict[str, int] = {}
    calls: dict[str, int] = {}
    for dimension in dimensions:
        url = f"{base}/v1/top/{dimension}?window=all&limit={limit}&local=1"
        answer = http_get(url, timeout)
        if answer is None or answer[0] != 200:
            raise BenchError(f"GET {url} answered {answer[0] if answer else 'nothing'}")
        rows: list[dict[str, Any]] = orjson.loads(answer[1])["series"]
        if len(rows) >= limit:
            raise BenchError(f"{dimension}: {len(rows)} series reached the limit {limit}")
        per_dimension[dimension] = len(rows)
        calls[dimension] = sum(int(r["calls"]) for r in rows)
    return SeriesCount(per_dimension, calls)


async def group_members(bootstrap: str, group_id: str) -> int:
    """Members of consumer group ``group_id`` the coordinator still counts."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        responses = await admin.describe_consumer_groups([group_id])
    finally:
        await admin.close()
    members = 0
    for response in responses:
        for group in response.to_object()["groups"]:
            if group["group"] == group_id:
                members += len(group["members"])
    return members


def wait_group_empty(bootstrap: str, group_id: str, timeout_s: float = 240.0) -> float:
    """Wait until a killed worker's membership expired (its session timeout); seconds."""
    started = time.perf_counter()
    while True:
        try:
            if asyncio.run(group_members(bootstrap, group_id)) == 0:
                return time.perf_counter() - started
        except Exception as exc:  # the coordinator may be loading; ask again
            if time.perf_counter() - started > timeout_s:
                raise BenchError(f"cannot describe group {group_id}: {exc}") from exc
        if time.perf_counter() - started > timeout_s:
            raise BenchError(f"group {group_id} still has members after {timeout_s:.0f}s")
        time.sleep(0.5)


@dataclass(frozen=True, slots=True)
class Backlog:
    """What a replacement has to read: state writes in the series changelog, and bucket
    records the killed worker had applied but not committed (it replays those)."""

    changelog_records: int
    uncommitted_bucket_records: int


async def end_offsets(bootstrap: str, topics: Mapping[str, int]) -> dict[str, int]:
    """Per topic (name to partitions), the sum of its partitions' end offsets."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t, n in topics.items() for p in range(n)]
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return {t: sum(ends[tp] for tp in tps if tp.topic == t) for t in topics}


async def replay_backlog(
    bootstrap: str, group_id: str, buckets_topic: str, changelog_topic: str, partitions: int
) -> Backlog:
    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group_id)
    finally:
        await admin.close()
    ends = await end_offsets(bootstrap, {buckets_topic: partitions, changelog_topic: partitions})
    done = 0
    for p in range(partitions):
        offset = committed.get(TopicPartition(buckets_topic, p))
        done += offset.offset if offset is not None and offset.offset >= 0 else 0
    return Backlog(ends[changelog_topic], ends[buckets_topic] - done)
