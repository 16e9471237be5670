"""The backtest engine: a file of usage events through pricing, aggregation, detectors and
the alert lifecycle, in event time, without Kafka.

Events are decoded and priced by the worker's own decoder, summed per combination by
``rollup.sum_rows`` (the worker's lateness rule), and fanned out to series buckets with
their contributors. A bucket closes once the watermark (the newest event minute) has
passed its end by ``lateness_minutes``; before that, after every batch of lines, every
series is shown its buckets still open with their sums so far (as the worker does on
flush), so big spikes are caught before the minute ends. Closed buckets go to
every series' detectors exactly once, in event-time order; the lifecycle's clock is the
end of the newest closed bucket.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO, Any

import orjson

from alerting.lifecycle import AlertLifecycle, LifecycleState
from detectors.suite import DetectorSuite, SeriesDetectorsState
from schemas.decode import DecodeLimits, EventDecoder
from schemas.findings import MAX_BEFORE, Alert, AlertState, SeriesBucket, minute_to_datetime
from schemas.money import usd_text
from streams.contributors import series_buckets, span_contributors
from streams.fast_decode import RowDecoder
from streams.rollup import DIMENSIONS, Combo, sum_rows

REPLAY_LIMITS = DecodeLimits(max_future_skew=timedelta(days=36500), max_age=timedelta(days=36500))
"""A replayed file is judged on its content, not on how old it is."""


@dataclass
class BacktestStats:
    events: int = 0
    rejected: int = 0
    buckets: int = 0
    open_views: int = 0
    findings: int = 0
    detector_seconds: float = 0.0
    """Time spent inside ``DetectorSuite.observe`` (for the per-bucket cost)."""
    series: int = 0
    evicted: int = 0
    first_minute: int = -1
    last_minute: int = -1
    rejections: list[str] = field(default_factory=list)


class BacktestEngine:
    """Feed batches of raw lines with ``feed``; ``finish`` closes what is left."""

    def __init__(
        self,
        suite: DetectorSuite,
        lifecycle: AlertLifecycle | None = None,
        *,
        bucket_minutes: int = 1,
        lateness_minutes: int = 0,
        open_views: bool = True,
        dimensions: tuple[str, ...] = DIMENSIONS,
    ) -> None:
        if bucket_minutes < 1 or 60 % bucket_minutes or lateness_minutes < 0:
            raise ValueError("bucket_minutes must divide 60 and lateness_minutes be >= 0")
        self.suite = suite
        self.lifecycle = lifecycle or AlertLifecycle()
        self.life_state = LifecycleState()
        self.bucket_minutes = bucket_minutes
        self.lateness = lateness_minutes
        self.open_views = open_views
        self.dimensions = dimensions
        self.decoder = RowDecoder(EventDecoder(limits=REPLAY_LIMITS))
        self.states: dict[str, SeriesDetectorsState] = {}
        self.pending: dict[int, dict[Combo, list[int]]] = {}
        self.watermark = -1
        self.stats = BacktestStats()
        self._next_eviction = -1

    def feed(self, lines: list[bytes]) -> list[Alert]:
        """One batch of JSON lines (one event each); returns alert changes."""
        lines = [line for line in lines if line.strip()]
        if not lines:
            return []
        now = minute_to_datetime(max(self.watermark, 0))
        decoded = self.decoder.decode(b"[" + b",".join(lines) + b"]", now)
        self.stats.events += len(decoded.rows)
        self.stats.rejected += len(decoded.rejected)
        for bad in decoded.rejected[: max(0, 20 - len(self.stats.rejections))]:
            self.stats.rejections.append(bad.reason)
        totals = sum_rows(decoded.rows, self.watermark, self.lateness, self.bucket_minutes)
        for combo, sums in totals.combos.items():
            bucket = self.pending.setdefault(combo[0], {})
            current = bucket.get(combo)
            if current is None:
                bucket[combo] = list(sums)
            else:
                for i, value in enumerate(sums):
                    current[i] += value
        self.watermark = totals.watermark
        changes = self._close(self.watermark - self.lateness)
        if self.open_views and totals.combos:
            changes += self._open_views()
        return changes

    def finish(self) -> list[Alert]:
        """Close every bucket still open and resolve nothing further."""
        return self._close(10**12)

    def _close(self, upto_minute: int) -> list[Alert]:
        changes: list[Alert] = []
        for minute in sorted(m for m in self.pending if m + self.bucket_minutes <= upto_minute):
            combos = self.pending.pop(minute)
            buckets = series_buckets(minute, combos, self.bucket_minutes, True, self.dimensions)
            changes += self._observe(buckets)
            end = minute_to_datetime(minute + self.bucket_minutes)
            changes += self.lifecycle.tick(self.life_state, end)
            self._evict(minute)
        return changes

    def _open_views(self) -> list[Alert]:
        """Every pending minute, oldest first, as open buckets (as the worker does on
        flush), each with the series' costs in the pending minutes before it; series
        whose open spend so far is under the suite's floor are skipped."""
        width = self.bucket_minutes
        minutes = sorted(self.pending)
        floor = self.suite.open_floor_nanos
        seen: dict[str, dict[int, tuple[int, dict[str, int]]]] = {}  # own cost, contributors
        changes: list[Alert] = []
        for minute in minutes:
            earlier = range(max(minutes[0], minute - width * MAX_BEFORE), minute, width)
            chosen = []
            buckets = series_buckets(minute, self.pending[minute], width, False, self.dimensions)
            for bucket in buckets:
                own = seen.setdefault(bucket.scope.name, {})
                before = [own.get(m, (0, {})) for m in earlier]
                own[minute] = (bucket.cost_nanos, bucket.contributors)
                bucket.before = tuple(cost for cost, _ in before)
                if bucket.before:
                    bucket.contributors = span_contributors(
                        [*(parts for _, parts in before), bucket.contributors]
                    )
                if bucket.cost_nanos + sum(bucket.before) >= floor:
                    chosen.append(bucket)
            self.stats.open_views += len(chosen)
            changes += self._observe(chosen)
        return changes

    def _observe(self, buckets: list[SeriesBucket]) -> list[Alert]:
        findings = []
        states, suite = self.states, self.suite
        clock = time.perf_counter
        spent = 0.0
        for bucket in buckets:
            name = bucket.scope.name
            state = states.get(name)
            if state is None:
                state = states[name] = suite.new_state(bucket.scope, bucket.start_minute)
                self.stats.series += 1
            began = clock()
            findings.extend(suite.observe(state, bucket))
            spent += clock() - began
            if bucket.closed:
                self.stats.buckets += 1
                if self.stats.first_minute < 0:
                    self.stats.first_minute = bucket.start_minute
                self.stats.last_minute = bucket.start_minute
        self.stats.findings += len(findings)
        self.stats.detector_seconds += spent
        return self.lifecycle.observe(self.life_state, findings)

    def _evict(self, minute: int) -> None:
        if minute < self._next_eviction:
            return
        self._next_eviction = minute + 1440
        idle = [n for n, s in self.states.items() if self.suite.is_idle(s, minute)]
        for name in idle:
            del self.states[name]
        self.stats.evicted += len(idle)


