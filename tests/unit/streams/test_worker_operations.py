"""Worker operations without a broker: unreachable Kafka, config polling, key owners."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from streams.config_file import KeyOwner
from streams.config_reload import live_config
from streams.key_owners import KeyOwnerMap
from tests.support.worker_process import free_port


@pytest.mark.parametrize("command", ["worker", "ingest"])
def test_unreachable_kafka_is_one_clear_line_per_retry_then_exit_2(
    command: str, tmp_path: Path
) -> None:
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    env = {**os.environ, "SPENDWATCH_CONNECT_RETRIES": "2", "SPENDWATCH_CONNECT_BACKOFF_S": "0.1"}
    env.pop("SPENDWATCH_INGEST_TOKENS_FILE", None)
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", command, "--bootstrap", address],
        capture_output=True, text=True, env=env, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = [x for x in done.stderr.strip().splitlines() if x.startswith("spendwatch: ")]
    assert len(lines) == 3, done.stderr
    assert all(address in line for line in lines)
    assert "retry 1/2 in 0.1 s" in lines[0] and "retry 2/2 in 0.2 s" in lines[1]
    assert "after 3 attempts" in lines[2]


def test_an_invalid_config_file_stops_the_worker_before_kafka(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("kafka: {partitions: 0}\n")
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "worker", "--config", str(config)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "kafka.partitions:" in done.stderr and "Traceback" not in done.stderr


def test_poll_applies_valid_changes_and_keeps_the_old_config_on_invalid(tmp_path: Path) -> None:
    path = tmp_path / "spendwatch.yaml"
    path.write_text("key_owners: {k-1: {team: a}}\n")
    live = live_config(path)
    seen: list[dict[str, KeyOwner]] = []
    live.on_change(lambda config: seen.append(config.key_owners))
    assert live.poll() is False  # unchanged file
    path.write_text("key_owners: {k-1: {team: b}}\nkafka: {partitions: 4}\n")
    assert live.poll() is True
    assert [owners["k-1"].team for owners in seen] == ["a", "b"]
    assert (live.generation, live.pending_restart) == (2, ["kafka.partitions"])
    good_version = live.current.version
    path.write_text("key_owners: {k-1: {}}\n")
    assert live.poll() is False
    assert live.current.version == good_version and len(seen) == 2
    assert live.rejected is not None
    assert live.rejected.problems == ["key_owners.k-1: a key owner names a team, an app or both"]
    path.unlink()
    assert live.poll() is False
    assert live.rejected.version == "unreadable" and live.current.version == good_version


def test_key_owners_fill_only_what_an_event_left_out() -> None:
    owners = KeyOwnerMap({"k-1": KeyOwner(team="research", app="bot")})
    rest = (0,) * 10
    rows = [
        ("e1", 1, "openai", "gpt-4o", "k-1", None, None, *rest),
        ("e2", 1, "openai", "gpt-4o", "k-1", "search", None, *rest),
        ("e3", 1, "openai", "gpt-4o", "k-2", None, None, *rest),
    ]
    assert [row[5:7] for row in owners.attribute(rows)] == [
        ("research", "bot"),
        ("search", "bot"),
        (None, None),
    ]
    assert KeyOwnerMap().attribute(rows) is rows
