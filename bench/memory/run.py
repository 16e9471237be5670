"""One memory run: an idle baseline, then per series count its own topics, a loaded
worker, a crash, and two timed recoveries (fresh data dir, then the crashed one's dir).

Every worker is stopped on the way out, the local broker (if this run started one) too;
on a given broker this run's topics are deleted, also after a failure. The run's
directory goes away on success; after a failure only its logs stay.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.memory.config import MemoryConfig
from bench.memory.events import SeriesTally, memory_events, sentinel_keys, series_name
from bench.memory.probes import (
    Backlog,
    count_series,
    end_offsets,
    flush_count,
    replay_backlog,
    wait_group_empty,
)
from bench.memory.report import Measured, build_summary, print_table
from bench.memory.rss import Memory, bytes_per_series, mib
from bench.memory.workers import (
    kill,
    memory_of,
    spendwatch_worker,
    time_recovery,
    wait_committed,
    wait_ready,
    wait_series,
    wait_settled,
)
from bench.throughput.data import delete_run_topics, ensure_topics, produce_inputs
from bench.throughput.processes import WorkerProcess, local_broker, sigterm_as_interrupt
from bench.throughput.progress import measure_worker, worker_timeout_s
from bench.throughput.report import bench_console
from streams.settings import WorkerSettings


@dataclass
class _Run:
    token: str
    workdir: Path
    bootstrap: str
    cfg: MemoryConfig
    say: Callable[[str], None]
    stack: contextlib.ExitStack

    def worker(self, label: str, name: str, data_dir: str) -> WorkerProcess:
        """A worker on the topics and app id of ``name``, state in ``workdir/data_dir``."""
        worker = spendwatch_worker(
            label,
            self.workdir,
            self.workdir / data_dir,
            bootstrap=self.bootstrap,
            app_id=f"{self.token}-{name}",
            topic_prefix=f"{self.token}.{name}.",
            partitions=self.cfg.partitions,
        )
        self.stack.callback(worker.stop)
        return worker


def run_memory_benchmark(cfg: MemoryConfig, console: Console | None = None) -> dict[str, Any]:
    """Measure every series count of ``cfg``; return the summary (see ``build_summary``)."""
    cfg.check()
    console, say = bench_console(console)

    token = f"benchmem{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix=f"spendwatch-{token}-"))
    ok = False
    try:
        with sigterm_as_interrupt(), contextlib.ExitStack() as stack:
            bootstrap = cfg.bootstrap or stack.enter_context(local_broker(workdir / "kafka", say))
            if cfg.bootstrap:  # runs last: after every worker stopped, also after a failure
                stack.callback(_delete_topics, bootstrap, token, say)
            run = _Run(token, workdir, bootstrap, cfg, say, stack)
            say(f"broker {bootstrap}; topics {token}.*; {cfg.partitions} partitions")
            idle = _idle_baseline(run)
            results = {s: _measure(run, s, idle) for s in cfg.series}
        summary = build_summary(
            results,
            partitions=cfg.partitions,
            events_per_key=cfg.events_per_key,
            batch_size=cfg.batch_size,
        )
        print_table(console, summary)
        ok = True
        return summary
    finally:
        if cfg.keep_dir:
            say(f"logs and state kept in {workdir}")
        elif ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            _drop_state(workdir)
            say(f"logs kept in {workdir}")


def _delete_topics(bootstrap: str, token: str, say: Callable[[str], None]) -> None:
    try:
        deleted = asyncio.run(delete_run_topics(bootstrap, token))
    except Exception as exc:
        say(f"[yellow]could not delete this run's topics ({token}*): {exc}[/]")
    else:
        say(f"deleted {len(deleted)} topics of this run")


SERIES_PER_TIMEOUT = 100_000
"""Each wait's time limit grows with the run's keys beyond this many."""


def _idle_baseline(run: _Run) -> Memory:
    """RSS of a worker on empty topics, with the same settings, once it settled."""
    asyncio.run(ensure_topics(run.bootstrap, [f"{run.token}.idle."], run.cfg.partitions))
    worker = run.worker("idle", "idle", "idle-data")
    worker.start()
    ready_s = wait_ready(worker)
    memory, _ = wait_settled(worker, run.say)
    run.say(f"idle worker: ready in {ready_s:.1f}s, RSS [bold]{mib(memory.rss)}[/] MiB")
    worker.stop()
    return memory


def _measure(run: _Run, series: int, idle: Memory) -> Measured:
    cfg, say = run.cfg, run.say
    name = f"s{series}"
    prefix = f"{run.token}.{name}."
    dimensions = WorkerSettings().dimensions
    asyncio.run(ensure_topics(run.bootstrap, [prefix], cfg.partitions))
    tally = SeriesTally(dimensions)
    slack = max(1.0, series / SERIES_PER_TIMEOUT)
    say(f"{name}: producing {series:,} keys x {cfg.events_per_key} events ...")
    produced = asyncio.run(
        produce_inputs(
            run.bootstrap,
            batched_topic=f"{prefix}usage",
            single_topic=f"{prefix}usage",
            events=tally.observe(memory_events(series, cfg.events_per_key)),
            single_events=0,
            partitions=cfg.partitions,
            batch_size=cfg.batch_size,
        )
    )
    n = produced.events
    expected_total = tally.total
    say(
        f"{name}: {n:,} events in {produced.messages:,} messages ({produced.seconds:.1f}s); "
        f"they make {expected_total:,} series: {tally.per_dimension()}"
    )

    loaded = run.worker(f"{name}-loaded", name, f"{name}-data-a")
    say(f"{name}: loaded worker: waiting for {n:,} events")
    rate, _, rejected = measure_worker(loaded, n, worker_timeout_s(n, 1000), say)
    if rejected:
        raise loaded.failed(f"rejected {rejected} events")
    at_counted = memory_of(loaded)
    wait_series(loaded, {"org=all": n}, 120 * slack)
    changelog = f"{run.token}-{name}-series-changelog"

    def backlog() -> int:
        return _backlog(run, name, changelog).uncommitted_bucket_records

    wait_committed(loaded, backlog, say, timeout_s=900 * slack)
    drain_s = _wait_changelog(run, loaded, changelog, timeout_s=600 * slack)
    memory, settled = wait_settled(loaded, say)
    say(
        f"{name}: loaded worker counted {n:,} events at {rate.eps:,.0f}/s; RSS "
        f"[bold]{mib(memory.rss)}[/] MiB (peak {mib(memory.peak)}); "
        f"{bytes_per_series(memory.rss, idle.rss, expected_total):,.0f} B/series"
    )
    counted = count_series(loaded.url, dimensions, limit=series + 1000)
    verified = _check_counts(say, f"{name} loaded", counted.per_dimension, counted.calls,
                             tally.per_dimension(), n)  # fmt: skip

    expected = {"org=all": n}
    expected |= {
        series_name("api_key_id", key): cfg.events_per_key
        for key in sentinel_keys(series, cfg.partitions).values()
    }
    flushes = flush_count(loaded.url)
    kill(loaded)
    left = _backlog(run, name, changelog)
    say(
        f"{name}: SIGKILL; {flushes or 0:,} state writes flushed, "
        f"{left.changelog_records:,} in the series changelog, "
        f"{left.uncommitted_bucket_records:,} bucket records uncommitted"
    )
    fresh_wait = _wait_left(run, name)
    fresh = run.worker(f"{name}-fresh", name, f"{name}-data-b")
    fresh_recovery = time_recovery(fresh, expected, timeout_s=600 * slack)
    say(f"{name}: fresh data dir: recovered in [bold]{fresh_recovery.seconds:.2f}s[/]")
    replayed_s = wait_committed(fresh, backlog, say, timeout_s=900 * slack)
    say(f"{name}: fresh data dir: uncommitted partials replayed {replayed_s:.1f}s later")
    recovered, _ = wait_settled(fresh, say)
    again = count_series(fresh.url, dimensions, limit=series + 1000)
    verified &= _check_counts(say, f"{name} recovered", again.per_dimension, again.calls,
                              tally.per_dimension(), n)  # fmt: skip
    say(f"{name}: recovered worker RSS {mib(recovered.rss)} MiB (states read from RocksDB)")

    kill(fresh)
    same_wait = _wait_left(run, name)
    same = run.worker(f"{name}-same", name, f"{name}-data-a")
    same_recovery = time_recovery(same, expected, timeout_s=600 * slack)
    say(f"{name}: same data dir: recovered in [bold]{same_recovery.seconds:.2f}s[/]")
    same.stop()

    return Measured(
        api_key_series=series,
        total_series=counted.total,
        expected_series=expected_total,
        events=n,
        idle=idle,
        loaded=memory,
        at_counted=at_counted,
        loaded_settled=settled,
        recovered=recovered,
        fresh=fresh_recovery,
        same=same_recovery,
        fresh_wait_s=fresh_wait,
        same_wait_s=same_wait,
        ingest_eps=rate.eps,
        verified=verified,
        backlog=left,
        changelog_drain_s=drain_s,
    )


def _backlog(run: _Run, name: str, changelog: str) -> Backlog:
    """What the group of run ``name`` has left uncommitted, and its changelog's size."""
    buckets = f"{run.token}.{name}.buckets"
    group = f"{run.token}-{name}"
    return asyncio.run(replay_backlog(run.bootstrap, group, buckets, changelog, run.cfg.partitions))


