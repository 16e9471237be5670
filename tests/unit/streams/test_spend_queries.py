from __future__ import annotations

import pytest

from streams.rollup import N_METRICS
from streams.series_state import SeriesState
from streams.spend_queries import merge_top, top_series, totals_json, window_sums

NOW = 29_000_000


def state(cost: int, minute: int = NOW) -> SeriesState:
    s = SeriesState()
    s.apply(0, 1, [[minute, cost, 1] + [0] * (N_METRICS - 2)])
    return s


def test_top_series_ranks_by_spend_in_the_window_and_skips_other_dimensions() -> None:
    states = [("team=a", state(5)), ("team=b", state(50)), ("team=c", state(500, NOW - 600)),
              ("app=x", state(10**9))]  # fmt: skip
    top = top_series(states, "team", "1h", NOW, limit=5)
    assert [r["value"] for r in top] == ["b", "a"]
    assert top[0]["cost_usd"] == "0.000000050"
    assert [r["value"] for r in top_series(states, "team", "24h", NOW, 1)] == ["c"]


def test_merge_top_across_workers() -> None:
    a = [{"series": "team=a", "cost_nanos": 5}, {"series": "team=c", "cost_nanos": 1}]
    b = [{"series": "team=b", "cost_nanos": 7}]
    assert [r["series"] for r in merge_top([a, b], 2)] == ["team=b", "team=a"]


def test_unknown_window_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown window"):
        window_sums(state(1), "2w", NOW)
    assert totals_json(window_sums(state(7), "all", NOW))["cost_nanos"] == 7