def iter_batches(stream: IO[bytes], size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for line in stream:
        batch.append(line)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_backtest(
    engine: BacktestEngine, batches: Iterable[list[bytes]]
) -> tuple[list[Alert], BacktestStats]:
    """Every alert, in its final state (resolved, or firing at the end of the file)."""
    final: dict[str, Alert] = {}
    for batch in batches:
        for alert in engine.feed(batch):
            final[alert.alert_id] = alert
    for alert in engine.finish():
        final[alert.alert_id] = alert
    alerts = sorted(final.values(), key=lambda a: (a.fired_at, a.detector, a.scope.name))
    return alerts, engine.stats


def alert_record(alert: Alert) -> dict[str, Any]:
    """One line of the backtest's output."""
    return {
        "alert_id": alert.alert_id,
        "detector": alert.detector,
        "severity": alert.severity.value,
        "scope": {"dimension": alert.scope.dimension, "value": alert.scope.value},
        "fired_at": alert.fired_at.isoformat().replace("+00:00", "Z"),
        "resolved_at": (
            alert.resolved_at.isoformat().replace("+00:00", "Z")
            if alert.state is AlertState.RESOLVED and alert.resolved_at
            else None
        ),
        "observed": alert.observed,
        "expected": alert.expected,
        "measure": alert.measure,
        "impact_usd": usd_text(alert.impact_nanos),
        "summary": alert.summary,
        "contributors": [
            {"series": c.series, "cost_usd": usd_text(c.cost_nanos)} for c in alert.contributors
        ],
        "labels": alert.labels,
    }


def write_alerts(alerts: Iterable[Alert], out: IO[bytes]) -> int:
    count = 0
    for alert in alerts:
        out.write(orjson.dumps(alert_record(alert)) + b"\n")
        count += 1
    return count
