"""Prometheus metrics of a worker, served at ``/metrics``."""

from __future__ import annotations

from collections import Counter as Tally
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from streams.fast_decode import DecodedRows
from streams.rollup import CALLS, COST, UNPRICED_CALLS, MessageTotals
from streams.rows import COMPUTED, REPORTED, UNPRICED

METRICS_PATH = "/metrics"
"""Where a worker serves its Prometheus metrics."""

_SOURCE_NAMES = {REPORTED: "reported", COMPUTED: "computed", UNPRICED: "unpriced"}


@dataclass
class ProgressTally:
    """What a worker has done since it started, as plain counts."""

    events: int = 0
    """Valid, non-duplicate events booked."""
    messages: int = 0
    duplicates: int = 0
    rejected: int = 0
    late: int = 0
    series_writes: int = 0


class WorkerMetrics:
    """Counters the ingest path updates once per message, never once per event."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.tally = ProgressTally()
        """Plain running counts: ``/v1/progress`` and the progress log."""
        self.events = Counter(
            "spendwatch_events_total",
            "Valid usage events booked, by how their cost was found.",
            ["cost_source"],
            registry=self.registry,
        )
        self.unpriced = Counter(
            "spendwatch_unpriced_events_total",
            "Events on a model with no known price (booked at $0 until priced).",
            ["provider", "model"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "spendwatch_rejected_total",
            "Inputs sent to the dead-letter topic, by the first field path at fault.",
            ["path"],
            registry=self.registry,
        )
        self.cost = Counter(
            "spendwatch_cost_usd_total",
            "Booked spend in USD (display only; exact sums live in the tables).",
            registry=self.registry,
        )
        self.messages = Counter(
            "spendwatch_messages_total", "Usage messages consumed.", registry=self.registry
        )
        self.duplicates = Counter(
            "spendwatch_duplicate_events_total",
            "Events dropped because their event_id was already counted.",
            registry=self.registry,
        )
        self.late = Counter(
            "spendwatch_late_events_total",
            "Events later than the allowed lateness, booked in the current bucket.",
            registry=self.registry,
        )
        self.slow_path = Counter(
            "spendwatch_slow_path_events_total",
            "Items the fast decoder handed to the full pydantic check.",
            registry=self.registry,
        )
        self.series_flushed = Counter(
            "spendwatch_series_flushes_total",
            "Series states written to the changelogged table.",
            registry=self.registry,
        )
        self.lag = Gauge(
            "spendwatch_consumer_lag_messages",
            "Messages between this worker's read position and the end of each partition.",
            ["topic", "partition"],
            registry=self.registry,
        )
        self.team_mtd = Gauge(
            "spendwatch_team_month_to_date_usd",
            "Month-to-date spend per team (display only; exact sums live in the tables).",
            ["team"],
            registry=self.registry,
        )

    def observe(
        self, decoded: DecodedRows, totals: MessageTotals, reported: int, duplicates: int
    ) -> None:
        """One message's outcome, from its totals: events counted by cost source, spend,
        unpriced models, duplicates, late events and rejects."""
        self.messages.inc()
        self.tally.messages += 1
        self.tally.duplicates += duplicates
        self.tally.rejected += len(decoded.rejected)
        self.tally.late += totals.late
        counted = unpriced_calls = nanos = 0
        unpriced: Tally[tuple[str, str]] = Tally()
        for combo, sums in totals.combos.items():
            counted += sums[CALLS]
            nanos += sums[COST]
            if sums[UNPRICED_CALLS]:
                unpriced_calls += sums[UNPRICED_CALLS]
                unpriced[(combo[6], combo[5])] += sums[UNPRICED_CALLS]
        self.tally.events += counted
        by_source = {REPORTED: reported, UNPRICED: unpriced_calls,
                     COMPUTED: counted - reported - unpriced_calls}  # fmt: skip
        for code, count in by_source.items():
            if count:
                self.events.labels(_SOURCE_NAMES[code]).inc(count)
        for (provider, model), count in unpriced.items():
            self.unpriced.labels(provider, model).inc(count)
        for rejected in decoded.rejected:
            path = rejected.errors[0].path if rejected.errors else ""
            self.rejected.labels(path.split(".")[0] or "message").inc()
        if duplicates:
            self.duplicates.inc(duplicates)
        if totals.late:
            self.late.inc(totals.late)
        if decoded.slow_path:
            self.slow_path.inc(decoded.slow_path)
        if nanos:
            self.cost.inc(nanos / 1e9)

    def set_lag(self, lags: dict[tuple[str, int], int]) -> None:
        for (topic, partition), lag in lags.items():
            self.lag.labels(topic, str(partition)).set(lag)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
