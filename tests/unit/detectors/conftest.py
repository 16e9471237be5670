"""Bucket streams shared by the detector tests: seeded, with a daily rhythm and spikes."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from schemas.findings import Scope, SeriesBucket

MONDAY = 20_241 * 1440
"""2025-06-02 00:00 UTC (a Monday), in epoch minutes."""


def rhythm_buckets(
    scope: Scope,
    minutes: int,
    *,
    seed: int = 0,
    usd_per_minute: float = 1.0,
    start: int = MONDAY,
    spike: tuple[int, int, float] | None = None,
    cost_per_call_factor: Callable[[int], float] = lambda m: 1.0,
    calls_per_minute: int = 50,
) -> list[SeriesBucket]:
    """Closed one-minute buckets with a diurnal rhythm and noise; ``spike`` is
    (first minute offset, length, factor) on spend at constant calls when
    ``cost_per_call_factor`` says so, else on calls and spend together."""
    rng = random.Random(seed)
    out = []
    for i in range(minutes):
        minute = start + i
        diurnal = math.exp(0.9 * math.cos(2 * math.pi * ((minute % 1440) / 60 - 14) / 24))
        factor = 1.0
        if spike and spike[0] <= i < spike[0] + spike[1]:
            factor = spike[2]
        calls = max(1, round(calls_per_minute * diurnal * factor * rng.uniform(0.8, 1.2)))
        unit = cost_per_call_factor(i)
        cost = round(usd_per_minute * 1e9 * diurnal * factor * unit * rng.lognormvariate(0, 0.2))
        out.append(
            SeriesBucket(
                scope=scope,
                start_minute=minute,
                width_minutes=1,
                cost_nanos=cost,
                calls=calls,
                input_tokens=calls * round(1000 * unit),
                output_tokens=calls * 100,
                contributors={"api_key_id=k-1": cost * 2 // 3, "model=gpt-4o": cost},
            )
        )
    return out


@pytest.fixture
def make_buckets() -> Callable[..., list[SeriesBucket]]:
    return rhythm_buckets
