"""Detectors live: series buckets to findings to alerts, inside the ``series`` agent.

The series stage calls ``evaluate`` for every series it changed, when it flushes the
series' partition. Buckets are handed to the detector suite in event-time order: every
bucket the series' own data and every active source of its partition have passed by
``close_grace_minutes`` (``source_progress``; or, once the series has gone quiet, the
worker's watermark by ``idle_close_minutes``) exactly once as closed, then the buckets
not yet closed as open, oldest first, with their sums so far, at most once per
``open_every_s``. Findings go to the findings topic and through the
alert lifecycle; alert changes go to the alerts topic (the notifier's outbox).

Each series' detector state, lifecycle and the start of the last closed bucket are
stored together, as one value in the changelogged ``detection`` table, in the same
flush as the series' sums. A replay after a crash therefore resumes where the stored
value stopped: a bucket may at worst be seen again after a crash between the two
writes, and the alert ids downstream make a repeated alert a no-op.

Series silent since their last bucket still close it, and firing alerts on them still
resolve, when their partition next flushes (the series stage ticks quiet partitions).
"""

from __future__ import annotations

import pickle
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alerting.lifecycle import AlertLifecycle, LifecycleState
from detectors.suite import DetectorSuite, SeriesDetectorsState, StaleState
from schemas.findings import (
    MAX_BEFORE,
    Alert,
    AlertState,
    Finding,
    SeriesBucket,
    minute_to_datetime,
    scope_named,
)
from streams.close_schedule import NEVER, CloseSchedule
from streams.contributors import bucket_of, span_contributors
from streams.rollup import COST
from streams.series_state import SeriesState
from streams.source_progress import SourceProgress
from streams.state_dir import write_or_stop

DETECTED_DIMENSIONS = frozenset(
    {"api_key_id", "team", "app", "feature", "model", "provider", "environment", "org"}
)
RECENT_ALERTS = 500
DUE_PER_FLUSH = 5_000
"""Unchanged series looked at again per flush at most (``close_schedule``)."""
FORMAT = 1


@dataclass(slots=True)
class SeriesWatch:
    """What detection keeps per series (stored as one table value)."""

    detectors: SeriesDetectorsState
    lifecycle: LifecycleState = field(default_factory=LifecycleState)
    closed_through: int = -1
    """Start of the newest bucket delivered closed."""
    open_at: float = 0.0
    """Monotonic time of the last open-bucket evaluation (not stored)."""
    open_stale: bool = False
    """An open bucket changed since the detectors last saw it (not stored)."""


