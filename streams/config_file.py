"""``spendwatch.yaml``: the one config file, as a frozen pydantic model.

Each section is a small frozen model with ``extra="forbid"``, so a misspelt key is an
error that names its path. The worker's runtime settings (``WorkerSettings``) take their
values from the sections below (see ``streams.config_settings``); the detectors, budgets
and alerting sections belong to their packages and are checked through the seam in
``streams.config_sections`` when the file is loaded (``streams.config_load``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from streams.config_sections import BudgetsSection, DetectorsSection

CONTAINER_CONFIG_PATH = Path("/etc/spendwatch/spendwatch.yaml")
"""Where the container image looks for the config file (``SPENDWATCH_CONFIG_FILE``)."""

ALL_DIMENSIONS = ("api_key_id", "team", "app", "feature", "model", "provider", "environment", "org")


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaConfig(_Section):
    """Where Kafka is and how spendwatch's topics are named and sized."""

    bootstrap: str = Field("127.0.0.1:9092", min_length=1)
    app_id: str = Field("spendwatch", min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    topic_prefix: str = Field("spendwatch.", pattern=r"^[A-Za-z0-9._-]*$")
    partitions: int = Field(8, ge=1, le=1024)
    bucket_partitions: int | None = Field(None, ge=1, le=1024)
    replication_factor: int = Field(1, ge=1, le=16)
    connect_retries: int = Field(5, ge=0, le=1000)
    connect_backoff_s: float = Field(1.0, gt=0, le=300)
    session_timeout_s: float = Field(60.0, ge=6, le=300)

    @field_validator("bootstrap")
    @classmethod
    def _host_ports(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{server.strip()!r} is not host:port")
        return value


class StorageConfig(_Section):
    """Local table state."""

    data_dir: Path = Path("./.spendwatch-data")
    store: Literal["rocksdb://", "memory://"] = "rocksdb://"
    rocksdb_write_buffer_mib: int = Field(32, ge=1, le=8192)
    rocksdb_block_cache_mib: int = Field(32, ge=1, le=65536)


class AggregationConfig(_Section):
    """Which series exist and how event time is bucketed."""

    dimensions: tuple[str, ...] = ALL_DIMENSIONS
    bucket_minutes: int = 1
    lateness_minutes: int = Field(10, ge=0, le=24 * 60)
    dedup_window_minutes: int = Field(60, ge=1, le=7 * 24 * 60)
    flush_interval_s: float = Field(1.0, gt=0, le=60)
    max_cached_series: int = Field(20_000, ge=100)

    @field_validator("dimensions")
    @classmethod
    def _known_dimensions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [d for d in value if d not in ALL_DIMENSIONS]
        if unknown:
            raise ValueError(f"unknown dimensions {unknown}; choose from {list(ALL_DIMENSIONS)}")
        if len(set(value)) != len(value):
            raise ValueError("dimensions are listed twice")
        return value

    @field_validator("bucket_minutes")
    @classmethod
    def _divides_an_hour(cls, value: int) -> int:
        if value < 1 or 60 % value:
            raise ValueError("must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)")
        return value


class LimitsConfig(_Section):
    """What an input may be before it is rejected."""

    max_message_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    max_future_skew_s: int = Field(300, ge=0)
    max_age_s: int = Field(7 * 86400, ge=60)


class WebConfig(_Section):
    """The worker's HTTP API (spend, config, health, metrics). It listens on every
    interface; ``host`` is the name other workers use to reach this one."""

    host: str = "127.0.0.1"
    port: int = Field(6066, ge=0, le=65535)


class IngestConfig(_Section):
    """``spendwatch ingest``: POST /v1/usage. Tokens only from a file, never inline."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    tokens_file: Path | None = None


class LoggingConfig(_Section):
    """Log format and level; ``json`` writes one JSON object per line."""

    format: Literal["text", "json"] = "text"
    level: Literal["debug", "info", "warning", "error"] = "info"


class ReloadConfig(_Section):
    """How often a worker looks for a changed config file."""

    poll_interval_s: float = Field(1.0, gt=0, le=300)


class KeyOwner(_Section):
    """Who owns an API key: booked to this team and app when an event names none."""

    team: str | None = Field(None, min_length=1, max_length=256)
    app: str | None = Field(None, min_length=1, max_length=256)

    @model_validator(mode="after")
    def _names_someone(self) -> KeyOwner:
        if self.team is None and self.app is None:
            raise ValueError("a key owner names a team, an app or both")
        return self


class SpendwatchConfig(_Section):
    """The whole file. Every section is optional; an empty file means all defaults."""

    version: Literal[1] = 1
    kafka: KafkaConfig = KafkaConfig()
    storage: StorageConfig = StorageConfig()
    aggregation: AggregationConfig = AggregationConfig()
    limits: LimitsConfig = LimitsConfig()
    web: WebConfig = WebConfig()
    ingest: IngestConfig = IngestConfig()
    logging: LoggingConfig = LoggingConfig()
    reload: ReloadConfig = ReloadConfig()
    key_owners: dict[str, KeyOwner] = {}
    detectors: DetectorsSection = {}
    budgets: BudgetsSection = []
    routes: dict[str, Any] = {}
    receivers: list[dict[str, Any]] = []
    inhibit_rules: list[dict[str, Any]] = []
    silences: list[dict[str, Any]] = []

    def summary(self) -> str:
        """One line for ``config check`` and the reload log."""
        return (
            f"kafka {self.kafka.bootstrap} (app {self.kafka.app_id}, "
            f"{self.kafka.partitions} partitions), {len(self.aggregation.dimensions)} dimensions, "
            f"{self.aggregation.bucket_minutes}-minute buckets, {len(self.key_owners)} key owners, "
            f"{len(self.detectors)} detector keys, {len(self.budgets)} budgets, "
            f"{len(self.receivers)} receivers, {len(self.silences)} silences"
        )
