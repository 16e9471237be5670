"""Plant secrets in the environment of real spendwatch processes, then search everything
they wrote for them.

``SecretScan.start(name, argv)`` runs one process with the planted secrets in its
environment and its stdout and stderr in a log file; ``leaks()`` searches every log
file and any extra records (dead letters, alert payloads) for every planted value,
base64 fields decoded. A new process joins the scan with one ``start`` line.
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson


def planted_secrets() -> dict[str, str]:
    """Fresh values, in the shapes real ones have, under the names operators use."""
    return {
        "OPENAI_API_KEY": "sk-proj-" + secrets.token_urlsafe(36).replace("-", "x"),
        "ANTHROPIC_API_KEY": "sk-ant-api03-" + secrets.token_urlsafe(40).replace("-", "x"),
        "SLACK_BOT_TOKEN": f"xoxb-{secrets.randbelow(10**12)}-{secrets.randbelow(10**13)}-"
        + secrets.token_hex(12),
        "PAGERDUTY_ROUTING_KEY": secrets.token_hex(16),
    }


class SecretScan:
    """Processes that share the planted secrets, and the search over what they wrote."""

    def __init__(self, directory: Path, env: dict[str, str], secrets: dict[str, str]) -> None:
        """``env`` joins every process's environment; ``secrets`` (label: value) are what
        must never show up."""
        self.directory = directory
        self.planted = secrets
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], ready_url: str | None = None) -> None:
        """Run ``python -m streams.cli ARGV...``; wait until ``ready_url`` answers."""
        log = (self.directory / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", *argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
        )
        if ready_url is not None:
            self._wait(name, ready_url)

    def _wait(self, name: str, url: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited:\n{self.log(name)[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # it answers
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise TimeoutError(f"{name} did not answer {url}:\n{self.log(name)[-3000:]}")

    def log(self, name: str) -> str:
        path = self.directory / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def leaks(self, records: Iterable[bytes] = ()) -> list[str]:
        """Where a planted value shows up: ``where: LABEL`` per hit."""
        blobs: dict[str, bytes] = {
            f"{name}.log": (self.directory / f"{name}.log").read_bytes() for name in self.procs
        }
        for number, record in enumerate(records):
            blobs[f"record {number}"] = record + b"\n" + b"\n".join(_decoded_fields(record))
        return [
            f"{where}: {label}"
            for where, blob in blobs.items()
            for label, value in self.planted.items()
            if value.encode() in blob
        ]


def _decoded_fields(record: bytes) -> list[bytes]:
    """Base64 fields of a JSON record, decoded (a secret must not hide in them either)."""
    try:
        doc: Any = orjson.loads(record)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(doc, dict):
        return []
    out = []
    for key, value in doc.items():
        if key.endswith("_b64") and isinstance(value, str):
            out.append(base64.b64decode(value))
    return out
