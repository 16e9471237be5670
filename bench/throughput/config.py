"""What a benchmark run is asked to measure, and how it reports that it could not."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_EVENTS = 200_000
DEFAULT_BATCH_SIZE = 1000
DEFAULT_PARTITIONS = 4


class BenchError(RuntimeError):
    """The benchmark could not measure something; the message says what and why."""


@dataclass(frozen=True, slots=True)
class BenchConfig:
    events: int = DEFAULT_EVENTS
    single_events: int | None = None
    """Events for the one-event-per-message runs; default ``events // 10``."""
    partitions: int = DEFAULT_PARTITIONS
    batch_size: int = DEFAULT_BATCH_SIZE
    bootstrap: str | None = None
    """Use this broker; None starts one with scripts/kafka-local and stops it after."""
    naive_store: str = "rocksdb://"
    columnar: bool = True
    """Batched messages as columnar batches; False sends ``{"events": [...]}`` envelopes."""
    seed: int = 0
    keep_dir: bool = False
    scale_out_workers: int = 2
    """Workers in one consumer group for the scale-out measurement (below 2: none)."""

    @property
    def n_single(self) -> int:
        wanted = self.events // 10 if self.single_events is None else self.single_events
        return max(1, min(wanted, self.events))
