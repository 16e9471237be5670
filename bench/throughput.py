"""Consumption throughput per worker process, side by side on one Kafka broker.

``spendwatch bench throughput`` (or ``python bench/throughput.py``) pre-produces
synthetic usage events to fresh topics, then times, one after the other so they never
share the CPU:

* ``raw_ceiling``: an in-process aiokafka consumer that only ``orjson.loads`` the batched
  messages and sums ``input_tokens`` (what any Python consumer of this topic pays);
* ``batched``: a ``spendwatch worker`` process on messages of ``batch_size`` events;
* ``single_event``: a ``spendwatch worker`` process on messages of one event each;
* ``naive_faust``: ``bench/naive_faust.py``, a one-event-per-message Faust app with one
  pydantic validation and one table update per event, on the same single-event topic.

Only consumption is timed: a worker's rate is counted from the first event it reports
(``GET /v1/progress`` when the worker serves it, else ``spendwatch_events_total`` on
``GET /metrics``) to the moment it reports all of them. The last line on stdout is one
JSON object with the rates; progress and a table go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from streams.producer import partition_for

REPO = Path(__file__).resolve().parents[1]
KAFKA_LOCAL = REPO / "scripts" / "kafka-local"
NAIVE_FAUST = Path(__file__).resolve().with_name("naive_faust.py")

DEFAULT_EVENTS = 200_000
DEFAULT_BATCH_SIZE = 1000
DEFAULT_PARTITIONS = 4
MAX_MESSAGE_BYTES = 900_000
"""Below the broker's default ``message.max.bytes`` (1 MiB)."""
POLL_INTERVAL_S = 0.02
STALL_S = 90.0
"""A worker that counted some events and then nothing for this long has failed."""
STOP_GRACE_S = 10.0
"""Measurement is over when a worker is stopped: a short grace, then SIGKILL."""
WINDOW_S = 1800.0
"""Simulated time the events span; it ends ``END_MARGIN_S`` before now."""
END_MARGIN_S = 300.0
CEILING_POLL_RECORDS = 4
METRIC_EVENTS = "spendwatch_events_total"
METRIC_REJECTED = "spendwatch_rejected_total"

Sample = tuple[float, int]
"""(perf_counter seconds, events counted so far)."""


class BenchError(RuntimeError):
    """The benchmark could not measure something; the message says what and why."""


# --- pure helpers -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """One Kafka message to produce, with its explicit partition."""

    partition: int
    key: bytes
    value: bytes
    events: int


def envelope(encoded_events: Sequence[bytes]) -> bytes:
    """``{"schema_version":1,"events":[...]}`` from already JSON-encoded events."""
    return b'{"schema_version":1,"events":[' + b",".join(encoded_events) + b"]}"


class BatchAssembler:
    """Groups encoded events per target partition into envelope messages.

    Every event of a message hashes to the message's partition (murmur2 of
    ``api_key_id``, as Kafka's partitioner and ``UsageProducer``); a message holds at most
    ``batch_size`` events and about ``max_bytes`` bytes.
    """

    def __init__(
        self, partitions: int, batch_size: int = DEFAULT_BATCH_SIZE, max_bytes: int = 900_000
    ) -> None:
        if partitions < 1 or batch_size < 1:
            raise ValueError("partitions and batch_size must be at least 1")
        self.partitions = partitions
        self.batch_size = batch_size
        self.max_bytes = max_bytes
        self._events: dict[int, list[bytes]] = {}
        self._keys: dict[int, bytes] = {}
        self._sizes: dict[int, int] = {}

    def add(self, api_key_id: str, encoded: bytes) -> Message | None:
        """Queue one event; returns a full message when this event completed one."""
        partition = partition_for(api_key_id, self.partitions)
        ready = None
        if self._sizes.get(partition, 0) + len(encoded) + 64 > self.max_bytes:
            ready = self._take(partition)
        buffer = self._events.setdefault(partition, [])
        if not buffer:
            self._keys[partition] = api_key_id.encode()
        buffer.append(encoded)
        self._sizes[partition] = self._sizes.get(partition, 0) + len(encoded) + 1
        if ready is None and len(buffer) >= self.batch_size:
            ready = self._take(partition)
        return ready

    def flush(self) -> list[Message]:
        """The partly filled messages, one per partition that has events."""
        return [m for p in sorted(self._events) if (m := self._take(p)) is not None]

    def _take(self, partition: int) -> Message | None:
        events = self._events.pop(partition, [])
        self._sizes.pop(partition, None)
        key = self._keys.pop(partition, b"")
        if not events:
            return None
        return Message(partition, key, envelope(events), len(events))


