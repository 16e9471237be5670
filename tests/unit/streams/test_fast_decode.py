"""The fast path must agree with the pydantic model: same verdicts, same values."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.decode import Decoded, EventDecoder
from streams.batch_decode import plain_batch
from streams.fast_decode import RowDecoder, row_from_priced

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
NOW_US = (NOW - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
DECODER = RowDecoder()
Make = Callable[..., dict[str, Any]]


def slow_verdict(item: Any) -> Decoded:
    out = Decoded()
    EventDecoder().decode_item(item, 0, None, NOW, out)
    return out


def test_plain_events_take_the_fast_path_with_the_models_values(make_event: Make) -> None:
    items = [
        make_event(timestamp=NOW.isoformat()),
        make_event(timestamp="2026-11-29T11:59:30.25Z", cost_usd="0.125", status="error"),
        make_event(
            timestamp=NOW_US // 1000 - 60_000, cache_read_tokens=1000, units={"documents": 2}
        ),
        make_event(
            timestamp="2026-11-29T13:30:00+01:30",
            provider="google",
            model="gemini-2.5-pro",
            tags={"region": "eu"},
            latency_ms=812.5,
            team=None,
            user_id="u-1",
        ),
    ]
    for item in items:
        row = DECODER.fast_row(item, NOW_US)
        assert row is not None, item
        slow = slow_verdict(item)
        assert slow.rejected == []
        assert row == row_from_priced(slow.events[0])


@pytest.mark.parametrize(
    "change",
    [
        {"timestamp": "2026-11-29 12:00:00Z"},  # space separator: pydantic decides
        {"timestamp": "2026-11-29T12:00:00.1234567Z"},
        {"cost_usd": 0.1},
        {"cost_usd": "0.0000000001"},
        {"team": " padded"},
        {"units": {"documents": 0.5}},
        {"input_tokens": -1},
        {"extra": 1},
        {"provider": "Open AI!"},
        {"timestamp": (NOW + timedelta(minutes=10)).isoformat()},
    ],
)
def test_anything_unusual_goes_to_pydantic(make_event: Make, change: dict[str, Any]) -> None:
    assert DECODER.fast_row(make_event(**{"timestamp": NOW.isoformat(), **change}), NOW_US) is None


def test_decode_mixes_paths_and_keeps_batch_positions(make_event: Make) -> None:
    items = [make_event(timestamp=NOW.isoformat()) for _ in range(4)]
    items[1]["cost_usd"] = 0.5  # valid, slow path
    items[2]["output_tokens"] = "x"  # invalid
    out = DECODER.decode(orjson.dumps(items), NOW)
    assert len(out.rows) == 3
    assert out.slow_path == 2
    assert [r.index for r in out.rejected] == [2]
    assert out.rows[1][13] == 500_000_000


json_scalars = (
    st.none() | st.booleans() | st.integers(-5, 10**12) | st.floats() | st.text(max_size=8)
)
field_values = {
    "timestamp": st.sampled_from(
        [
            NOW.isoformat(),
            "2026-11-29T11:59:59.999999Z",
            "2026-11-29T12:04:59+00:00",
            "2026-02-30T00:00:00Z",
            "2026-11-29T11:00:00-01:00",
            NOW_US // 1000,
        ]
    )
    | json_scalars,
    "provider": st.sampled_from(["openai", "google", "Bedrock", " anthropic", "x y"])
    | json_scalars,
    "model": st.sampled_from(["gpt-4o", "unknown-model", "", " gpt-4o"]) | json_scalars,
    "input_tokens": st.integers(-1, 5000) | json_scalars,
    "cache_read_tokens": st.integers(0, 5000) | json_scalars,
    "cost_usd": st.sampled_from(["0.1", "1e3", "-1", "0.0000000015", "100001"]) | json_scalars,
    "team": st.sampled_from(["search", "", "a\tb", "ü", None]) | json_scalars,
    "status": st.sampled_from(["ok", "error", "weird"]) | json_scalars,
    "latency_ms": st.floats(allow_nan=True) | json_scalars,
    "units": st.dictionaries(
        st.text(max_size=4), st.integers(-1, 10) | st.floats(0, 2), max_size=3
    ),
    "tags": st.dictionaries(st.text(max_size=4), st.text(max_size=4) | st.integers(), max_size=3),
    "schema_version": st.sampled_from([1, 2, True, "1"]),
}


@settings(max_examples=600, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.fixed_dictionaries({}, optional=field_values))
def test_fast_path_never_disagrees_with_the_model(
    make_event: Make, changes: dict[str, Any]
) -> None:
    item = {**make_event(timestamp=NOW.isoformat()), **changes}
    row = DECODER.fast_row(item, NOW_US)
    if row is None:
        return
    slow = slow_verdict(item)
    assert slow.rejected == [], (item, slow.rejected)
    assert row == row_from_priced(slow.events[0])


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.fixed_dictionaries({}, optional=field_values), min_size=1, max_size=4))
def test_the_batch_tier_agrees_with_the_item_path(
    make_event: Make, changes: list[dict[str, Any]]
) -> None:
    items = [{**make_event(timestamp=NOW.isoformat()), **change} for change in changes]
    try:
        raw = orjson.dumps({"events": items})
    except (TypeError, orjson.JSONEncodeError):
        return
    plain = plain_batch(raw)
    if plain is None:
        return
    rows = DECODER.plain_rows(plain, NOW_US)
    if rows is None:
        return
    careful = DECODER.decode_items(raw, NOW, NOW_US)
    assert careful.rejected == []
    assert rows == careful.rows


def test_plain_batches_take_the_batch_tier(make_event: Make) -> None:
    items = [make_event(timestamp=NOW.isoformat(), units={"documents": 1}) for _ in range(3)]
    plain = plain_batch(orjson.dumps(items))
    assert plain is not None
    assert (
        DECODER.plain_rows(plain, NOW_US)
        == DECODER.decode_items(orjson.dumps(items), NOW, NOW_US).rows
    )
    assert plain_batch(orjson.dumps(items[0])) is None  # a bare event is not a batch
    items[1]["team"] = " padded"
    assert DECODER.plain_rows(plain_batch(orjson.dumps(items)) or [], NOW_US) is None
