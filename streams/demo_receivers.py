"""The demo's local Slack and PagerDuty receivers and its notifier, and the one check of
its outcome.

The fake Slack, PagerDuty and webhook servers (real HTTP, their real protocols) come from
``streams.local_receivers``; the notifier is the real ``NotifierService`` reading the
worker's alert outbox, routed by ``local_alerting_config`` (every alert to the local
Slack, pages to the local PagerDuty). Both run on an event loop in a background thread
of the demo process, and stop with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOCAL_RECEIVERS_MODULE = "streams.local_receivers"


@dataclass
class DemoReceivers:
    """Where the local receivers listen (None: not running) and how to stop them."""

    slack_api_url: str | None = None
    pagerduty_url: str | None = None
    handles: list[Any] = field(default_factory=list)
    slack: Any = None
    """The running ``FakeSlack`` (read from the demo's thread: lists are copied)."""

    @property
    def running(self) -> bool:
        return self.slack_api_url is not None

    def describe(self) -> str:
        if not self.running:
            return f"not in this build ({LOCAL_RECEIVERS_MODULE} is missing): no alert can arrive"
        return f"Slack {self.slack_api_url}, PagerDuty {self.pagerduty_url}"

    def stop(self) -> None:
        for handle in reversed(self.handles):
            handle.stop()
        self.handles.clear()


def receivers_available() -> bool:
    return importlib.util.find_spec(LOCAL_RECEIVERS_MODULE) is not None


class _ReceiverThread:
    """An event loop in a thread serving the local receivers and running the notifier."""

    def __init__(self, bootstrap: str, topic_prefix: str, run_dir: Path, idempotent: bool) -> None:
        self.args = (bootstrap, topic_prefix, run_dir)
        self.idempotent = idempotent
        self.ready = threading.Event()
        self.failed: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, name="demo-receivers", daemon=True)
        self.receivers = DemoReceivers(handles=[self])

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self.failed = exc
            self.ready.set()

    async def _serve(self) -> None:
        from alerting.config import AlertingConfig
        from streams.alert_topics import AlertTopics
        from streams.local_receivers import FakePagerDuty, FakeSlack, FakeWebhook
        from streams.local_receivers_demo import local_alerting_config
        from streams.notifier import NotifierService

        bootstrap, prefix, run_dir = self.args
        self.loop, self.stopping = asyncio.get_running_loop(), asyncio.Event()
        slack, pagerduty, hook = FakeSlack(), FakePagerDuty(), FakeWebhook()
        for server in (slack, pagerduty, hook):
            await server.start()
        raw = local_alerting_config(slack, pagerduty, hook, run_dir / "receiver-secrets")
        service = NotifierService(
            bootstrap,
            AlertingConfig.model_validate(raw),
            AlertTopics(prefix),
            prefix + "notifier",
            idempotent=self.idempotent,
        )
        notifier = asyncio.create_task(service.run(self.stopping))
        self.receivers.slack_api_url, self.receivers.slack = slack.api_url, slack
        self.receivers.pagerduty_url = pagerduty.events_url
        self.ready.set()
        try:
            await self.stopping.wait()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(notifier, 20)
            for server in (slack, pagerduty, hook):
                await server.stop()

    def stop(self) -> None:
        if self.loop is not None and self.stopping is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(30)


def start_receivers(
    bootstrap: str, topic_prefix: str, run_dir: Path, idempotent: bool = True
) -> DemoReceivers:
    """Start the local Slack, PagerDuty and webhook servers on free ports, and a notifier
    delivering the worker's alerts (``topic_prefix``) to them."""
    runner = _ReceiverThread(bootstrap, topic_prefix, run_dir, idempotent)
    runner.thread.start()
    runner.ready.wait(60)
    if runner.failed is not None:
        raise RuntimeError(f"local receivers did not start: {runner.failed}")
    return runner.receivers


def slack_messages(receivers: DemoReceivers) -> list[dict[str, Any]]:
    """Every message the local Slack receiver accepted so far (``channel``, ``text``, ...)."""
    if receivers.slack is None:
        return []
    return [
        {"channel": m.channel, "text": m.text, "blocks": m.blocks, "updates": m.updates}
        for m in list(receivers.slack.posted())
    ]


def alert_arrived(receivers: DemoReceivers, incident_key: str) -> bool:
    """The demo's verdict: did an alert naming the injected incident's key (as its series
    or among its top contributors) reach the local Slack receiver?"""
    return any(
        incident_key in message["text"] or incident_key in str(message["blocks"])
        for message in slack_messages(receivers)
    )
