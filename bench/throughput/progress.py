"""Timing a worker: poll its event count over HTTP and turn the samples into a rate.

A worker's rate is counted from the first event it reports (``GET /v1/progress`` when the
worker serves it, else ``spendwatch_events_total`` on ``GET /metrics``) to the moment it
reports all of them.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson

from bench.throughput.config import BenchError
from bench.throughput.processes import WorkerProcess

POLL_INTERVAL_S = 0.02
STALL_S = 90.0
"""A worker that counted some events and then nothing for this long has failed."""
METRIC_EVENTS = "spendwatch_events_total"
METRIC_REJECTED = "spendwatch_rejected_total"

Sample = tuple[float, int]
"""(perf_counter seconds, events counted so far)."""


@dataclass(frozen=True, slots=True)
class Rate:
    """A measured rate: ``events`` counted over ``seconds``."""

    events: int
    seconds: float
    lower_bound: bool = False
    """True when every event arrived within one poll: the time includes start-up."""
    cpu_seconds: float | None = None
    """CPU time the worker process used over the same span, when known."""

    @property
    def cpu_us_per_event(self) -> float | None:
        """What an event cost the worker in CPU time: unlike the rate, it does not move
        with how much of a core other work left to the worker."""
        if self.cpu_seconds is None or self.events <= 0:
            return None
        return self.cpu_seconds / self.events * 1e6

    @property
    def eps(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def rate_from_samples(samples: Sequence[Sample], cpu: Sequence[float | None] | None = None) -> Rate:
    """Events per second from the first sample that counted anything to the last sample.

    Samples are (time, cumulative count) in time order, the first one counting 0. The
    events counted at the first non-zero sample were processed before the clock started,
    so they are left out; if that sample already holds every event, the span falls back to
    the last zero sample before it and the rate is a lower bound. ``cpu``, aligned with
    ``samples``, is the worker's CPU time at each sample; the rate then carries the CPU
    time of the same span.
    """
    if len(samples) < 2 or samples[-1][1] <= 0:
        raise BenchError("no events were counted")
    end_t, end_n = samples[-1]
    first = next(i for i, (_, n) in enumerate(samples) if n > 0)
    start = first
    start_t, start_n = samples[first]
    lower_bound = start_n >= end_n
    if lower_bound:
        start = max(first - 1, 0)
        start_t, start_n = samples[start] if first > 0 else (start_t, 0)
        if end_t <= start_t:
            raise BenchError("no time elapsed between the samples")
    cpu_seconds = None
    if cpu is not None:
        begin, finish = cpu[start], cpu[-1]
        if begin is not None and finish is not None:
            cpu_seconds = finish - begin
    return Rate(end_n - start_n, end_t - start_t, lower_bound, cpu_seconds)


def worker_timeout_s(events: int, per_second: float) -> float:
    """How long a worker may take to count ``events`` before the run fails."""
    return max(120.0, events / per_second)


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
    cpu: list[float | None] = [0.0]
    last_change = launched
    last_report = launched
    rejected = 0
    while True:
        code = worker.exit_code()
        if code is not None:
            raise worker.failed(
                f"exited with code {code} after counting {samples[-1][1]} of {target} events"
            )
        reading = probe.read()
        now = time.perf_counter()
        if reading is not None:
            events, rejected = reading
            if events != samples[-1][1]:
                samples.append((now, events))
                cpu.append(worker.cpu_seconds())
                last_change = now
            elif len(samples) == 1:
                samples[0] = (now, 0)  # still nothing counted: the clock starts later
                cpu[0] = worker.cpu_seconds()
            if events + rejected >= target and events > 0:
                break
            if now - last_report >= 5.0:
                say(f"{worker.label}: {events:,}/{target:,} events")
                last_report = now
        if now - launched > timeout_s:
            raise worker.failed(
                f"counted {samples[-1][1]:,} of {target:,} events in {timeout_s:.0f}s "
                f"(the limit; progress from {probe.source or 'nowhere'})"
            )
        if samples[-1][1] > 0 and now - last_change > STALL_S:
            raise worker.failed(
                f"stalled at {samples[-1][1]:,} of {target:,} events for {STALL_S:.0f}s"
            )
        time.sleep(POLL_INTERVAL_S)
    return rate_from_samples(samples, cpu), probe.source or "?", rejected
