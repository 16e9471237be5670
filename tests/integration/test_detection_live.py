"""Detectors run live in the worker on Apache Kafka: a runaway key raises one alert."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from tests.support.kafka_io import produce, read_json_until
from tests.support.traffic import minute_of_calls
from tests.support.worker_process import WorkerProcess

HISTORY_MINUTES = 100
SPIKE_MINUTES = 6


async def test_a_runaway_key_raises_a_spike_alert_and_a_steady_key_none(
    kafka_bootstrap: str,
    names: Callable[[str], str],
    spawn_worker: Callable[..., WorkerProcess],
    make_event: Callable[..., dict[str, Any]],
) -> None:
    prefix = names("sw") + "."
    worker = spawn_worker(app_id=names("app"), topic_prefix=prefix, partitions=2)
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(
        minutes=HISTORY_MINUTES + SPIKE_MINUTES
    )
    messages: list[tuple[bytes, bytes]] = []
    for minute in range(HISTORY_MINUTES + SPIKE_MINUTES):
        at = start + timedelta(minutes=minute)
        spiking = minute >= HISTORY_MINUTES
        for key, calls in (("steady", 6), ("runaway", 150 if spiking else 6)):
            batch = minute_of_calls(make_event, key, at, calls, "0.01")
            messages.append((key.encode(), orjson.dumps(batch)))
    await produce(kafka_bootstrap, prefix + "usage", messages)

    def spiked(alerts: list[dict[str, Any]]) -> bool:
        return any(a["scope"]["value"] == "runaway" for a in alerts)

    alerts = await read_json_until(kafka_bootstrap, prefix + "alerts", spiked, 120)
    assert spiked(alerts), worker.log_tail()
    runaway = [a for a in alerts if a["scope"] == {"dimension": "api_key_id", "value": "runaway"}]
    assert {a["detector"] for a in runaway} & {"spend_spike", "static_threshold"}
    first = runaway[0]
    assert first["state"] == "firing"
    assert first["impact_nanos"] > 0
    assert "runaway" in first["summary"]
    spikes = {a["scope"]["value"] for a in alerts if a["detector"] == "spend_spike"}
    assert "steady" not in spikes
    # The worker's own view of alerts agrees with the topic.
    await asyncio.sleep(0)
    active = worker.get("/v1/alerts")["active"]
    assert any(a["scope"]["value"] == "runaway" for a in active)
