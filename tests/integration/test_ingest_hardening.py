"""The HTTP ingest under bad input and abuse, on a real server and Apache Kafka: the
corpus verdicts, fuzzed bodies, required tokens, size limits and rate limits."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.decode import EventDecoder
from streams.ingest_http import KAFKA_MESSAGE_BUDGET, AnonymousIngestError, create_ingest_app
from streams.rate_limit import RateLimit
from streams.settings import WorkerSettings
from streams.tokens import ProducerTokens
from streams.topics import ensure_topics
from tests.support.corpus import NOW, Case, case_id, load_cases
from tests.support.fuzz_strategies import Message, messages
from tests.support.kafka_io import read_topic

TOKEN = "ingest-token-for-tests-1"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CASES = load_cases()


class HandClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
async def settings_(kafka_bootstrap: str) -> WorkerSettings:
    import uuid

    prefix = f"t{uuid.uuid4().hex[:10]}-hard."
    settings = WorkerSettings(bootstrap=kafka_bootstrap, topic_prefix=prefix, partitions=2)
    await ensure_topics(settings)
    return settings


async def start(settings: WorkerSettings, **options: Any) -> TestServer:
    tokens = options.pop("tokens", ProducerTokens.parse(f"gateway {TOKEN}\nother other-token-22"))
    app = create_ingest_app(settings, tokens, now=lambda: NOW, **options)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


@pytest.fixture(scope="module")
async def ingest(settings_: WorkerSettings) -> AsyncIterator[str]:
    server = await start(settings_)
    try:
        yield str(server.make_url("/v1/usage"))
    finally:
        await server.close()


async def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers=AUTH if headers is None else headers) as resp,
    ):
        text = await resp.read()
        assert resp.content_type == "application/json", text[:200]
        return resp.status, orjson.loads(text)


@pytest.mark.parametrize("case", CASES, ids=case_id)
async def test_corpus_verdicts_over_http(ingest: str, case: Case) -> None:
    status, body = await post(ingest, case.body)
    assert status == case.http, body
    if status == 413:
        assert "exceeds the limit" in body["error"]
        return
    assert body["accepted"] == case.valid
    assert body["rejected"] == len(case.rejected)
    got = [(e["index"], [(x["path"], x["problem"]) for x in e["errors"]]) for e in body["errors"]]
    assert case.check(got) == []


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(message=messages())
async def test_fuzzed_bodies_get_the_decoders_verdict(ingest: str, message: Message) -> None:
    status, body = await post(ingest, message.raw)
    reference = EventDecoder().decode(message.raw, NOW)
    assert status == (202 if reference.events else 422), body
    assert body["accepted"] == len(reference.events)
    assert [(e["index"], [x["problem"] for x in e["errors"]]) for e in body["errors"]] == [
        (r.index, [e.problem for e in r.errors]) for r in reference.rejected
    ]
    if not message.corrupted:
        assert body["accepted"] >= len(message.intact)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=300), auth=st.sampled_from([None, "Bearer x", "Basic abc"]))
async def test_random_bytes_and_bad_tokens_get_a_4xx_with_a_reason(
    ingest: str, raw: bytes, auth: str | None
) -> None:
    headers = AUTH if auth is None else {"Authorization": auth}
    status, body = await post(ingest, raw, headers)
    if auth is None:
        assert status in {202, 422}
        assert all(e["errors"] for e in body["errors"])
    else:
        assert status == 401
        assert body == {"error": "missing or unknown bearer token"}


def test_the_ingest_will_not_run_without_tokens_unless_told(settings_: WorkerSettings) -> None:
    with pytest.raises(AnonymousIngestError, match="no producer tokens configured"):
        create_ingest_app(settings_, ProducerTokens({}))
    assert create_ingest_app(settings_, ProducerTokens({}), allow_anonymous=True) is not None


async def test_anonymous_ingest_accepts_without_a_token(
    settings_: WorkerSettings, make_event: Callable[..., dict[str, Any]]
) -> None:
    server = await start(settings_, tokens=ProducerTokens({}), allow_anonymous=True)
    try:
        body = orjson.dumps(make_event(timestamp=NOW.isoformat()))
        status, answer = await post(str(server.make_url("/v1/usage")), body, {})
    finally:
        await server.close()
    assert (status, answer["accepted"]) == (202, 1)


async def test_rate_limit_per_token_with_retry_after(
    settings_: WorkerSettings, make_event: Callable[..., dict[str, Any]]
) -> None:
    clock = HandClock()
    server = await start(settings_, rate_limit=RateLimit(rate=0.5, burst=2), clock=clock)
    url = str(server.make_url("/v1/usage"))
    body = orjson.dumps([make_event(timestamp=NOW.isoformat())])
    other = {"Authorization": "Bearer other-token-22"}
    try:
        async with aiohttp.ClientSession() as http:

            async def send(headers: dict[str, str]) -> tuple[int, str | None, Any]:
                async with http.post(url, data=body, headers=headers) as resp:
                    return resp.status, resp.headers.get("Retry-After"), await resp.json()

            assert [(await send(AUTH))[0] for _ in range(2)] == [202, 202]
            status, retry, answer = await send(AUTH)
            assert (status, retry) == (429, "2")
            assert answer["error"] == (
                "producer 'gateway' is over its rate limit of 0.5 requests/s (burst 2); "
                "retry after 2 s"
            )
            assert (await send(other))[0] == 202  # another producer has its own bucket
            clock.now += 1.0
            assert (await send(AUTH))[:2] == (429, "1")
            clock.now += 1.0
            assert (await send(AUTH))[0] == 202
            assert (await send({"Authorization": "Bearer nope"}))[0] == 401  # auth comes first
    finally:
        await server.close()


async def test_chunked_body_over_the_limit_is_413_with_a_reason(ingest: str) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(9):
            yield b" " * (1024 * 1024)

    async with (
        aiohttp.ClientSession() as http,
        http.post(ingest, data=chunks(), headers=AUTH) as resp,
    ):
        assert resp.request_info.headers.get("Transfer-Encoding") == "chunked"
        assert resp.status == 413
        assert (await resp.json())["error"] == "body exceeds the limit of 8388608 bytes"


async def test_a_big_valid_body_is_published_in_messages_kafka_takes(
    settings_: WorkerSettings, ingest: str
) -> None:
    events = [
        {"event_id": f"big-{i}", "timestamp": NOW.isoformat(), "provider": "openai",
         "model": "gpt-4o", "api_key_id": "big-body-key", "tags": {"note": "y" * 200}}
        for i in range(20_000)
    ]  # fmt: skip
    body = orjson.dumps(events)
    assert 4_000_000 < len(body) < 8 * 1024 * 1024  # over Kafka's 1 MiB, under the body limit
    status, answer = await post(ingest, body)
    assert (status, answer["accepted"]) == (202, 20_000)
    consumer = AIOKafkaConsumer(
        settings_.usage_topic,
        bootstrap_servers=settings_.bootstrap,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=2 * 1024 * 1024,
    )
    await consumer.start()
    seen: list[str] = []
    try:
        while len(seen) < 20_000:
            batch = await consumer.getmany(timeout_ms=2000)
            if not batch:
                break
            for message in (m for msgs in batch.values() for m in msgs):
                assert len(message.value) <= KAFKA_MESSAGE_BUDGET
                seen += [
                    e["event_id"]
                    for e in EventDecoder().split(message.value).items
                    if e["api_key_id"] == "big-body-key"
                ]
    finally:
        await consumer.stop()
    assert sorted(seen) == sorted(e["event_id"] for e in events)


async def test_a_big_malformed_body_leaves_a_dead_letter_that_fits(
    settings_: WorkerSettings, ingest: str
) -> None:
    body = b'{"event_id": "cut-short-' + b"x" * 3_000_000
    status, answer = await post(ingest, body)
    assert status == 422
    assert answer["errors"][0]["errors"][0]["problem"].startswith("malformed JSON")
    records = await read_topic(settings_.bootstrap, settings_.dlq_topic, 10_000, seconds=5)
    mine = [
        orjson.loads(m.value)
        for m in records
        if orjson.loads(m.value)["original_sha256"] == hashlib.sha256(body).hexdigest()
    ]
    assert len(mine) == 1
    assert mine[0]["original_truncated"] is True
    assert mine[0]["original_size"] == len(body)


async def test_kafka_refusing_the_events_is_a_503_with_retry_after(
    kafka_bootstrap: str, make_event: Callable[..., dict[str, Any]]
) -> None:
    import uuid

    settings = WorkerSettings(
        bootstrap=kafka_bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}-tiny.", partitions=1
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:  # a usage topic that takes no message over 1 KiB
        await admin.create_topics(
            [NewTopic(settings.usage_topic, 1, 1, topic_configs={"max.message.bytes": "1024"})]
        )
    finally:
        await admin.close()
    await ensure_topics(settings)
    server = await start(settings)
    try:
        body = orjson.dumps([make_event(timestamp=NOW.isoformat(), tags={"k": "v" * 900})] * 3)
        async with (
            aiohttp.ClientSession() as http,
            http.post(server.make_url("/v1/usage"), data=body, headers=AUTH) as resp,
        ):
            answer = await resp.json()
            assert resp.status == 503, answer
            assert resp.headers["Retry-After"] == "1"
        assert answer["error"].startswith("could not publish to Kafka (")
    finally:
        await server.close()
