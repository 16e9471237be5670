"""The malformed-input corpus sent to the usage topic on Apache Kafka through a real
worker: every bad item lands in the dead-letter topic with its reason and source, and
every valid event is counted exactly once."""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

from streams.settings import WorkerSettings
from tests.support.corpus import CORPUS_KEY, COST_PER_VALID_EVENT, NOW, Case, load_cases
from tests.support.kafka_io import read_topic, wait_for_key
from tests.support.worker_process import WorkerProcess

NOW_MS = int(NOW.timestamp() * 1000)


async def test_corpus_through_a_worker(
    kafka_bootstrap: str,
    names: Callable[[str], str],
    spawn_worker: Callable[..., WorkerProcess],
) -> None:
    settings = WorkerSettings(
        bootstrap=kafka_bootstrap, topic_prefix=names("corpus") + ".", partitions=2
    )
    worker = spawn_worker(app_id=names("app"), topic_prefix=settings.topic_prefix, partitions=2)
    cases = load_cases()
    sentinel = orjson.dumps(
        {"event_id": "corpus-last", "timestamp": "2026-11-29T11:59:00Z", "provider": "openai",
         "model": "gpt-4o", "api_key_id": CORPUS_KEY, "cost_usd": "0.001"}
    )  # fmt: skip
    sent: dict[tuple[int, int], Case] = {}
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for case in cases:
            send = producer.send_and_wait(
                settings.usage_topic, case.body, key=CORPUS_KEY.encode(), timestamp_ms=NOW_MS
            )
            if not case.kafka:  # over the broker's limit: refused before it reaches a worker
                with pytest.raises(MessageSizeTooLargeError):
                    await send
                continue
            meta = await send
            sent[(meta.partition, meta.offset)] = case
        # One more valid event after the corpus: when it is counted, all before it were seen.
        await producer.send_and_wait(
            settings.usage_topic, sentinel, key=CORPUS_KEY.encode(), timestamp_ms=NOW_MS
        )
    finally:
        await producer.stop()

    valid = sum(c.valid for c in sent.values()) + 1
    row = await wait_for_key(worker, CORPUS_KEY, valid, seconds=120)
    assert row is not None, worker.log_tail()
    assert row["calls"] == valid
    assert Decimal(row["cost_usd"]) == valid * COST_PER_VALID_EVENT

    expected_dead = sum(len(c.rejected) for c in sent.values())
    records = await read_topic(settings.bootstrap, settings.dlq_topic, expected_dead + 1, 20)
    assert len(records) == expected_dead
    by_source: dict[tuple[int, int], list[tuple[int | None, list[tuple[str, str]]]]]
    by_source = defaultdict(list)
    for message in records:
        record = orjson.loads(message.value)
        assert record["source"]["topic"] == settings.usage_topic
        assert record["reason"]
        errors = [(e["path"], e["problem"]) for e in record["errors"]]
        source = (record["source"]["partition"], record["source"]["offset"])
        by_source[source].append((record["batch_index"], errors))
        if record["batch_index"] is None and not record["redacted"]:  # exact bytes kept
            body, kept = sent[source].body, base64.b64decode(record["original_b64"])
            assert record["original_size"] == len(body)
            assert kept == (body[: len(kept)] if record["original_truncated"] else body)
    for source, case in sent.items():
        assert case.check(by_source.get(source, [])) == [], case.file


async def test_a_worker_dead_letters_a_message_near_kafkas_limit_and_carries_on(
    kafka_bootstrap: str,
    names: Callable[[str], str],
    spawn_worker: Callable[..., WorkerProcess],
) -> None:
    settings = WorkerSettings(
        bootstrap=kafka_bootstrap, topic_prefix=names("big") + ".", partitions=1
    )
    worker = spawn_worker(app_id=names("app"), topic_prefix=settings.topic_prefix, partitions=1)
    broken = b'[{"event_id": "cut-' + b"y" * 1_000_000  # just under the broker's 1 MiB
    after = orjson.dumps(
        {"event_id": "after-big", "timestamp": "2026-11-29T11:59:00Z", "provider": "openai",
         "model": "gpt-4o", "api_key_id": "big-key", "cost_usd": "0.5"}
    )  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for value in (broken, after):
            await producer.send_and_wait(
                settings.usage_topic, value, key=b"big-key", timestamp_ms=NOW_MS
            )
    finally:
        await producer.stop()
    row = await wait_for_key(worker, "big-key", 1, seconds=120)
    assert row is not None and row["calls"] == 1, worker.log_tail()
    [dead] = await read_topic(settings.bootstrap, settings.dlq_topic, 1)
    record = orjson.loads(dead.value)
    assert record["original_truncated"] is True
    assert record["original_size"] == len(broken)
    assert record["reason"].startswith("malformed JSON")
