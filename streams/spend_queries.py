"""Read-side queries over series states: totals, windows, top-N, month to date."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.money import usd_text
from streams.rollup import COST, METRICS
from streams.series_state import WINDOWS, SeriesState

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WINDOW_NAMES = (*WINDOWS, "mtd", "all")


def minute_of(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(minutes=1)


def totals_json(sums: list[int]) -> dict[str, Any]:
    """Metric sums by name, with the cost also as an exact USD decimal string."""
    out: dict[str, Any] = dict(zip(METRICS, sums, strict=True))
    out["cost_usd"] = usd_text(sums[COST])
    return out


def window_sums(state: SeriesState, window: str, now_minute: int) -> list[int]:
    if window == "all":
        return state.total()
    if window not in WINDOW_NAMES:
        raise ValueError(f"unknown window {window!r}; expected one of {', '.join(WINDOW_NAMES)}")
    return state.window(window, now_minute)


def top_series(
    states: Iterable[tuple[str, SeriesState]],
    dimension: str,
    window: str,
    now_minute: int,
    limit: int,
) -> list[dict[str, Any]]:
    """The ``limit`` series of ``dimension`` with the most spend in the window."""
    prefix = f"{dimension}="
    rows = []
    for name, state in states:
        if name.startswith(prefix):
            sums = window_sums(state, window, now_minute)
            if sums[1]:
                rows.append({"series": name, "value": name[len(prefix) :], **totals_json(sums)})
    rows.sort(key=lambda r: (-r["cost_nanos"], r["series"]))
    return rows[:limit]


def merge_top(parts: Iterable[list[dict[str, Any]]], limit: int) -> list[dict[str, Any]]:
    rows = [row for part in parts for row in part]
    rows.sort(key=lambda r: (-r["cost_nanos"], r["series"]))
    return rows[:limit]
