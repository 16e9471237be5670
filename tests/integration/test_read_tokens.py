"""Read tokens on two real workers: merged and routed views need a token, pass it on
to the other worker, and health stays open."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from streams.producer import UsageProducer
from tests.support.http_json import get_json
from tests.support.worker_process import WorkerProcess

TOKEN = "read-token-for-two-workers"


async def test_two_workers_answer_merged_and_routed_reads_only_with_a_token(
    kafka_bootstrap: str,
    names: Callable[[str], str],
    spawn_worker: Callable[..., WorkerProcess],
    monkeypatch: pytest.MonkeyPatch,
    make_event: Callable[..., dict[str, Any]],
) -> None:
    monkeypatch.setenv("SPENDWATCH_READ_TOKENS", f"grafana={TOKEN}")
    app_id, prefix = names("app"), names("rt") + "."
    first = spawn_worker(app_id=app_id, topic_prefix=prefix, partitions=4)
    second = spawn_worker(app_id=app_id, topic_prefix=prefix, partitions=4)
    keys = [f"rt-key-{i}" for i in range(12)]
    now = datetime.now(UTC).isoformat()
    async with UsageProducer(kafka_bootstrap, f"{prefix}usage") as producer:
        await producer.send_many(
            [make_event(api_key_id=k, timestamp=now, cost_usd="0.01") for k in keys]
        )

    # Wait until the rebalance has settled with a share of the series on each worker.
    deadline = time.monotonic() + 180
    merged: dict[str, Any] = {}
    local: list[dict[str, Any]] = [{}, {}]
    while time.monotonic() < deadline:
        status, body = get_json(f"{first.url}/v1/spend/keys", TOKEN)
        merged = body.get("keys", {}) if status == 200 else {}
        local = [
            get_json(f"{w.url}/v1/spend/keys?local=1", TOKEN)[1]["keys"] for w in (first, second)
        ]
        if set(merged) == set(keys) and all(local):
            break
        await asyncio.sleep(0.5)
    # The merge asked the other worker for its share, passing the token on.
    assert set(merged) == set(keys), (first.log_tail(), second.log_tail())
    assert all(local) and sorted([*local[0], *local[1]]) == sorted(keys)

    for worker in (first, second):
        for key in keys:  # routed to whichever worker owns the series
            status, body = get_json(f"{worker.url}/v1/series/api_key_id={key}?window=all", TOKEN)
            assert status == 200, body
            assert body["calls"] == 1
        assert get_json(f"{worker.url}/v1/series/api_key_id={keys[0]}")[0] == 401
        assert get_json(f"{worker.url}/v1/spend/keys", "wrong-token")[0] == 401
        assert get_json(f"{worker.url}/v1/top/team")[0] == 401
        assert get_json(f"{worker.url}/healthz")[0] == 200
        assert "spendwatch_" in worker.get_text("/metrics")  # open to Prometheus
