"""No secret in logs or dead letters: a provider key, a Slack token, a PagerDuty routing
key and the service's own tokens are planted in the environment of a real ingest and a
real worker on Apache Kafka, and in the event fields where a careless producer puts
them; nothing the processes wrote may hold any of them."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaProducer

from streams.settings import WorkerSettings
from streams.topics import ensure_topics
from tests.support.http_json import get_json
from tests.support.kafka_io import read_topic
from tests.support.secret_scan import SecretScan, planted_secrets
from tests.support.worker_process import free_port

Make = Callable[..., dict[str, Any]]


async def test_planted_secrets_never_reach_logs_or_dead_letters(
    kafka_bootstrap: str, names: Callable[[str], str], tmp_path: Path, make_event: Make
) -> None:
    planted = planted_secrets()
    ingest_token, read_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    env = {
        **planted,
        "SPENDWATCH_INGEST_TOKENS": f"gateway={ingest_token}",
        "SPENDWATCH_READ_TOKENS": f"grafana={read_token}",
    }
    scan = SecretScan(
        tmp_path, env, {**planted, "ingest token": ingest_token, "read token": read_token}
    )
    settings = WorkerSettings(
        bootstrap=kafka_bootstrap, topic_prefix=names("sec") + ".", partitions=2
    )
    await ensure_topics(settings)
    common = ["--bootstrap", kafka_bootstrap, "--topic-prefix", settings.topic_prefix]
    ingest_port, worker_port = free_port(), free_port()
    worker_url = f"http://127.0.0.1:{worker_port}"
    try:
        scan.start(
            "ingest",
            ["ingest", *common, "--port", str(ingest_port), "--loglevel", "debug"],
            f"http://127.0.0.1:{ingest_port}/healthz",
        )
        scan.start(
            "worker",
            ["worker", *common, "--app-id", names("app"), "--partitions", "2",
             "--data-dir", str(tmp_path / "data"), "--web-port", str(worker_port),
             "--loglevel", "debug"],
            f"{worker_url}/healthz",
        )  # fmt: skip
        # One line per further process, e.g. scan.start("notifier", [...], ready_url).

        now = datetime.now(UTC).isoformat()
        openai, slack, routing = (
            planted["OPENAI_API_KEY"],
            planted["SLACK_BOT_TOKEN"],
            planted["PAGERDUTY_ROUTING_KEY"],
        )
        careless = [
            make_event(timestamp=now, api_key_id="sec-key", tags={"pd": routing}),  # valid
            make_event(timestamp=now, api_key_id="sec-key", user_id=openai),
            make_event(timestamp=now, api_key_id=planted["ANTHROPIC_API_KEY"]),
            make_event(timestamp=now, api_key_id="sec-key", tags={"slack": slack}),
            make_event(timestamp=now, api_key_id="sec-key", tags={"pd": routing}, model=None),
        ]
        url = f"http://127.0.0.1:{ingest_port}/v1/usage"
        async with aiohttp.ClientSession() as http:
            auth = {"Authorization": f"Bearer {ingest_token}"}
            async with http.post(url, json=careless, headers=auth) as resp:
                answer = await resp.json()
            assert resp.status == 202, answer
            assert (answer["accepted"], answer["rejected"]) == (1, 4)
            for headers, query in [
                ({"Authorization": f"Bearer {openai}"}, {}),
                ({"Authorization": f"Bearer {slack}", "User-Agent": routing}, {"key": openai}),
            ]:
                async with http.post(url, json=careless, headers=headers, params=query) as resp:
                    assert resp.status == 401
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            direct = [
                # the same events (new ids) straight to the usage topic
                orjson.dumps([{**e, "event_id": e["event_id"] + "-k"} for e in careless]),
                f'{{"event_id": "x", "token": "{routing}", "slack": "{slack}", '.encode(),
            ]
            for value in direct:
                await producer.send_and_wait(settings.usage_topic, value, key=b"sec-key")
        finally:
            await producer.stop()

        # Read views need the read token; health stays open.
        assert get_json(f"{worker_url}/v1/spend/keys")[0] == 401
        assert get_json(f"{worker_url}/v1/spend/keys", openai)[0] == 401
        assert get_json(f"{worker_url}/healthz")[0] == 200
        for _ in range(240):
            status, keys = get_json(f"{worker_url}/v1/spend/keys", read_token)
            if keys.get("keys", {}).get("sec-key", {}).get("calls") == 2:
                break
            await asyncio.sleep(0.25)
        assert status == 200
        assert keys["keys"]["sec-key"]["calls"] == 2, scan.log("worker")[-3000:]
        # 4 items refused by the ingest, the same 4 sent straight to Kafka, 1 broken message
        dead = await read_topic(kafka_bootstrap, settings.dlq_topic, 4 + 4 + 1 + 1, 20)
        assert len(dead) == 9
        assert all(orjson.loads(m.value)["redacted"] for m in dead)  # each held a secret
    finally:
        scan.stop_all()
    assert scan.leaks(m.value for m in dead) == []
    assert "[REDACTED]" in scan.log("ingest")  # the secrets passed by and were masked
