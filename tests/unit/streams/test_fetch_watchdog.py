from __future__ import annotations

import pytest

from streams.fetch_watchdog import unread


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