def batch_messages(
    events: Iterable[Mapping[str, Any]], partitions: int, batch_size: int = DEFAULT_BATCH_SIZE
) -> list[Message]:
    """All events as envelope messages grouped per partition (for tests and small runs)."""
    assembler = BatchAssembler(partitions, batch_size, MAX_MESSAGE_BYTES)
    out: list[Message] = []
    for event in events:
        message = assembler.add(str(event["api_key_id"]), orjson.dumps(event))
        if message is not None:
            out.append(message)
    return out + assembler.flush()


def single_message(event: Mapping[str, Any], partitions: int) -> Message:
    key = str(event["api_key_id"])
    return Message(partition_for(key, partitions), key.encode(), orjson.dumps(event), 1)


def parse_counter(text: str, name: str) -> float | None:
    """Sum of a Prometheus counter's samples over all labels; None when it is absent."""
    total: float | None = None
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        rest = line[len(name) :]
        if rest[:1] not in ("{", " "):
            continue  # another metric sharing the prefix
        if rest.startswith("{"):
            rest = rest[rest.rfind("}") + 1 :]
        fields = rest.split()
        if not fields:
            continue
        try:
            value = float(fields[0])
        except ValueError:
            continue
        total = (total or 0.0) + value
    return total


@dataclass(frozen=True, slots=True)
class Rate:
    """A measured rate: ``events`` counted over ``seconds``."""

    events: int
    seconds: float
    lower_bound: bool = False
    """True when every event arrived within one poll: the time includes start-up."""

    @property
    def eps(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def rate_from_samples(samples: Sequence[Sample]) -> Rate:
    """Events per second from the first sample that counted anything to the last sample.

    Samples are (time, cumulative count) in time order, the first one counting 0. The
    events counted at the first non-zero sample were processed before the clock started,
    so they are left out; if that sample already holds every event, the span falls back to
    the last zero sample before it and the rate is a lower bound.
    """
    if len(samples) < 2 or samples[-1][1] <= 0:
        raise BenchError("no events were counted")
    end_t, end_n = samples[-1]
    first = next(i for i, (_, n) in enumerate(samples) if n > 0)
    start_t, start_n = samples[first]
    if start_n >= end_n:
        start_t, start_n = samples[first - 1] if first > 0 else (start_t, 0)
        if end_t <= start_t:
            raise BenchError("no time elapsed between the samples")
        return Rate(end_n - start_n, end_t - start_t, lower_bound=True)
    return Rate(end_n - start_n, end_t - start_t)


def build_summary(
    *,
    events: int,
    single_events: int,
    batch_size: int,
    partitions: int,
    batched: Rate,
    single_event: Rate,
    naive_faust: Rate,
    raw_ceiling: Rate,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON summary line: rates rounded to 0.1 event/s, ratio batched / naive Faust."""
    rates = {
        "batched": batched,
        "single_event": single_event,
        "naive_faust": naive_faust,
        "raw_ceiling": raw_ceiling,
    }
    summary: dict[str, Any] = {
        "events": events,
        "single_events": single_events,
        **{f"{name}_eps": round(rate.eps, 1) for name, rate in rates.items()},
        "ratio": round(batched.eps / naive_faust.eps, 2) if naive_faust.eps > 0 else None,
        "ceiling_ratio": round(batched.eps / raw_ceiling.eps, 3) if raw_ceiling.eps > 0 else None,
        "batch_size": batch_size,
        "partitions": partitions,
        "seconds": {name: round(rate.seconds, 3) for name, rate in rates.items()},
    }
    bounds = [name for name, rate in rates.items() if rate.lower_bound]
    if bounds:
        summary["lower_bounds"] = bounds
    summary.update(extra or {})
    return summary


def worker_timeout_s(events: int, per_second: float) -> float:
    """How long a worker may take to count ``events`` before the run fails."""
    return max(120.0, events / per_second)


def synthetic_events(
    n: int,
    *,
    seed: int = 0,
    end: datetime | None = None,
    window_s: float = WINDOW_S,
) -> Iterator[dict[str, Any]]:
    """``n`` events of ``streams.synthetic`` traffic over ``window_s`` seconds up to ``end``.

    ``end`` defaults to ``END_MARGIN_S`` before now, so a worker's default limits (5 min
    in the future, 7 days old) accept every event. The profile's rate is scaled so the
    window holds a few percent more than ``n`` events; the first ``n`` are yielded.
    """
    from streams.synthetic import CHUNK_MS, TrafficGenerator, TrafficProfile

    if n < 1:
        return
    window_s = max(60.0, math.ceil(window_s / 60) * 60.0)
    end = end or datetime.now(UTC) - timedelta(seconds=END_MARGIN_S)
    start = end - timedelta(seconds=window_s)
    chunk_s = CHUNK_MS / 1000
    probe = TrafficGenerator(TrafficProfile(seed=seed, calls_per_second=1.0), start=start)
    per_unit_rate = sum(
        probe.rate_at((k + 0.5) * chunk_s) * chunk_s for k in range(int(window_s // chunk_s))
    )
    margin = 1.05 + 6 / math.sqrt(n)
    profile = TrafficProfile(seed=seed, calls_per_second=n * margin / per_unit_rate)
    generator = TrafficGenerator(profile, start=start)
    produced = 0
    # The window, then up to END_MARGIN_S more (still in the past) if Poisson fell short.
    for batch in generator.iter_batches(window_s + END_MARGIN_S, chunk_s):
        for event in batch.events:
            yield event
            produced += 1
            if produced >= n:
                return
    raise BenchError(f"the traffic generator made only {produced} of {n} events")


# --- Kafka: topics, producing, the raw ceiling --------------------------------------------


@dataclass(slots=True)
class Produced:
    events: int = 0
    messages: int = 0
    single_events: int = 0
    input_tokens: int = 0
    seconds: float = 0.0


async def ensure_topics(bootstrap: str, prefixes: Sequence[str], partitions: int) -> None:
    from streams.settings import WorkerSettings
    from streams.topics import ensure_topics as create

    for prefix in prefixes:
        settings = WorkerSettings(bootstrap=bootstrap, topic_prefix=prefix, partitions=partitions)
        deadline = time.monotonic() + 30
        # Right after creation the broker may describe a topic with no partitions yet.
        while (found := (await create(settings)).get(settings.usage_topic)) != partitions:
            if found or time.monotonic() > deadline:
                raise BenchError(f"{settings.usage_topic} has {found} partitions, not {partitions}")
            await asyncio.sleep(0.2)


async def produce_inputs(
    bootstrap: str,
    *,
    batched_topic: str,
    single_topic: str,
    events: Iterable[Mapping[str, Any]],
    single_events: int,
    partitions: int,
    batch_size: int,
) -> Produced:
    """Produce every event to ``batched_topic`` in envelopes, the first ``single_events``
    also one per message to ``single_topic``; return once Kafka acknowledged all."""
    from aiokafka import AIOKafkaProducer

    stats = Produced()
    started = time.perf_counter()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks=1,
        linger_ms=20,
        max_batch_size=1_048_576,
        max_request_size=4 * 1_048_576,
        compression_type=None,
    )
    await producer.start()
    try:
        pending: list[asyncio.Future[Any]] = []

        async def send(topic: str, message: Message) -> None:
            future = await producer.send(
                topic, message.value, key=message.key, partition=message.partition
            )
            pending.append(future)
            if len(pending) >= 2000:
                await asyncio.gather(*pending)
                pending.clear()

        assembler = BatchAssembler(partitions, batch_size, MAX_MESSAGE_BYTES)
        for event in events:
            key = str(event["api_key_id"])
            encoded = orjson.dumps(event)
            stats.events += 1
            stats.input_tokens += int(event.get("input_tokens", 0))
            if stats.single_events < single_events:
                await send(
                    single_topic,
                    Message(partition_for(key, partitions), key.encode(), encoded, 1),
                )
                stats.single_events += 1
            message = assembler.add(key, encoded)
            if message is not None:
                await send(batched_topic, message)
                stats.messages += 1
        for message in assembler.flush():
            await send(batched_topic, message)
            stats.messages += 1
        await producer.flush()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    stats.seconds = time.perf_counter() - started
    return stats


async def raw_ceiling(
    bootstrap: str,
    topic: str,
    partitions: int,
    expected_events: int,
    expected_tokens: int | None = None,
) -> Rate:
    """aiokafka + ``orjson.loads`` + summing ``input_tokens`` over the batched topic."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        events = tokens = 0
        samples: list[Sample] = [(time.perf_counter(), 0)]
        while events < expected_events:
            # Few records per call: the clock starts at the first, so it must be small.
            fetched = await consumer.getmany(timeout_ms=1000, max_records=CEILING_POLL_RECORDS)
            if not fetched:
                if time.perf_counter() - samples[-1][0] > STALL_S:
                    raise BenchError(
                        f"raw ceiling: no messages for {STALL_S:.0f}s "
                        f"({events}/{expected_events} events read)"
                    )
                continue
            for records in fetched.values():
                for record in records:
                    batch = orjson.loads(record.value)["events"]
                    events += len(batch)
                    tokens += sum(e["input_tokens"] for e in batch)
            samples.append((time.perf_counter(), events))
    finally:
        await consumer.stop()
    if expected_tokens is not None and tokens != expected_tokens:
        raise BenchError(f"raw ceiling summed {tokens} input tokens, produced {expected_tokens}")
    return rate_from_samples(samples)


async def delete_run_topics(bootstrap: str, token: str) -> list[str]:
    """Best effort: delete this run's topics (ours and the workers' changelogs)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(token)]
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()


# --- processes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WorkerProcess:
    """A worker subprocess in its own session, with its output in a log file."""

    def __init__(self, label: str, cmd: Sequence[str], log_path: Path, web_port: int) -> None:
        self.label = label
        self.cmd = list(cmd)
        self.log_path = log_path
        self.web_port = web_port
        self.proc: subprocess.Popen[bytes] | None = None
        self._terminated = False
        self._stopped = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=True,
            )

    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        """SIGTERM (Faust shuts down cleanly), then SIGKILL to its process group."""
        proc = self.proc
        if proc is None or self._stopped:
            return
        try:
            if proc.poll() is None and not self._terminated:
                self._terminated = True
                proc.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=grace)
        finally:  # also when interrupted while waiting: then no more grace
            if proc.poll() is None:
                # Its own session: pid == pgid, so this reaches only what it started.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
            self._stopped = True

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class ProgressProbe:
    """Reads a worker's event count: ``GET /v1/progress`` if served, else ``/metrics``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.source: str | None = None
        """``"/v1/progress"`` or ``"/metrics"`` once known."""

    def read(self) -> tuple[int, int] | None:
        """(valid events, rejected inputs), or None while the worker does not answer."""
        try:
            if self.source in (None, "/v1/progress"):
                found = self._progress()
                if found is not None:
                    self.source = "/v1/progress"
                    return found
                self.source = "/metrics"
            text = self._get("/metrics").decode(errors="replace")
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return None
        events = parse_counter(text, METRIC_EVENTS) or 0.0
        rejected = parse_counter(text, METRIC_REJECTED) or 0.0
        return int(events), int(rejected)

    def _progress(self) -> tuple[int, int] | None:
        try:
            body = self._get("/v1/progress")
        except urllib.error.HTTPError as exc:
            if exc.code in (404, 405, 501):
                return None
            raise
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get("events"), int):
            return None
        rejected = doc.get("rejected", 0)
        return doc["events"], rejected if isinstance(rejected, int) else 0

    def _get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=5) as resp:
            return bytes(resp.read())


