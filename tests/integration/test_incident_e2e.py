"""An incident end to end on Apache Kafka: usage events through the worker's detectors,
the alert outbox and the notifier, to Slack and PagerDuty, then resolved when it is over."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from schemas.findings import Alert, AlertState
from streams.alert_topics import AlertTopics, read_to_end
from streams.notifier import NotifierService
from tests.support.kafka_io import produce
from tests.support.notifier_rig import Rig
from tests.support.traffic import minute_of_calls
from tests.support.worker_process import WorkerProcess

RUNAWAY = "api_key_id=runaway"
PAGE_WITHIN_S = 180
BEFORE, SPIKE, AFTER = 110, 6, 40
"""Minutes of steady history, of the runaway loop, and of steady traffic after it."""


def _traffic(
    make_event: Callable[..., dict[str, Any]], start: datetime, minutes: range
) -> list[tuple[bytes, bytes]]:
    """Two keys at 6 calls a minute; ``runaway`` jumps to 150 pricier calls a minute."""
    messages: list[tuple[bytes, bytes]] = []
    for minute in minutes:
        at = start + timedelta(minutes=minute)
        spiking = BEFORE <= minute < BEFORE + SPIKE
        for key in ("steady", "runaway"):
            calls, usd = (150, "0.05") if spiking and key == "runaway" else (6, "0.01")
            batch = minute_of_calls(make_event, key, at, calls, usd)
            messages.append((key.encode(), orjson.dumps(batch)))
    return messages


async def outbox_alerts(bootstrap: str, topics: AlertTopics) -> dict[str, Alert]:
    """The latest version of every alert the worker raised."""
    latest: dict[str, Alert] = {}
    for record in await read_to_end(bootstrap, topics.outbox):
        alert = Alert.model_validate_json(record.value)
        if alert.version >= latest.get(alert.alert_id, alert).version:
            latest[alert.alert_id] = alert
    return latest


def receivers_heard_the_end(rig: Rig) -> bool:
    """Every page PagerDuty got is resolved, and every Slack message is marked resolved."""
    events = rig.pagerduty.events
    triggered = {e["dedup_key"] for e in events if e["event_action"] == "trigger"}
    resolved = {e["dedup_key"] for e in events if e["event_action"] == "resolve"}
    posted = rig.slack.posted()
    return triggered <= resolved and all("[RESOLVED]" in str(m.blocks[0]) for m in posted)


async def all_resolved_and_delivered(rig: Rig, service: NotifierService) -> dict[str, Alert]:
    """Wait until every alert the worker raised has resolved, the notifier has dealt with
    all of it (every consumed outbox offset committed) and the receivers heard the end of
    what they heard firing (an incident's page resolves a ``group_wait`` after its last
    alert); returns those alerts."""
    offsets = service.offsets
    async with asyncio.timeout(240):
        while True:
            raised = await outbox_alerts(rig.bootstrap, rig.topics)
            done = not offsets.committable() and not any(offsets.pending.values())
            over = all(a.state is AlertState.RESOLVED for a in raised.values())
            if raised and done and over and receivers_heard_the_end(rig):
                return raised
            await asyncio.sleep(1)


async def wait_for_page(
    rig: Rig,
    worker: WorkerProcess,
    service: NotifierService,
    condition: Callable[[], bool],
    series: str,
) -> None:
    """Until PagerDuty got a page meeting ``condition``; on a timeout, fail with what the
    worker counted and raised, what the notifier took, and the worker's log."""
    try:
        await rig.pagerduty.wait_until(condition, PAGE_WITHIN_S)
    except TimeoutError:
        raised = await outbox_alerts(rig.bootstrap, rig.topics)
        states = sorted(
            f"{a.scope.name} {a.state.value} v{a.version} {a.severity.value} {a.summary}"
            for a in raised.values()
        )
        counted = {s: worker.get(f"/v1/series/{s}?window=all") for s in (series, "org=all")}
        pytest.fail(
            f"no page within {PAGE_WITHIN_S}s; outbox: {states}; counted: {counted}; "
            f"notifier pending {service.offsets.pending}, "
            f"committable {service.offsets.committable()}; pagerduty got "
            f"{len(rig.pagerduty.events)}, slack {len(rig.slack.posted())}\n"
            f"{worker.log_tail(40)}"
        )


