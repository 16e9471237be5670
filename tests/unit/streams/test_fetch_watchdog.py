from __future__ import annotations

import pytest

from streams.fetch_watchdog import Stalls, unread


@pytest.mark.parametrize(
    ("end", "read", "committed", "behind"),
    [
        (10, 9, None, False),  # read to the end
        (10, 8, None, True),  # one message left
        (10, None, 10, False),  # never read, nothing new since the commit
        (10, None, 4, True),  # never read, messages after the commit: the stall
        (10, None, None, True),  # never read, never committed
        (0, None, None, False),  # an empty partition
    ],
)
def test_a_partition_is_behind_when_its_end_is_past_the_position_reached(
    end: int, read: int | None, committed: int | None, behind: bool
) -> None:
    assert (unread({"tp": end}, {"tp": read}, {"tp": committed}) == {"tp"}) is behind


# Each case: per check, the read offsets of partitions a and b, and which are behind;
# then what is stalled after each check.
@pytest.mark.parametrize(
    ("checks", "stalled"),
    [
        # a flows, b has unread messages and does not move: stalled after two checks
        # more than its first reading, whatever a does
        (
            [({"a": 1, "b": 5}, {"a", "b"}), ({"a": 2, "b": 5}, {"a", "b"}),
             ({"a": 3, "b": 5}, {"a", "b"})],
            [set(), set(), {"b"}],
        ),
        # b does not move but has nothing to read: never stalled
        (
            [({"a": 1, "b": 5}, {"a"}), ({"a": 2, "b": 5}, {"a"}), ({"a": 3, "b": 5}, {"a"})],
            [set(), set(), set()],
        ),
        # b moves once in between: its count starts again
        (
            [({"a": 1, "b": 5}, {"b"}), ({"a": 1, "b": 5}, {"b"}), ({"a": 1, "b": 6}, {"b"}),
             ({"a": 1, "b": 6}, {"b"}), ({"a": 1, "b": 6}, {"b"})],
            [set(), set(), set(), set(), {"b"}],
        ),
        # never read (None) and behind: stalled like any other position
        (
            [({"a": None}, {"a"}), ({"a": None}, {"a"}), ({"a": None}, {"a"})],
            [set(), set(), {"a"}],
        ),
        # once reported, a stalled partition needs two more checks to be reported again
        (
            [({"a": 1}, {"a"})] * 5,
            [set(), set(), {"a"}, set(), {"a"}],
        ),
    ],
)  # fmt: skip
def test_a_partition_is_stalled_when_behind_and_still_for_two_checks(
    checks: list[tuple[dict[str, int | None], set[str]]], stalled: list[set[str]]
) -> None:
    stalls = Stalls()
    assert [stalls.observe(read, behind).stalled for read, behind in checks] == stalled


def test_whether_anything_moved_compares_with_the_last_check() -> None:
    stalls = Stalls()
    assert stalls.observe({"a": 1}, set()).moved  # a first reading
    assert stalls.observe({"a": 1, "b": 2}, set()).moved  # b read for the first time
    assert not stalls.observe({"a": 1, "b": 2}, set()).moved
    assert stalls.observe({"a": 1, "b": 3}, set()).moved
