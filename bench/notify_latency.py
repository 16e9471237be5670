"""Notifier latency: from an alert entering the Kafka outbox to the Slack and PagerDuty
servers receiving it, through a running notifier (real aiokafka, slack-sdk, aiohttp).

Run: .venv/bin/python bench/notify_latency.py --bootstrap HOST:PORT [--alerts 50]

Each alert is published alone, then the clock stops when the local Slack server has its
message (and the PagerDuty server its trigger); routes use ``group_wait: 0s``, so the
figure is the notifier's own share of the end-to-end alert latency (a route's
``group_wait`` adds to it one for one). The last stdout line is JSON with ``median_s``,
``p95_s`` and ``runs`` for Slack, and the same for PagerDuty. Alerts come more than a
second apart, so Slack's one-message-per-second pacing per channel does not count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sized
from datetime import UTC, datetime

from alerting.config import AlertingConfig
from alerting.retry_stage import Backoff
from schemas.findings import Alert, AlertState, Scope, Severity
from streams.alert_topics import AlertTopics, new_producer, publish_alerts
from streams.local_receivers import FakePagerDuty, FakeSlack
from streams.notifier import NotifierService


def routing(slack: FakeSlack, pagerduty: FakePagerDuty) -> AlertingConfig:
    return AlertingConfig.model_validate(
        {
            "routes": {
                "receiver": "slack",
                "group_wait": "0s",
                "group_interval": "0s",
                "routes": [
                    {"matchers": ["severity=critical"], "receiver": "pager", "continue": True},
                    {"receiver": "slack"},
                ],
            },
            "receivers": [
                {
                    "name": "slack",
                    "slack": {
                        "token": "${BENCH_SLACK_TOKEN}",
                        "api_url": slack.api_url,
                        "channel": "#bench",
                    },
                },
                {
                    "name": "pager",
                    "pagerduty": {"routing_key": "${BENCH_PD_KEY}", "url": pagerduty.events_url},
                },
            ],
        }
    )


def at_least(items: Sized, count: int) -> Callable[[], bool]:
    return lambda: len(items) >= count


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float | int]:
    return {
        "median_s": round(statistics.median(values), 4),
        "p95_s": round(quantile(values, 0.95), 4),
        "runs": len(values),
    }


async def measure(bootstrap: str, alerts: int, pause_s: float) -> dict[str, object]:
    slack, pagerduty = await FakeSlack().start(), await FakePagerDuty().start()
    assert isinstance(slack, FakeSlack) and isinstance(pagerduty, FakePagerDuty)
    os.environ["BENCH_SLACK_TOKEN"] = slack.token
    os.environ["BENCH_PD_KEY"] = pagerduty.routing_key
    topics = AlertTopics(prefix=f"bench-{uuid.uuid4().hex[:8]}.", outbox_partitions=1)
    service = NotifierService(
        bootstrap,
        routing(slack, pagerduty),
        topics,
        f"bench-{uuid.uuid4().hex[:8]}",
        backoff=Backoff(first=0.1),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await asyncio.wait_for(service.ready.wait(), 60)
    producer = new_producer(bootstrap)
    await producer.start()
    to_slack: list[float] = []
    to_pagerduty: list[float] = []
    try:
        for i in range(alerts):
            now = datetime.now(UTC)
            alert = Alert(
                alert_id=f"bench:{i}",
                detector="spike",
                scope=Scope.parse("team=bench"),
                severity=Severity.CRITICAL,
                state=AlertState.FIRING,
                fired_at=now,
                updated_at=now,
                measure="usd_per_minute",
                observed=10.0,
                expected=1.0,
                impact_nanos=9_000_000_000,
                summary="bench spike",
            )
            started = time.perf_counter()
            await publish_alerts(producer, topics, [alert])
            await pagerduty.wait_until(at_least(pagerduty.events, i + 1))
            to_pagerduty.append(time.perf_counter() - started)
            await slack.wait_until(at_least(slack.messages, i + 1))
            to_slack.append(time.perf_counter() - started)
            print(f"alert {i + 1}/{alerts}: slack {to_slack[-1]:.3f}s", file=sys.stderr)
            await asyncio.sleep(pause_s)
    finally:
        await producer.stop()
        stop.set()
        await task
        await slack.stop()
        await pagerduty.stop()
    return {**summary(to_slack), "pagerduty": summary(to_pagerduty)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", "-b", required=True, help="Kafka bootstrap servers")
    parser.add_argument("--alerts", type=int, default=50, help="Alerts to time")
    parser.add_argument(
        "--pause",
        type=float,
        default=1.1,
        help="Seconds between alerts (Slack is paced to one message per second per channel)",
    )
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.bootstrap, args.alerts, args.pause))))


if __name__ == "__main__":
    main()
