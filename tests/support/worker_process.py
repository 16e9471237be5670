"""Run ``spendwatch worker`` as a real subprocess and talk to its HTTP API."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streams.child_process import die_with_parent

_DIE_WITH_PARENT = die_with_parent()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WorkerProcess:
    def __init__(
        self,
        bootstrap: str,
        app_id: str,
        topic_prefix: str,
        data_dir: Path,
        options: dict[str, object] | None = None,
        env: dict[str, str] | None = None,
        preexec: Callable[[], None] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.app_id = app_id
        self.topic_prefix = topic_prefix
        self.data_dir = data_dir
        self.options = options or {}
        self.env = env or {}
        self.preexec = preexec
        """Run in the child before exec (resource limits for fault tests)."""
        self.web_port = free_port()
        self.log_path = data_dir.with_suffix(".log")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self, wait: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "streams.cli",
            "worker",
            "--bootstrap",
            self.bootstrap,
            "--app-id",
            self.app_id,
            "--topic-prefix",
            self.topic_prefix,
            "--data-dir",
            str(self.data_dir),
            "--web-port",
            str(self.web_port),
        ]
        for name, value in self.options.items():
            cmd += [f"--{name.replace('_', '-')}", str(value)]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            preexec_fn=self._preexec,  # noqa: PLW1509 - prctl and resource limits, before exec
        )
        self.wait_http("/healthz", wait)

    def _preexec(self) -> None:
        """The worker dies with the test process (a pytest stopped by a signal runs no
        teardown), then whatever the test asked for."""
        if _DIE_WITH_PARENT is not None:
            _DIE_WITH_PARENT()
        if self.preexec is not None:
            self.preexec()

    def wait_http(self, path: str, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                return self.get(path)
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                last = exc
                time.sleep(0.2)
        raise TimeoutError(f"worker did not answer {path}: {last}\n{self.log_tail()}")

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=5) as resp:
            return json.loads(resp.read())

    def get_status(self, path: str) -> int:
        """The HTTP status of ``GET path`` (an error status is an answer too)."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def get_text(self, path: str) -> str:
        with urllib.request.urlopen(self.url + path, timeout=5) as resp:
            return str(resp.read().decode())

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
