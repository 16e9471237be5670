from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson


def test_validate_reports_every_line_and_exits_1_on_any_invalid(
    tmp_path: Path, make_event: Callable[..., dict[str, Any]]
) -> None:
    good = make_event(cost_usd="0.01")
    computed = make_event(model="gpt-4o", input_tokens=1000, output_tokens=0)
    path = tmp_path / "events.jsonl"
    path.write_bytes(
        orjson.dumps(good)
        + b"\n"
        + b'{"event_id": "x", "input_tokens": -1}\n\n'
        + orjson.dumps(computed)
        + b"\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "validate", str(path)],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 1
    lines = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [line["line"] for line in lines] == [1, 2, 4]
    assert [line["valid"] for line in lines] == [True, False, True]
    assert lines[0]["event"]["cost_usd"] == "0.010000000"
    assert lines[0]["event"]["cost_source"] == "reported"
    assert lines[2]["event"]["cost_source"] == "computed"
    assert lines[2]["event"]["cost_usd"] == "0.002500000"  # 1000 input tokens at $2.50/MTok
    paths = {e["path"] for e in lines[1]["errors"]}
    assert {"input_tokens", "timestamp", "provider", "model", "api_key_id"} <= paths


def test_validate_exits_0_when_all_valid(
    tmp_path: Path, make_event: Callable[..., dict[str, Any]]
) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(make_event()) for _ in range(3)))
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "validate", str(path)],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
    assert len(result.stdout.splitlines()) == 3


def test_schema_command_prints_the_committed_schema() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "schema"], capture_output=True, check=True, text=True
    )
    from schemas.json_schema import committed_schema_json

    assert result.stdout == committed_schema_json()
