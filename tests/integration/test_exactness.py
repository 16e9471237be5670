"""Exact totals against ground truth through duplicates, disorder, crashes and rebalances."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.exactness import PARTITIONS, assert_exact, org_calls, start_stream, wait_until
from tests.support.worker_process import WorkerProcess


@pytest.mark.slow  # opt-in: see the README on the rebalance stall
async def test_a_million_events_through_sigkill_restart_and_a_rebalance(
    kafka_bootstrap: str, names: Callable[[str], str], spawn_worker: Callable[..., WorkerProcess]
) -> None:
    prefix, app_id = names("sw") + ".", names("app")
    truth = await start_stream(kafka_bootstrap, prefix, 1_000_000)
    total = truth.unique

    first = spawn_worker(app_id=app_id, topic_prefix=prefix, partitions=PARTITIONS)
    await wait_until(lambda: org_calls(first) >= total * 0.25, 600, "25%", first)
    first.kill()  # SIGKILL mid-stream, then restart on the same state directory
    second = spawn_worker(
        app_id=app_id, topic_prefix=prefix, restart_of=first, partitions=PARTITIONS
    )
    await wait_until(lambda: org_calls(second) >= total * 0.5, 600, "50%", second)
    third = spawn_worker(app_id=app_id, topic_prefix=prefix, partitions=PARTITIONS)  # joins
    await wait_until(lambda: org_calls(third) >= 0 and org_calls(second) >= total * 0.75, 600,
                     "75% with two workers", second)  # fmt: skip
    second.stop()  # leaves the group
    await wait_until(lambda: org_calls(third) == total, 900, "all events", third)
    await assert_exact(third, truth)


async def test_a_replacement_worker_with_empty_state_recovers_exact_totals(
    kafka_bootstrap: str, names: Callable[[str], str], spawn_worker: Callable[..., WorkerProcess]
) -> None:
    prefix, app_id = names("sw") + ".", names("app")
    truth = await start_stream(kafka_bootstrap, prefix, 200_000)
    first = spawn_worker(app_id=app_id, topic_prefix=prefix, partitions=PARTITIONS)
    await wait_until(lambda: org_calls(first) >= truth.unique * 0.4, 300, "40%", first)
    first.kill()
    # A fresh data directory: the state comes back from the changelog topics alone.
    replacement = spawn_worker(app_id=app_id, topic_prefix=prefix, partitions=PARTITIONS)
    await wait_until(lambda: org_calls(replacement) == truth.unique, 600, "all", replacement)
    await assert_exact(replacement, truth)
    assert org_calls(replacement) == truth.unique
