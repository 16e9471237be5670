"""The whole chain on Apache Kafka: aiokafka produces, a worker keeps the table, we read it back."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from genai_prices import Usage, calc_price

from tests.support.kafka_io import produce
from tests.support.worker_process import WorkerProcess


def _expected_nanos(event: dict[str, Any]) -> int:
    if "cost_usd" in event:
        return int(Decimal(event["cost_usd"]) * 10**9)
    price = calc_price(
        Usage(input_tokens=event["input_tokens"], output_tokens=event["output_tokens"]),
        event["model"],
        provider_id=event["provider"],
    ).total_price
    return int((price * 10**9).to_integral_value())


async def _wait_for(check: Callable[[], Any], seconds: float = 60.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.25)


async def test_events_flow_into_the_worker_table_exactly(
    kafka_bootstrap: str,
    names: Callable[[str], str],
    spawn_worker: Callable[..., WorkerProcess],
    make_event: Callable[..., dict[str, Any]],
) -> None:
    prefix = names("sw") + "."
    worker = spawn_worker(app_id=names("app"), topic_prefix=prefix, partitions=4)

    events: list[dict[str, Any]] = []
    for i in range(240):
        key = f"key-{i % 12}"
        if i % 3 == 0:
            events.append(make_event(api_key_id=key, cost_usd=f"0.{i:04d}17"))
        else:
            events.append(make_event(api_key_id=key, input_tokens=100 + i, output_tokens=i))
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for ev in events:
        by_key[ev["api_key_id"]].append(ev)
    messages = [(k.encode(), orjson.dumps(evs[:10])) for k, evs in by_key.items()]
    messages += [(k.encode(), orjson.dumps(ev)) for k, evs in by_key.items() for ev in evs[10:]]

    await produce(kafka_bootstrap, prefix + "usage", messages)

    expected = {
        key: {"calls": len(evs), "cost_nanos": sum(_expected_nanos(e) for e in evs)}
        for key, evs in by_key.items()
    }

    def observed() -> dict[str, dict[str, int]] | None:
        keys = worker.get("/v1/spend/keys")["keys"]
        got = {k: {"calls": v["calls"], "cost_nanos": v["cost_nanos"]} for k, v in keys.items()}
        return got if got == expected else None

    got = await _wait_for(observed)
    assert got == expected, worker.log_tail()
    total = sum(v["cost_nanos"] for v in expected.values())
    keys = worker.get("/v1/spend/keys")["keys"]
    assert sum(Decimal(v["cost_usd"]) for v in keys.values()) == Decimal(total) / 10**9


async def test_a_bad_event_goes_to_the_dead_letter_topic_and_its_neighbours_flow(
    kafka_bootstrap: str,
    names: Callable[[str], str],
    spawn_worker: Callable[..., WorkerProcess],
    make_event: Callable[..., dict[str, Any]],
) -> None:
    prefix = names("sw") + "."
    worker = spawn_worker(app_id=names("app"), topic_prefix=prefix, partitions=2)
    good = [make_event(api_key_id="k-good", cost_usd="1.5") for _ in range(3)]
    unpriced = make_event(api_key_id="k-new", model="brand-new-model")
    bad = make_event(api_key_id="k-good", input_tokens=-5)
    await produce(
        kafka_bootstrap,
        prefix + "usage",
        [
            (b"k-good", orjson.dumps([good[0], bad, good[1], good[2]])),
            (b"k-x", b'{"event_id": '),
            (b"k-new", orjson.dumps(unpriced)),
        ],
    )
    consumer = AIOKafkaConsumer(
        prefix + "usage-dlq", bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        records: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while len(records) < 2 and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            records += [orjson.loads(m.value) for msgs in batch.values() for m in msgs]
    finally:
        await consumer.stop()
    assert len(records) == 2, worker.log_tail()
    by_index = {r["batch_index"]: r for r in records}
    negative = by_index[1]
    assert negative["errors"][0]["path"] == "input_tokens"
    assert "greater than or equal to 0" in negative["errors"][0]["problem"]
    assert negative["source"]["topic"] == prefix + "usage"
    assert orjson.loads(negative["original"]) == bad
    malformed = by_index[None]
    assert malformed["reason"].startswith("malformed JSON")
    assert malformed["original"] == '{"event_id": '

    got = await _wait_for(lambda: worker.get("/v1/spend/keys")["keys"].get("k-good"))
    assert got["calls"] == 3
    assert got["cost_usd"] == "4.500000000"
    new = await _wait_for(lambda: worker.get("/v1/spend/keys")["keys"].get("k-new"))
    assert new["calls"] == 1
    assert new["cost_nanos"] == 0
    metrics = worker.get_text("/metrics")
    assert (
        'spendwatch_unpriced_events_total{model="brand-new-model",provider="openai"} 1.0' in metrics
    )
    assert 'spendwatch_rejected_total{path="input_tokens"} 1.0' in metrics
    assert 'spendwatch_rejected_total{path="message"} 1.0' in metrics
    assert 'spendwatch_events_total{cost_source="reported"} 3.0' in metrics
