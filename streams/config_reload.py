"""Hot reload: a worker watches its config file and applies valid changes while it runs.

``LiveConfig`` holds the config in force and its version (a digest of the file). ``poll``
re-reads the file; a changed, valid file replaces the config and is handed to every
registered applier (key owners today; detectors and routing as they land), without a
restart and without touching table state. An invalid file is rejected: its problems are
logged and kept for ``GET /v1/config``, and the previous config stays in force. Settings
that only take effect at start (Kafka, storage, web, aggregation) are reported as
``pending_restart`` when a reload changes them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streams.config_errors import ConfigError
from streams.config_file import SpendwatchConfig
from streams.config_load import LoadedConfig, digest, load_config, parse_config
from streams.config_settings import restart_changes

log = logging.getLogger(__name__)

Applier = Callable[[SpendwatchConfig], None]


@dataclass
class Rejection:
    """The last file version that was refused, and why."""

    version: str
    at: datetime
    problems: list[str]


@dataclass
class LiveConfig:
    """The config a worker runs with now; ``path`` None means no file (nothing to watch)."""

    current: LoadedConfig
    path: Path | None = None
    generation: int = 1
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    rejected: Rejection | None = None
    pending_restart: list[str] = field(default_factory=list)
    appliers: list[Applier] = field(default_factory=list)
    started_with: SpendwatchConfig | None = None

    def __post_init__(self) -> None:
        if self.started_with is None:
            self.started_with = self.current.config

    def on_change(self, applier: Applier) -> None:
        """Call ``applier`` now and with every new valid config."""
        self.appliers.append(applier)
        applier(self.current.config)

    def poll(self) -> bool:
        """Re-read the file; True when a new config was put in force."""
        if self.path is None:
            return False
        try:
            text = self.path.read_bytes()
        except OSError as exc:
            self._reject("unreadable", [f"cannot read {self.path}: {exc.strerror}"])
            return False
        version = digest(text)
        if version == self.current.version or (self.rejected and self.rejected.version == version):
            return False
        try:
            loaded = parse_config(text, str(self.path))
        except ConfigError as exc:
            self._reject(version, [str(p) for p in exc.problems])
            return False
        for applier in self.appliers:
            applier(loaded.config)
        assert self.started_with is not None
        self.pending_restart = restart_changes(self.started_with, loaded.config)
        previous = self.current.version
        self.current, self.rejected = loaded, None
        self.generation += 1
        self.loaded_at = datetime.now(UTC)
        log.info(
            "config %s: reloaded version %s (was %s): %s",
            self.path,
            loaded.version,
            previous,
            loaded.config.summary(),
        )
        if self.pending_restart:
            log.warning(
                "config %s: these changes take effect after a restart: %s",
                self.path,
                ", ".join(self.pending_restart),
            )
        return True

    def _reject(self, version: str, problems: list[str]) -> None:
        if self.rejected and self.rejected.version == version:
            return
        self.rejected = Rejection(version, datetime.now(UTC), problems)
        log.error(
            "config %s: rejected version %s, keeping version %s; %d problem(s): %s",
            self.path,
            version,
            self.current.version,
            len(problems),
            "; ".join(problems),
        )

    def as_json(self) -> dict[str, Any]:
        """What ``GET /v1/config`` answers: the live config (masked) and the reload state."""
        rejected = None
        if self.rejected is not None:
            rejected = {
                "version": self.rejected.version,
                "at": self.rejected.at.isoformat(),
                "problems": self.rejected.problems,
            }
        return {
            "source": self.current.source,
            "version": self.current.version,
            "generation": self.generation,
            "loaded_at": self.loaded_at.isoformat(),
            "config": self.current.masked(),
            "rejected": rejected,
            "pending_restart": self.pending_restart,
        }


def live_config(path: Path | None) -> LiveConfig:
    """The config in force at start: the file's (``ConfigError`` if invalid) or defaults."""
    if path is None:
        return LiveConfig(LoadedConfig(SpendwatchConfig(), "(no config file)", "defaults"))
    return LiveConfig(load_config(path), path=path)
