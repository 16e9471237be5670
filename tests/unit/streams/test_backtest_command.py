"""``spendwatch backtest`` end to end: a generated file in, the alerts it implies out."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest
import yaml
from typer.testing import CliRunner

from streams.cli import app
from streams.synthetic import DEFAULT_START, TrafficGenerator
from streams.synthetic_org import Incident, TrafficProfile

HOURS = 4
EXAMPLE = Path(__file__).parents[3] / "spendwatch.example.yaml"
RUNAWAY_AT = 2.5 * 3600
LEAK_AT = 3.5 * 3600


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("backtest") / "events.jsonl"
    profile = TrafficProfile(seed=11, teams=3, calls_per_second=4.0)
    generator = TrafficGenerator(profile, start=DEFAULT_START)
    agents = [k for k in generator.keys if k.app.endswith("-agent") and k.environment == "prod"]
    key = max(agents, key=lambda k: k.share).api_key_id
    incidents = [
        Incident.runaway_loop(key, RUNAWAY_AT, 20 * 60, 20.0),
        Incident.leaked_key(LEAK_AT, 15 * 60, key="key-stolen", calls_per_second=1.0),
    ]
    generator = TrafficGenerator(profile, incidents, start=DEFAULT_START)
    with path.open("wb") as out:
        for batch in generator.iter_batches(HOURS * 3600, step_s=60):
            out.write(b"".join(orjson.dumps(e) + b"\n" for e in batch.events))
        out.write(b'{"event_id": "broken"}\n')
    return path


def when(seconds: float) -> datetime:
    return DEFAULT_START + timedelta(seconds=seconds)


def test_backtest_writes_the_alerts_of_the_incidents(events_file: Path, tmp_path: Path) -> None:
    config = tmp_path / "spendwatch.yaml"
    config.write_text("detectors:\n  policy:\n    known_keys_warmup_minutes: 60\n")
    out = tmp_path / "alerts.jsonl"
    result = CliRunner().invoke(
        app, ["backtest", str(events_file), "--config", str(config), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "1 rejected" in result.output
    alerts = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert alerts
    for alert in alerts:
        assert set(alert) >= {
            "alert_id", "detector", "severity", "scope", "fired_at", "resolved_at",
            "observed", "expected", "impact_usd", "summary",
        }  # fmt: skip
        assert alert["scope"]["dimension"] in (
            "api_key_id", "team", "app", "feature", "model", "provider", "environment", "org",
        )  # fmt: skip
        fired = datetime.fromisoformat(alert["fired_at"])
        assert fired >= when(RUNAWAY_AT), f"alert before any incident: {alert['summary']}"
        if alert["resolved_at"] is not None:
            assert datetime.fromisoformat(alert["resolved_at"]) > fired
    spikes = [a for a in alerts if a["detector"] == "spend_spike"
              and a["scope"]["dimension"] == "api_key_id"]  # fmt: skip
    assert spikes
    first = min(datetime.fromisoformat(a["fired_at"]) for a in spikes)
    assert first <= when(RUNAWAY_AT + 180)
    assert spikes[0]["resolved_at"] is not None
    assert float(spikes[0]["impact_usd"]) > 0
    (stolen,) = [a for a in alerts if a["detector"] == "new_key_spend"]
    assert stolen["scope"] == {"dimension": "api_key_id", "value": "key-stolen"}
    assert datetime.fromisoformat(stolen["fired_at"]) <= when(LEAK_AT + 120)


def test_the_same_file_gives_the_same_alerts(events_file: Path, tmp_path: Path) -> None:
    outs = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for out in outs:
        result = CliRunner().invoke(app, ["backtest", str(events_file), "--out", str(out)])
        assert result.exit_code == 0, result.output
    assert outs[0].read_bytes() == outs[1].read_bytes()


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("detectors:\n  spike:\n    ratio: 0.5\n", "detectors.spike.ratio"),
        ("aggregation:\n  lateness_minutes: -1\nbudgets: []\n", "aggregation.lateness_minutes"),
    ],
    ids=["detectors-section", "whole-file"],
)
def test_a_bad_config_names_the_file_and_field(tmp_path: Path, text: str, path: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    events = tmp_path / "e.jsonl"
    events.write_text("")
    result = CliRunner().invoke(
        app, ["backtest", str(events), "--config", str(config), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code != 0
    assert path in result.output and "bad.yaml" in result.output


def test_a_whole_config_file_is_read_as_the_worker_reads_it(
    events_file: Path, tmp_path: Path
) -> None:
    """The shipped example (top-level budgets list, routes, receivers) plus a budget the
    traffic overruns: the budget reaches the detectors as the worker merges it."""
    example = yaml.safe_load(EXAMPLE.read_text())
    example["budgets"] = [{"series": "team=search", "monthly_usd": 1}]
    config = tmp_path / "spendwatch.yaml"
    config.write_text(yaml.safe_dump(example))
    out = tmp_path / "alerts.jsonl"
    result = CliRunner().invoke(
        app, ["backtest", str(events_file), "--config", str(config), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    alerts = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    burns = {(a["detector"], a["scope"]["value"]) for a in alerts if "budget" in a["detector"]}
    assert burns == {("budget_burn", "search")}