def measure_worker(
    worker: WorkerProcess, target: int, timeout_s: float, say: Callable[[str], None]
) -> tuple[Rate, str, int]:
    """Start the worker, poll until it counted ``target`` inputs; return the rate, the
    progress source and how many inputs it rejected."""
    probe = ProgressProbe(worker.url)
    launched = time.perf_counter()
    worker.start()
    samples: list[Sample] = [(launched, 0)]
    last_change = launched
    last_report = launched
    rejected = 0
    while True:
        code = worker.exit_code()
        if code is not None:
            raise BenchError(
                f"{worker.label} exited with code {code} after counting {samples[-1][1]} of "
                f"{target} events; log {worker.log_path}:\n{worker.log_tail()}"
            )
        reading = probe.read()
        now = time.perf_counter()
        if reading is not None:
            events, rejected = reading
            if events != samples[-1][1]:
                samples.append((now, events))
                last_change = now
            elif len(samples) == 1:
                samples[0] = (now, 0)  # still nothing counted: the clock starts later
            if events + rejected >= target and events > 0:
                break
            if now - last_report >= 5.0:
                say(f"{worker.label}: {events:,}/{target:,} events")
                last_report = now
        if now - launched > timeout_s:
            raise BenchError(
                f"{worker.label} counted {samples[-1][1]:,} of {target:,} events in "
                f"{timeout_s:.0f}s (the limit; progress from {probe.source or 'nowhere'}); "
                f"log {worker.log_path}:\n{worker.log_tail()}"
            )
        if samples[-1][1] > 0 and now - last_change > STALL_S:
            raise BenchError(
                f"{worker.label} stalled at {samples[-1][1]:,} of {target:,} events for "
                f"{STALL_S:.0f}s; log {worker.log_path}:\n{worker.log_tail()}"
            )
        time.sleep(POLL_INTERVAL_S)
    return rate_from_samples(samples), probe.source or "?", rejected