async def test_a_runaway_key_pages_once_in_total_and_resolves_in_slack_and_pagerduty(
    rig: Rig,
    spawn_worker: Callable[..., WorkerProcess],
    make_event: Callable[..., dict[str, Any]],
) -> None:
    """The runaway key raises alerts on its app, team, the organisation, its model ...
    (spikes and unit-cost drift); on-call gets one page and one Slack message in total,
    naming the other series, and both are resolved when it is over."""
    kafka_bootstrap, names = rig.bootstrap, rig.names
    fake_slack, fake_pagerduty = rig.slack, rig.pagerduty
    prefix = names("sw") + "."
    worker = spawn_worker(app_id=names("app"), topic_prefix=prefix, partitions=2)
    rig = replace(rig, topics=AlertTopics(prefix))  # the worker's outbox
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(
        minutes=BEFORE + SPIKE + AFTER
    )
    async with rig.running(rig.config(group_wait="10s")) as service:
        # The incident, while it lasts: on-call hears of it ...
        first_part = _traffic(make_event, start, range(BEFORE + SPIKE + 2))
        await produce(kafka_bootstrap, prefix + "usage", first_part)
        await wait_for_page(
            rig,
            worker,
            service,
            lambda: any(RUNAWAY in str(e.get("payload")) for e in fake_pagerduty.events),
            RUNAWAY,
        )
        # ... and again when it is over.
        rest = range(BEFORE + SPIKE + 2, BEFORE + SPIKE + AFTER)
        await produce(kafka_bootstrap, prefix + "usage", _traffic(make_event, start, rest))
        raised = await all_resolved_and_delivered(rig, service)
    raised_on = {a.scope.name for a in raised.values()}
    assert len(raised) >= 4 and {RUNAWAY, "team=agents", "org=all"} <= raised_on
    paged = [
        (e["event_action"], e["dedup_key"], e.get("payload", {}).get("summary"))
        for e in fake_pagerduty.events
    ]
    behind = {  # what the worker raised, to tell the alerts behind the pages apart
        a.alert_id: (a.detector, a.scope.name, f"v{a.version}", str(a.fired_at), str(a.resolved_at))
        for a in raised.values()
    }
    pages = {e["dedup_key"] for e in fake_pagerduty.events}
    assert len(pages) == 1, f"{paged}\n{behind}"  # one page in total ...
    (incident,) = pages
    actions = [e["event_action"] for e in fake_pagerduty.events]
    assert actions[0] == "trigger" and actions[-1] == "resolve"
    assert actions.count("resolve") == 1
    trigger = next(e for e in fake_pagerduty.events if e["event_action"] == "trigger")
    details = trigger["payload"]["custom_details"]
    assert details["scope"] == RUNAWAY and trigger["payload"]["component"] == "spend_spike"
    assert raised[incident].scope.name == RUNAWAY
    assert details["labels"]["team"] == "agents"  # routed and inhibited by its team
    assert any(c["series"] == "app=app-runaway" for c in details["top_contributors"])
    last = [e for e in fake_pagerduty.events if e["event_action"] == "trigger"][-1]
    also = last["payload"]["custom_details"]["labels"]["also_raised_on"]
    assert "team=agents" in also and "org=all" in also  # ... naming the other series
    posted = fake_slack.posted()  # and one Slack message, updated on resolve
    assert len(posted) == 1, [(m.channel, m.text, m.updates) for m in posted]
    (message,) = posted
    assert f"spend_spike on {RUNAWAY}" in str(message.blocks[0])
    assert message.channel == "#spend" and message.updates >= 1
    assert str(message.blocks[0]).count("[RESOLVED]") == 1
    chat = [r.json() for r in fake_slack.received if r.path.startswith("/api/chat.")]
    assert any("also raised on" in str(body["blocks"]) for body in chat)


KEYS = [f"search-{i}" for i in range(10)]


def _team_traffic(
    make_event: Callable[..., dict[str, Any]], start: datetime, minutes: range
) -> list[tuple[bytes, bytes]]:
    """Ten keys of team ``search`` (each its own app) at 6 calls a minute, all eleven times
    that during the spike (under $25 above normal per key, which does not page, over it
    for the team); and one ``ads`` key, steady throughout."""
    messages: list[tuple[bytes, bytes]] = []
    for minute in minutes:
        at = start + timedelta(minutes=minute)
        spiking = BEFORE <= minute < BEFORE + SPIKE
        for key, team in [*((k, "search") for k in KEYS), ("ads-0", "ads")]:
            calls = 66 if spiking and team == "search" else 6
            batch = [
                make_event(
                    api_key_id=key,
                    team=team,
                    app=f"app-{key}",
                    timestamp=(at + timedelta(seconds=i * 60 // calls)).isoformat(),
                    cost_usd="0.01",
                )
                for i in range(calls)
            ]
            messages.append((key.encode(), orjson.dumps(batch)))
    return messages


async def test_a_team_wide_spike_spread_over_ten_keys_pages_once_on_the_team(
    rig: Rig,
    spawn_worker: Callable[..., WorkerProcess],
    make_event: Callable[..., dict[str, Any]],
) -> None:
    """No key dominates, so nothing explains the team's alert: it pages, once, and names
    the organisation and the model it raised on too."""
    prefix = rig.names("sw") + "."
    worker = spawn_worker(app_id=rig.names("app"), topic_prefix=prefix, partitions=2)
    rig = replace(rig, topics=AlertTopics(prefix))
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(
        minutes=BEFORE + SPIKE + AFTER
    )
    async with rig.running(rig.config(group_wait="10s")) as service:
        await produce(
            rig.bootstrap,
            prefix + "usage",
            _team_traffic(make_event, start, range(BEFORE + SPIKE + 2)),
        )
        await wait_for_page(rig, worker, service, lambda: bool(rig.pagerduty.events), "team=search")
        rest = range(BEFORE + SPIKE + 2, BEFORE + SPIKE + AFTER)
        await produce(rig.bootstrap, prefix + "usage", _team_traffic(make_event, start, rest))
        raised = await all_resolved_and_delivered(rig, service)
    assert {"team=search", "org=all"} <= {a.scope.name for a in raised.values()}
    (incident,) = {e["dedup_key"] for e in rig.pagerduty.events}
    assert raised[incident].scope.name == "team=search"
    actions = [e["event_action"] for e in rig.pagerduty.events]
    assert actions[0] == "trigger" and actions[-1] == "resolve"
    (message,) = rig.slack.posted()
    assert message.channel == "#search-oncall" and message.updates >= 1
    assert "spend_spike on team=search" in str(message.blocks[0])
    chat = [r.json() for r in rig.slack.received if r.path.startswith("/api/chat.")]
    assert any(
        "also raised on" in str(body["blocks"]) and "org=all" in str(body["blocks"])
        for body in chat
    )
    keys = {a.scope.name for a in raised.values() if a.scope.dimension == "api_key_id"}
    assert len(raised) > 10 and keys <= {f"api_key_id={k}" for k in KEYS}
