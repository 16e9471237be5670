"""Child processes that never outlive their parent, and stop in order.

Children start in their own session, so a Ctrl-C at the terminal reaches only the
parent, which stops them one by one (SIGTERM, then SIGKILL after a grace period). On
Linux each child also asks the kernel for SIGTERM when its parent dies, so even a
killed parent leaves no orphans.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel send the child SIGTERM when its parent dies
    (Linux; None elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return preexec


class ChildProcess:
    """One child with its output in a log file."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log_path = log_path
        log = log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                preexec_fn=die_with_parent(),  # noqa: PLW1509 - only calls prctl
            )
        finally:
            log.close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, grace_s: float = 30.0) -> int:
        """SIGTERM, wait up to ``grace_s``, then SIGKILL; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return int(self.proc.returncode)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def child_env(**extra: str) -> dict[str, str]:
    """The parent's environment plus ``extra``, with unbuffered Python output."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", **extra}