@contextlib.contextmanager
def local_broker(state: Path, say: Callable[[str], None]) -> Iterator[str]:
    """A fresh broker from ``scripts/kafka-local`` in ``state``; stopped on the way out."""
    say(f"starting Apache Kafka with scripts/kafka-local in {state}")
    try:
        started = subprocess.run(
            [sys.executable, str(KAFKA_LOCAL), "--dir", str(state), "start"],
            stdout=subprocess.PIPE,
            text=True,
            timeout=900,
            check=False,
        )
        lines = started.stdout.split()
        if started.returncode != 0 or not lines:
            raise BenchError(f"scripts/kafka-local start failed (exit {started.returncode})")
        yield lines[-1]
    finally:
        subprocess.run(
            [sys.executable, str(KAFKA_LOCAL), "--dir", str(state), "stop"],
            stdout=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so every cleanup runs (main thread only)."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- the run ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BenchConfig:
    events: int = DEFAULT_EVENTS
    single_events: int | None = None
    """Events for the one-event-per-message runs; default ``events // 10``."""
    partitions: int = DEFAULT_PARTITIONS
    batch_size: int = DEFAULT_BATCH_SIZE
    bootstrap: str | None = None
    """Use this broker; None starts one with scripts/kafka-local and stops it after."""
    naive_store: str = "rocksdb://"
    seed: int = 0
    keep_dir: bool = False

    @property
    def n_single(self) -> int:
        wanted = self.events // 10 if self.single_events is None else self.single_events
        return max(1, min(wanted, self.events))


@dataclass
class _Run:
    token: str
    workdir: Path
    bootstrap: str
    cfg: BenchConfig
    say: Callable[[str], None]
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def batched_prefix(self) -> str:
        return f"{self.token}.batched."

    @property
    def single_prefix(self) -> str:
        return f"{self.token}.single."

    def spendwatch(self, label: str, prefix: str) -> WorkerProcess:
        port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "streams.cli",
            "worker",
            "--bootstrap",
            self.bootstrap,
            "--app-id",
            f"{self.token}-{label}",
            "--topic-prefix",
            prefix,
            "--data-dir",
            str(self.workdir / label),
            "--web-port",
            str(port),
            "--partitions",
            str(self.cfg.partitions),
        ]
        return WorkerProcess(label, cmd, self.workdir / f"{label}.log", port)

    def naive(self, label: str, topic: str) -> WorkerProcess:
        port = free_port()
        cmd = [
            sys.executable,
            str(NAIVE_FAUST),
            "--bootstrap",
            self.bootstrap,
            "--topic",
            topic,
            "--partitions",
            str(self.cfg.partitions),
            "--app-id",
            f"{self.token}-{label}",
            "--data-dir",
            str(self.workdir / label),
            "--web-port",
            str(port),
            "--store",
            self.cfg.naive_store,
        ]
        return WorkerProcess(label, cmd, self.workdir / f"{label}.log", port)

    def measure(
        self, stack: contextlib.ExitStack, worker: WorkerProcess, target: int, per_s: float
    ) -> Rate:
        stack.callback(worker.stop)
        self.say(f"{worker.label}: starting a worker process, waiting for {target:,} events")
        rate, source, rejected = measure_worker(
            worker, target, worker_timeout_s(target, per_s), self.say
        )
        self.sources[worker.label] = source
        if rejected:
            self.say(f"[yellow]{worker.label}: {rejected} inputs rejected[/]")
        self.say(
            f"{worker.label}: {rate.events:,} events in {rate.seconds:.2f}s = "
            f"[bold]{rate.eps:,.0f}[/] events/s (progress from {source})"
        )
        worker.stop()
        return rate


