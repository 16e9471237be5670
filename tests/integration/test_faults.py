"""Crashes and outages on Apache Kafka: totals stay exact against ground truth.

Three SIGKILLs in one run (two restarts on the worker's own state directory, one
replacement on an empty one), and a broker stopped and started again under a running
worker. Each test prints the recovery times it measured (``-s`` shows them).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from streams.alert_topics import partitions_of
from streams.settings import WorkerSettings
from streams.topics import ensure_topics
from tests.integration.conftest import KAFKA_LOCAL
from tests.support.exactness import assert_exact, org_calls, wait_until
from tests.support.ground_truth import UsageStream, build_stream, produce
from tests.support.worker_process import WorkerProcess

PARTITIONS = 4
SESSION_TIMEOUT_S = 10
"""A killed worker's partitions move on after this (the default, 60 s, would dominate)."""


def slices(stream: UsageStream, count: int) -> list[list[tuple[int, bytes, bytes]]]:
    """The messages in ``count`` consecutive parts, each spanning every partition."""
    size = -(-len(stream.messages) // count)
    return [stream.messages[i : i + size] for i in range(0, len(stream.messages), size)]


async def prepare(bootstrap: str, prefix: str, events: int) -> UsageStream:
    await ensure_topics(
        WorkerSettings(bootstrap=bootstrap, topic_prefix=prefix, partitions=PARTITIONS)
    )
    stream = build_stream(events, PARTITIONS)
    assert stream.truth.sent > stream.truth.unique  # duplicates are in the stream
    return stream


async def assert_all_committed(
    bootstrap: str, group: str, topic: str, worker: WorkerProcess, seconds: float = 60
) -> None:
    """The group's committed offsets reach the end of ``topic`` (ticks keep arriving on
    the buckets topic, so its end is taken when the wait starts)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = await partitions_of(bootstrap, topic)
        ends = await consumer.end_offsets(tps)
        deadline = time.monotonic() + seconds
        while True:
            behind = {tp.partition: (await consumer.committed(tp), end) for tp, end in ends.items()}
            behind = {p: pair for p, pair in behind.items() if (pair[0] or 0) < pair[1]}
            if not behind:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"{topic}: committed < end {behind}\n{worker.log_tail()}")
            await asyncio.sleep(1)
    finally:
        await consumer.stop()


async def first_progress_past(worker: WorkerProcess, count: int, seconds: float) -> int:
    """Poll closely until the worker shows more than ``count`` calls; return what it shows."""
    deadline = time.monotonic() + seconds
    while (shown := org_calls(worker)) <= count:
        if time.monotonic() > deadline:
            pytest.fail(f"no progress past {count} calls\n{worker.log_tail()}")
        await asyncio.sleep(0.05)
    return shown


async def kill_three_times(
    bootstrap: str,
    prefix: str,
    app_id: str,
    events: int,
    spawn_worker: Callable[..., WorkerProcess],
) -> None:
    """Feed the stream in four parts; SIGKILL as soon as each of the first three shows up.

    The first kill is restarted on its own state directory, the second replaced by a
    worker on an empty one (state from the changelogs alone), the third restarted again.
    """
    stream = await prepare(bootstrap, prefix, events)
    parts = slices(stream, 4)
    topic, total = prefix + "usage", stream.truth.unique
    worker = spawn_worker(app_id=app_id, topic_prefix=prefix, partitions=PARTITIONS)
    figures, shown = [], 0
    for step, fresh in enumerate([False, True, False]):
        await produce(bootstrap, topic, parts[step])
        # into this part: past the unique events of the parts before it (a quarter each)
        shown = await first_progress_past(worker, max(shown, total * step // 4), 900)
        worker.kill()
        killed_at = time.monotonic()
        restart_of = None if fresh else worker
        worker = spawn_worker(
            app_id=app_id, topic_prefix=prefix, restart_of=restart_of, partitions=PARTITIONS
        )
        serving = time.monotonic() - killed_at
        await wait_until(lambda: org_calls(worker) >= shown, 900, "recovery", worker)  # noqa: B023
        recovered = time.monotonic() - killed_at
        figures.append(
            f"kill {step + 1} at {shown} calls shown, {'empty' if fresh else 'same'} directory: "
            f"HTTP up {serving:.1f}s, back to {shown} calls {recovered:.1f}s after the kill"
        )
    await produce(bootstrap, topic, parts[3])
    await wait_until(lambda: org_calls(worker) == total, 900, "all", worker)
    await assert_exact(worker, stream.truth)
    for input_topic in (topic, prefix + "buckets"):  # and its commits are not held up
        await assert_all_committed(bootstrap, app_id, input_topic, worker)
    print(f"\n{events} events, {stream.truth.sent} sent:", *figures, sep="\n  ")


@pytest.mark.parametrize(
    "events", [100_000, pytest.param(1_000_000, marks=pytest.mark.slow, id="1M")], ids=str
)
async def test_three_sigkills_in_one_run_keep_totals_exact(
    events: int,
    kafka_bootstrap: str,
    names: Callable[[str], str],
    spawn_worker: Callable[..., WorkerProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPENDWATCH_SESSION_TIMEOUT_S", str(SESSION_TIMEOUT_S))
    await kill_three_times(kafka_bootstrap, names("sw") + ".", names("app"), events, spawn_worker)


def kafka_local(state: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(KAFKA_LOCAL), "--dir", str(state), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"kafka-local {' '.join(args)} failed:\n{done.stderr}", pytrace=False)
    return done.stdout.strip()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A broker for this test alone: stopping it disturbs no other test."""
    state = tmp_path / "kafka"
    bootstrap = kafka_local(state, "start")
    try:
        yield state, bootstrap
    finally:
        kafka_local(state, "stop")


async def test_a_broker_restart_mid_run_loses_and_doubles_nothing(
    own_broker: tuple[Path, str], names: Callable[[str], str], tmp_path: Path
) -> None:
    state, bootstrap = own_broker
    prefix, app_id = names("sw") + ".", names("app")
    stream = await prepare(bootstrap, prefix, 60_000)
    first, second = slices(stream, 2)
    await produce(bootstrap, prefix + "usage", first)
    worker = WorkerProcess(bootstrap, app_id, prefix, tmp_path / "worker", {"partitions": 4})
    try:
        worker.start()
        await wait_until(lambda: org_calls(worker) > 0, 600, "first events", worker)
        stop_started = time.monotonic()
        kafka_local(state, "stop")
        before = org_calls(worker)
        restarted = kafka_local(state, "start")
        back = time.monotonic()
        assert restarted == bootstrap  # same port, same data
        assert worker.proc is not None and worker.proc.poll() is None, worker.log_tail()
        await produce(bootstrap, prefix + "usage", second)
        await wait_until(lambda: org_calls(worker) > max(before, 0), 600, "resumed", worker)
        resumed = time.monotonic() - back
        await wait_until(lambda: org_calls(worker) == stream.truth.unique, 900, "all", worker)
        await assert_exact(worker, stream.truth)
        assert worker.proc.poll() is None, worker.log_tail()
        print(
            f"\nbroker down {back - stop_started:.1f}s (stop and start); worker counting new "
            f"events {resumed:.1f}s after the broker was back ({before} calls before)"
        )
    finally:
        worker.stop()
