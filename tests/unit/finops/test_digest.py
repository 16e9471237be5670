from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from schemas.money import format_usd
from streams.cli import app
from streams.finops.digest import DigestSchedule, digest_teams, team_digest
from streams.finops.ledger import Ledger, day_of
from streams.rollup import COST
from streams.synthetic import TrafficGenerator
from streams.synthetic_org import TrafficProfile
from tests.support.fake_slack import fake_slack

START = datetime(2026, 11, 1, tzinfo=UTC)
AT = datetime(2026, 11, 16, 9, tzinfo=UTC)  # a Monday
TOKEN = "xoxb-test-digest-token"


@pytest.fixture(scope="module")
def two_weeks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sixteen days of traffic, two busy hours a day (generating whole days is slow)."""
    gen = TrafficGenerator(TrafficProfile(seed=8, calls_per_second=0.2), start=START)
    path = tmp_path_factory.mktemp("digest") / "events.jsonl"
    events = [
        e for day in range(16) for e in gen.events_between(day * 86400 + 13 * 3600,
                                                          day * 86400 + 15 * 3600)
    ]  # fmt: skip
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    return path


def _week_spend(ledger: Ledger, team: str) -> int:
    today = day_of(AT.date())
    return sum(s[COST] for d, who, s in ledger.rows(today - 7, today - 1) if who[1] == team)


def test_digest_blocks_carry_the_exact_week(two_weeks: Path) -> None:
    ledger = Ledger.from_jsonl(two_weeks.read_bytes().splitlines())
    assert digest_teams(ledger, AT) == ["growth", "platform", "research", "search", "support"]
    message = team_digest(ledger, "search", AT)
    blocks = message["blocks"]
    assert blocks[0]["text"]["text"] == "AI spend: search"
    assert "2026-11-09 to 2026-11-15" in blocks[1]["elements"][0]["text"]
    assert blocks[2]["text"]["text"].startswith(f"*{format_usd(_week_spend(ledger, 'search'))}*")
    assert "No anomalies this week." in json.dumps(blocks)
    assert len(blocks) <= 50


def test_schedule_next_run() -> None:
    schedule = DigestSchedule.parse("mon@09:00")
    assert schedule.next_after(AT) == datetime(2026, 11, 23, 9, tzinfo=UTC)
    assert schedule.next_after(datetime(2026, 11, 15, 23, tzinfo=UTC)) == AT
    with pytest.raises(ValueError, match="DAY@HH:MM"):
        DigestSchedule.parse("monday 9am")


def test_digest_command_posts_through_slack_sdk_to_a_local_slack(
    two_weeks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPENDWATCH_SLACK_TOKEN", TOKEN)
    ledger = Ledger.from_jsonl(two_weeks.read_bytes().splitlines())
    with fake_slack(TOKEN, rate_limit_first=1) as slack:
        result = CliRunner().invoke(app, [
            "digest", "--events", str(two_weeks), "--at", "2026-11-16T09:00:00",
            "--channel", "search=#search-spend", "--default-channel", "#finops",
            "--budget", "team=search:50", "--slack-base-url", slack.base_url,
        ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output
    assert slack.refused == []
    channels = {m["channel"]: m for m in slack.posted if m["channel"] != "#finops"}
    assert list(channels) == ["#search-spend"]
    assert len(slack.posted) == 5  # one per team, the rate-limited call retried once
    search = channels["#search-spend"]["blocks"]
    assert format_usd(_week_spend(ledger, "search")) in search[2]["text"]["text"]
    assert "budget of $50.00" in search[3]["text"]["text"]


def test_digest_without_a_token_or_channel_is_refused(
    two_weeks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPENDWATCH_SLACK_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["digest", "--events", str(two_weeks)])
    assert result.exit_code == 2
    assert "SPENDWATCH_SLACK_TOKEN is not set" in result.output
    with fake_slack("other-token") as slack:
        monkeypatch.setenv("SPENDWATCH_SLACK_TOKEN", TOKEN)
        result = CliRunner().invoke(app, [
            "digest", "--events", str(two_weeks), "--at", "2026-11-16T09:00:00",
            "--default-channel", "#finops", "--slack-base-url", slack.base_url,
        ])  # fmt: skip
    assert result.exit_code == 2
    assert "invalid_auth" in result.output
    assert TOKEN not in result.output
