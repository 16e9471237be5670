"""End-to-end detection latency: a 10x spike's first event to the alert in Slack.

``spendwatch bench latency`` runs, on one broker, a ``spendwatch worker`` (with its
detectors), a notifier in this process routing every alert to a local Slack server (the
real slack-sdk client, ``group_wait`` 0), and live traffic at a steady rate: every key
calls about once every three seconds, with an hour and a half of history backfilled so
the detectors are warm. Each run then multiplies one fresh key's rate by 10 and times,
on the wall clock, from the first event of the spike to the moment the local Slack
server receives the alert naming that key. The last stdout line is one JSON object.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from alerting.config import AlertingConfig
from bench.throughput.config import BenchError
from bench.throughput.processes import SPENDWATCH_WORKER, local_broker, worker_process
from streams.alert_topics import AlertTopics
from streams.local_receivers import FakeSlack
from streams.notifier import NotifierService

CALLS_PER_MINUTE = 20
USD_PER_CALL = "0.05"
HISTORY_MINUTES = 90
SPIKE = 10
BACKGROUND_KEYS = 8
TOKEN_ENV = "SPENDWATCH_BENCH_SLACK_TOKEN"


@dataclass(frozen=True)
class LatencyConfig:
    runs: int = 8
    bootstrap: str | None = None
    settle_s: float = 10.0
    """Steady traffic before each spike (then it waits for its second of the minute)."""
    timeout_s: float = 180.0
    """A run that sees no alert by then fails the benchmark."""


@dataclass
class _Traffic:
    keys: list[str]
    spiking: set[str] = field(default_factory=set)
    spike_sent: dict[str, float] = field(default_factory=dict)
    """Monotonic time each spike's first events were handed to the producer."""
    owed: dict[str, float] = field(default_factory=dict)
    """Per key, the fraction of a call its rate has accrued and not yet sent."""

    def events(self, at: datetime, seconds: float) -> dict[str, list[dict[str, Any]]]:
        """Each key's calls in ``seconds`` from ``at``, spread evenly; a key whose rate
        gives a fraction of a call in that time carries it to the next, so a key at 20
        calls a minute makes one every three seconds of live traffic."""
        out: dict[str, list[dict[str, Any]]] = {}
        for key in self.keys:
            spiking = key in self.spiking
            rate = CALLS_PER_MINUTE * (SPIKE if spiking else 1) / 60
            due = self.owed.get(key, 0.0) + rate * seconds
            count = int(due)
            self.owed[key] = due - count
            step = seconds / count if count else 0.0
            out[key] = [_event(key, at + timedelta(seconds=i * step)) for i in range(count)]
            if spiking and key not in self.spike_sent:
                self.spike_sent[key] = time.monotonic()
        return out


def _event(key: str, at: datetime) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "timestamp": at.isoformat(),
        "provider": "openai",
        "model": "gpt-4o",
        "api_key_id": key,
        "team": "bench",
        "app": f"app-{key}",
        "input_tokens": 1000,
        "output_tokens": 200,
        "cost_usd": USD_PER_CALL,
    }


def _routing(slack: FakeSlack) -> AlertingConfig:
    """Every alert to Slack at once. Correlation is off: with no group wait it could only
    let the key's app alert, if that arrives first, stand for the key's own message."""
    return AlertingConfig.model_validate(
        {
            "routes": {"receiver": "slack", "group_wait": "0s", "group_interval": "0s"},
            "correlation": {"enabled": False},
            "receivers": [
                {
                    "name": "slack",
                    "slack": {
                        "token": f"${{{TOKEN_ENV}}}",
                        "api_url": slack.api_url,
                        "channel": "#spend",
                        "min_interval_s": 0,
                    },
                }
            ],
        }
    )


def _posted(slack: FakeSlack, header: str) -> Callable[[], bool]:
    return lambda: _alert_text(slack, header) is not None


def _alert_text(slack: FakeSlack, header: str) -> str | None:
    """The text of the first Slack message whose title names ``header``."""
    return next((m.text for m in slack.posted() if header in str(m.blocks[:1])), None)


async def _send(producer: AIOKafkaProducer, topic: str, batches: dict[str, list[Any]]) -> None:
    for key, events in batches.items():
        if events:
            await producer.send(topic, key=key.encode(), value=orjson.dumps(events))