def run_benchmark(cfg: BenchConfig, console: Console | None = None) -> dict[str, Any]:
    """Run every measurement; return the summary (see ``build_summary``)."""
    if cfg.events < 1 or cfg.partitions < 1 or cfg.batch_size < 1:
        raise BenchError("events, partitions and batch size must be at least 1")
    if console is None:
        console = Console(stderr=True)
        if not console.is_terminal:
            console.width = max(console.width, 120)

    def say(text: str) -> None:
        console.print(f"[dim]bench:[/] {text}", highlight=False)

    token = f"bench{uuid.uuid4().hex[:10]}"
    workdir = Path(tempfile.mkdtemp(prefix=f"spendwatch-{token}-"))
    ok = False
    try:
        with sigterm_as_interrupt(), contextlib.ExitStack() as stack:
            bootstrap = cfg.bootstrap or stack.enter_context(local_broker(workdir / "kafka", say))
            run = _Run(token, workdir, bootstrap, cfg, say)
            summary = _measure_all(run, stack)
            if cfg.bootstrap:
                with contextlib.suppress(Exception):
                    deleted = asyncio.run(delete_run_topics(bootstrap, token))
                    say(f"deleted {len(deleted)} topics of this run")
        _print_table(console, summary)
        ok = True
        return summary
    finally:
        if cfg.keep_dir:
            say(f"logs and state kept in {workdir}")
        elif ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            _drop_state(workdir)
            say(f"logs kept in {workdir}")


