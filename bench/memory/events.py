"""The memory run's input: exactly S distinct ``api_key_id`` series, few of anything else.

Key ``i`` belongs to one of a handful of teams, apps, features, models and environments,
so every other dimension adds only a few series. Every key gets ``events_per_key``
events, in rounds (round 0 for every key, then round 1, ...), with event time rising
steadily over ``WINDOW_S`` seconds that end ``END_MARGIN_S`` before now: within each
usage partition the timestamps never go back (no late events), a key's events land in
different minutes, and a worker's limits (5 min in the future, 7 days old) accept all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.producer import partition_for

WINDOW_S = 3000.0
END_MARGIN_S = 120.0
TEAMS = ("search", "support", "growth", "platform")
APPS = tuple(f"{team}-{kind}" for team in TEAMS for kind in ("api", "batch"))
"""Two apps per team; key ``i`` uses app ``i % len(APPS)`` and that app's team."""
FEATURES = ("chat", "summarize", "extract")
MODELS = (("openai", "gpt-4o-mini"), ("openai", "gpt-4o"), ("anthropic", "claude-haiku-4-5"))
ENVIRONMENTS = ("production", "staging")
UNATTRIBUTED = "unattributed"
ORG = "all"
_FIELDS = {
    "api_key_id": "api_key_id", "team": "team", "app": "app", "feature": "feature",
    "model": "model", "provider": "provider", "environment": "environment",
}  # fmt: skip


_PERIOD = math.lcm(len(APPS) * len(FEATURES), len(MODELS), 7 * len(ENVIRONMENTS))
"""``key_attributes(i)`` repeats with this period."""


def api_key(i: int) -> str:
    return f"mem-key-{i:07d}"


def key_attributes(i: int) -> dict[str, str]:
    """Team, app, feature, model, provider and environment of key ``i``."""
    app = i % len(APPS)
    provider, model = MODELS[i % len(MODELS)]
    return {
        "team": TEAMS[app // 2],
        "app": APPS[app],
        "feature": FEATURES[(i // len(APPS)) % len(FEATURES)],
        "provider": provider,
        "model": model,
        "environment": ENVIRONMENTS[(i // 7) % len(ENVIRONMENTS)],
    }


def memory_events(
    series: int,
    events_per_key: int = 2,
    *,
    end: datetime | None = None,
    window_s: float = WINDOW_S,
) -> Iterator[dict[str, Any]]:
    """``series * events_per_key`` events over ``series`` distinct keys (see the module)."""
    if series < 1 or events_per_key < 1:
        return
    end = end or datetime.now(UTC) - timedelta(seconds=END_MARGIN_S)
    end_ms = int(end.timestamp() * 1000)
    window_ms = int(window_s * 1000)
    start_ms = end_ms - window_ms
    total = series * events_per_key
    attributes = [key_attributes(i) for i in range(_PERIOD)]
    for round_ in range(events_per_key):
        for i in range(series):
            g = round_ * series + i
            yield {
                "event_id": f"mem-{i}-{round_}",
                "timestamp": start_ms + g * window_ms // total,
                "api_key_id": api_key(i),
                **attributes[i % _PERIOD],
                "input_tokens": 200 + g % 1800,
                "output_tokens": 20 + g % 400,
            }


def series_name(dimension: str, value: str) -> str:
    return f"{dimension}={value}"


class SeriesTally:
    """The distinct series per dimension that events make, as the worker names them."""

    def __init__(self, dimensions: Sequence[str]) -> None:
        self.dimensions = tuple(dimensions)
        self.values: dict[str, set[str]] = {d: set() for d in self.dimensions}
        self.events = 0

    def add(self, event: Mapping[str, Any]) -> None:
        self.events += 1
        for dimension in self.dimensions:
            if dimension == "attribution":
                value = "\x1f".join(str(event.get(f) or UNATTRIBUTED) for f in _FIELDS)
                self.values[dimension].add(value)
                continue
            field = _FIELDS.get(dimension)
            value = ORG if field is None else str(event.get(field) or UNATTRIBUTED)
            self.values[dimension].add(value)

    def observe(self, events: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
        """Pass ``events`` through, counting them on the way."""
        for event in events:
            self.add(event)
            yield event

    def per_dimension(self) -> dict[str, int]:
        return {d: len(v) for d, v in self.values.items()}

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.values.values())


def sentinel_keys(series: int, partitions: int) -> dict[int, str]:
    """Per series partition, the last-produced key whose series that partition owns.

    A worker that answers these with their full counts has recovered every partition
    of the series table, not just the one that owns ``org=all``.
    """
    found: dict[int, str] = {}
    for i in range(series - 1, -1, -1):
        key = api_key(i)
        found.setdefault(partition_for(series_name("api_key_id", key), partitions), key)
        if len(found) == partitions:
            break
    return dict(sorted(found.items()))
