"""The Faust app: topics, tables and the two agents, wired from settings.

Only ``streams/`` imports Faust. Usage messages (keyed by ``api_key_id``) feed the
``ingest`` agent, which sends per-series partial buckets to the buckets topic; the
``series`` agent owns each series' rolling state. Both keep their exactly-once
bookkeeping in changelogged tables (see ``dedup`` and ``series_state``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import faust
import mode

from alerting.lifecycle import AlertLifecycle
from detectors.config import DetectorsConfig
from detectors.suite import DetectorSuite
from schemas.decode import EventDecoder
from schemas.pricing import PriceBook
from streams.config_reload import LiveConfig, live_config
from streams.config_sections import detectors_config as detectors_from
from streams.delivery_guard import DeliveryGuard, PartitionReader, committed_start, faust_event
from streams.detection_stage import DetectionStage
from streams.fast_decode import RowDecoder
from streams.fetch_watchdog import FetchWatchdog
from streams.finops_views import register_finops_views
from streams.heap_gc import TICK_S, HeapCollector
from streams.ingest_stage import IngestStage
from streams.key_owners import KeyOwnerMap
from streams.memory_trim import TRIM_EVERY_S, MemoryTrim
from streams.metrics import WorkerMetrics
from streams.progress_log import ProgressLog
from streams.rocksdb_memory import options_for, store_url
from streams.series_stage import SeriesStage
from streams.settings import WorkerSettings
from streams.stored_acks import ChangelogTable, CommitTrackingTables
from streams.views import register_views


@dataclass
class SpendwatchApp:
    """The Faust app and the handles views and tests need."""

    faust_app: faust.App
    settings: WorkerSettings
    metrics: WorkerMetrics
    ingest: IngestStage
    series: SeriesStage
    live: LiveConfig = field(default_factory=lambda: live_config(None))


def _raw_topic(
    app: faust.App, name: str, partitions: int, internal: bool = False, compacting: bool = False
) -> Any:
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        internal=internal,
        compacting=compacting or None,
    )


def _raw_table(app: faust.App, name: str, partitions: int, settings: WorkerSettings) -> Any:
    """A table of bytes to bytes: keys hash like the producer's (murmur2 of the bytes)."""
    return app.Table(
        name,
        default=None,
        partitions=partitions,
        key_type=bytes,
        value_type=bytes,
        options=options_for(settings.rocksdb_block_cache_mib, settings.rocksdb_write_buffer_mib),
    )


WATCHDOG_INTERVAL_S = 15.0
"""How often the fetch watchdog compares positions with end offsets."""


def create_app(
    settings: WorkerSettings,
    live: LiveConfig | None = None,
    detectors_config: DetectorsConfig | None = None,
) -> SpendwatchApp:
    """The app; ``live`` (default: ``settings.config_file``) is watched for changes."""
    if live is None:
        live = live_config(settings.config_file)
    app = faust.App(
        settings.app_id,
        broker=settings.broker_url,
        store=store_url(settings.store),
        datadir=str(settings.data_dir),
        web_host=settings.web_host,
        web_port=settings.web_port,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        consumer_auto_offset_reset="earliest",
        broker_max_poll_records=200,
        consumer_max_fetch_size=16 * 1_048_576,
        stream_buffer_maxsize=2048,
        producer_linger=0.005,
        producer_max_batch_size=1_048_576,
        producer_max_request_size=8 * 1_048_576,
        table_standby_replicas=0,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
        stream_wait_empty=False,
        web_in_thread=False,
        Table=ChangelogTable,
        TableManager=CommitTrackingTables,
    )
    metrics = WorkerMetrics()
    usage = _raw_topic(app, settings.usage_topic, settings.partitions)
    dlq = _raw_topic(app, settings.dlq_topic, 1)
    buckets = _raw_topic(app, settings.buckets_topic, settings.series_partitions)
    prices = PriceBook()
    reader = PartitionReader(settings.bootstrap)

    guard = DeliveryGuard(reader, partial(faust_event, app), start_of=committed_start(app))
    ingest = IngestStage(
        settings=settings,
        decoder=RowDecoder(EventDecoder(prices, settings.decode_limits())),
        metrics=metrics,
        dlq_topic=dlq,
        buckets_topic=buckets,
        dedup_table=_raw_table(app, "dedup", settings.partitions, settings),
        guard=guard,
        committed=CommitTrackingTables.committed_of(app, settings.usage_topic),
    )
    detection = None
    if settings.detect:
        file_config = live.current.config
        detection = DetectionStage(
            suite=DetectorSuite(
                detectors_config or detectors_from(file_config.detectors, file_config.budgets)
            ),
            lifecycle=AlertLifecycle(),
            table=_raw_table(app, "detection", settings.series_partitions, settings),
            findings_topic=_raw_topic(app, settings.findings_topic, settings.series_partitions),
            alerts_topic=_raw_topic(
                app, settings.alerts_topic, settings.series_partitions, compacting=True
            ),
            bucket_minutes=settings.bucket_minutes,
            close_grace_minutes=settings.close_grace_minutes,
            idle_close_minutes=settings.lateness_minutes,
            open_every_s=settings.open_bucket_every_s,
            data_dir=settings.data_dir,
        )
    series = SeriesStage(
        settings=settings,
        metrics=metrics,
        series_table=_raw_table(app, "series", settings.series_partitions, settings),
        buckets_topic=buckets,
        detection=detection,
        guard=guard,
        rebalancing=lambda: bool(app.rebalancing),
    )
    app.agent(usage, name="ingest")(ingest.run)
    app.agent(buckets, name="series")(series.run)
    app.timer(settings.flush_interval_s)(series.tick)
    watchdog = FetchWatchdog(app, frozenset({settings.usage_topic, settings.buckets_topic}))
    app.timer(WATCHDOG_INTERVAL_S)(watchdog.check)
    app.timer(settings.progress_log_s)(ProgressLog(metrics.tally).tick)
    app.timer(TRIM_EVERY_S)(MemoryTrim.for_this_libc().tick)
    if settings.gc_freeze_every_s:
        collector = HeapCollector(freeze_every_s=settings.gc_freeze_every_s)
        app.timer(min(TICK_S, settings.gc_freeze_every_s))(collector.timer)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        guard.forget()
        ingest.forget_partitions()
        series.forget_partitions()

    @app.service
    class CloseReader(mode.Service):
        async def on_stop(self) -> None:
            await reader.close()

    def use_key_owners(config: Any) -> None:
        ingest.owners = KeyOwnerMap(config.key_owners)

    live.on_change(use_key_owners)

    def use_detectors(config: Any) -> None:
        if detection is not None and detectors_config is None:
            # Thresholds and budgets change live; what each series learned stays.
            detection.suite = DetectorSuite(detectors_from(config.detectors, config.budgets))

    live.on_change(use_detectors)
    if live.path is not None:

        async def watch_config() -> None:
            live.poll()

        app.timer(live.current.config.reload.poll_interval_s)(watch_config)

    handle = SpendwatchApp(app, settings, metrics, ingest, series, live)
    register_views(handle)
    register_finops_views(handle)
    return handle
