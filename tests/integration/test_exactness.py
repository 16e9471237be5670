"""Exact totals against ground truth through duplicates, disorder, crashes and rebalances."""

from __future__ import annotations

import asyncio
import time
import urllib.error
from collections.abc import Callable
from typing import Any

import pytest

from streams.settings import WorkerSettings
from streams.topics import ensure_topics
from tests.support.ground_truth import Truth, build_stream, decode_totals, produce
from tests.support.worker_process import WorkerProcess

PARTITIONS = 4


def org_calls(worker: WorkerProcess) -> int:
    try:
        return int(worker.get("/v1/series/org=all?window=all")["calls"])
    except OSError:
        return -1


async def wait_until(check: Callable[[], bool], seconds: float, what: str, worker: Any) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{worker.log_tail()}")
        await asyncio.sleep(0.5)


def mismatches(worker: WorkerProcess, truth: Truth) -> list[str]:
    """Every key, team and the org against ground truth; empty when all are exact."""
    out = []
    keys = decode_totals(worker.get("/v1/spend/keys")["keys"])
    for key, want in sorted(truth.keys().items()):
        if keys.get(key) != want:
            out.append(f"api_key_id={key}: {keys.get(key)} != {want}")
    if set(keys) - set(truth.keys()):
        out.append(f"unexpected keys {sorted(set(keys) - set(truth.keys()))}")
    for name in ("org=all", *sorted(n for n in truth.calls if n.startswith("team="))):
        want = {"calls": truth.calls[name], "cost_nanos": truth.cost_nanos[name]}
        try:
            got = worker.get(f"/v1/series/{name}?window=all")
        except urllib.error.HTTPError as exc:  # 404: its partials are not applied yet
            out.append(f"{name}: HTTP {exc.code} != {want}")
            continue
        if {"calls": got["calls"], "cost_nanos": got["cost_nanos"]} != want:
            out.append(f"{name}: {got['calls']}, {got['cost_nanos']} != {want}")
    return out


async def assert_exact(worker: WorkerProcess, truth: Truth) -> None:
    """Series live on different partitions and converge at their own pace: wait for all."""
    diff = mismatches(worker, truth)
    for _ in range(180):
        if not diff:
            return
        await asyncio.sleep(1)
        diff = mismatches(worker, truth)
    assert diff == [], "\n".join(diff[:20])


async def start_stream(bootstrap: str, prefix: str, events: int) -> Truth:
    await ensure_topics(
        WorkerSettings(bootstrap=bootstrap, topic_prefix=prefix, partitions=PARTITIONS)
    )
    stream = build_stream(events, PARTITIONS)
    await produce(bootstrap, prefix + "usage", stream.messages)
    assert stream.truth.sent > stream.truth.unique  # duplicates were sent
    return stream.truth


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
