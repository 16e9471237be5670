"""What the demo shows: traffic sent, events counted per second, spend per team, alerts.

Traffic comes from ``streams.synthetic`` in real time with one injected incident (a
runaway agent loop on one key) after a warm-up; the figures come from the worker's own
HTTP API, the alerts from the local Slack receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from streams.demo_receivers import DemoReceivers, slack_messages
from streams.producer import UsageProducer
from streams.synthetic import TrafficGenerator
from streams.synthetic_org import Incident, TrafficProfile

INCIDENT_KEY = "key-research-5"
"""The research team's agent on Gemini 2.5 Pro: some $12 a minute at the demo's default
100 calls a second (most of the research team's spend)."""


@dataclass
class DemoStatus:
    """One snapshot for the screen and the summary."""

    started: float = field(default_factory=time.monotonic)
    sent: int = 0
    counted: int = 0
    events_per_s: float = 0.0
    teams: list[tuple[str, str, int]] = field(default_factory=list)
    """(team, cost_usd, calls), most spend first."""
    alerts: list[dict[str, Any]] = field(default_factory=list)
    worker_ok: bool = False
    worker_ready: bool = False
    first_counted_s: float | None = None
    """Seconds from the demo's start to the first event counted by the worker."""
    """Partitions assigned and tables recovered (``/readyz``)."""

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds`` or until ``stop`` is set, whichever comes first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


INCIDENT_FACTOR = 30.0
HISTORY_S = 90 * 60
"""Traffic of the last 90 minutes, sent at start so the detectors have learned what
normal looks like (they stay quiet on a series' first hour)."""


def incident(warmup_s: float) -> Incident:
    """The injected incident: an agent loop; the key calls 30 times its usual rate after
    the warm-up (some $360 a minute instead of $12 at the default rate)."""
    return Incident.runaway_loop(
        INCIDENT_KEY, start_s=HISTORY_S + warmup_s, duration_s=3600, factor=INCIDENT_FACTOR
    )


async def send_traffic(
    bootstrap: str,
    topic: str,
    rate: float,
    warmup_s: float,
    status: DemoStatus,
    stop: asyncio.Event,
    idempotent: bool,
) -> None:
    """Send the last ``HISTORY_S`` of synthetic traffic at once, then traffic in real time
    until ``stop`` is set."""
    # No weekly rhythm: its step at a weekend's edge would be a real 3x jump in the 90
    # minutes of history, and the demo has one incident to show.
    profile = TrafficProfile(calls_per_second=rate, weekend_factor=1.0)
    start = datetime.now(UTC) - timedelta(seconds=HISTORY_S)
    generator = TrafficGenerator(profile, [incident(warmup_s)], start=start)
    async with UsageProducer(bootstrap, topic, idempotent=idempotent) as producer:
        origin = time.monotonic()
        for minute in range(HISTORY_S // 60):
            if stop.is_set():
                break
            await producer.send_many(generator.events_between(minute * 60.0, minute * 60.0 + 60))
            status.sent = producer.sent_events
        done = float(HISTORY_S)
        while not stop.is_set():
            await sleep_or_stop(stop, 0.5)
            upto = HISTORY_S + time.monotonic() - origin
            await producer.send_many(generator.events_between(done, upto))
            done = upto
            status.sent = producer.sent_events
    status.sent = producer.sent_events  # after the final flush


class WorkerWatch:
    """Polls the worker's HTTP API and the local Slack receiver into a ``DemoStatus``."""

    def __init__(self, base_url: str, receivers: DemoReceivers, status: DemoStatus) -> None:
        self.base_url = base_url
        self.receivers = receivers
        self.status = status
        self._last: tuple[float, int] | None = None

    async def refresh(self, http: aiohttp.ClientSession) -> list[dict[str, Any]]:
        """Update the status; returns the alerts that arrived since the last call."""
        status = self.status
        try:
            async with http.get(f"{self.base_url}/v1/progress") as resp:
                counted = int((await resp.json())["events"])
            async with http.get(f"{self.base_url}/v1/top/team?window=all&limit=10") as resp:
                top = (await resp.json())["series"]
            async with http.get(f"{self.base_url}/readyz") as resp:
                status.worker_ready = resp.status == 200
            status.worker_ok = True
        except (aiohttp.ClientError, TimeoutError, KeyError, ValueError):
            status.worker_ok = False
            return []
        now = time.monotonic()
        if self._last is not None and now > self._last[0]:
            status.events_per_s = (counted - self._last[1]) / (now - self._last[0])
        self._last = (now, counted)
        status.counted = counted
        if counted and status.first_counted_s is None:
            status.first_counted_s = round(status.elapsed_s, 1)
        status.teams = [(row["value"], row["cost_usd"], int(row["calls"])) for row in top]
        messages = slack_messages(self.receivers)
        new = messages[len(status.alerts) :]
        status.alerts = list(messages)
        return new
