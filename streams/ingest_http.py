"""HTTP ingest for gateways and non-Python producers: ``POST /v1/usage``.

The body is one event, a JSON array of events or a ``UsageBatch`` envelope. Every item
is checked exactly as the worker checks it; valid items go to the usage topic (grouped
per partition, as ``UsageProducer`` does) and rejected items to the dead-letter topic,
and the answer names each rejected item's index, field path and problem.

Answers: 202 when at least one event was accepted (with ``accepted``, ``rejected`` and
``errors``), 401 without a valid bearer token, 429 with ``Retry-After`` when the
producer is over its rate limit, 413 over the body limit, 422 when nothing in the body
was a valid event, 503 with ``Retry-After`` when Kafka would not take the events (a
retry is safe: events are deduplicated by ``event_id``). Every refusal is a JSON body
whose ``error`` says why. A big body is published as several usage messages of at most
``KAFKA_MESSAGE_BUDGET`` bytes each.

Tokens are required: the app refuses to be built without any unless anonymous
producers are allowed explicitly (``allow_anonymous``). The wall clock (for event-time
checks) and the monotonic clock (for rate limits) are injected.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas.decode import Decoded, EventDecoder
from streams.dead_letter import dead_letter_record
from streams.producer import encode_batch, partition_for
from streams.rate_limit import Clock, RateLimit, TokenBucketLimiter, retry_after_header
from streams.settings import WorkerSettings
from streams.tokens import ProducerTokens

WallClock = Callable[[], datetime]
KAFKA_MESSAGE_BUDGET = 512 * 1024
"""Largest usage message the ingest writes: well inside Kafka's default 1 MiB limit."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AnonymousIngestError(ValueError):
    """The ingest was asked to run without producer tokens and not told that is fine."""


log = logging.getLogger(__name__)

PRODUCER_KEY = web.AppKey("producer", AIOKafkaProducer)
STATE_KEY = web.AppKey("ingest_state", dict)


def _error(status: int, problem: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": problem}, status=status, headers=headers)


def _chunks(events: list[dict[str, Any]], budget: int) -> Iterator[list[dict[str, Any]]]:
    """Events in runs whose encoded batch stays under ``budget`` bytes (one event over it
    goes alone: the decoder's limits keep any single event far below a Kafka message)."""
    chunk: list[dict[str, Any]] = []
    size = 0
    for event in events:
        event_size = len(orjson.dumps(event)) + 1
        if chunk and size + event_size > budget:
            yield chunk
            chunk, size = [], 0
        chunk.append(event)
        size += event_size
    if chunk:
        yield chunk


async def _publish(request: web.Request, decoded: Decoded, producer_name: str) -> None:
    producer = request.app[PRODUCER_KEY]
    state = request.app[STATE_KEY]
    settings: WorkerSettings = state["settings"]
    by_partition: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for priced in decoded.events:
        event = priced.event
        partition = partition_for(event.api_key_id, state["partitions"])
        by_partition[partition].append(event.model_dump(mode="json", exclude_none=True))
    sends = [
        await producer.send(
            settings.usage_topic,
            value=encode_batch(chunk),
            key=chunk[0]["api_key_id"].encode(),
            partition=partition,
        )
        for partition, events in by_partition.items()
        for chunk in _chunks(events, KAFKA_MESSAGE_BUDGET)
    ]
    now = state["now"]()
    for rejected in decoded.rejected:
        record = dead_letter_record(
            rejected,
            source_topic=f"http:/v1/usage producer={producer_name}",
            partition=None,
            offset=None,
            received_at=now,
        )
        sends.append(await producer.send(settings.dlq_topic, value=record))
    for future in sends:
        await future


async def post_usage(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    tokens: ProducerTokens = state["tokens"]
    producer_name = "anonymous"
    if tokens.enabled:
        found = tokens.producer_for(request.headers.get("Authorization"))
        if found is None:
            log.info("ingest refused a request from %s: no valid bearer token", request.remote)
            challenge = {"WWW-Authenticate": 'Bearer realm="ingest"'}
            return _error(401, "missing or unknown bearer token", challenge)
        producer_name = found
    limiter: TokenBucketLimiter = state["limiter"]
    wait = limiter.acquire(producer_name)
    if wait > 0:
        retry = retry_after_header(wait)
        return _error(
            429,
            f"producer {producer_name!r} is over its rate limit of {limiter.limit.rate:g} "
            f"requests/s (burst {limiter.limit.burst}); retry after {retry} s",
            {"Retry-After": retry},
        )
    limit = state["settings"].max_message_bytes
    if request.content_length is not None and request.content_length > limit:
        return _error(
            413, f"body of {request.content_length} bytes exceeds the limit of {limit} bytes"
        )
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"body exceeds the limit of {limit} bytes")
    decoder: EventDecoder = state["decoder"]
    decoded = decoder.decode(body, state["now"]())
    errors = [
        {"index": r.index, "errors": [e.as_dict() for e in r.errors]} for r in decoded.rejected
    ]
    whole = decoded.rejected[0] if decoded.rejected and not decoded.events else None
    if whole is not None and whole.index is None and "exceeds the limit" in whole.reason:
        return _error(413, whole.reason)
    try:
        await _publish(request, decoded, producer_name)
    except KafkaError as exc:
        log.warning("ingest could not publish for producer %s: %r", producer_name, exc)
        return _error(
            503,
            f"could not publish to Kafka ({type(exc).__name__}); retry: events are "
            "deduplicated by event_id",
            {"Retry-After": "1"},
        )
    body_out = {
        "accepted": len(decoded.events),
        "rejected": len(decoded.rejected),
        "errors": errors,
    }
    status = 202 if decoded.events else 422
    if decoded.rejected:
        log.info(
            "ingest from producer %s: %d accepted, %d rejected (first: %s)",
            producer_name,
            len(decoded.events),
            len(decoded.rejected),
            decoded.rejected[0].reason,
        )
    return web.json_response(body_out, status=status)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_ingest_app(
    settings: WorkerSettings,
    tokens: ProducerTokens,
    decoder: EventDecoder | None = None,
    *,
    allow_anonymous: bool = False,
    rate_limit: RateLimit | None = None,
    now: WallClock = _utc_now,
    clock: Clock = time.monotonic,
) -> web.Application:
    """The ingest web app; raises ``AnonymousIngestError`` when ``tokens`` is empty and
    ``allow_anonymous`` is not set."""
    if not tokens.enabled and not allow_anonymous:
        raise AnonymousIngestError(
            "no producer tokens configured (--tokens-file, SPENDWATCH_INGEST_TOKENS_FILE or "
            "SPENDWATCH_INGEST_TOKENS); pass --allow-anonymous to accept anyone"
        )
    app = web.Application(client_max_size=settings.max_message_bytes)
    app[STATE_KEY] = {
        "settings": settings,
        "tokens": tokens,
        "decoder": decoder or EventDecoder(limits=settings.decode_limits()),
        "partitions": settings.partitions,
        "limiter": TokenBucketLimiter(rate_limit or RateLimit(), clock),
        "now": now,
    }
    app.router.add_post("/v1/usage", post_usage)
    app.router.add_get("/healthz", health)

    async def kafka(app: web.Application) -> Any:
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_request_size=settings.max_message_bytes + 65536,
        )
        await producer.start()
        partitions = await producer.partitions_for(settings.usage_topic)
        app[STATE_KEY]["partitions"] = len(partitions)
        app[PRODUCER_KEY] = producer
        yield
        await producer.stop()

    app.cleanup_ctx.append(kafka)
    return app
