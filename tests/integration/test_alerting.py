"""Alerts through the Kafka outbox to the local Slack and PagerDuty servers: once each,
updated and resolved with the same handles, nothing lost in an outage, nothing paged
twice after a restart or a replay, silences from the command line honoured live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerting.config import AlertingConfig, SilenceConfig
from alerting.retry_stage import Backoff
from schemas.findings import Alert, AlertState, Scope, Severity
from streams.alert_topics import AlertTopics, new_producer, publish_alerts
from streams.cli_alerts import add_silence
from streams.local_receivers import FakePagerDuty, FakeSlack
from streams.notifier import NotifierService

FAST = Backoff(first=0.2, factor=2, cap=1.0)


def routing(slack: FakeSlack, pagerduty: FakePagerDuty, timeout_s: float = 5) -> AlertingConfig:
    return AlertingConfig.model_validate(
        {
            "routes": {
                "receiver": "slack",
                "group_by": ["team"],
                "group_wait": "0s",
                "group_interval": "0s",
                "routes": [
                    {
                        "matchers": ["severity=~critical|error"],
                        "receiver": "pager",
                        "continue": True,
                    },
                    {"matchers": [], "receiver": "slack"},
                ],
            },
            "receivers": [
                {
                    "name": "slack",
                    "slack": {
                        "token": "${TEST_SLACK_TOKEN}",
                        "api_url": slack.api_url,
                        "channel": "#spend",
                        "team_channels": {"search": "#search-oncall"},
                        "min_interval_s": 0,
                        "timeout_s": timeout_s,
                    },
                },
                {
                    "name": "pager",
                    "pagerduty": {
                        "routing_key": "${TEST_PD_KEY}",
                        "url": pagerduty.events_url,
                        "timeout_s": timeout_s,
                    },
                },
            ],
        }
    )


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


@pytest.fixture
def secrets(
    monkeypatch: pytest.MonkeyPatch, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty
) -> None:
    monkeypatch.setenv("TEST_SLACK_TOKEN", fake_slack.token)
    monkeypatch.setenv("TEST_PD_KEY", fake_pagerduty.routing_key)


@pytest.fixture
def topics(names: Callable[[str], str]) -> AlertTopics:
    return AlertTopics(prefix=names("alerts") + ".", outbox_partitions=2)


@asynccontextmanager
async def running(
    bootstrap: str, config: AlertingConfig, topics: AlertTopics, group: str
) -> AsyncIterator[NotifierService]:
    service = NotifierService(bootstrap, config, topics, group_id=group, backoff=FAST)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    ready = asyncio.create_task(service.ready.wait())
    await asyncio.wait([task, ready], timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    assert service.ready.is_set(), "notifier did not start"
    try:
        yield service
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def publish(bootstrap: str, topics: AlertTopics, *alerts: Alert) -> None:
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        await publish_alerts(producer, topics, alerts)
    finally:
        await producer.stop()


async def eventually(condition: Callable[[], bool], timeout_s: float = 30) -> None:
    """Return once ``condition()`` holds; TimeoutError if it never does."""
    async with asyncio.timeout(timeout_s):
        while True:
            if condition():
                return
            await asyncio.sleep(0.1)


async def settled(service: NotifierService, timeout_s: float = 30) -> None:
    """Every consumed outbox offset has been committed (all deliveries done)."""
    offsets = service.offsets
    await eventually(
        lambda: (
            bool(offsets.consumed)
            and not offsets.committable()
            and not any(offsets.pending.values())
        ),
        timeout_s,
    )


@pytest.mark.usefixtures("secrets")
async def test_fire_update_resolve_once_each(
    kafka_bootstrap: str,
    topics: AlertTopics,
    names: Callable[[str], str],
    fake_slack: FakeSlack,
    fake_pagerduty: FakePagerDuty,
) -> None:
    config = routing(fake_slack, fake_pagerduty)
    firing = alert("spike:team=search")
    async with running(kafka_bootstrap, config, topics, names("g")) as service:
        await publish(kafka_bootstrap, topics, firing, firing)
        await fake_pagerduty.wait_until(lambda: len(fake_pagerduty.events) >= 1)
        await fake_slack.wait_until(lambda: len(fake_slack.messages) >= 1)
        resolved = firing.model_copy(
            update={"state": AlertState.RESOLVED, "version": 2, "resolved_at": datetime.now(UTC)}
        )
        await publish(kafka_bootstrap, topics, resolved)
        await fake_pagerduty.wait_until(lambda: len(fake_pagerduty.events) >= 2)
        await fake_slack.wait_until(lambda: any(m.updates for m in fake_slack.posted()))
        await settled(service)
    (message,) = fake_slack.posted()
    assert message.channel == "#search-oncall" and message.updates == 1
    assert message.blocks[0]["text"]["text"].startswith("[RESOLVED]")
    actions = [(e["event_action"], e["dedup_key"]) for e in fake_pagerduty.events]
    assert actions == [("trigger", firing.alert_id), ("resolve", firing.alert_id)]
    assert fake_pagerduty.incidents[firing.alert_id].status == "resolved"


async def outage_loses_nothing(
    kafka_bootstrap: str,
    topics: AlertTopics,
    group: str,
    slack: FakeSlack,
    pagerduty: FakePagerDuty,
    failures_each: int,
    stall_s: float,
) -> None:
    for fake in (slack, pagerduty):
        fake.misbehave(failures_each, status=503)
        fake.misbehave(failures_each, status=429, retry_after=1)
        fake.misbehave(1, stall_s=stall_s)
    config = routing(slack, pagerduty, timeout_s=max(1.0, stall_s / 2))
    alerts = [alert(f"spike:key-{i}", labels={"team": "search"}) for i in range(5)]
    async with running(kafka_bootstrap, config, topics, group) as service:
        await publish(kafka_bootstrap, topics, *alerts)
        await pagerduty.wait_until(lambda: len(pagerduty.incidents) == 5, timeout_s=600)
        await slack.wait_until(lambda: len(slack.messages) == 5, timeout_s=600)
        await settled(service, timeout_s=600)
    assert slack.misbehaving() == 0 and pagerduty.misbehaving() == 0
    assert sorted(pagerduty.incidents) == sorted(a.alert_id for a in alerts)
    assert all(i.triggers == 1 for i in pagerduty.incidents.values())
    assert len(slack.messages) == 5


@pytest.mark.usefixtures("secrets")
async def test_a_receiver_outage_delays_but_loses_nothing_and_pages_once(
    kafka_bootstrap: str,
    topics: AlertTopics,
    names: Callable[[str], str],
    fake_slack: FakeSlack,
    fake_pagerduty: FakePagerDuty,
) -> None:
    await outage_loses_nothing(
        kafka_bootstrap, topics, names("g"), fake_slack, fake_pagerduty, 3, stall_s=2
    )


@pytest.mark.slow
@pytest.mark.usefixtures("secrets")
async def test_a_two_minute_outage_loses_nothing_and_pages_once(
    kafka_bootstrap: str,
    topics: AlertTopics,
    names: Callable[[str], str],
    fake_slack: FakeSlack,
    fake_pagerduty: FakePagerDuty,
) -> None:
    """About two minutes: 5xx then 429 (Retry-After 1 s) answers, then a 20 s stall."""
    await outage_loses_nothing(
        kafka_bootstrap, topics, names("g"), fake_slack, fake_pagerduty, 60, stall_s=20
    )


@pytest.mark.usefixtures("secrets")
async def test_a_restart_or_a_full_replay_never_pages_twice(
    kafka_bootstrap: str,
    topics: AlertTopics,
    names: Callable[[str], str],
    fake_slack: FakeSlack,
    fake_pagerduty: FakePagerDuty,
) -> None:
    config = routing(fake_slack, fake_pagerduty)
    group = names("g")
    first = alert("spike:one")
    async with running(kafka_bootstrap, config, topics, group) as service:
        await publish(kafka_bootstrap, topics, first)
        await settled(service)
    second = alert("spike:two")
    await publish(kafka_bootstrap, topics, second)
    async with running(kafka_bootstrap, config, topics, group) as service:
        await settled(service)
    async with running(kafka_bootstrap, config, topics, names("replay")) as service:
        await settled(service)
        assert service.offsets.consumed
    triggers = [e["dedup_key"] for e in fake_pagerduty.events]
    assert triggers == [first.alert_id, second.alert_id]
    assert len(fake_slack.messages) == 2


@pytest.mark.usefixtures("secrets")
async def test_a_silence_added_from_the_command_line_reaches_a_running_notifier(
    kafka_bootstrap: str,
    topics: AlertTopics,
    names: Callable[[str], str],
    fake_slack: FakeSlack,
    fake_pagerduty: FakePagerDuty,
) -> None:
    config = routing(fake_slack, fake_pagerduty)
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
    async with running(kafka_bootstrap, config, topics, names("g")) as service:
        await add_silence(kafka_bootstrap, topics, silence)
        await eventually(lambda: bool(service.silences.active(datetime.now(UTC))))
        ads = alert("spike:ads", scope=Scope.parse("team=ads"), labels={"team": "ads"})
        search = alert("spike:search")
        await publish(kafka_bootstrap, topics, ads, search)
        await fake_pagerduty.wait_until(lambda: len(fake_pagerduty.events) >= 1)
        await settled(service)
    assert [e["dedup_key"] for e in fake_pagerduty.events] == [search.alert_id]
    assert [m.channel for m in fake_slack.posted()] == ["#search-oncall"]
