"""Synthetic traffic for the FinOps tests: the last two days, produced in time order."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.producer import encode_batch, partition_for
from streams.synthetic import TrafficGenerator
from streams.synthetic_org import TrafficProfile

WINDOW_S = 600


def recent_events(days: float = 2.0, rate: float = 0.05, seed: int = 11) -> list[dict[str, Any]]:
    """Events from ``days`` ago until a minute ago; every 25th lacks a team (unattributed)."""
    start = (datetime.now(UTC) - timedelta(days=days)).replace(second=0, microsecond=0)
    gen = TrafficGenerator(TrafficProfile(seed=seed, calls_per_second=rate), start=start)
    events = gen.events_between(0, days * 86400 - 60)
    for event in events[::25]:
        event.pop("team", None)
    return events


def usage_messages(events: list[dict[str, Any]], partitions: int) -> list[tuple[int, bytes, bytes]]:
    """Batches per key per 10-minute window, in time order (so nothing counts as late)."""
    messages = []
    windows: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for event in events:
        windows[event["timestamp"][:15]][event["api_key_id"]].append(event)
    for window in sorted(windows):
        for key, batch in sorted(windows[window].items()):
            messages.append((partition_for(key, partitions), key.encode(), encode_batch(batch)))
    return messages
