"""Prometheus metrics of a worker, served at ``/metrics``."""

from __future__ import annotations

from collections import Counter as Tally

from prometheus_client import CollectorRegistry, Counter, generate_latest

from schemas.decode import Decoded


class WorkerMetrics:
    """Counters the ingest path updates once per message, never once per event."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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
            "spendwatch_messages_total", "Kafka messages consumed.", registry=self.registry
        )

    def observe(self, decoded: Decoded) -> None:
        self.messages.inc()
        sources = Tally(p.cost_source.value for p in decoded.events)
        for source, count in sources.items():
            self.events.labels(source).inc(count)
        unpriced = Tally(
            (p.event.provider, p.event.model)
            for p in decoded.events
            if p.cost_source.value == "unpriced"
        )
        for (provider, model), count in unpriced.items():
            self.unpriced.labels(provider, model).inc(count)
        for rejected in decoded.rejected:
            path = rejected.errors[0].path if rejected.errors else ""
            self.rejected.labels(path.split(".")[0] or "message").inc()
        nanos = sum(p.cost_nanos for p in decoded.events)
        if nanos:
            self.cost.inc(nanos / 1e9)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
