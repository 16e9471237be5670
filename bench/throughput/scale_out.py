"""Scale-out: N spendwatch workers in one consumer group against one, on the same input.

The workers join the group on an empty usage topic and are left until every one of them
is ready (assigned, recovered, not rebalancing) for ``SETTLE_S`` in a row, so no
rebalance falls inside the measurement. Then the batched messages the single worker
counted are sent again, already encoded, to the group's topic, and the group's rate runs
from the first event any worker counts to the moment their counts add up to every event.
Sending pre-encoded messages costs the bench process little CPU next to the workers.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence

import orjson

from bench.throughput.config import BenchError
from bench.throughput.data import bench_producer
from bench.throughput.messages import Message
from bench.throughput.processes import WorkerProcess
from bench.throughput.progress import (
    POLL_INTERVAL_S,
    STALL_S,
    ProgressProbe,
    Rate,
    Sample,
    rate_from_samples,
)

SETTLE_S = 5.0
JOIN_TIMEOUT_S = 180.0


def is_ready(worker: WorkerProcess) -> bool:
    try:
        with urllib.request.urlopen(worker.url + "/readyz", timeout=2) as resp:
            return bool(orjson.loads(resp.read()).get("ready"))
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, ValueError):
        return False


def wait_group_settled(workers: Sequence[WorkerProcess], say: Callable[[str], None]) -> None:
    """Return once every worker has been ready for ``SETTLE_S`` seconds in a row."""
    deadline = time.monotonic() + JOIN_TIMEOUT_S
    settled_since: float | None = None
    while time.monotonic() < deadline:
        for worker in workers:
            code = worker.exit_code()
            if code is not None:
                raise worker.failed(f"exited with code {code} while joining the group")
        if all(is_ready(worker) for worker in workers):
            settled_since = settled_since or time.monotonic()
            if time.monotonic() - settled_since >= SETTLE_S:
                say(f"{len(workers)} workers ready in one group")
                return
        else:
            settled_since = None
        time.sleep(0.25)
    raise BenchError(f"{len(workers)} workers did not settle in {JOIN_TIMEOUT_S:.0f}s")


async def send_messages(bootstrap: str, topic: str, messages: Sequence[Message]) -> float:
    """Send already encoded messages to their partitions; seconds until all acknowledged."""
    producer = bench_producer(bootstrap)
    started = time.perf_counter()
    await producer.start()
    try:
        pending = [
            await producer.send(topic, m.value, key=m.key, partition=m.partition) for m in messages
        ]
        await producer.flush()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


def measure_group(
    workers: Sequence[WorkerProcess],
    target: int,
    timeout_s: float,
    start_input: Callable[[], None],
    say: Callable[[str], None],
) -> Rate:
    """Call ``start_input`` (which returns at once) and poll every worker until their
    counts add up to ``target``; the rate of the sum, with the CPU time of all workers."""
    probes = [ProgressProbe(worker.url) for worker in workers]

    def cpu_now() -> float | None:
        times = [worker.cpu_seconds() for worker in workers]
        return None if any(t is None for t in times) else sum(t for t in times if t is not None)

    counts = [0] * len(workers)
    started = time.perf_counter()
    samples: list[Sample] = [(started, 0)]
    cpu: list[float | None] = [cpu_now()]
    start_input()
    last_change = last_report = started
    while sum(counts) < target:
        for i, (worker, probe) in enumerate(zip(workers, probes, strict=True)):
            if (code := worker.exit_code()) is not None:
                raise worker.failed(f"exited with code {code} after counting {counts[i]}")
            reading = probe.read()
            if reading is not None:
                counts[i] = reading[0]
        now, total = time.perf_counter(), sum(counts)
        if total != samples[-1][1]:
            samples.append((now, total))
            cpu.append(cpu_now())
            last_change = now
        elif len(samples) == 1:
            samples[0], cpu[0] = (now, 0), cpu_now()
        if now - last_report >= 5.0:
            say(f"scale-out: {total:,}/{target:,} events ({', '.join(map(str, counts))})")
            last_report = now
        if now - started > timeout_s or (total and now - last_change > STALL_S):
            raise BenchError(f"scale-out: counted {total:,} of {target:,} events ({counts})")
        time.sleep(POLL_INTERVAL_S)
    say(f"scale-out: counts per worker {', '.join(f'{c:,}' for c in counts)}")
    return rate_from_samples(samples, cpu)
