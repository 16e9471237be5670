from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from schemas.event import UsageEvent
from streams.generate_cmd import parse_incident


def test_generate_writes_valid_events_ending_now(tmp_path: Path) -> None:
    out = tmp_path / "traffic.jsonl"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "generate",
            "--out",
            str(out),
            "--duration",
            "300",
            "--rate",
            "10",
            "--seed",
            "3",
            "--incident",
            "leaked_key:key-leaked-9:60:120:4",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    events = [
        UsageEvent.model_validate(orjson.loads(line)) for line in out.read_bytes().splitlines()
    ]
    assert len(events) > 100
    leaked = [e for e in events if e.api_key_id == "key-leaked-9"]
    assert leaked and all(e.team is None for e in leaked)
    validated = subprocess.run(
        [sys.executable, "-m", "streams.cli", "validate", str(out)],
        capture_output=True,
        check=False,
    )
    assert validated.returncode == 0


@pytest.mark.parametrize(
    ("spec", "kind", "target"),
    [
        ("runaway_loop:key-a:10:20", "runaway_loop", "key-a"),
        ("prompt_bloat:support-bot:0:60:4", "prompt_bloat", "support-bot"),
        ("model_switch:search-rerank:5:5", "model_switch", "search-rerank"),
    ],
)
def test_parse_incident(spec: str, kind: str, target: str) -> None:
    incident = parse_incident(spec)
    assert (incident.kind, incident.target) == (kind, target)


@pytest.mark.parametrize("spec", ["runaway_loop:key-a", "meteor:key-a:1:2", "runaway_loop:k:x:2"])
def test_parse_incident_rejects_bad_specs(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_incident(spec)
