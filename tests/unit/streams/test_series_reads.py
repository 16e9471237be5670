"""Reads across a dimension (``/v1/top``, ``/v1/spend/keys``, the FinOps ledger)."""

from __future__ import annotations

import asyncio

from streams.metrics import WorkerMetrics
from streams.rollup import N_METRICS
from streams.series_stage import SCAN_YIELD_EVERY, SeriesStage
from streams.series_state import SeriesState
from streams.settings import WorkerSettings

KEYS = 3 * SCAN_YIELD_EVERY + 7


def stored(cost: int) -> bytes:
    state = SeriesState()
    state.apply(0, cost, [[29_000_000, cost, 1, *[0] * (N_METRICS - 2)]])
    return state.to_bytes()


def stage() -> SeriesStage:
    """A worker's series stage over a plain dict as its table of stored states."""
    table = {f"api_key_id=k-{i:04d}".encode(): stored(i + 1) for i in range(KEYS)}
    table |= {f"team=t-{i}".encode(): stored(10 + i) for i in range(3)}
    return SeriesStage(WorkerSettings(), WorkerMetrics(), table, None)


def test_only_the_dimension_is_read_and_the_cache_wins_over_the_store() -> None:
    series = stage()
    newer = SeriesState.from_bytes(stored(999))
    series.cache["team=t-1"] = newer
    teams = asyncio.run(series.states_of("team"))
    assert [name for name, _ in teams] == ["team=t-0", "team=t-1", "team=t-2"]
    assert teams[1][1] is newer
    assert asyncio.run(series.states_of("model")) == []


def test_a_long_read_lets_the_rest_of_the_worker_run() -> None:
    series = stage()
    turns = 0

    async def other_work() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    async def read() -> int:
        other = asyncio.create_task(other_work())
        await asyncio.sleep(0)
        before = turns
        keys = await series.states_of("api_key_id")
        during = turns - before
        other.cancel()
        assert len(keys) == KEYS
        return during

    assert asyncio.run(read()) >= KEYS // SCAN_YIELD_EVERY
