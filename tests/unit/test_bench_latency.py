"""The live traffic of ``spendwatch bench latency`` (bench/latency/); no broker needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench.latency.run import CALLS_PER_MINUTE, SPIKE, _Traffic


def test_live_ticks_of_one_second_keep_each_key_at_its_rate() -> None:
    traffic = _Traffic(["steady", "spiky"])
    traffic.spiking.add("spiky")
    start = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    sent = {"steady": 0, "spiky": 0}
    for second in range(120):
        for key, events in traffic.events(start + timedelta(seconds=second), 1.0).items():
            sent[key] += len(events)
            assert all(e["api_key_id"] == key for e in events)
    assert sent == {"steady": 2 * CALLS_PER_MINUTE, "spiky": 2 * CALLS_PER_MINUTE * SPIKE}
    assert "spiky" in traffic.spike_sent and "steady" not in traffic.spike_sent


def test_events_are_stamped_inside_their_tick() -> None:
    traffic = _Traffic(["k"])
    start = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    events = traffic.events(start, 60.0)["k"]
    assert len(events) == CALLS_PER_MINUTE
    stamps = [datetime.fromisoformat(e["timestamp"]) for e in events]
    assert stamps == sorted(stamps)
    assert start <= stamps[0] and stamps[-1] < start + timedelta(seconds=60)
