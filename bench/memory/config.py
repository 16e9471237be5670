"""What a memory run is asked to measure."""

from __future__ import annotations

from dataclasses import dataclass

from bench.throughput.config import DEFAULT_BATCH_SIZE, DEFAULT_PARTITIONS, BenchError

DEFAULT_SERIES = (10_000, 100_000)
DEFAULT_EVENTS_PER_KEY = 2


@dataclass(frozen=True, slots=True)
class MemoryConfig:
    series: tuple[int, ...] = DEFAULT_SERIES
    """Distinct ``api_key_id`` series per measurement, one measurement each."""
    partitions: int = DEFAULT_PARTITIONS
    bootstrap: str | None = None
    """Use this broker; None starts one with scripts/kafka-local and stops it after."""
    events_per_key: int = DEFAULT_EVENTS_PER_KEY
    batch_size: int = DEFAULT_BATCH_SIZE
    keep_dir: bool = False

    def check(self) -> None:
        if not self.series or min(self.series) < 1:
            raise BenchError("every series count must be at least 1")
        if self.partitions < 1 or self.events_per_key < 1 or self.batch_size < 1:
            raise BenchError("partitions, events per key and batch size must be at least 1")


def parse_series(text: str) -> tuple[int, ...]:
    """``"10000,100000"`` (also ``10_000`` and ``10k``) to ``(10000, 100000)``, in order,
    without repeats."""
    counts: list[int] = []
    for part in text.split(","):
        item = part.strip().lower().replace("_", "")
        if not item:
            continue
        scale = 1
        if item[-1] in "km":
            scale = 1000 if item[-1] == "k" else 1_000_000
            item = item[:-1]
        try:
            value = int(item) * scale
        except ValueError:
            raise ValueError(f"not a series count: {part.strip()!r}") from None
        if value < 1:
            raise ValueError(f"a series count must be at least 1, not {value}")
        if value not in counts:
            counts.append(value)
    if not counts:
        raise ValueError("no series counts given")
    return tuple(counts)
