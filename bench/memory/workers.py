"""The worker processes of a memory run: started, watched until settled, killed, timed.

Workers are ``spendwatch worker`` subprocesses (``bench.throughput.processes``), each in
its own session; a kill is SIGKILL to that session's process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.memory.probes import flush_count, http_get, series_calls
from bench.memory.rss import Memory, Settling, read_memory
from bench.throughput.config import BenchError
from bench.throughput.processes import SPENDWATCH_WORKER, WorkerProcess, cli_options, free_port

POLL_S = 0.25
RECOVERY_POLL_S = 0.1
READY_LINE = "Worker ready"
"""Faust logs this once the first recovery is complete and the fetcher runs."""


def spendwatch_worker(
    label: str,
    workdir: Path,
    data_dir: Path,
    *,
    bootstrap: str,
    app_id: str,
    topic_prefix: str,
    partitions: int,
) -> WorkerProcess:
    """``spendwatch worker`` (not started) on a free port, its log in ``workdir/label.log``."""
    port = free_port()
    args = cli_options(
        bootstrap=bootstrap,
        app_id=app_id,
        topic_prefix=topic_prefix,
        partitions=partitions,
        data_dir=data_dir,
        web_port=port,
    )
    return WorkerProcess(
        label, [sys.executable, *SPENDWATCH_WORKER, *args], workdir / f"{label}.log", port
    )


def pid_of(worker: WorkerProcess) -> int:
    if worker.proc is None:
        raise BenchError(f"{worker.label} was never started")
    return worker.proc.pid


def kill(worker: WorkerProcess) -> None:
    """SIGKILL the worker's process group (a crash: no clean leave, no last commit)."""
    proc = worker.proc
    if proc is not None and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    worker.stop()  # marks it stopped; nothing left to signal


def memory_of(worker: WorkerProcess) -> Memory:
    try:
        return read_memory(pid_of(worker))
    except (OSError, ValueError) as exc:
        raise worker.failed(f"has no memory to read ({exc})") from exc


def _alive(worker: WorkerProcess, what: str) -> None:
    code = worker.exit_code()
    if code is not None:
        raise worker.failed(f"exited with code {code} {what}")


def wait_ready(worker: WorkerProcess, timeout_s: float = 120.0) -> float:
    """Until the worker serves HTTP and its log says it is ready; seconds since start."""
    started = time.perf_counter()
    while True:
        _alive(worker, "while starting")
        if http_get(f"{worker.url}/healthz", timeout=2) is not None:
            with contextlib.suppress(OSError):
                if READY_LINE in worker.log_path.read_text(errors="replace"):
                    return time.perf_counter() - started
        if time.perf_counter() - started > timeout_s:
            raise worker.failed(f"not ready after {timeout_s:.0f}s")
        time.sleep(POLL_S)


def wait_series(worker: WorkerProcess, expected: Mapping[str, int], timeout_s: float) -> float:
    """Until every series in ``expected`` answers with exactly its calls; seconds.

    Fails at once when a series has more calls than expected (double counting).
    """
    started = time.perf_counter()
    while True:
        _alive(worker, "before its series were complete")
        complete = True
        for name, calls in expected.items():
            got = series_calls(worker.url, name)
            if got is not None and got > calls:
                raise worker.failed(f"answers {name} with {got} calls, expected {calls}")
            if got != calls:
                complete = False
                break
        now = time.perf_counter()
        if complete:
            return now - started
        if now - started > timeout_s:
            raise worker.failed(f"series not complete after {timeout_s:.0f}s")
        time.sleep(RECOVERY_POLL_S)


def wait_settled(
    worker: WorkerProcess, say: Callable[[str], None], timeout_s: float = 180.0
) -> tuple[Memory, bool]:
    """Until RSS and the series flush counter held still for ``SETTLE_WINDOW_S``; the
    memory then, and whether it did settle (False: the last reading at the timeout)."""
    settling = Settling()
    started = time.perf_counter()
    while True:
        _alive(worker, "while settling")
        memory = memory_of(worker)
        now = time.perf_counter()
        if settling.add(now, memory.rss, flush_count(worker.url)):
            return memory, True
        if now - started > timeout_s:
            say(f"[yellow]{worker.label}: RSS did not settle in {timeout_s:.0f}s[/]")
            return memory, False
        time.sleep(POLL_S)


@dataclass(frozen=True, slots=True)
class Recovery:
    seconds: float
    """From process start until the expected series answered in full."""
    http_s: float | None
    """From process start until it first answered HTTP at all."""


def time_recovery(
    worker: WorkerProcess, expected: Mapping[str, int], timeout_s: float = 600.0
) -> Recovery:
    """Start ``worker`` and time it until ``expected`` series answer with their calls and
    it is ready."""
    started = time.perf_counter()
    worker.start()
    http_s: float | None = None
    while http_s is None:
        _alive(worker, "while starting")
        if http_get(f"{worker.url}/healthz", timeout=2) is not None:
            http_s = time.perf_counter() - started
            break
        if time.perf_counter() - started > timeout_s:
            raise worker.failed(f"no HTTP after {timeout_s:.0f}s")
        time.sleep(RECOVERY_POLL_S)
    wait_series(worker, expected, timeout_s - (time.perf_counter() - started))
    wait_tables_recovered(worker, timeout_s - (time.perf_counter() - started))
    return Recovery(time.perf_counter() - started, http_s)


def wait_tables_recovered(worker: WorkerProcess, timeout_s: float) -> None:
    """Until ``/readyz`` answers 200: every table recovered, not only the series probed
    (Faust answers reads while other partitions still replay their changelogs)."""
    started = time.perf_counter()
    while (answer := http_get(f"{worker.url}/readyz", timeout=2)) is None or answer[0] != 200:
        _alive(worker, "before it was ready")
        if time.perf_counter() - started > timeout_s:
            raise worker.failed(f"not ready after {timeout_s:.0f}s")
        time.sleep(RECOVERY_POLL_S)


def wait_committed(
    worker: WorkerProcess,
    backlog: Callable[[], int],
    say: Callable[[str], None],
    timeout_s: float = 900.0,
) -> float:
    """Until ``backlog()`` (bucket records the worker's group has not committed) is 0 on
    two polls in a row: every partial applied and its state stored (the worker commits
    only then). RSS and the flush counter alone can hold still for many seconds while a
    worker waits for Kafka to store its writes. Seconds waited."""
    started = time.perf_counter()
    last_report, zeros = started, 0
    while zeros < 2:
        _alive(worker, "before it caught up")
        left = backlog()
        zeros = zeros + 1 if left == 0 else 0
        now = time.perf_counter()
        if now - started > timeout_s:
            raise worker.failed(f"{left:,} bucket records still uncommitted after {timeout_s:.0f}s")
        if left and now - last_report >= 10.0:
            say(f"{worker.label}: {left:,} bucket records not yet committed")
            last_report = now
        time.sleep(1.0)
    return time.perf_counter() - started
