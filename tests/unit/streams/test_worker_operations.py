"""Worker operations without a broker: unreachable Kafka, config polling, key owners."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from streams.config_file import KeyOwner
from streams.config_reload import live_config
from streams.key_owners import KeyOwnerMap
from streams.rollup import UNATTRIBUTED, sum_rows
from streams.settings import WorkerSettings
from streams.worker import use_event_loop
from tests.support.worker_process import free_port


@pytest.mark.parametrize("command", ["worker", "ingest"])
def test_unreachable_kafka_is_one_clear_line_per_retry_then_exit_2(
    command: str, tmp_path: Path
) -> None:
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    env = {**os.environ, "SPENDWATCH_CONNECT_RETRIES": "2", "SPENDWATCH_CONNECT_BACKOFF_S": "0.1"}
    env.pop("SPENDWATCH_INGEST_TOKENS_FILE", None)
    extra = ["--allow-anonymous"] if command == "ingest" else []
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", command, "--bootstrap", address, *extra],
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

    def row(event_id: str, key: str, team: str | None, app: str | None) -> tuple[Any, ...]:
        return (event_id, 1, "openai", "gpt-4o", key, team, app, None, None,
                10, 5, 0, 0, 100, 1, False, {"docs": 1})  # fmt: skip

    rows = [
        row("e1", "k-1", None, None),
        row("e2", "k-1", "search", None),
        row("e3", "k-2", None, None),
        row("e4", "k-1", "research", "bot"),
    ]
    totals = owners.attribute_totals(sum_rows(rows, -1, 10))
    booked = {combo[1:4]: sums[1] for combo, sums in totals.combos.items()}
    assert booked == {
        ("k-1", "research", "bot"): 2,  # e1 attributed, merged with e4
        ("k-1", "search", "bot"): 1,
        ("k-2", UNATTRIBUTED, UNATTRIBUTED): 1,
    }
    units = {combo[1:4]: u for combo, u in totals.units.items()}
    assert units[("k-1", "research", "bot")] == {"docs": 2}
    unowned = sum_rows(rows, -1, 10)
    assert KeyOwnerMap().attribute_totals(unowned) is unowned


@pytest.mark.parametrize(("name", "kind"), [("uvloop", "uvloop.Loop"), ("asyncio", "asyncio")])
def test_the_worker_runs_on_the_event_loop_its_settings_name(name: str, kind: str) -> None:
    try:
        use_event_loop(name)
        loop = asyncio.new_event_loop()
        made = f"{type(loop).__module__}.{type(loop).__name__}"
        loop.close()
    finally:
        asyncio.set_event_loop_policy(None)
    assert made.startswith(kind)
    assert WorkerSettings.model_fields["event_loop"].default == "uvloop"
