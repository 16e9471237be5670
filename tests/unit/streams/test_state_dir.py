"""The state directory checks and the stop on a failed table write."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import rocksdict

from streams.state_dir import (
    EXIT_STORAGE_FAILURE,
    StateDirError,
    check_state_dir,
    storage_failure,
    write_or_stop,
)


def test_a_missing_directory_is_created_and_left_clean(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    check_state_dir(target, min_free_bytes=0)
    assert target.is_dir()
    assert list(target.iterdir()) == []  # the write probe is removed


def test_a_file_where_the_directory_should_be_is_named(tmp_path: Path) -> None:
    target = tmp_path / "state"
    target.write_text("not a directory")
    with pytest.raises(StateDirError) as caught:
        check_state_dir(target, min_free_bytes=0)
    assert str(caught.value) == f"state directory {target}: not a directory"


def test_a_directory_below_a_file_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    target = tmp_path / "file" / "state"
    with pytest.raises(StateDirError) as caught:
        check_state_dir(target, min_free_bytes=0)
    assert str(caught.value) == f"state directory {target}: cannot create it: not a directory"


def test_too_little_free_space_names_both_figures(tmp_path: Path) -> None:
    free_mib = shutil.disk_usage(tmp_path).free // 1024 // 1024
    need = (free_mib + 1_000_000) * 1024 * 1024
    with pytest.raises(StateDirError) as caught:
        check_state_dir(tmp_path, min_free_bytes=need)
    message = str(caught.value)
    assert message.startswith(f"state directory {tmp_path}: only ")
    assert message.endswith(f"MiB free, at least {free_mib + 1_000_000} MiB needed")
    assert "\n" not in message


def test_storage_failure_keeps_only_the_first_line_of_a_store_error(tmp_path: Path) -> None:
    error = storage_failure(tmp_path, RuntimeError("IO error: File too large\n  at line 2"))
    assert str(error) == f"state directory {tmp_path}: write failed: IO error: File too large"
    error = storage_failure(tmp_path, OSError(28, "No space left on device"))
    assert str(error) == f"state directory {tmp_path}: write failed: no space left on device"


def test_write_or_stop_writes_and_deletes(tmp_path: Path) -> None:
    db = rocksdict.Rdict(str(tmp_path / "db"))
    try:
        write_or_stop(db, b"k", b"v", tmp_path)
        assert db[b"k"] == b"v"
        write_or_stop(db, b"k", None, tmp_path)
        write_or_stop(db, b"absent", None, tmp_path)
        assert b"k" not in db
    finally:
        db.close()


def test_a_failed_write_ends_the_process_with_one_line(tmp_path: Path) -> None:
    """A closed RocksDB refuses the write; the process stops at once with the reason."""
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        import rocksdict
        from streams.state_dir import write_or_stop
        db = rocksdict.Rdict({str(tmp_path / "db")!r})
        db.close()
        write_or_stop(db, b"k", b"v", Path({str(tmp_path)!r}))
        print("still running")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == EXIT_STORAGE_FAILURE
    assert "still running" not in done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"spendwatch worker: state directory {tmp_path}: write failed: ")
