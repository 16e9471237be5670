"""Alerts through the Kafka outbox to the local Slack and PagerDuty servers: once each,
updated and resolved with the same handles, nothing lost in an outage, nothing paged
twice after a restart or a replay, silences and inhibition honoured across restarts."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerting.config import SilenceConfig
from schemas.findings import Alert, AlertState, Scope, Severity
from streams.cli_alerts import add_silence
from tests.support.notifier_rig import Rig, eventually, settled


def alert(alert_id: str, **overrides: Any) -> Alert:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "alert_id": alert_id,
        "detector": "spike",
        "scope": Scope.parse("team=search"),
        "severity": Severity.CRITICAL,
        "state": AlertState.FIRING,
        "fired_at": now,
        "updated_at": now,
        "measure": "usd_per_minute",
        "observed": 40.0,
        "expected": 4.0,
        "impact_nanos": 36_000_000_000,
        "summary": "spend 10x the usual rate",
        "labels": {"team": "search"},
    }
    fields.update(overrides)
    return Alert(**fields)


async def test_fire_update_resolve_once_each(rig: Rig) -> None:
    firing = alert("spike:team=search")
    async with rig.running() as service:
        await rig.publish(firing, firing)
        await rig.pagerduty.wait_until(lambda: len(rig.pagerduty.events) >= 1)
        await rig.slack.wait_until(lambda: len(rig.slack.messages) >= 1)
        resolved = firing.model_copy(
            update={"state": AlertState.RESOLVED, "version": 2, "resolved_at": datetime.now(UTC)}
        )
        await rig.publish(resolved)
        await rig.pagerduty.wait_until(lambda: len(rig.pagerduty.events) >= 2)
        await rig.slack.wait_until(lambda: any(m.updates for m in rig.slack.posted()))
        await settled(service)
    (message,) = rig.slack.posted()
    assert message.channel == "#search-oncall" and message.updates == 1
    assert message.blocks[0]["text"]["text"].startswith("[RESOLVED]")
    actions = [(e["event_action"], e["dedup_key"]) for e in rig.pagerduty.events]
    assert actions == [("trigger", firing.alert_id), ("resolve", firing.alert_id)]
    assert rig.pagerduty.incidents[firing.alert_id].status == "resolved"


async def outage_loses_nothing(rig: Rig, failures_each: int, stall_s: float) -> None:
    """Both receivers answer 503, then 429 (Retry-After 1 s), then stall past the timeout."""
    for fake in (rig.slack, rig.pagerduty):
        fake.misbehave(failures_each, status=503)
        fake.misbehave(failures_each, status=429, retry_after=1)
        fake.misbehave(1, stall_s=stall_s)
    config = rig.config(timeout_s=max(1.0, stall_s / 2))
    alerts = [alert(f"spike:key-{i}") for i in range(5)]
    async with rig.running(config) as service:
        await rig.publish(*alerts)
        await rig.pagerduty.wait_until(lambda: len(rig.pagerduty.incidents) == 5, timeout_s=600)
        await rig.slack.wait_until(lambda: len(rig.slack.messages) == 5, timeout_s=600)
        await settled(service, timeout_s=600)
    assert rig.slack.misbehaving() == 0 and rig.pagerduty.misbehaving() == 0
    assert sorted(rig.pagerduty.incidents) == sorted(a.alert_id for a in alerts)
    assert all(i.triggers == 1 for i in rig.pagerduty.incidents.values())
    assert len(rig.slack.messages) == 5


async def test_a_receiver_outage_delays_but_loses_nothing_and_pages_once(rig: Rig) -> None:
    await outage_loses_nothing(rig, failures_each=3, stall_s=2)


@pytest.mark.slow
async def test_a_two_minute_outage_loses_nothing_and_pages_once(rig: Rig) -> None:
    """About two minutes: 60 answers of 503, 60 of 429, then a 20 s stall, per receiver."""
    await outage_loses_nothing(rig, failures_each=60, stall_s=20)


async def test_a_restart_or_a_full_replay_never_pages_twice(rig: Rig) -> None:
    first = alert("spike:one")
    async with rig.running() as service:
        await rig.publish(first)
        await settled(service)
    second = alert("spike:two")
    await rig.publish(second)
    async with rig.running() as service:
        await settled(service)
    async with rig.running(group="replay-from-start") as service:
        await settled(service)
        assert sum(last + 1 for last in service.offsets.consumed.values()) == 2  # both replayed
    triggers = [e["dedup_key"] for e in rig.pagerduty.events]
    assert triggers == [first.alert_id, second.alert_id]
    assert len(rig.slack.messages) == 2


async def test_a_silence_added_from_the_command_line_reaches_a_running_notifier(rig: Rig) -> None:
    now = datetime.now(UTC)
    silence = SilenceConfig.model_validate(
        {
            "id": "quiet-ads",
            "matchers": ["team=ads"],
            "starts_at": now - timedelta(minutes=1),
            "ends_at": now + timedelta(hours=1),
            "comment": "load test",
            "created_by": "test",
        }
    )
    async with rig.running() as service:
        await add_silence(rig.bootstrap, rig.topics, silence)
        await eventually(lambda: bool(service.silences.active(datetime.now(UTC))))
        ads = alert("spike:ads", scope=Scope.parse("team=ads"), labels={"team": "ads"})
        search = alert("spike:search")
        await rig.publish(ads, search)
        await settled(service)
    assert [e["dedup_key"] for e in rig.pagerduty.events] == [search.alert_id]
    assert [m.channel for m in rig.slack.posted()] == ["#search-oncall"]


async def test_a_budget_page_mutes_spike_warnings_for_its_team_across_a_restart(
    rig: Rig,
) -> None:
    rule = {
        "source_match": ["detector=budget", "severity=critical"],
        "target_match": ["detector=spike", "severity=warning"],
        "equal": ["team"],
    }
    config = rig.config(inhibit_rules=[rule])
    page = alert("budget:team=search", detector="budget")
    async with rig.running(config) as service:
        await rig.publish(page)
        await settled(service)
    muted = alert("spike:search", severity=Severity.WARNING)
    heard = alert(
        "spike:ads",
        severity=Severity.WARNING,
        scope=Scope.parse("team=ads"),
        labels={"team": "ads"},
    )
    await rig.publish(muted, heard)
    async with rig.running(config) as service:
        await settled(service)
    assert [e["dedup_key"] for e in rig.pagerduty.events] == [page.alert_id]
    assert sorted(m.channel for m in rig.slack.posted()) == ["#search-oncall", "#spend"]
    assert not any("spike:search" in str(m.blocks) for m in rig.slack.posted())


def test_silence_commands_add_list_and_expire(
    kafka_bootstrap: str, names: Callable[[str], str]
) -> None:
    from typer.testing import CliRunner

    from streams.cli import app

    runner = CliRunner()
    common = ["--bootstrap", kafka_bootstrap, "--topic-prefix", names("cli") + "."]
    matchers = ["team=search", "detector=spike"]
    options = ["--duration", "2h", "--comment", "migration", "--created-by", "ana"]
    added = runner.invoke(app, ["silence", "add", *matchers, *options, *common])
    assert added.exit_code == 0, added.output
    silence_id = added.output.strip()
    listed = runner.invoke(app, ["silence", "list", *common])
    (line,) = listed.output.strip().splitlines()
    silence = SilenceConfig.model_validate_json(line)
    assert silence.id == silence_id and silence.created_by == "ana"
    assert [str(m) for m in silence.matchers] == matchers
    expired = runner.invoke(app, ["silence", "expire", silence_id, *common])
    assert expired.exit_code == 0, expired.output
    assert runner.invoke(app, ["silence", "list", *common]).output.strip() == ""
    assert silence_id in runner.invoke(app, ["silence", "list", "--all", *common]).output
    bad = runner.invoke(app, ["silence", "add", "team", *common])
    assert bad.exit_code != 0 and "not a matcher" in bad.output
    unknown = runner.invoke(app, ["silence", "expire", "nope", *common])
    assert unknown.exit_code != 0 and "no silence with id 'nope'" in unknown.output


async def test_the_notifier_command_delivers_and_never_logs_secrets(
    rig: Rig, tmp_path: Path
) -> None:
    config = tmp_path / "alerting.yaml"
    config.write_text(yaml.safe_dump(rig.config().model_dump(mode="json", by_alias=True)))
    log_path = tmp_path / "notifier.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "streams.cli",
            "notifier",
            "--config",
            str(config),
            "--bootstrap",
            rig.bootstrap,
            "--topic-prefix",
            rig.topics.prefix,
            "--group-id",
            rig.names("cli-notifier"),
            "--loglevel",
            "debug",
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            page = alert("spike:cli")
            await rig.publish(page)
            await rig.pagerduty.wait_until(lambda: len(rig.pagerduty.events) == 1, 60)
            await rig.slack.wait_until(lambda: len(rig.slack.messages) == 1, 60)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 60)
    text = log_path.read_text()
    assert code == 0, text
    assert rig.pagerduty.events[0]["dedup_key"] == page.alert_id
    assert rig.slack.token not in text
    assert rig.pagerduty.routing_key not in text


async def test_two_notifiers_share_the_outbox_and_the_send_record(rig: Rig) -> None:
    alerts = [alert(f"spike:k{i}") for i in range(6)]
    async with rig.running() as first:
        async with rig.running() as second:
            await eventually(lambda: len(first.assigned) == 1 and len(second.assigned) == 1)
            await rig.publish(*alerts)
            await rig.pagerduty.wait_until(lambda: len(rig.pagerduty.incidents) == 6)
            await rig.slack.wait_until(lambda: len(rig.slack.messages) == 6)
            await settled(first)
            await settled(second)
        # the second is gone: the first takes every partition and resolves what both sent
        await eventually(lambda: len(first.assigned) == 2)
        resolved = [
            a.model_copy(update={"state": AlertState.RESOLVED, "version": 2}) for a in alerts
        ]
        await rig.publish(*resolved)
        await rig.pagerduty.wait_until(
            lambda: all(i.status == "resolved" for i in rig.pagerduty.incidents.values())
        )
        await rig.slack.wait_until(lambda: all(m.updates == 1 for m in rig.slack.posted()))
    assert len(rig.pagerduty.events) == 12  # six triggers, six resolves, none repeated
    assert all(i.triggers == 1 for i in rig.pagerduty.incidents.values())
    assert len(rig.slack.messages) == 6
