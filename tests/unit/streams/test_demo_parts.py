"""The demo's config, verdict and screen, without starting anything."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from streams.config_load import load_config
from streams.demo_config import DEMO_SECRETS, EXAMPLE, demo_config, write_demo_config
from streams.demo_monitor import DemoStatus
from streams.demo_receivers import DemoReceivers, alert_arrived, receivers_available
from streams.demo_screen import render, summary_lines


def test_demo_config_is_the_example_pointed_at_the_demo(tmp_path: Path) -> None:
    receivers = DemoReceivers(slack_api_url="http://127.0.0.1:9/api/", pagerduty_url="http://x/")
    raw = demo_config("127.0.0.1:1234", "demo-x", 7777, tmp_path / "state", receivers)
    loaded = load_config(write_demo_config(tmp_path / "spendwatch.yaml", raw)).config
    example = load_config(EXAMPLE).config
    assert loaded.kafka.bootstrap == "127.0.0.1:1234"
    assert (loaded.kafka.app_id, loaded.kafka.topic_prefix) == ("demo-x", "demo-x.")
    assert (loaded.web.port, loaded.storage.store) == (7777, "memory://")
    assert loaded.key_owners == example.key_owners
    assert loaded.receivers[0]["slack"]["api_url"] == "http://127.0.0.1:9/api/"
    assert loaded.receivers[0]["slack"]["token"] == "${SLACK_BOT_TOKEN}"
    assert loaded.receivers[1]["pagerduty"]["url"] == "http://x/"
    references = {r["slack"]["token"] for r in loaded.receivers if "slack" in r} | {
        r["pagerduty"]["routing_key"] for r in loaded.receivers if "pagerduty" in r
    }
    assert references == {f"${{{name}}}" for name in DEMO_SECRETS}


def test_without_local_receivers_no_alert_can_arrive() -> None:
    receivers = DemoReceivers()
    assert not receivers.running
    assert alert_arrived(receivers, "key-research-5") is False
    assert "no alert can arrive" in receivers.describe() or receivers_available()


def test_screen_and_summary_show_spend_per_team() -> None:
    status = DemoStatus(sent=120, counted=100, events_per_s=25.0)
    status.teams = [("search", "1.250000000", 40), ("growth", "0.000001000", 2)]
    status.worker_ok = status.worker_ready = True
    console = Console(record=True, width=120)
    console.print(render(status, ["broker: here"], warmup_s=60))
    screen = console.export_text()
    assert "search" in screen and "1.250000000" in screen and "events/s" in screen
    assert "warm-up" in screen and "ready" in screen
    assert "spend per team: search $1.250000000, growth $0.000001000" in summary_lines(status)
