from __future__ import annotations

from streams.dedup import PartitionDedup, parse_record_key, record_key
from streams.fast_decode import Row


def rows(*ids: str) -> list[Row]:
    return [(event_id, 0) for event_id in ids]


def test_duplicates_across_and_within_messages_count_once() -> None:
    dedup = PartitionDedup(0, window_minutes=60)
    first = dedup.filter(rows("a", "b", "a"), offset=10)
    assert [r[0] for r in first.rows] == ["a", "b"]
    assert first.duplicates == 1
    dedup.remember(10, 5, first.first_seen)
    second = dedup.filter(rows("b", "c"), offset=11)
    assert [r[0] for r in second.rows] == ["c"]


def test_a_replayed_message_decides_as_the_first_run_did() -> None:
    dedup = PartitionDedup(0, window_minutes=60)
    for offset, ids in [(1, ("a", "b")), (2, ("b", "c", "c")), (3, ("d",))]:
        result = dedup.filter(rows(*ids), offset)
        dedup.remember(offset, offset * 10, result.first_seen)
    restored = PartitionDedup(0, window_minutes=60)
    restored.load((o, v) for o, v in _stored(dedup))
    replay = restored.filter(rows("b", "c", "c"), offset=2)
    assert [r[0] for r in replay.rows] == ["c"]
    assert replay.duplicates == 2
    assert restored.watermark_before(2) == 10
    assert restored.watermark_before(3) == 20
    assert restored.watermark_before(1) == -1


def _stored(dedup: PartitionDedup) -> list[tuple[int, bytes]]:
    import orjson

    return [
        (o, orjson.dumps({"wm": wm, "ids": dedup.ids[o]}))
        for o, wm in zip(dedup.offsets, dedup.watermarks, strict=True)
    ]


def test_records_expire_after_the_window() -> None:
    dedup = PartitionDedup(0, window_minutes=30)
    for offset, minute in [(1, 100), (2, 110), (3, 140), (4, 150)]:
        result = dedup.filter(rows(f"e{offset}"), offset)
        dedup.remember(offset, minute, result.first_seen)
    assert dedup.expire(watermark=150) == [1, 2]
    assert "e1" not in dedup.first_seen
    assert dedup.filter(rows("e3"), 9).duplicates == 1


def test_record_keys_sort_by_offset() -> None:
    keys = [record_key(2, o) for o in (9, 10, 100)]
    assert keys == sorted(keys)
    assert parse_record_key(keys[1]) == (2, 10)
