"""Runtime settings of a worker: from the command line or ``SPENDWATCH_*`` variables."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.decode import DecodeLimits
from streams.rollup import DIMENSIONS


class WorkerSettings(BaseSettings):
    """How a worker reaches Kafka and where it keeps state."""

    model_config = SettingsConfigDict(env_prefix="SPENDWATCH_", frozen=True, extra="ignore")

    bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,...]")
    app_id: str = Field("spendwatch", description="Faust app id: consumer group and topic prefix")
    topic_prefix: str = Field("spendwatch.", description="Prefix of every topic spendwatch owns")
    partitions: int = Field(8, ge=1, le=1024, description="Partitions of the usage topic")
    data_dir: Path = Field(Path("./.spendwatch-data"), description="Local table state (rocksdict)")
    min_free_mb: int = Field(
        64, ge=0, description="Free space the state directory needs at start, in MiB"
    )
    store: str = Field("rocksdb://", description="Faust table store: rocksdb:// or memory://")
    rocksdb_write_buffer_mib: int = Field(
        32,
        ge=1,
        le=8192,
        description="RocksDB memtables of all the worker's table partitions together, in MiB",
    )
    rocksdb_block_cache_mib: int = Field(
        32,
        ge=1,
        le=65536,
        description="RocksDB block cache shared by all the worker's table partitions, in MiB",
    )
    web_host: str = Field(
        "127.0.0.1", description="Name other workers use to reach this worker's HTTP API"
    )
    web_port: int = Field(6066, ge=0, le=65535, description="Port of the worker's HTTP API")
    replication_factor: int = Field(
        1, ge=1, le=16, description="Replicas of each topic spendwatch creates (3 in production)"
    )
    bucket_partitions: int | None = Field(
        None, ge=1, le=1024, description="Partitions of the buckets topic (default: --partitions)"
    )
    bucket_minutes: int = Field(
        1, description="Event-time bucket size in minutes (a divisor of 60)"
    )
    lateness_minutes: int = Field(10, ge=0, le=24 * 60, description="Allowed event lateness")
    dedup_window_minutes: int = Field(
        60, ge=1, le=7 * 24 * 60, description="How long event ids are remembered"
    )
    dimensions: tuple[str, ...] = Field(
        DIMENSIONS,
        description="Dimensions that get a series per value",
    )
    flush_interval_s: float = Field(1.0, gt=0, le=60, description="Series state flush interval")
    progress_log_s: float = Field(
        60.0, gt=0, description="How often the worker logs what it booked (when it did)"
    )
    max_cached_series: int = Field(
        20_000, ge=100, description="Series states kept in memory; the rest are read from disk"
    )
    gc_freeze_every_s: float = Field(
        30.0,
        ge=0,
        description="How often the surviving heap is frozen out of garbage collection "
        "(streams/heap_gc.py; 0 keeps CPython's defaults)",
    )
    event_loop: Literal["uvloop", "asyncio"] = Field(
        "uvloop", description="Event loop of the worker process: uvloop, or the standard one"
    )
    max_message_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Largest usage message or HTTP body accepted"
    )
    max_future_skew_s: int = Field(300, ge=0, description="How far ahead an event time may be")
    max_age_s: int = Field(7 * 86400, ge=60, description="How old an event time may be")
    detect: bool = Field(True, description="Run the detectors on every series")
    open_bucket_every_s: float = Field(
        2.0, gt=0, le=60, description="How often detectors look at a series' still-open buckets"
    )
    close_grace_minutes: int = Field(
        1, ge=0, le=60, description="Minutes past a bucket's end before detectors see it closed"
    )
    config_file: Path | None = Field(
        None, description="spendwatch.yaml to read and watch for changes (hot reload)"
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as text or as one JSON object per line"
    )
    connect_retries: int = Field(
        5, ge=0, le=1000, description="Retries when Kafka is unreachable at start"
    )
    connect_backoff_s: float = Field(
        1.0, gt=0, le=300, description="First retry delay; doubles per retry, at most 30 s"
    )
    session_timeout_s: float = Field(
        60.0,
        ge=6,
        le=1800,
        description="Consumer group session timeout: how long a crashed worker's partitions "
        "wait before another worker gets them (joins take up to half of it)",
    )

    @field_validator("bucket_minutes")
    @classmethod
    def _divides_an_hour(cls, value: int) -> int:
        if value < 1 or 60 % value:
            raise ValueError(
                "bucket_minutes must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)"
            )
        return value

    @property
    def usage_topic(self) -> str:
        return f"{self.topic_prefix}usage"

    @property
    def dlq_topic(self) -> str:
        return f"{self.topic_prefix}usage-dlq"

    @property
    def buckets_topic(self) -> str:
        return f"{self.topic_prefix}buckets"

    @property
    def findings_topic(self) -> str:
        return f"{self.topic_prefix}findings"

    @property
    def alerts_topic(self) -> str:
        return f"{self.topic_prefix}alerts"

    @property
    def series_partitions(self) -> int:
        return self.bucket_partitions or self.partitions

    @property
    def broker_url(self) -> str:
        hosts = [h if "://" in h else f"kafka://{h}" for h in self.bootstrap.split(",")]
        return ";".join(hosts)

    def decode_limits(self) -> DecodeLimits:
        return DecodeLimits(
            max_message_bytes=self.max_message_bytes,
            max_future_skew=timedelta(seconds=self.max_future_skew_s),
            max_age=timedelta(seconds=self.max_age_s),
        )
