"""The columnar path must count exactly what the row path counts, message by message."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from schemas.decode import EventDecoder
from streams.columnar_rollup import sum_columns
from streams.dedup import PartitionDedup
from streams.fast_decode import DecodedRows, RowDecoder
from streams.producer import encode_batch
from streams.rollup import MessageTotals, sum_rows
from streams.rows import COMPUTED, REPORTED, UNPRICED

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
Make = Callable[..., dict[str, Any]]
COLUMNAR_TAKEN: list[int] = []
"""Offsets of the messages the columnar tier decoded in the last ``both_paths`` run."""


@dataclasses.dataclass
class Outcome:
    """What one path made of one message: everything the worker keeps or sends on."""

    rows: list[Any]
    rejected: list[tuple[int | None, tuple[Any, ...]]]
    totals: MessageTotals
    duplicates: int
    first_seen: list[str]
    record: bytes | None


def count(decoder: RowDecoder, dedup: PartitionDedup, raw: bytes, offset: int) -> Outcome:
    """One message through decode, dedup, lateness and sums, as ``IngestStage`` runs it."""
    decoded: DecodedRows = decoder.decode(raw, NOW)
    watermark = dedup.watermark_before(offset)
    if decoded.columns is not None:
        COLUMNAR_TAKEN.append(offset)
        verdict = dedup.filter_ids(decoded.columns.event_id, offset)
        totals = sum_columns(decoded.columns, verdict.kept, watermark, 10, 2)
        duplicates, first_seen = verdict.duplicates, verdict.first_seen
    else:
        filtered = dedup.filter(decoded.rows, offset)
        totals = sum_rows(filtered.rows, watermark, 10, 2)
        duplicates, first_seen = filtered.duplicates, filtered.first_seen
    rows = decoded.all_rows()
    record = dedup.remember(offset, max(r[1] for r in rows), first_seen) if rows else None
    rejected = [(r.index, r.errors) for r in decoded.rejected]
    return Outcome(rows, rejected, totals, duplicates, first_seen, record)


def both_paths(messages: list[list[dict[str, Any]]]) -> tuple[list[Outcome], list[Outcome]]:
    COLUMNAR_TAKEN.clear()
    rows_decoder, columns_decoder = RowDecoder(), RowDecoder()
    rows_dedup, columns_dedup = PartitionDedup(0, 60), PartitionDedup(0, 60)
    by_rows, by_columns = [], []
    for offset, events in enumerate(messages):
        arrays = encode_batch(events, columnar=False)
        columns = encode_batch(events)
        by_rows.append(count(rows_decoder, rows_dedup, arrays, offset))
        by_columns.append(count(columns_decoder, columns_dedup, columns, offset))
    return by_rows, by_columns


def assert_same(by_rows: list[Outcome], by_columns: list[Outcome]) -> None:
    for a, b in zip(by_rows, by_columns, strict=True):
        assert a == b
        assert list(a.totals.combos) == list(b.totals.combos)  # same order, too


labels = st.sampled_from(["search", "ads", "unattributed", None])
events = st.fixed_dictionaries(
    {
        "event_id": st.sampled_from([f"e-{i}" for i in range(40)]),
        "timestamp": st.integers(NOW_MS - 40 * 60_000, NOW_MS + 60_000),
        "provider": st.sampled_from(["openai", "google", "anthropic", "deepseek", "acme"]),
        "model": st.sampled_from(
            ["gpt-4o", "gemini-2.5-pro", "deepseek-chat", "claude-sonnet-4-5", "no-such-model"]
        ),
        "api_key_id": st.sampled_from(["k1", "k2", "k3"]),
        "input_tokens": st.integers(0, 400_000),
        "output_tokens": st.integers(0, 5_000),
    },
    optional={
        "cache_read_tokens": st.integers(0, 3_000),
        "cache_write_tokens": st.integers(0, 1_000),
        "cost_usd": st.sampled_from(["0.125", "3", "0.000001234", None]),
        "team": labels,
        "app": labels,
        "feature": labels,
        "environment": labels,
        "user_id": st.sampled_from(["u-1", "u-2", None]),
        "units": st.dictionaries(st.sampled_from(["docs", "pages"]), st.integers(0, 9)),
        "status": st.sampled_from(["ok", "error", "timeout", None]),
        "latency_ms": st.floats(0, 1e5) | st.none(),
        "tags": st.dictionaries(st.sampled_from(["a", "b"]), st.sampled_from(["x", "y"])),
    },
)
oddities = st.sampled_from(
    [
        {},
        {"timestamp": NOW_MS - 3 * 24 * 60 * 60_000},  # late (but inside the age limit)
        {"timestamp": NOW_MS + 10 * 60_000},  # too far in the future: rejected
        {"timestamp": "2026-11-29T11:58:00.5Z"},  # string: the per-item path
        {"timestamp": "2026-11-29T11:58:00.000001Z"},  # not whole milliseconds: stays a string
        {"input_tokens": 10**10, "output_tokens": 10**10, "model": "claude-opus-4-1"},
        {"team": " padded"},  # valid, stripped by the model: the per-item path
        {"output_tokens": "many"},  # invalid
        {"cache_read_tokens": 10**6},  # more cached than input: invalid
        {"cost_usd": "0.0000000015"},  # sub-nano: rounded by the model
        {"provider": "x y"},  # invalid provider
    ]
)
message = st.lists(
    st.tuples(events, oddities, st.integers(0, 15).map(lambda k: k == 0)).map(
        lambda t: {**t[0], **(t[1] if t[2] else {})}
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(message, min_size=1, max_size=4))
def test_columnar_and_row_paths_count_the_same(messages: list[list[dict[str, Any]]]) -> None:
    by_rows, by_columns = both_paths(messages)
    assert_same(by_rows, by_columns)
    event("columnar tier took a message" if COLUMNAR_TAKEN else "per-item path only")


def plain_events(n: int, make_event: Make, **extra: Any) -> list[dict[str, Any]]:
    return [
        make_event(
            event_id=f"p-{i}",
            timestamp=NOW_MS - (i * 7919) % (30 * 60_000),
            api_key_id=f"k-{i % 5}",
            team=[None, "search", "ads"][i % 3],
            model=["gpt-4o", "gemini-2.5-pro", "no-such-model"][i % 3],
            provider=["openai", "google", "openai"][i % 3],
            input_tokens=(i * 104_729) % 400_000,
            output_tokens=i % 700,
            cache_read_tokens=i % 50,
            **extra,
        )
        for i in range(n)
    ]


def test_plain_batches_take_the_columnar_tier_with_the_row_paths_values(make_event: Make) -> None:
    events = plain_events(300, make_event, units={"docs": 1}, status="error")
    events[7]["cost_usd"] = "0.25"
    decoded = RowDecoder().decode(encode_batch(events), NOW)
    assert decoded.columns is not None
    assert decoded.rows == []
    sources = set(decoded.columns.cost_source.tolist())
    assert sources == {REPORTED, COMPUTED, UNPRICED}
    by_rows, by_columns = both_paths([events[:150], events[100:]])  # 50 duplicates
    assert by_columns[1].duplicates == 50
    assert_same(by_rows, by_columns)


def test_off_peak_prices_follow_the_minute(make_event: Make) -> None:
    day = [
        make_event(
            event_id=f"d-{m}",
            timestamp=NOW_MS - m * 60_000,
            provider="deepseek",
            model="deepseek-chat",
            input_tokens=10_000,
            output_tokens=1_000,
        )
        for m in range(0, 1440, 17)
    ]
    decoded = RowDecoder().decode(encode_batch(day), NOW)
    assert decoded.columns is not None
    assert len(set(decoded.columns.cost_nanos.tolist())) > 1  # two prices in one day
    assert (
        decoded.columns.rows() == RowDecoder().decode(encode_batch(day, columnar=False), NOW).rows
    )


def test_int64_overflow_falls_back_to_exact_python_integers(make_event: Make) -> None:
    huge = [
        make_event(
            timestamp=NOW_MS,
            model="claude-opus-4-1",
            provider="anthropic",
            input_tokens=10**10,
            output_tokens=10**10,
        )
        for _ in range(3)
    ]
    decoded = RowDecoder().decode(encode_batch(huge), NOW)
    assert decoded.columns is not None
    assert (
        decoded.columns.rows() == RowDecoder().decode(encode_batch(huge, columnar=False), NOW).rows
    )
    # Sums past int64 stay exact too.
    big = np.full(3, 2**62, dtype=np.int64)
    batch = dataclasses.replace(decoded.columns, cost_nanos=big)
    totals = sum_columns(batch, None, -1, 10)
    assert [sums[0] for sums in totals.combos.values()] == [3 * 2**62]
    assert totals == sum_rows(batch.rows(), -1, 10)


def test_a_bad_item_keeps_its_index_and_its_neighbours(make_event: Make) -> None:
    events = plain_events(5, make_event)
    events[3]["output_tokens"] = -4
    decoded = RowDecoder().decode(encode_batch(events), NOW)
    assert decoded.columns is None
    assert len(decoded.rows) == 4
    [bad] = decoded.rejected
    assert (bad.index, bad.errors[0].path) == (3, "output_tokens")
    assert orjson.loads(bad.original)["event_id"] == "p-3"


@pytest.mark.parametrize(
    ("columns", "path", "fragment"),
    [
        ([1, 2], "columns", "JSON object"),
        ({"event_id": ["a"], "model": "gpt-4o"}, "columns.model", "JSON array"),
        ({"event_id": ["a", "b"], "model": ["gpt-4o"]}, "columns.model", "has 1 values"),
    ],
)
def test_malformed_columns_reject_the_message(columns: Any, path: str, fragment: str) -> None:
    raw = orjson.dumps({"schema_version": 1, "columns": columns})
    [rejected] = EventDecoder().decode(raw, NOW).rejected
    assert rejected.index is None
    assert rejected.errors[0].path == path
    assert fragment in rejected.errors[0].problem


def test_columnar_schema_version_and_fields_are_checked() -> None:
    wrong = EventDecoder().decode(b'{"schema_version": 2, "columns": {}}', NOW).rejected
    assert "unsupported schema_version 2" in wrong[0].reason
    extra = EventDecoder().decode(b'{"columns": {}, "rows": 1}', NOW).rejected
    assert extra[0].errors[0].path == "rows"
    unknown = {"event_id": ["a"], "colour": ["red"]}
    out = EventDecoder().decode(orjson.dumps({"columns": unknown}), NOW).rejected
    assert [e.path for e in out[0].errors if e.path == "colour"] == ["colour"]
    assert out[0].index == 0


def test_nulls_mean_absent_and_timestamps_become_milliseconds(make_event: Make) -> None:
    events = plain_events(2, make_event)
    events[0]["timestamp"] = "2026-11-29T11:59:00.250+00:00"
    del events[1]["output_tokens"]
    raw = encode_batch(events)
    columns = orjson.loads(raw)["columns"]
    assert columns["timestamp"][0] == NOW_MS - 59_750
    assert columns["output_tokens"][1] == 0
    assert columns["team"][0] is None
    assert "feature" not in columns
    assert encode_batch([{**events[0], "input_tokens": None}]).startswith(
        b'{"schema_version":1,"events"'
    )
    assert encode_batch([{**events[0], "colour": "red"}]).startswith(
        b'{"schema_version":1,"events"'
    )


def test_dictionary_columns_decode_like_plain_ones(make_event: Make) -> None:
    events = plain_events(40, make_event)
    raw = encode_batch(events)
    columns = orjson.loads(raw)["columns"]
    assert set(columns["api_key_id"]) == {"values", "codes"}  # 5 keys for 40 events
    # A hand-made dictionary may repeat values, alias providers and carry unused values.
    columns["provider"] = {
        "values": ["google", "openai", "gcp.gemini", "openai", "anthropic"],
        "codes": [i % 4 for i in range(40)],
    }
    columns["team"] = {
        "values": ["search", None, "ads", "search"],
        "codes": [i % 4 for i in range(40)],
    }
    raw = orjson.dumps({"schema_version": 1, "columns": columns})
    decoded = RowDecoder().decode(raw, NOW)
    assert decoded.columns is not None
    assert decoded.columns.team.labels.count("search") == 1
    items = EventDecoder().split(raw).items
    assert (
        decoded.columns.rows() == RowDecoder().decode(encode_batch(items, columnar=False), NOW).rows
    )
    rows_path, columns_path = both_paths([items])
    assert_same(rows_path, columns_path)


@pytest.mark.parametrize(
    ("column", "path"),
    [
        ({"values": ["a"], "codes": [0, 1]}, "columns.team.codes.1"),
        ({"values": ["a"], "codes": [0, -1]}, "columns.team.codes.1"),
        ({"values": ["a"], "codes": [0, 10**30]}, "columns.team.codes.1"),
        ({"values": "a", "codes": [0, 0]}, "columns.team.values"),
        ({"values": ["a"]}, "columns.team"),
    ],
)
def test_bad_dictionaries_reject_the_message(column: dict[str, Any], path: str) -> None:
    columns = {"event_id": ["a", "b"], "team": column}
    raw = json.dumps({"schema_version": 1, "columns": columns}).encode()  # big ints too
    assert RowDecoder().columnar.decode(raw, NOW_MS * 1000) is None
    [rejected] = EventDecoder().decode(raw, NOW).rejected
    assert (rejected.index, rejected.errors[0].path) == (None, path)
