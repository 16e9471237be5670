from __future__ import annotations

import itertools

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.dedup import PartitionDedup, parse_record_key, record_key
from streams.rows import Row


def rows(*ids: str, minute: int = 0) -> list[Row]:
    return [(event_id, minute) for event_id in ids]


def process(dedup: PartitionDedup, offset: int, message: list[Row]) -> tuple[list[str], int]:
    before = dedup.watermark_before(offset)
    result = dedup.filter(message, offset)
    dedup.remember(offset, max(r[1] for r in message), result.first_seen)
    return [r[0] for r in result.rows], before


def stored(dedup: PartitionDedup) -> list[tuple[int, bytes]]:
    return [
        (o, orjson.dumps({"wm": m, "ids": dedup.ids[o]}))
        for o, m in zip(dedup.offsets, dedup.maxima, strict=True)
    ]


def test_duplicates_across_and_within_messages_count_once() -> None:
    dedup = PartitionDedup(0, window_minutes=60)
    assert process(dedup, 10, rows("a", "b", "a"))[0] == ["a", "b"]
    assert process(dedup, 11, rows("b", "c"))[0] == ["c"]


def test_a_replayed_message_decides_as_the_first_run_did() -> None:
    dedup = PartitionDedup(0, window_minutes=60)
    for offset, ids in [(1, ("a", "b")), (2, ("b", "c", "c")), (3, ("d",))]:
        process(dedup, offset, rows(*ids, minute=offset * 10))
    restored = PartitionDedup(0, window_minutes=60)
    restored.load(stored(dedup))
    assert process(restored, 2, rows("b", "c", "c", minute=20)) == (["c"], 10)
    assert restored.watermark_before(3) == 20
    assert restored.watermark_before(1) == -1


messages = st.lists(
    st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=6), min_size=1, max_size=8
)


@given(messages, st.randoms())
def test_decisions_do_not_depend_on_processing_order(
    contents: list[list[str]], rng: st.randoms
) -> None:
    """Messages handed out of order (around a rebalance) decide as in order."""
    in_order = PartitionDedup(0, window_minutes=10**6)
    expected = {o: process(in_order, o, rows(*ids, minute=o))[0] for o, ids in enumerate(contents)}
    shuffled = PartitionDedup(0, window_minutes=10**6)
    order = list(range(len(contents)))
    rng.shuffle(order)
    for o in order:  # first pass out of order, then the in-order replay that follows it
        process(shuffled, o, rows(*contents[o], minute=o))
    replayed = {o: process(shuffled, o, rows(*ids, minute=o)) for o, ids in enumerate(contents)}
    assert {o: kept for o, (kept, _) in replayed.items()} == expected
    assert [wm for _, wm in replayed.values()] == list(
        itertools.accumulate([-1, *range(len(contents) - 1)], max)
    )


def test_records_expire_after_the_window_of_the_committed_offset() -> None:
    dedup = PartitionDedup(0, window_minutes=30)
    for offset, minute in [(1, 100), (2, 110), (3, 140), (4, 150)]:
        process(dedup, offset, rows(f"e{offset}", minute=minute))
    assert dedup.expire(committed=None) == []  # nothing committed yet: keep all
    assert dedup.expire(committed=3) == []  # a replay from 3 judges by 110 - 30
    # Out of the window for message 5 (watermark 150): a copy of e1 counts again,
    # a copy of e3 does not; both decided without deleting anything.
    assert process(dedup, 5, rows("e1", "e3", minute=150))[0] == ["e1"]
    assert dedup.expire(committed=5) == [1, 2]
    assert "e1" in dedup.first_seen and dedup.first_seen["e1"] == 5  # its new sighting
    assert dedup.filter(rows("e3"), 9).duplicates == 1


@settings(max_examples=300)
@given(
    st.lists(
        st.tuples(st.lists(st.sampled_from("abcdefghij"), min_size=1, max_size=5),
                  st.integers(0, 25)),
        min_size=2, max_size=14,
    ),
    st.lists(st.integers(0, 6), min_size=14, max_size=14),
    st.integers(0, 13),
)  # fmt: skip
def test_a_replay_from_the_committed_offset_decides_as_the_first_run_did(
    messages: list[tuple[list[str], int]], lags: list[int], crash: int
) -> None:
    """Records deleted while a replay can still reach back past them would make it count
    copies the first run had dropped; deletion follows the committed offset, so no."""
    window = 20
    first_run = PartitionDedup(0, window_minutes=window)
    decisions: dict[int, list[str]] = {}
    committed: list[int] = []
    minute = 0
    timeline = []
    for offset, (ids, step) in enumerate(messages):
        minute += step
        timeline.append((offset, ids, minute))
    crash = min(crash, len(timeline) - 1)
    deleted: set[int] = set()
    for offset, ids, at in timeline[: crash + 1]:
        decisions[offset] = process(first_run, offset, rows(*ids, minute=at))[0]
        # Commits lag behind processing, and never go back.
        done = max(committed[-1] if committed else 0, offset + 1 - lags[offset])
        committed.append(done)
        deleted |= set(first_run.expire(committed=done))
    restart_at = committed[-1]
    restored = PartitionDedup(0, window_minutes=window)
    restored.load(stored(first_run))  # what the table holds: deleted records are gone
    assert not deleted & set(restored.offsets)
    for offset, ids, at in timeline[restart_at : crash + 1]:
        assert process(restored, offset, rows(*ids, minute=at))[0] == decisions[offset]


def test_record_keys_sort_by_offset() -> None:
    keys = [record_key(2, o) for o in (9, 10, 100)]
    assert keys == sorted(keys)
    assert parse_record_key(keys[1]) == (2, 10)


@settings(max_examples=200)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 500)), max_size=25),
    st.integers(0, 31),
)
def test_watermark_before_is_the_highest_minute_of_earlier_offsets(
    messages: list[tuple[int, int]], probe: int
) -> None:
    dedup = PartitionDedup(0, 10_000)
    seen: dict[int, int] = {}
    for offset, minute in messages:
        dedup.watermark_before(offset)  # keeps its cache warm between records
        dedup.remember(offset, minute, [])
        seen[offset] = max(seen.get(offset, minute), minute)
        earlier = [m for o, m in seen.items() if o < probe]
        assert dedup.watermark_before(probe) == max(earlier, default=-1)
