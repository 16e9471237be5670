"""A state directory the worker cannot use: one clear line and a non-zero exit, never loss.

At start the worker refuses a path that is a file, a directory it cannot write and one
with too little free space. At run time a write that fails (here the file size limit
of the worker process, RLIMIT_FSIZE, which makes every write past it fail like a full
disk) stops it at once; a worker restarted on the same directory then ends with exact
totals, so nothing was committed past the state that was lost.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streams.state_dir import EXIT_STORAGE_FAILURE
from tests.support.exactness import assert_exact, org_calls, start_stream, wait_until
from tests.support.worker_process import WorkerProcess

FILE_SIZE_LIMIT = 64 * 1024
"""Above the worker's log and RocksDB's own files at start, below the write-ahead logs
of the tables after a few thousand events."""


def run_worker_cli(data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``spendwatch worker`` on ``data_dir``, to its exit (it must not get past the check)."""
    cmd = [sys.executable, "-m", "streams.cli", "worker", "--data-dir", str(data_dir)]
    cmd += ["--bootstrap", "127.0.0.1:9", "--web-port", "0"]  # never reached
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], expected: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines() == [f"spendwatch worker: {expected}"]


def test_a_file_in_place_of_the_state_directory_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "state"
    target.write_text("a file, not a directory")
    done = run_worker_cli(target)
    assert_one_line_error(done, f"state directory {target}: not a directory")


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[str]:
    """Make ``path`` unwritable for the worker; yields the reason the worker must give.

    As root, permissions do not stop writes, so the directory is bind-mounted read-only
    over itself; otherwise its mode is set to r-x.
    """
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o500)
        try:
            yield "permission denied"
        finally:
            path.chmod(0o700)
        return
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)
        yield "read-only file system"
    finally:
        subprocess.run(["umount", str(path)], check=True)


def test_an_unwritable_state_directory_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "state"
    with read_only(target) as reason:
        done = run_worker_cli(target)
    assert_one_line_error(done, f"state directory {target}: not writable: {reason}")


def test_a_state_directory_without_enough_free_space_is_refused(tmp_path: Path) -> None:
    free_mib = shutil.disk_usage(tmp_path).free // 1024 // 1024
    need = free_mib + 1_000_000
    done = run_worker_cli(tmp_path / "state", SPENDWATCH_MIN_FREE_MB=str(need))
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"spendwatch worker: state directory {tmp_path / 'state'}: only ")
    assert line.endswith(f" MiB free, at least {need} MiB needed")


def limit_file_size() -> None:
    """In the worker process: writes past FILE_SIZE_LIMIT fail with EFBIG (no signal)."""
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))


async def test_a_failed_state_write_stops_the_worker_and_loses_nothing(
    kafka_bootstrap: str, names: Callable[[str], str], tmp_path: Path
) -> None:
    prefix, app_id = names("sw") + ".", names("app")
    truth = await start_stream(kafka_bootstrap, prefix, 20_000)
    data_dir = tmp_path / "state"
    options: dict[str, object] = {"partitions": 4}
    env = {"SPENDWATCH_SESSION_TIMEOUT_S": "10"}  # the restart waits for the dead member
    limited = WorkerProcess(
        kafka_bootstrap, app_id, prefix, data_dir, options, env=env, preexec=limit_file_size
    )
    limited.start()
    assert limited.proc is not None
    try:
        code = limited.proc.wait(timeout=600)
    except subprocess.TimeoutExpired:
        limited.stop()
        pytest.fail(f"the worker kept running past its file size limit\n{limited.log_tail()}")
    assert code == EXIT_STORAGE_FAILURE, limited.log_tail()
    last = limited.log_tail(1)
    assert last.startswith(f"spendwatch worker: state directory {data_dir}: write failed: ")
    assert "File too large" in last or "file too large" in last, last
    restarted = WorkerProcess(kafka_bootstrap, app_id, prefix, data_dir, options, env=env)
    try:
        restarted.start()
        await wait_until(lambda: org_calls(restarted) == truth.unique, 600, "all", restarted)
        await assert_exact(restarted, truth)
    finally:
        restarted.stop()
