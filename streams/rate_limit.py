"""Per-producer request rate limits for the HTTP ingest: a token bucket per token name.

Each producer may send ``burst`` requests at once and ``rate`` requests per second on
average; a request over that is refused with 429 and a ``Retry-After`` of the whole
seconds until a token is free. The clock is injected (``time.monotonic`` by default), so
tests drive time by hand. Hand-written because the common limiter libraries either wait
instead of refusing (aiolimiter) or read the wall clock themselves (limits).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``rate`` requests per second, ``burst`` at once; ``rate`` 0 turns the limit off."""

    rate: float = 0.0
    burst: int = 1

    def __post_init__(self) -> None:
        if not (self.rate >= 0 and math.isfinite(self.rate)):
            raise ValueError(f"rate must be a finite number >= 0, got {self.rate}")
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, got {self.burst}")

    @property
    def enabled(self) -> bool:
        return self.rate > 0


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


@dataclass
class TokenBucketLimiter:
    """Buckets by producer name; ``acquire`` takes a token or says how long to wait."""

    limit: RateLimit
    clock: Clock = time.monotonic
    max_producers: int = 100_000
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def acquire(self, producer: str) -> float:
        """0.0 when the request may go ahead, else the seconds until it may."""
        if not self.limit.enabled:
            return 0.0
        now = self.clock()
        bucket = self._buckets.get(producer)
        if bucket is None:
            if len(self._buckets) >= self.max_producers:
                self._buckets.clear()  # bounded memory; a cleared producer starts full
            bucket = self._buckets[producer] = _Bucket(float(self.limit.burst), now)
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(float(self.limit.burst), bucket.tokens + elapsed * self.limit.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.limit.rate


def retry_after_header(wait: float) -> str:
    """``Retry-After`` in whole seconds (HTTP allows no fractions), at least 1."""
    return str(max(1, math.ceil(wait)))
