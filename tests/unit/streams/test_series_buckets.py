"""Packed bucket levels behave exactly like the dict of lists they replace."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.rollup import N_METRICS
from streams.series_buckets import Buckets
from streams.series_state import SeriesState

sums = st.lists(st.integers(0, 10**15), min_size=N_METRICS, max_size=N_METRICS)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 40), sums),
        st.tuples(st.just("set"), st.integers(0, 40), sums),
        st.tuples(st.just("trim"), st.integers(0, 40), st.just([])),
        st.tuples(st.just("store"), st.just(0), st.just([])),
    ),
    max_size=60,
)


@given(steps)
def test_every_change_and_read_matches_a_dict_of_lists(script: list) -> None:
    packed, model = Buckets(), {}
    for op, start, values in script:
        if op == "add":
            packed.add(start, values)
            current = model.setdefault(start, [0] * N_METRICS)
            model[start] = [a + b for a, b in zip(current, values, strict=True)]
        elif op == "set":
            packed[start] = values
            model[start] = list(values)
        elif op == "trim":
            packed.trim_before(start)
            model = {k: v for k, v in model.items() if k >= start}
        else:  # what a flush does: store, and go on adding to the stored object
            assert Buckets.from_columns(orjson.loads(orjson.dumps(packed.columns()))) == model
        assert list(packed) == sorted(model) and len(packed) == len(model)
    assert packed == model
    assert packed.items() == sorted(model.items())
    for start in range(-1, 42):
        assert (start in packed) == (start in model)
        assert packed.get(start) == model.get(start)
    for first, end in [(0, 41), (5, 6), (10, 30), (41, 50), (7, 7)]:
        expected = [0] * N_METRICS
        for start, values in model.items():
            if first <= start < end:
                expected = [a + b for a, b in zip(expected, values, strict=True)]
        assert packed.window_sum(first, end) == expected


def test_rows_in_any_order_read_as_the_buckets_they_were() -> None:
    rows = [[12, *[1] * N_METRICS], [3, *[2] * N_METRICS], [7, *[3] * N_METRICS]]
    buckets = Buckets.from_rows(rows)
    assert list(buckets) == [3, 7, 12]
    assert buckets.rows() == sorted(rows)
    assert buckets[7] == [3] * N_METRICS


@pytest.mark.parametrize(
    ("columns", "problem"),
    [
        ([[1, 2], [0] * N_METRICS], "sums for 2 buckets"),
        ([[2, 1], [0] * (2 * N_METRICS)], "out of order"),
        ([[1, 1], [0] * (2 * N_METRICS)], "out of order or repeated"),
    ],
)
def test_stored_columns_that_do_not_fit_are_refused(columns: list, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Buckets.from_columns(columns)


def test_rows_of_the_wrong_width_or_repeated_are_refused() -> None:
    with pytest.raises(ValueError, match="values"):
        Buckets.from_rows([[1, 2, 3]])
    with pytest.raises(ValueError, match="repeated"):
        Buckets.from_rows([[1, *[0] * N_METRICS], [1, *[0] * N_METRICS]])
    with pytest.raises(ValueError, match="sums"):
        Buckets().add(1, [1, 2])


def test_a_sum_past_64_bits_raises_instead_of_wrapping() -> None:
    """As storing it did before sums were packed: orjson's integers are 64-bit."""
    buckets = Buckets()
    buckets.add(1, [2**62] + [0] * (N_METRICS - 1))
    buckets.columns()  # packed, as after a flush
    buckets.add(0, [0] * N_METRICS)
    with pytest.raises(OverflowError):
        buckets.add(0, [2**63] + [0] * (N_METRICS - 1))  # an older bucket: added packed
    buckets.add(1, [2**62] + [0] * (N_METRICS - 1))  # the newest: added unpacked
    with pytest.raises(OverflowError):
        buckets.columns()
    with pytest.raises(TypeError):
        orjson.dumps([2**64])


def test_a_state_stored_as_rows_before_reads_back_the_same() -> None:
    """States in changelogs written before the columns format still load."""
    state = SeriesState()
    for offset, minute in enumerate([29_000_000, 29_000_061, 29_000_001]):
        state.apply(0, offset, [[minute, 1_234_567 + offset, 1] + [0] * (N_METRICS - 2)])
    data = orjson.loads(state.to_bytes())
    assert data.pop("v") == 2
    for level in ("m", "h", "d", "M"):
        starts, flat = data[level]
        width = N_METRICS
        data[level] = [[s, *flat[i * width : (i + 1) * width]] for i, s in enumerate(starts)]
        data[level].reverse()  # dict order then: not necessarily sorted
    old = SeriesState.from_bytes(orjson.dumps(data))
    assert old == state
    assert old.window("24h", 29_000_061) == state.window("24h", 29_000_061)
    assert old.total()[0] == 3 * 1_234_567 + 3