def _wait_changelog(
    run: _Run, worker: WorkerProcess, changelog: str, timeout_s: float = 600.0
) -> float:
    """Until every state the worker wrote to its series table is in the changelog topic.

    Faust sends table writes through a producer buffer that drains far slower than a
    worker books 100k series, and it commits no offsets until the buffer is empty; RSS
    and the flush counter hold still long before that. Seconds waited.
    """
    started = time.perf_counter()
    last_report = started
    while True:
        flushes = flush_count(worker.url)
        written = asyncio.run(end_offsets(run.bootstrap, {changelog: run.cfg.partitions}))
        now = time.perf_counter()
        if flushes is not None and written[changelog] >= flushes:
            waited = now - started
            run.say(f"{worker.label}: {flushes:,} state writes in the changelog ({waited:.1f}s)")
            return waited
        if now - started > timeout_s:
            raise worker.failed(
                f"wrote {written[changelog]:,} of {flushes} states to {changelog} in "
                f"{timeout_s:.0f}s"
            )
        if now - last_report >= 5.0:
            run.say(f"{worker.label}: {written[changelog]:,}/{flushes:,} states in the changelog")
            last_report = now
        time.sleep(0.5)


def _wait_left(run: _Run, name: str) -> float:
    """After a SIGKILL: wait until the group forgot the dead member (session timeout),
    so the replacement's time is its own start-up and recovery, not that wait."""
    run.say(f"{name}: waiting for the dead member to leave the consumer group ...")
    waited = wait_group_empty(run.bootstrap, f"{run.token}-{name}")
    run.say(f"{name}: the group is empty after {waited:.1f}s")
    return waited


def _check_counts(
    say: Callable[[str], None],
    what: str,
    found: dict[str, int],
    calls: dict[str, int],
    expected: dict[str, int],
    events: int,
) -> bool:
    wrong_calls = {d: c for d, c in calls.items() if c != events}
    if found == expected and not wrong_calls:
        return True
    say(
        f"[red]{what}: series per dimension {found}, expected {expected}; "
        f"dimensions whose calls are not {events}: {wrong_calls}[/]"
    )
    return False


def _drop_state(workdir: Path) -> None:
    """After a failure keep the worker and broker logs; drop Kafka data and table state."""
    for child in workdir.iterdir():
        if child.name == "kafka":
            shutil.rmtree(child / "data", ignore_errors=True)
        elif child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
