"""Soak: steady traffic for a long time; memory stays flat and consumer lag bounded.

Opt-in (``-m soak``). ``SPENDWATCH_SOAK_SECONDS`` (default 1800), ``SPENDWATCH_SOAK_RATE``
(events/s, default 2000), ``SPENDWATCH_SOAK_SAMPLE_S`` (default 5) and
``SPENDWATCH_SOAK_MAX_LAG`` (messages, default 2000) and ``SPENDWATCH_SOAK_CSV`` (default
``soak-samples.csv`` in the working directory) tune it. The worker remembers event ids for
``SPENDWATCH_DEDUP_WINDOW_MINUTES`` (5 here unless set, 60 in production): memory grows
until that window is full, so a soak at the production window needs well over an hour.
Every sample (time, RSS of the worker, lag of the usage topic, events sent and counted)
goes to the CSV artifact.
"""

from __future__ import annotations

import asyncio
import csv
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.generate_cmd import send_live
from streams.settings import WorkerSettings
from streams.synthetic_org import TrafficProfile
from tests.support.worker_process import WorkerProcess

PARTITIONS = 4
DEDUP_MINUTES = 5
MAX_LAG_MESSAGES = 2000
"""Usage messages the worker may be behind at any sample (``SPENDWATCH_SOAK_MAX_LAG``); at
the default rate the producer sends about 80 messages a second (one per partition every
50 ms), so this is some 25 seconds of traffic."""


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def usage_lag(worker: WorkerProcess, topic: str) -> int:
    """Sum of ``spendwatch_consumer_lag_messages`` over the usage topic's partitions."""
    total = 0
    for line in worker.get_text("/metrics").splitlines():
        if line.startswith("spendwatch_consumer_lag_messages{") and f'topic="{topic}"' in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def write_csv(path: Path, samples: list[dict[str, float]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(samples[0]))
        writer.writeheader()
        writer.writerows(samples)


@pytest.mark.soak
async def test_a_steady_rate_keeps_memory_flat_and_lag_bounded(
    kafka_bootstrap: str,
    names: Callable[[str], str],
    spawn_worker: Callable[..., WorkerProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Remembered event ids fill memory until the dedup window (60 minutes of event time
    # by default) is full; a shorter one reaches the steady state within the first third.
    dedup_minutes = os.environ.get("SPENDWATCH_DEDUP_WINDOW_MINUTES", str(DEDUP_MINUTES))
    monkeypatch.setenv("SPENDWATCH_DEDUP_WINDOW_MINUTES", dedup_minutes)
    seconds = float(os.environ.get("SPENDWATCH_SOAK_SECONDS", "1800"))
    rate = float(os.environ.get("SPENDWATCH_SOAK_RATE", "2000"))
    every = float(os.environ.get("SPENDWATCH_SOAK_SAMPLE_S", "5"))
    out = Path(os.environ.get("SPENDWATCH_SOAK_CSV", "soak-samples.csv"))
    prefix, app_id = names("sw") + ".", names("app")
    settings = WorkerSettings(bootstrap=kafka_bootstrap, topic_prefix=prefix, partitions=PARTITIONS)
    profile = TrafficProfile(
        seed=3, calls_per_second=rate, peak_to_trough=1.0, weekend_factor=1.0
    )  # flat: the same rate at every hour and day
    sender = asyncio.create_task(send_live(settings, profile, (), seconds))
    worker = spawn_worker(app_id=app_id, topic_prefix=prefix, partitions=PARTITIONS)
    assert worker.proc is not None
    samples: list[dict[str, float]] = []
    started = time.monotonic()
    while not sender.done():
        await asyncio.sleep(every)
        assert worker.proc.poll() is None, worker.log_tail()
        samples.append(
            {
                "elapsed_s": round(time.monotonic() - started, 1),
                "rss_bytes": rss_bytes(worker.proc.pid),
                "lag_messages": usage_lag(worker, settings.usage_topic),
                "counted_events": int(worker.get("/v1/progress").get("events", 0)),
            }
        )
    sent = await sender
    write_csv(out, samples)
    third = len(samples) // 3
    assert third >= 2, f"too few samples ({len(samples)}) for a verdict"
    middle = statistics.fmean(s["rss_bytes"] for s in samples[third : 2 * third])
    last = statistics.fmean(s["rss_bytes"] for s in samples[2 * third :])
    max_lag = int(os.environ.get("SPENDWATCH_SOAK_MAX_LAG", str(MAX_LAG_MESSAGES)))
    worst_lag = max(s["lag_messages"] for s in samples)
    print(
        f"\nsoak {seconds:.0f}s at {rate:.0f} events/s: {sent} events sent, "
        f"RSS middle third {middle / 2**20:.1f} MiB, last third {last / 2**20:.1f} MiB, "
        f"worst lag {worst_lag:.0f} messages, dedup window {dedup_minutes} min; samples in {out}"
    )
    assert last <= middle * 1.10, f"RSS grew: {middle:.0f} -> {last:.0f} bytes"
    assert worst_lag <= max_lag, f"lag reached {worst_lag} messages (bound {max_lag})"
