"""Subprocesses of a run: the measured workers and the local Kafka broker.

Every worker runs in its own session with its output in a log file, and is stopped with
SIGTERM, then SIGKILL to its whole process group; the broker is stopped on the way out
of ``local_broker``. ``sigterm_as_interrupt`` makes a SIGTERM to the harness run those
same cleanups.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType

from bench.throughput.config import BenchError
from streams.child_process import die_with_parent

REPO = Path(__file__).resolve().parents[2]
KAFKA_LOCAL = REPO / "scripts" / "kafka-local"
SPENDWATCH_WORKER = ("-m", "streams.cli", "worker")
"""``spendwatch worker``, as arguments to the Python interpreter."""
NAIVE_FAUST = (str(REPO / "bench" / "naive_faust.py"),)
"""The naive Faust baseline (``bench/naive_faust.py``), as arguments to the interpreter."""
STOP_GRACE_S = 10.0
"""Measurement is over when a worker is stopped: a short grace, then SIGKILL."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_options(**options: object) -> list[str]:
    """``--some-name value`` for every ``some_name=value``, in order."""
    return [
        arg
        for name, value in options.items()
        for arg in (f"--{name.replace('_', '-')}", str(value))
    ]


class WorkerProcess:
    """A worker subprocess in its own session, with its output in a log file."""

    def __init__(self, label: str, cmd: Sequence[str], log_path: Path, web_port: int) -> None:
        self.label = label
        self.cmd = list(cmd)
        self.log_path = log_path
        self.web_port = web_port
        self.proc: subprocess.Popen[bytes] | None = None
        self._terminated = False
        self._stopped = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=True,
                preexec_fn=die_with_parent(),  # noqa: PLW1509 - only calls prctl
            )

    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system, all threads) the worker used so far; None where
        ``/proc`` cannot tell (not Linux, or the process is gone)."""
        if self.proc is None:
            return None
        try:
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        """SIGTERM (Faust shuts down cleanly), then SIGKILL to its process group."""
        proc = self.proc
        if proc is None or self._stopped:
            return
        try:
            if proc.poll() is None and not self._terminated:
                self._terminated = True
                proc.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=grace)
        finally:  # also when interrupted while waiting: then no more grace
            if proc.poll() is None:
                # Its own session: pid == pgid, so this reaches only what it started.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
            self._stopped = True

    def failed(self, what: str) -> BenchError:
        """``"LABEL WHAT; log PATH:"`` and the log's last lines, as the error to raise."""
        return BenchError(f"{self.label} {what}; log {self.log_path}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def worker_process(
    label: str, program: Sequence[str], workdir: Path, **options: object
) -> WorkerProcess:
    """``python PROGRAM --option value ...`` (not started yet) on a free ``--web-port``,
    with ``--data-dir`` ``workdir/label`` and its output in ``workdir/label.log``."""
    port = free_port()
    args = cli_options(**options, data_dir=workdir / label, web_port=port)
    return WorkerProcess(label, [sys.executable, *program, *args], workdir / f"{label}.log", port)


@contextlib.contextmanager
def local_broker(state: Path, say: Callable[[str], None]) -> Iterator[str]:
    """A fresh broker from ``scripts/kafka-local`` in ``state``; stopped on the way out."""
    say(f"starting Apache Kafka with scripts/kafka-local in {state}")
    try:
        started = subprocess.run(
            [sys.executable, str(KAFKA_LOCAL), "--dir", str(state), "start"],
            stdout=subprocess.PIPE,
            text=True,
            timeout=900,
            check=False,
        )
        lines = started.stdout.split()
        if started.returncode != 0 or not lines:
            raise BenchError(f"scripts/kafka-local start failed (exit {started.returncode})")
        yield lines[-1]
    finally:
        subprocess.run(
            [sys.executable, str(KAFKA_LOCAL), "--dir", str(state), "stop"],
            stdout=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so every cleanup runs (main thread only)."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
