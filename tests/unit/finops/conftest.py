"""Synthetic traffic across a month boundary, with unattributed calls mixed in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from streams.synthetic import TrafficGenerator
from streams.synthetic_org import TrafficProfile

START = datetime(2026, 10, 31, 21, tzinfo=UTC)


def synthetic_events(hours: float = 6, rate: float = 0.5, seed: int = 3) -> list[dict[str, Any]]:
    gen = TrafficGenerator(TrafficProfile(seed=seed, calls_per_second=rate), start=START)
    events = gen.events_between(0, hours * 3600)
    for i, event in enumerate(events[::40]):
        del event["team"]
        if i % 2:
            del event["app"]
    return events


@pytest.fixture(scope="session")
def events() -> list[dict[str, Any]]:
    return synthetic_events()


@pytest.fixture(scope="session")
def events_lines(events: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(e) for e in events]