def _drop_state(workdir: Path) -> None:
    """After a failure keep the worker and broker logs; drop Kafka data and table state."""
    for child in workdir.iterdir():
        if child.name == "kafka":
            shutil.rmtree(child / "data", ignore_errors=True)
        elif child.is_dir():
            shutil.rmtree(child, ignore_errors=True)


def _measure_all(run: _Run, stack: contextlib.ExitStack) -> dict[str, Any]:
    cfg, say = run.cfg, run.say
    n, n_single = cfg.events, cfg.n_single
    say(f"broker {run.bootstrap}; topics {run.token}.*; {cfg.partitions} partitions")
    asyncio.run(
        ensure_topics(run.bootstrap, [run.batched_prefix, run.single_prefix], cfg.partitions)
    )
    batched_topic = f"{run.batched_prefix}usage"
    single_topic = f"{run.single_prefix}usage"

    say(f"producing {n:,} events in batches of {cfg.batch_size} and {n_single:,} single ...")
    produced = asyncio.run(
        produce_inputs(
            run.bootstrap,
            batched_topic=batched_topic,
            single_topic=single_topic,
            events=synthetic_events(n, seed=cfg.seed),
            single_events=n_single,
            partitions=cfg.partitions,
            batch_size=cfg.batch_size,
        )
    )
    say(
        f"produced {produced.events:,} events in {produced.messages:,} messages and "
        f"{produced.single_events:,} single-event messages in {produced.seconds:.1f}s"
    )

    say("raw ceiling: aiokafka + orjson.loads + sum(input_tokens), in process ...")
    ceiling = asyncio.run(
        raw_ceiling(run.bootstrap, batched_topic, cfg.partitions, n, produced.input_tokens)
    )
    say(f"raw ceiling: [bold]{ceiling.eps:,.0f}[/] events/s")

    batched = run.measure(stack, run.spendwatch("batched", run.batched_prefix), n, 2000)
    single = run.measure(stack, run.spendwatch("single", run.single_prefix), n_single, 200)
    naive = run.measure(stack, run.naive("naive-faust", single_topic), n_single, 200)

    return build_summary(
        events=n,
        single_events=n_single,
        batch_size=cfg.batch_size,
        partitions=cfg.partitions,
        batched=batched,
        single_event=single,
        naive_faust=naive,
        raw_ceiling=ceiling,
        extra={
            "batched_messages": produced.messages,
            "naive_faust_store": cfg.naive_store,
            "progress_source": run.sources,
            "produce_seconds": round(produced.seconds, 2),
        },
    )


