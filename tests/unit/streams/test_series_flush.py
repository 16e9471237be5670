"""When a partition of the buckets topic flushes: on time, on records held, and on the
number of series states it changed (which bounds the states held in memory)."""

from __future__ import annotations

from typing import Any

import orjson
from faust.events import Event
from faust.types.tuples import Message

from streams.metrics import WorkerMetrics
from streams.rollup import N_METRICS
from streams.series_stage import DIRTY_SHARE, MAX_PENDING, SeriesStage
from streams.settings import WorkerSettings

MINUTE = 29_000_000


def record(offset: int, keys: range) -> Event[Any]:
    """A buckets-topic record from usage partition 0 with one partial per key."""
    sums = [[MINUTE, 1_000, 1, *[0] * (N_METRICS - 2)]]
    value = orjson.dumps({"p": 0, "o": offset, "s": {f"api_key_id=k-{i}": sums for i in keys}})
    message = Message("buckets", 0, offset, 0.0, 0, None, None, value, None)
    return Event(None, None, value, None, message)  # type: ignore[arg-type]


def stage(max_cached: int) -> SeriesStage:
    settings = WorkerSettings(max_cached_series=max_cached)
    return SeriesStage(settings, WorkerMetrics(), {}, None)


def test_a_partition_is_full_once_its_changed_states_reach_a_tenth_of_the_cache() -> None:
    series = stage(max_cached=1_000)
    bound = 1_000 // DIRTY_SHARE
    buffer = series.apply(record(0, range(bound - 1)))
    assert len(buffer.dirty) == bound - 1 and not series._full(buffer)
    buffer = series.apply(record(1, range(bound - 1, bound)))
    assert len(buffer.dirty) == bound and series._full(buffer)


def test_the_same_series_again_does_not_fill_a_partition() -> None:
    series = stage(max_cached=1_000)
    for offset in range(50):
        buffer = series.apply(record(offset, range(10)))
    assert len(buffer.dirty) == 10 and len(buffer.pending) == 50
    assert not series._full(buffer)


def test_records_held_still_fill_a_partition() -> None:
    series = stage(max_cached=100_000)
    for offset in range(MAX_PENDING):
        buffer = series.apply(record(offset, range(1)))
    assert series._full(buffer)
