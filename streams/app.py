"""The Faust app: topics, tables and agents wired from settings.

Only ``streams/`` imports Faust. The app decodes usage messages with ``schemas``' decoder,
sends rejected items to the dead-letter topic, and keeps per-key spend in a changelogged
table written once per key per message, never once per event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import EventT, StreamT

from schemas.decode import EventDecoder, PricedEvent
from schemas.pricing import PriceBook
from streams.dead_letter import dead_letter_record
from streams.metrics import WorkerMetrics
from streams.settings import WorkerSettings
from streams.views import TOTAL_FIELDS, register_views


@dataclass
class SpendwatchApp:
    """The Faust app and the handles tests and views need."""

    faust_app: faust.App
    settings: WorkerSettings
    usage_topic: Any
    dlq_topic: Any
    spend_by_key: Any
    decoder: EventDecoder
    metrics: WorkerMetrics


def key_totals(events: list[PricedEvent]) -> dict[str, dict[str, int]]:
    """Sum one message's events per api_key_id."""
    totals: dict[str, dict[str, int]] = {}
    for priced in events:
        ev = priced.event
        row = totals.get(ev.api_key_id)
        if row is None:
            row = totals[ev.api_key_id] = dict.fromkeys(TOTAL_FIELDS, 0)
        row["cost_nanos"] += priced.cost_nanos
        row["calls"] += 1
        row["input_tokens"] += ev.input_tokens
        row["output_tokens"] += ev.output_tokens
        row["errors"] += ev.is_error
    return totals


def create_app(settings: WorkerSettings) -> SpendwatchApp:
    app = faust.App(
        settings.app_id,
        broker=settings.broker_url,
        store=settings.store,
        datadir=str(settings.data_dir),
        web_host=settings.web_host,
        web_port=settings.web_port,
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        broker_max_poll_records=500,
        stream_buffer_maxsize=4096,
        producer_linger=0.01,
        producer_max_batch_size=1_048_576,
        table_standby_replicas=0,
        web_in_thread=False,
    )
    usage = app.topic(
        settings.usage_topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
    )
    dlq = app.topic(
        settings.dlq_topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=1,
    )
    spend = app.Table("spend-by-key", default=None, partitions=settings.partitions)
    decoder = EventDecoder(PriceBook(), settings.decode_limits())
    handle = SpendwatchApp(app, settings, usage, dlq, spend, decoder, WorkerMetrics())

    async def ingest(stream: StreamT[bytes]) -> AsyncIterator[None]:
        async for event in stream.events():
            await _process(handle, event)
            yield None

    app.agent(usage, name="ingest")(ingest)

    register_views(handle)
    return handle


async def _process(handle: SpendwatchApp, event: EventT[bytes]) -> None:
    message = event.message
    raw = event.value if isinstance(event.value, bytes) else bytes(event.value or b"")
    now = datetime.now(UTC)
    decoded = handle.decoder.decode(raw, now)
    handle.metrics.observe(decoded)
    for rejected in decoded.rejected:
        await handle.dlq_topic.send(
            key=message.key,
            value=dead_letter_record(
                rejected,
                source_topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                received_at=now,
            ),
        )
    for api_key_id, add in key_totals(decoded.events).items():
        table_key = f"{message.partition}|{api_key_id}"
        current = handle.spend_by_key.get(table_key) or dict.fromkeys(TOTAL_FIELDS, 0)
        handle.spend_by_key[table_key] = {f: current[f] + add[f] for f in TOTAL_FIELDS}
