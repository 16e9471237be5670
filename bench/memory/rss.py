"""Resident memory of a process from ``/proc/<pid>/status``, and when it has settled."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024
SETTLE_WINDOW_S = 3.0
"""RSS (and the flush counter) must hold still this long to count as settled."""
SETTLE_TOLERANCE_BYTES = 1 * MIB
"""How much RSS may wander within the window and still count as still."""


@dataclass(frozen=True, slots=True)
class Memory:
    """Resident set size now and at its peak, in bytes."""

    rss: int
    peak: int


def parse_status(text: str) -> Memory:
    """``VmRSS`` and ``VmHWM`` of a ``/proc/<pid>/status`` text, in bytes."""
    fields: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            parts = rest.split()
            if len(parts) != 2 or parts[1] != "kB" or not parts[0].isdigit():
                raise ValueError(f"unexpected {name} line: {line!r}")
            fields[name] = int(parts[0]) * 1024
    if "VmRSS" not in fields:
        raise ValueError("no VmRSS line (a kernel thread, or the process is gone)")
    return Memory(fields["VmRSS"], fields.get("VmHWM", fields["VmRSS"]))


def read_memory(pid: int) -> Memory:
    """Memory of ``pid``; OSError when it is gone, ValueError when it became a zombie."""
    return parse_status(Path(f"/proc/{pid}/status").read_text())


def bytes_per_series(rss_loaded: int, rss_idle: int, total_series: int) -> float:
    """What each series costs: the loaded worker's extra resident memory over the idle one's."""
    if total_series < 1:
        raise ValueError("total_series must be at least 1")
    return (rss_loaded - rss_idle) / total_series


def mib(value: float) -> float:
    return round(value / MIB, 1)


@dataclass
class Settling:
    """Samples of (time, RSS, flush counter); settled once the last ``window_s`` seconds
    of samples held RSS within ``tolerance`` bytes and the counter unchanged."""

    window_s: float = SETTLE_WINDOW_S
    tolerance: int = SETTLE_TOLERANCE_BYTES
    samples: list[tuple[float, int, int | None]] = field(default_factory=list)

    def add(self, when: float, rss: int, flushes: int | None = None) -> bool:
        """Record a sample; True when settled."""
        self.samples.append((when, rss, flushes))
        start = when - self.window_s
        if self.samples[0][0] > start:
            return False  # not watched for a full window yet
        recent = [s for s in self.samples if s[0] >= start]
        # The sample just before the window anchors it, so the window is fully covered.
        older = [s for s in self.samples if s[0] < start]
        if older:
            recent.insert(0, older[-1])
        del self.samples[: max(0, len(self.samples) - len(recent))]
        sizes = [s[1] for s in recent]
        counters = {s[2] for s in recent}
        return max(sizes) - min(sizes) <= self.tolerance and len(counters) == 1

    @property
    def last(self) -> int:
        return self.samples[-1][1]
