"""An incident end to end on Apache Kafka: usage events through the worker's detectors,
the alert outbox and the notifier, to Slack and PagerDuty, then resolved when it is over."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from streams.alert_topics import AlertTopics
from tests.support.kafka_io import produce
from tests.support.notifier_rig import Rig
from tests.support.traffic import minute_of_calls
from tests.support.worker_process import WorkerProcess

RUNAWAY = "api_key_id=runaway"
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


async def test_a_runaway_key_pages_once_and_resolves_in_slack_and_pagerduty(
    rig: Rig,
    spawn_worker: Callable[..., WorkerProcess],
    make_event: Callable[..., dict[str, Any]],
) -> None:
    kafka_bootstrap, names = rig.bootstrap, rig.names
    fake_slack, fake_pagerduty = rig.slack, rig.pagerduty
    prefix = names("sw") + "."
    spawn_worker(app_id=names("app"), topic_prefix=prefix, partitions=2)
    rig = replace(rig, topics=AlertTopics(prefix))  # the worker's outbox
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(
        minutes=BEFORE + SPIKE + AFTER
    )
    async with rig.running():
        # The incident, while it lasts: on-call hears of it ...
        first_part = _traffic(make_event, start, range(BEFORE + SPIKE + 2))
        await produce(kafka_bootstrap, prefix + "usage", first_part)
        await fake_pagerduty.wait_until(
            lambda: any(RUNAWAY in str(e.get("payload")) for e in fake_pagerduty.events), 120
        )
        # ... and again when it is over.
        rest = range(BEFORE + SPIKE + 2, BEFORE + SPIKE + AFTER)
        await produce(kafka_bootstrap, prefix + "usage", _traffic(make_event, start, rest))

        def key_pages() -> list[dict[str, Any]]:
            """PagerDuty events of the runaway key's own alerts (trigger and resolve)."""
            keys = {
                e["dedup_key"]
                for e in fake_pagerduty.events
                if e.get("payload", {}).get("custom_details", {}).get("scope") == RUNAWAY
            }
            return [e for e in fake_pagerduty.events if e["dedup_key"] in keys]

        def all_resolved() -> bool:
            pages = key_pages()
            opened = {e["dedup_key"] for e in pages if e["event_action"] == "trigger"}
            closed = {e["dedup_key"] for e in pages if e["event_action"] == "resolve"}
            return bool(opened) and opened == closed

        await fake_pagerduty.wait_until(all_resolved, 180)
        await fake_slack.wait_until(
            lambda: any(RUNAWAY in str(m.blocks[0]) and m.updates for m in fake_slack.posted()),
            60,
        )
    pages = key_pages()
    triggers = [e for e in pages if e["event_action"] == "trigger"]
    resolves = [e for e in pages if e["event_action"] == "resolve"]
    spike = {e["dedup_key"] for e in triggers if e["payload"]["component"] == "spend_spike"}
    assert len(spike) == 1  # the runaway loop is one incident, paged once ...
    (spike_key,) = spike
    assert [e["event_action"] for e in pages if e["dedup_key"] == spike_key][-1] == "resolve"
    assert {e["dedup_key"] for e in resolves} == {e["dedup_key"] for e in triggers}
    details = triggers[0]["payload"]["custom_details"]
    assert details["labels"]["team"] == "agents"  # routed and inhibited by its team
    assert any(c["series"] == "app=app-runaway" for c in details["top_contributors"])
    (message,) = [m for m in fake_slack.posted() if f"spend_spike on {RUNAWAY}" in str(m.blocks)]
    assert message.channel == "#spend" and message.updates >= 1
    assert str(message.blocks[0]).count("[RESOLVED]") == 1
    steady = [e for e in fake_pagerduty.events if "api_key_id=steady" in str(e.get("payload"))]
    assert not [e for e in steady if e["payload"]["component"] == "spend_spike"]