async def _live(
    producer: AIOKafkaProducer, topic: str, traffic: _Traffic, stop: asyncio.Event
) -> None:
    """One message per key per second of wall clock, stamped with the wall clock."""
    while not stop.is_set():
        tick = datetime.now(UTC)
        await _send(producer, topic, traffic.events(tick, 1.0))
        await producer.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0 - (datetime.now(UTC) - tick).total_seconds())


async def _until_second(second: float) -> None:
    """Sleep until the wall clock is ``second`` into a minute: the runs' spikes begin
    spread evenly over the minute, as real ones do (how long a spike takes to show
    depends on how much of its first minute is left)."""
    now = datetime.now(UTC)
    into = now.second + now.microsecond / 1e6
    await asyncio.sleep((second - into) % 60.0)


async def _measure(
    bootstrap: str, prefix: str, cfg: LatencyConfig, say: Callable[[str], None]
) -> list[float]:
    keys = [f"spiky-{i}" for i in range(cfg.runs)] + [f"bg-{i}" for i in range(BACKGROUND_KEYS)]
    traffic = _Traffic(keys)
    topic = prefix + "usage"
    slack = FakeSlack()
    async with slack:
        os.environ[TOKEN_ENV] = slack.token
        service = NotifierService(bootstrap, _routing(slack), AlertTopics(prefix), prefix + "n")
        stop = asyncio.Event()
        notifier = asyncio.create_task(service.run(stop))
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
        await producer.start()
        live: asyncio.Task[None] | None = None
        try:
            now = datetime.now(UTC)
            start = now - timedelta(minutes=HISTORY_MINUTES)
            for minute in range(HISTORY_MINUTES):
                await _send(producer, topic, traffic.events(start + timedelta(minutes=minute), 60))
            await producer.flush()
            say(f"backfilled {HISTORY_MINUTES} minutes for {len(keys)} keys; live traffic on")
            live = asyncio.create_task(_live(producer, topic, traffic, stop))
            latencies = []
            for run in range(cfg.runs):
                await asyncio.sleep(cfg.settle_s)
                await _until_second(run * 60.0 / cfg.runs)
                key = f"spiky-{run}"
                header = f"spend_spike on api_key_id={key}"
                traffic.spiking.add(key)
                second = datetime.now(UTC).second
                try:
                    await slack.wait_until(_posted(slack, header), cfg.timeout_s)
                except TimeoutError:
                    raise BenchError(f"no alert for {key} within {cfg.timeout_s} s") from None
                latencies.append(time.monotonic() - traffic.spike_sent[key])
                traffic.spiking.discard(key)
                say(
                    f"run {run + 1}/{cfg.runs}: {key} (spike from second {second} of a minute) "
                    f"alerted in {latencies[-1]:.1f} s: {_alert_text(slack, header)}"
                )
            return latencies
        finally:
            stop.set()
            if live is not None:
                await live
            await producer.stop()
            await asyncio.wait_for(notifier, 60)


@contextlib.contextmanager
def _broker(cfg: LatencyConfig, workdir: Path, say: Callable[[str], None]) -> Iterator[str]:
    if cfg.bootstrap:
        yield cfg.bootstrap
        return
    with local_broker(workdir / "kafka", say) as bootstrap:
        yield bootstrap


def _wait_healthy(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise BenchError(f"worker at {url} did not answer within {seconds} s") from None
            time.sleep(0.5)


def run_latency_benchmark(cfg: LatencyConfig, say: Callable[[str], None]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="spendwatch-latency-") as tmp:
        workdir = Path(tmp)
        with _broker(cfg, workdir, say) as bootstrap:
            prefix = f"lat{uuid.uuid4().hex[:8]}."
            worker = worker_process(
                "worker", SPENDWATCH_WORKER, workdir, bootstrap=bootstrap,
                app_id=prefix + "app", topic_prefix=prefix, partitions=4,
            )  # fmt: skip
            worker.start()
            try:
                _wait_healthy(worker.url, 90)
                latencies = asyncio.run(_measure(bootstrap, prefix, cfg, say))
            except BenchError:
                say(worker.log_tail())
                raise
            finally:
                worker.stop()
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "runs": len(latencies),
        "median_s": round(statistics.median(latencies), 2),
        "p95_s": round(p95, 2),
        "max_s": round(max(latencies), 2),
        "latencies_s": [round(x, 2) for x in latencies],
        "spike": SPIKE,
        "calls_per_minute_per_key": CALLS_PER_MINUTE,
    }
