"""A notifier test rig: a broker, alert topics, the local Slack and PagerDuty servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from alerting.config import AlertingConfig
from alerting.retry_stage import Backoff
from schemas.findings import Alert
from streams.alert_topics import AlertTopics, new_producer, publish_alerts
from streams.local_receivers import FakePagerDuty, FakeSlack
from streams.notifier import NotifierService

FAST = Backoff(first=0.2, factor=2, cap=1.0)


@dataclass
class Rig:
    """A broker, this test's topics and the two local receivers."""

    bootstrap: str
    topics: AlertTopics
    names: Callable[[str], str]
    slack: FakeSlack
    pagerduty: FakePagerDuty

    def config(
        self, timeout_s: float = 5, group_wait: str = "0s", **sections: Any
    ) -> AlertingConfig:
        """Pages (critical, error) to PagerDuty and everything to Slack, per-team channel."""
        slack = {
            "token": "${TEST_SLACK_TOKEN}",
            "api_url": self.slack.api_url,
            "channel": "#spend",
            "team_channels": {"search": "#search-oncall"},
            "min_interval_s": 0,
            "timeout_s": timeout_s,
        }
        pagerduty = {
            "routing_key": "${TEST_PD_KEY}",
            "url": self.pagerduty.events_url,
            "timeout_s": timeout_s,
        }
        routes = {
            "receiver": "slack",
            "group_by": ["team"],
            "group_wait": group_wait,
            "group_interval": "0s",
            "routes": [
                {"matchers": ["severity=~critical|error"], "receiver": "pager", "continue": True},
                {"receiver": "slack"},
            ],
        }
        receivers = [{"name": "slack", "slack": slack}, {"name": "pager", "pagerduty": pagerduty}]
        return AlertingConfig.model_validate({"routes": routes, "receivers": receivers, **sections})

    @asynccontextmanager
    async def running(
        self, config: AlertingConfig | None = None, group: str = "g"
    ) -> AsyncIterator[NotifierService]:
        service = NotifierService(
            self.bootstrap, config or self.config(), self.topics, self.names(group), backoff=FAST
        )
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

    async def publish(self, *alerts: Alert) -> None:
        producer = new_producer(self.bootstrap)
        await producer.start()
        try:
            await publish_alerts(producer, self.topics, alerts)
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
