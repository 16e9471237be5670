"""Operations on a real broker: readiness, graceful shutdown and restart on the same state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from streams.producer import UsageProducer
from tests.support.worker_process import WorkerProcess


def send_all(bootstrap: str, topic: str, events: list[dict[str, Any]]) -> None:
    async def go() -> None:
        async with UsageProducer(bootstrap, topic) as producer:
            await producer.send_many(events)

    asyncio.run(go())


def wait_calls(worker: WorkerProcess, series: str, calls: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if worker.get(f"/v1/series/{series}?window=all")["calls"] == calls:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{series} never reached {calls} calls\n{worker.log_tail()}")


def wait_logged(worker: WorkerProcess, text: str, timeout: float = 30) -> None:
    """The progress log (every 5 s in tests) says what the worker booked."""
    deadline = time.monotonic() + timeout
    while text not in worker.log_path.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"never logged {text!r}\n{worker.log_tail()}"
        time.sleep(0.5)


def test_sigterm_stops_cleanly_and_a_restart_keeps_exact_totals(
    spawn_worker: Callable[..., WorkerProcess],
    kafka_bootstrap: str,
    names: Callable[[str], str],
    make_event: Callable[..., dict[str, Any]],
) -> None:
    app_id, prefix = names("app"), names("ops") + "."
    worker = spawn_worker(app_id, prefix, partitions=2)
    events = [make_event(api_key_id="k-ops", cost_usd="0.000123") for _ in range(50)]
    send_all(kafka_bootstrap, f"{prefix}usage", events)
    wait_calls(worker, "api_key_id=k-ops", 50)
    before = worker.get("/v1/series/api_key_id=k-ops?window=all")
    assert worker.get_status("/readyz") == 200
    wait_logged(worker, "booked 50 events (+50, ")

    worker.stop(timeout=60)
    assert worker.proc is not None and worker.proc.returncode == 0, worker.log_tail()
    shutdown = worker.log_path.read_text().split("Signal received: 15")[1]
    assert "Flush producer buffer" in shutdown and "Traceback" not in shutdown

    again = spawn_worker(app_id, prefix, restart_of=worker, partitions=2)
    send_all(kafka_bootstrap, f"{prefix}usage", [make_event(api_key_id="k-ops")])
    wait_calls(again, "api_key_id=k-ops", 51)
    after = again.get("/v1/series/api_key_id=k-ops?window=all")
    assert int(after["cost_nanos"]) > int(before["cost_nanos"])
    assert int(before["cost_nanos"]) == 50 * 123_000
