"""Hot reload against a real worker on Apache Kafka: a valid change takes effect while
the worker runs and keeps its state; an invalid one is rejected and the old config stays."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streams.config_load import digest
from streams.producer import UsageProducer
from tests.support.worker_process import WorkerProcess

INLINE_TOKEN = "xoxb-5555555555-reloadtoken"


def config_text(prefix: str, owners: str = "{}") -> str:
    return (
        f"kafka: {{topic_prefix: '{prefix}', partitions: 2}}\n"
        "reload: {poll_interval_s: 0.2}\n"
        "logging: {format: json}\n"
        f"key_owners: {owners}\n"
    )


def send(bootstrap: str, topic: str, event: dict[str, Any]) -> None:
    async def go() -> None:
        async with UsageProducer(bootstrap, topic) as producer:
            await producer.send(event)

    asyncio.run(go())


def wait_for(
    check: Callable[[], Any], what: str, worker: WorkerProcess, timeout: float = 60
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except OSError:  # the worker is busy or between answers; ask again
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{worker.log_tail()}")


def series_calls(worker: WorkerProcess, name: str) -> int:
    try:
        return int(worker.get(f"/v1/series/{name}?window=all")["calls"])
    except OSError:
        return 0


def test_hot_reload_valid_then_invalid(
    spawn_worker: Callable[..., WorkerProcess],
    kafka_bootstrap: str,
    names: Callable[[str], str],
    tmp_path: Path,
    make_event: Callable[..., dict[str, Any]],
) -> None:
    prefix = names("cfg") + "."
    config = tmp_path / "spendwatch.yaml"
    config.write_text(config_text(prefix))
    first = digest(config.read_bytes())
    worker = spawn_worker(names("app"), prefix, config=config, partitions=2)
    pid = worker.proc.pid if worker.proc else None
    wait_for(lambda: worker.get_status("/readyz") == 200, "readiness", worker)
    live = worker.get("/v1/config")
    assert (live["version"], live["generation"], live["rejected"]) == (first, 1, None)
    assert live["settings"]["topic_prefix"] == prefix

    orphan = make_event(api_key_id="k-orphan", team=None, app=None)
    send(kafka_bootstrap, f"{prefix}usage", orphan)
    wait_for(lambda: series_calls(worker, "team=unattributed") == 1, "first event", worker)

    config.write_text(config_text(prefix, "{k-orphan: {team: research}}"))
    second = digest(config.read_bytes())
    live = wait_for(
        lambda: (c := worker.get("/v1/config"))["version"] == second and c, "reload", worker
    )
    assert live["generation"] == 2
    assert live["config"]["key_owners"] == {"k-orphan": {"team": "research", "app": None}}
    send(kafka_bootstrap, f"{prefix}usage", make_event(api_key_id="k-orphan", team=None))
    wait_for(lambda: series_calls(worker, "team=research") == 1, "attributed event", worker)
    assert series_calls(worker, "api_key_id=k-orphan") == 2  # state kept across the reload
    assert series_calls(worker, "team=unattributed") == 1

    bad = (
        config_text(prefix, "{k-orphan: {team: research}}").replace(
            "partitions: 2", "partitions: 0"
        )
        + f"receivers: [{{name: s, slack: {{token: '{INLINE_TOKEN}', channel: '#x'}}}}]\n"
    )
    config.write_text(bad)
    live = wait_for(lambda: (c := worker.get("/v1/config"))["rejected"] and c, "rejection", worker)
    assert live["version"] == second and live["generation"] == 2
    assert live["rejected"]["version"] == digest(bad.encode())
    problems = " ".join(live["rejected"]["problems"])
    assert "kafka.partitions" in problems and "receivers[0].slack.token" in problems
    assert INLINE_TOKEN not in json.dumps(live)

    send(kafka_bootstrap, f"{prefix}usage", make_event(api_key_id="k-orphan", team=None))
    wait_for(lambda: series_calls(worker, "team=research") == 2, "previous config kept", worker)
    assert worker.proc is not None and worker.proc.pid == pid and worker.proc.poll() is None

    lines = [json.loads(x) for x in worker.log_path.read_text().splitlines() if x.startswith("{")]
    rejected = [x for x in lines if "rejected version" in x["message"]]
    assert rejected and rejected[0]["level"] == "ERROR"
    assert INLINE_TOKEN not in worker.log_path.read_text()
