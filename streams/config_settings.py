"""The config file feeds ``WorkerSettings``: file < ``SPENDWATCH_*`` environment < CLI.

Each settings field has one place in the file (``FILE_KEYS``). A value from the file is
used unless the same setting is in the environment; options given on the command line
win over both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from streams.config_file import SpendwatchConfig
from streams.settings import WorkerSettings

FILE_KEYS: dict[str, tuple[str, str]] = {
    "bootstrap": ("kafka", "bootstrap"),
    "app_id": ("kafka", "app_id"),
    "topic_prefix": ("kafka", "topic_prefix"),
    "partitions": ("kafka", "partitions"),
    "bucket_partitions": ("kafka", "bucket_partitions"),
    "replication_factor": ("kafka", "replication_factor"),
    "connect_retries": ("kafka", "connect_retries"),
    "connect_backoff_s": ("kafka", "connect_backoff_s"),
    "session_timeout_s": ("kafka", "session_timeout_s"),
    "data_dir": ("storage", "data_dir"),
    "store": ("storage", "store"),
    "rocksdb_write_buffer_mib": ("storage", "rocksdb_write_buffer_mib"),
    "rocksdb_block_cache_mib": ("storage", "rocksdb_block_cache_mib"),
    "web_host": ("web", "host"),
    "web_port": ("web", "port"),
    "dimensions": ("aggregation", "dimensions"),
    "bucket_minutes": ("aggregation", "bucket_minutes"),
    "lateness_minutes": ("aggregation", "lateness_minutes"),
    "dedup_window_minutes": ("aggregation", "dedup_window_minutes"),
    "flush_interval_s": ("aggregation", "flush_interval_s"),
    "max_cached_series": ("aggregation", "max_cached_series"),
    "max_message_bytes": ("limits", "max_message_bytes"),
    "max_future_skew_s": ("limits", "max_future_skew_s"),
    "max_age_s": ("limits", "max_age_s"),
    "log_format": ("logging", "format"),
}
"""Settings field -> (section, key) in ``spendwatch.yaml``."""

RESTART_PATHS = (*sorted(FILE_KEYS.values()), ("logging", "level"), ("reload", "poll_interval_s"))
"""File keys a running worker reads only at start; a reload that changes them is logged."""


def file_values(config: SpendwatchConfig) -> dict[str, Any]:
    """The settings the file sets, keyed by settings field."""
    return {
        field: getattr(getattr(config, section), key) for field, (section, key) in FILE_KEYS.items()
    }


def worker_settings(
    config: SpendwatchConfig | None,
    cli: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> WorkerSettings:
    """Settings from the file, then the environment, then the command line (``None`` unset)."""
    env = {k.upper() for k in (os.environ if environ is None else environ)}
    prefix = WorkerSettings.model_config.get("env_prefix", "")
    values: dict[str, Any] = {}
    if config is not None:
        values = {
            field: value
            for field, value in file_values(config).items()
            if f"{prefix}{field}".upper() not in env
        }
    if config_file is not None:
        values["config_file"] = config_file
    values.update({k: v for k, v in (cli or {}).items() if v is not None})
    return WorkerSettings(**values)


def restart_changes(old: SpendwatchConfig, new: SpendwatchConfig) -> list[str]:
    """File paths whose change needs a worker restart to take effect."""
    return [
        f"{section}.{key}"
        for section, key in RESTART_PATHS
        if getattr(getattr(old, section), key) != getattr(getattr(new, section), key)
    ]
