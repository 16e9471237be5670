"""Checks on the worker's local state directory, and the one-line error they end with.

A worker that cannot write its table state must stop at once with a message naming the
directory and the problem, never carry on counting into state it cannot keep (the
offsets it commits would then run ahead of the state it could recover).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any, NoReturn

MIN_FREE_BYTES = 64 * 1024 * 1024
"""Free space a state directory needs at start (RocksDB writes, compacts and logs)."""


class StateDirError(RuntimeError):
    """The state directory cannot hold the worker's state; the message is one line."""


def describe_os_error(exc: OSError) -> str:
    """A short reason for an I/O error: ``no space left on device``, ``permission denied``."""
    if exc.errno is not None:
        return os.strerror(exc.errno).lower()
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def check_state_dir(path: Path, min_free_bytes: int = MIN_FREE_BYTES) -> None:
    """Create ``path`` if needed, prove a file can be written there, check the free space.

    Raises ``StateDirError`` naming the path and the problem.
    """
    where = f"state directory {path}"
    if path.exists() and not path.is_dir():
        raise StateDirError(f"{where}: not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateDirError(f"{where}: cannot create it: {describe_os_error(exc)}") from exc
    probe = path / f".write-probe-{uuid.uuid4().hex}"
    try:
        with probe.open("wb") as handle:
            handle.write(b"\0" * 4096)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise StateDirError(f"{where}: not writable: {describe_os_error(exc)}") from exc
    finally:
        with contextlib.suppress(OSError):
            probe.unlink(missing_ok=True)
    free = shutil.disk_usage(path).free
    if free < min_free_bytes:
        raise StateDirError(
            f"{where}: only {free // 1024 // 1024} MiB free, "
            f"at least {min_free_bytes // 1024 // 1024} MiB needed"
        )


def storage_failure(path: Path, exc: BaseException) -> StateDirError:
    """The error a failed table write stops the worker with."""
    if isinstance(exc, OSError):
        reason = describe_os_error(exc)
    else:
        text = str(exc).strip()
        reason = text.splitlines()[0][:300] if text else type(exc).__name__
    return StateDirError(f"state directory {path}: write failed: {reason}")


EXIT_STORAGE_FAILURE = 74
"""Exit status of a worker stopped by a failed state write (``EX_IOERR`` of sysexits)."""


def stop_on_storage_failure(path: Path, exc: BaseException) -> NoReturn:
    """Print one line naming the directory and the reason, and end the process at once.

    Immediately, without the orderly shutdown: records whose state was not written are
    still unacknowledged, and no further commit may happen. They are replayed (and
    skipped where already applied) by the next worker.
    """
    line = f"spendwatch worker: {storage_failure(path, exc)}\n"
    with contextlib.suppress(OSError):
        sys.stderr.flush()
        os.write(2, line.encode())  # the raw descriptor: Faust reroutes sys.stderr to its log
    os._exit(EXIT_STORAGE_FAILURE)


def write_or_stop(table: Any, key: bytes, value: bytes | None, path: Path) -> None:
    """``table[key] = value`` (or delete it when ``value`` is None); stop on a failed write."""
    try:
        if value is None:
            if key in table:
                del table[key]
        else:
            table[key] = value
    except Exception as exc:  # rocksdict raises plain exceptions on I/O errors
        stop_on_storage_failure(path, exc)
