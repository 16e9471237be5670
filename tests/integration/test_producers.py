"""Producers on Apache Kafka: the SDK, the HTTP ingest and file replay deliver to the worker."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from schemas.decode import EventDecoder
from streams.ingest_http import create_ingest_app
from streams.producer import SyncUsageProducer, UsageProducer
from streams.settings import WorkerSettings
from streams.synthetic import TrafficGenerator
from streams.synthetic_org import TrafficProfile
from streams.tokens import ProducerTokens
from streams.topics import ensure_topics
from tests.support.kafka_io import read_topic, wait_for_key
from tests.support.worker_process import WorkerProcess

Make = Callable[..., dict[str, Any]]


def batch_events(raw: bytes) -> list[Any]:
    """The events of a batch message, columnar or not."""
    return EventDecoder().split(raw).items


@pytest.fixture
def settings(kafka_bootstrap: str, names: Callable[[str], str]) -> WorkerSettings:
    return WorkerSettings(bootstrap=kafka_bootstrap, topic_prefix=names("sw") + ".", partitions=4)


async def test_sdk_batches_per_partition_and_the_worker_counts_every_event(
    settings: WorkerSettings,
    names: Callable[[str], str],
    spawn_worker: Callable[..., WorkerProcess],
    make_event: Make,
) -> None:
    worker = spawn_worker(app_id=names("app"), topic_prefix=settings.topic_prefix, partitions=4)
    events = [make_event(api_key_id=f"sdk-{i % 7}", cost_usd="0.001") for i in range(700)]
    async with UsageProducer(settings.bootstrap, settings.usage_topic, max_batch_events=50) as p:
        await p.send_many(events)
    assert p.sent_events == 700
    assert p.sent_messages < 100  # batched, not one message per event
    messages = await read_topic(settings.bootstrap, settings.usage_topic, p.sent_messages)
    assert all("columns" in orjson.loads(m.value) for m in messages)  # columnar by default
    assert sum(len(batch_events(m.value)) for m in messages) == 700
    for m in messages:  # every event of a message belongs on that message's partition
        keys = {e["api_key_id"] for e in batch_events(m.value)}
        assert all(m.partition == _partition(k) for k in keys)
    for i in range(7):
        row = await wait_for_key(worker, f"sdk-{i}", 100)
        assert row["calls"] == 100, worker.log_tail()
        assert row["cost_usd"] == "0.100000000"


def _partition(key: str) -> int:
    from streams.producer import partition_for

    return partition_for(key, 4)


async def test_sdk_rejects_invalid_events_before_sending(
    settings: WorkerSettings, make_event: Make
) -> None:
    await ensure_topics(settings)
    async with UsageProducer(settings.bootstrap, settings.usage_topic) as producer:
        with pytest.raises(ValueError, match="input_tokens"):
            await producer.send(make_event(input_tokens=-3))
        assert producer.sent_events == 0


def test_sync_producer_flushes_on_close(settings: WorkerSettings, make_event: Make) -> None:
    asyncio.run(ensure_topics(settings))
    with SyncUsageProducer(settings.bootstrap, settings.usage_topic, linger_s=10) as producer:
        for _ in range(5):
            producer.send(make_event(api_key_id="sync-key"))
    messages = asyncio.run(read_topic(settings.bootstrap, settings.usage_topic, 1))
    assert sum(len(batch_events(m.value)) for m in messages) == 5


@pytest.fixture
async def ingest(settings: WorkerSettings) -> AsyncIterator[str]:
    await ensure_topics(settings)
    tokens = ProducerTokens.parse("gateway s3cret-token\nbatchjob sha256:" + "a" * 64)
    server = TestServer(create_ingest_app(settings, tokens), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url(""))
    finally:
        await server.close()


AUTH = {"Authorization": "Bearer s3cret-token"}


async def test_http_ingest_accepts_a_batch_and_dead_letters_the_bad_item(
    ingest: str,
    settings: WorkerSettings,
    names: Callable[[str], str],
    spawn_worker: Callable[..., WorkerProcess],
    make_event: Make,
) -> None:
    worker = spawn_worker(app_id=names("app"), topic_prefix=settings.topic_prefix, partitions=4)
    good = [make_event(api_key_id="http-key", cost_usd="0.25") for _ in range(4)]
    bad = make_event(api_key_id="http-key", model=None)
    async with aiohttp.ClientSession() as http:
        resp = await http.post(ingest + "/v1/usage", json=[*good[:2], bad, *good[2:]], headers=AUTH)
        body = await resp.json()
    assert resp.status == 202
    assert body["accepted"] == 4
    assert body["rejected"] == 1
    missing_model = {"path": "model", "problem": "Field required"}
    assert body["errors"] == [{"index": 2, "errors": [missing_model]}]
    row = await wait_for_key(worker, "http-key", 4)
    assert row["calls"] == 4
    assert row["cost_usd"] == "1.000000000"
    [dead] = await read_topic(settings.bootstrap, settings.dlq_topic, 1)
    record = orjson.loads(dead.value)
    assert record["source"]["topic"] == "http:/v1/usage producer=gateway"
    assert orjson.loads(record["original"]) == bad


@pytest.mark.parametrize(
    ("headers", "body", "status", "fragment"),
    [
        ({}, b"[]", 401, "bearer token"),
        ({"Authorization": "Bearer wrong"}, b"[]", 401, "bearer token"),
        (AUTH, b'{"event_id": ', 422, None),
        (AUTH, b"x" * (9 * 1024 * 1024), 413, "exceeds the limit"),
    ],
)
async def test_http_ingest_refusals(
    ingest: str, headers: dict[str, str], body: bytes, status: int, fragment: str | None
) -> None:
    async with aiohttp.ClientSession() as http:
        resp = await http.post(ingest + "/v1/usage", data=body, headers=headers)
        text = await resp.text()
    assert resp.status == status, text
    if fragment:
        assert fragment in text
    assert "s3cret-token" not in text


def test_produce_command_replays_a_file(
    settings: WorkerSettings, tmp_path: Path, make_event: Make
) -> None:
    path = tmp_path / "events.jsonl"
    events = [make_event(api_key_id="file-key") for _ in range(30)]
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\nnot json\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "produce",
            str(path),
            "--bootstrap",
            settings.bootstrap,
            "--topic-prefix",
            settings.topic_prefix,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1  # one invalid line
    assert "sent 30 events; 1 invalid" in result.stderr
    assert "line 31" in result.stderr
    messages = asyncio.run(read_topic(settings.bootstrap, settings.usage_topic, 1))
    assert sum(len(batch_events(m.value)) for m in messages) == 30


async def test_sdk_keeps_each_partitions_batches_in_send_order(
    settings: WorkerSettings, names: Callable[[str], str]
) -> None:
    """A backfill sent at once arrives in send order per partition, a short batch flushed by
    its linger not overtaking full ones still waiting for room: an overtaken batch's events
    would be late, booked in the wrong minute."""
    await ensure_topics(settings)
    generator = TrafficGenerator(TrafficProfile(calls_per_second=50))
    async with UsageProducer(settings.bootstrap, settings.usage_topic, idempotent=False) as p:
        for minute in range(90):
            await p.send_many(generator.events_between(minute * 60.0, minute * 60.0 + 60))
        for second in range(5):
            await asyncio.sleep(0.1)
            await p.send_many(generator.events_between(5400.0 + second, 5401.0 + second))
    messages = await read_topic(settings.bootstrap, settings.usage_topic, p.sent_messages)
    assert len(messages) == p.sent_messages
    firsts: dict[int, list[int]] = {}
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        stamps = [int(e["timestamp"]) for e in batch_events(m.value)]
        firsts.setdefault(m.partition, []).append(stamps[0])
    assert len(firsts) > 1
    for partition, order in firsts.items():
        assert order == sorted(order), f"partition {partition} out of send order"
