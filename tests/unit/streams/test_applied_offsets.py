from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from streams.applied_offsets import AppliedOffsets


@given(st.lists(st.integers(0, 300), max_size=200))
def test_each_offset_is_applied_exactly_once_in_any_order(offsets: list[int]) -> None:
    seen = AppliedOffsets()
    applied = [o for o in offsets if seen.add(o, horizon=10_000)]
    assert sorted(applied) == sorted(set(offsets))
    assert all(o in seen for o in offsets)
    flat = [o for first, last in seen.ranges for o in range(first, last + 1)]
    assert flat == sorted(set(offsets))
    assert all(b[0] > a[1] + 1 for a, b in zip(seen.ranges, seen.ranges[1:], strict=False))
    again = AppliedOffsets.from_json(seen.to_json())
    assert again == seen


def test_offsets_far_below_the_newest_count_as_applied() -> None:
    seen = AppliedOffsets()
    seen.add(5, horizon=100)
    seen.add(500, horizon=100)
    assert 6 in seen  # below the floor: no replay reaches that far back
    assert 450 not in seen
    assert seen.ranges == [[500, 500]]


def test_a_dense_series_keeps_one_range() -> None:
    seen = AppliedOffsets()
    offsets = list(range(1000))
    random.Random(3).shuffle(offsets)
    for o in offsets:
        seen.add(o)
    assert seen.ranges == [[0, 999]]


def test_a_committed_offset_forgets_the_ranges_below_it() -> None:
    """A sparse series (in every third message) keeps one range per message until a
    partial carries its source's committed offset; then only what is above it."""
    seen = AppliedOffsets()
    for o in range(0, 3000, 3):
        seen.add(o)
    assert len(seen.ranges) == 1000
    seen.settle(2990)
    assert seen.ranges == [[2991, 2991], [2994, 2994], [2997, 2997]]
    assert 1501 in seen and 2995 not in seen  # a replay below it counts as applied
    assert seen.add(2995) and not seen.add(2994)
    seen.settle(100)  # the floor never falls
    assert 2000 in seen


@given(st.lists(st.integers(0, 300), max_size=200), st.integers(-1, 300))
def test_settling_keeps_every_offset_above_the_floor_exact(offsets: list[int], floor: int) -> None:
    seen = AppliedOffsets()
    for o in offsets:
        seen.add(o, horizon=10_000)
    seen.settle(floor)
    assert all((o in seen) == (o <= floor or o in offsets) for o in range(-1, 302))