def _print_table(console: Console, summary: Mapping[str, Any]) -> None:
    naive = float(summary["naive_faust_eps"]) or math.nan
    table = Table(title="consumption throughput per worker process", title_justify="left")
    table.add_column("mode")
    table.add_column("events", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("events/s", justify="right")
    table.add_column("x naive Faust", justify="right")
    rows = (
        ("raw ceiling (aiokafka + orjson, batched)", "raw_ceiling", summary["events"]),
        (f"spendwatch, {summary['batch_size']} events/message", "batched", summary["events"]),
        ("spendwatch, 1 event/message", "single_event", summary["single_events"]),
        ("naive Faust, 1 event/message", "naive_faust", summary["single_events"]),
    )
    for label, key, events in rows:
        eps = float(summary[f"{key}_eps"])
        table.add_row(
            label,
            f"{events:,}",
            f"{summary['seconds'][key]:.2f}",
            f"{eps:,.0f}",
            f"{eps / naive:,.1f}x" if not math.isnan(naive) else "-",
        )
    console.print(table)


def summary_line(summary: Mapping[str, Any]) -> str:
    return json.dumps(summary, separators=(", ", ": "))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="spendwatch consumption throughput benchmark")
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    parser.add_argument("--single-events", type=int, default=None)
    parser.add_argument("--bootstrap", default=None)
    parser.add_argument("--partitions", type=int, default=DEFAULT_PARTITIONS)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--naive-store", default="rocksdb://")
    parser.add_argument("--keep-dir", action="store_true")
    args = parser.parse_args(argv)
    cfg = BenchConfig(
        events=args.events,
        single_events=args.single_events,
        partitions=args.partitions,
        batch_size=args.batch_size,
        bootstrap=args.bootstrap,
        naive_store=args.naive_store,
        keep_dir=args.keep_dir,
    )
    try:
        summary = run_benchmark(cfg)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    print(summary_line(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
