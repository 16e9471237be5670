"""Exact totals against ground truth: the stream, the wait and the comparison the
exactness and fault tests share."""

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