@dataclass
class DetectionStage:
    suite: DetectorSuite
    lifecycle: AlertLifecycle
    table: Any
    findings_topic: Any
    alerts_topic: Any
    bucket_minutes: int = 1
    close_grace_minutes: int = 1
    idle_close_minutes: int = 10
    """A series that has gone quiet has its buckets closed once the worker's watermark is
    this far past them (the allowed lateness)."""
    open_every_s: float = 2.0
    data_dir: Path = Path(".")
    """Where the table state lives: named when a write to it fails."""
    watermark: int = -1
    """Newest bucket start seen by this worker (event time)."""
    sources: SourceProgress = field(default_factory=SourceProgress)
    """Per partition, how far each source partition has got (event time)."""
    watches: dict[str, SeriesWatch] = field(default_factory=dict)
    waiting: dict[int, CloseSchedule] = field(default_factory=dict)
    """Per partition: series with a bucket still to close or an alert still firing."""
    recent: deque[Alert] = field(default_factory=lambda: deque(maxlen=RECENT_ALERTS))
    active: dict[str, Alert] = field(default_factory=dict)
    findings_total: int = 0

    def watches_series(self, name: str) -> bool:
        return name.partition("=")[0] in DETECTED_DIMENSIONS

    def advance(self, minute: int) -> None:
        self.watermark = max(self.watermark, minute)

    def waiting_on(self, partition: int, evaluated_at: int) -> bool:
        """Whether a tick could close a bucket or resolve an alert on this partition
        (``evaluated_at``: the watermark when the partition was last evaluated)."""
        schedule = self.waiting.get(partition)
        if schedule is None:
            return False
        if schedule.always and self.watermark > evaluated_at:
            return True
        return schedule.due(*self._marks(self.sources.low(partition)))

    def _marks(self, low: int | None) -> tuple[int, int]:
        """The slowest active source's mark (``low``; NEVER when none is known) and the
        watermark no later than it: what ``CloseSchedule`` files series under."""
        low_mark = NEVER if low is None else low
        return low_mark, min(self.watermark, low_mark)

    async def evaluate(self, partition: int, changed: Iterable[str], state_of: Any) -> list[str]:
        """Evaluate changed series of a partition and those waiting whose time has come;
        returns the names to store."""
        fresh = {n for n in changed if self.watches_series(n)}
        schedule = self.waiting.setdefault(partition, CloseSchedule())
        low = self.sources.low(partition)
        names = fresh | schedule.take(*self._marks(low), DUE_PER_FLUSH)
        stored: list[str] = []
        findings: list[Finding] = []
        changes: list[Alert] = []
        for name in sorted(names):
            series: SeriesState | None = state_of(name)
            if series is None:
                continue
            watch = self._watch(name, series)
            if self._run(name, watch, series, findings, changes, low, name in fresh):
                stored.append(name)
                write_or_stop(self.table, name.encode(), self._dumps(watch), self.data_dir)
            self._note_waiting(schedule, name, watch, series)
        await self._publish(findings, changes)
        return stored

    def _watch(self, name: str, series: SeriesState) -> SeriesWatch:
        watch = self.watches.get(name)
        if watch is None:
            raw = self.table.get(name.encode())
            if raw:
                watch = self._loads(name, raw)
            else:
                first = min(series.minutes) if series.minutes else max(self.watermark, 0)
                scope = scope_named(name)
                watch = SeriesWatch(self.suite.new_state(scope, first))
            self.watches[name] = watch
        return watch

    def _run(
        self,
        name: str,
        watch: SeriesWatch,
        series: SeriesState,
        findings: list[Finding],
        changes: list[Alert],
        low: int | None = None,
        fresh: bool = True,
    ) -> bool:
        """``low``: the partition's slowest active source (``SourceProgress.low``);
        ``fresh``: the series has new data since it was last run."""
        width = self.bucket_minutes
        # A bucket is closed by the series' own progress (its data arrives in order from
        # each source partition, possibly over several messages per minute) once the
        # partition's slowest active source has got as far, or, once the series has gone
        # quiet, by the worker's watermark. Closing by the worker's watermark or the
        # series' newest minute alone would close a bucket on the partials of the fastest
        # source while another lags behind (a backfill), and teach the detectors partial
        # sums.
        newest, world = series.newest_minute, self.watermark
        if low is not None:
            newest, world = min(newest, low), min(world, low)
        limit = max(newest - self.close_grace_minutes, world - self.idle_close_minutes)
        starts = sorted(b for b in series.minutes if b > watch.closed_through)
        changed = False
        still_open: list[int] = []
        for start in starts:
            if start + width > limit:
                still_open.append(start)
                continue
            bucket = self._bucket(name, series, start, True)
            found = self.suite.observe(watch.detectors, bucket)
            findings.extend(found)
            changes.extend(self.lifecycle.observe(watch.lifecycle, found))
            watch.closed_through = start
            series.contributors_needed_from = start + 1
            changed = True
        now = time.monotonic()
        watch.open_stale = bool(still_open) and (watch.open_stale or fresh)
        if watch.open_stale and now - watch.open_at >= self.open_every_s:
            watch.open_at = now
            watch.open_stale = False
            for bucket in self._open_buckets(name, series, watch.closed_through, still_open):
                found = self.suite.observe(watch.detectors, bucket)
                findings.extend(found)
                fired = self.lifecycle.observe(watch.lifecycle, found)
                changes.extend(fired)
                changed = changed or bool(fired)
        if watch.lifecycle.keys and limit >= 0:
            resolved = self.lifecycle.tick(watch.lifecycle, minute_to_datetime(limit + width))
            changes.extend(resolved)
            changed = changed or bool(resolved)
        return changed

    def _open_buckets(
        self, name: str, series: SeriesState, closed_through: int, starts: list[int]
    ) -> Iterable[SeriesBucket]:
        """Every bucket not yet closed, oldest first, each with the costs of the open ones
        before it (a spike that began late in the last minute counts in full while
        that minute waits out its lateness)."""
        width = self.bucket_minutes
        first = starts[0] if closed_through < 0 else closed_through + width
        for start in starts:
            bucket = self._bucket(name, series, start, False)
            since = max(first, start - width * MAX_BEFORE)
            earlier = range(since, start, width)
            bucket.before = tuple(
                series.minutes[m][COST] if m in series.minutes else 0 for m in earlier
            )
            if bucket.before:
                bucket.contributors = span_contributors(
                    series.contributors.get(m) for m in (*earlier, start)
                )
            yield bucket

    def _bucket(self, name: str, series: SeriesState, start: int, closed: bool) -> SeriesBucket:
        contributors = series.contributors.get(start)
        return bucket_of(
            name, start, self.bucket_minutes, series.minutes[start], closed, contributors
        )

    def _note_waiting(
        self, schedule: CloseSchedule, name: str, watch: SeriesWatch, series: SeriesState
    ) -> None:
        """File the series under the marks that would close its oldest open bucket: the
        partition's slowest source, if its own data is already far enough on; the
        watermark, by the allowed lateness, in any case (``_run``'s two rules)."""
        always = bool(watch.lifecycle.keys) or watch.open_stale
        oldest = min((b for b in series.minutes if b > watch.closed_through), default=None)
        if oldest is None:
            schedule.wait(name, None, None, always)
            return
        end = oldest + self.bucket_minutes
        by_own = series.newest_minute - self.close_grace_minutes >= end
        low_needed = end + self.close_grace_minutes if by_own else None
        schedule.wait(name, low_needed, end + self.idle_close_minutes, always)

    async def _publish(self, findings: list[Finding], changes: list[Alert]) -> None:
        self.findings_total += len(findings)
        for finding in findings:
            await self.findings_topic.send(
                key=finding.scope.name.encode(), value=finding.model_dump_json().encode()
            )
        for alert in changes:
            self.recent.append(alert)
            if alert.state is AlertState.FIRING:
                self.active[alert.alert_id] = alert
            else:
                self.active.pop(alert.alert_id, None)
            await self.alerts_topic.send(
                key=alert.alert_id.encode(), value=alert.model_dump_json().encode()
            )

    def _dumps(self, watch: SeriesWatch) -> bytes:
        parts = (watch.closed_through, self.suite.dumps(watch.detectors), watch.lifecycle.dumps())
        return pickle.dumps((FORMAT, *parts), protocol=pickle.HIGHEST_PROTOCOL)

    def _loads(self, name: str, raw: bytes) -> SeriesWatch:
        version, closed_through, detectors, lifecycle = pickle.loads(raw)
        if version != FORMAT:
            raise ValueError(f"detection state of format {version!r}; expected {FORMAT}")
        try:
            learned = self.suite.loads(detectors)
        except StaleState:  # written by an older version: its alerts stay, models restart
            learned = self.suite.new_state(scope_named(name), max(closed_through, 0))
            learned.last_minute = closed_through
        return SeriesWatch(
            detectors=learned,
            lifecycle=LifecycleState.loads(lifecycle),
            closed_through=closed_through,
        )

    def evict(self, keep: int) -> None:
        """Keep at most about ``keep`` watches in memory; waiting ones always stay."""
        excess = len(self.watches) - keep
        if excess <= 0:
            return
        waiting = set().union(*(s.always for s in self.waiting.values()))
        for name in list(self.watches)[: excess + keep // 10]:
            if name not in waiting:
                del self.watches[name]

    def forget_partitions(self) -> None:
        """After a rebalance: reload from the table when next needed."""
        self.watches.clear()
        self.waiting.clear()
        self.sources.forget()
