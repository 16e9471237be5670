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
