from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.decode import DecodeLimits, EventDecoder
from schemas.pricing import CostSource

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
Make = Callable[..., dict[str, Any]]


@pytest.fixture(scope="module")
def decoder() -> EventDecoder:
    return EventDecoder(limits=DecodeLimits(max_message_bytes=64 * 1024))


def at(minutes: float) -> str:
    return (NOW + timedelta(minutes=minutes)).isoformat()


def test_single_array_and_envelope(decoder: EventDecoder, make_event: Make) -> None:
    a, b = make_event(timestamp=at(0)), make_event(timestamp=at(0), cost_usd="0.5")
    for raw in (orjson.dumps(a), orjson.dumps([a, b]), orjson.dumps({"events": [a, b]})):
        out = decoder.decode(raw, NOW)
        assert out.rejected == []
        assert len(out.events) >= 1
    both = decoder.decode(orjson.dumps({"schema_version": 1, "events": [a, b]}), NOW).events
    assert [e.cost_source for e in both] == [CostSource.COMPUTED, CostSource.REPORTED]
    assert both[1].cost_nanos == 500_000_000


def test_one_bad_item_keeps_its_neighbours(decoder: EventDecoder, make_event: Make) -> None:
    items = [make_event(timestamp=at(0)) for _ in range(5)]
    items[2]["output_tokens"] = "many"
    out = decoder.decode(orjson.dumps(items), NOW)
    assert len(out.events) == 4
    [bad] = out.rejected
    assert bad.index == 2
    assert bad.errors[0].path == "output_tokens"
    assert orjson.loads(bad.original) == items[2]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b'{"event_id": ', "malformed JSON"),
        (b"\xff\xfe", "malformed JSON"),
        (b"42", "expected a JSON object"),
        (b'{"schema_version": 9, "events": []}', "unsupported schema_version 9"),
        (b'{"events": {}}', "must be a JSON array"),
        (b"x" * (64 * 1024 + 1), "exceeds the limit"),
    ],
)
def test_whole_message_rejections_keep_the_bytes(
    decoder: EventDecoder, raw: bytes, fragment: str
) -> None:
    out = decoder.decode(raw, NOW)
    assert out.events == []
    [rejected] = out.rejected
    assert fragment in rejected.reason
    assert rejected.original == raw
    assert rejected.index is None


def test_nan_in_a_batch_rejects_only_that_item(decoder: EventDecoder, make_event: Make) -> None:
    good = orjson.dumps(make_event(timestamp=at(0))).decode()
    bad = good.replace('"input_tokens":1200', '"input_tokens":NaN')
    out = decoder.decode(f"[{good},{bad},{good}]".encode(), NOW)
    assert len(out.events) == 2
    assert out.rejected[0].errors[0].path == "input_tokens"
    assert "NaN" in out.rejected[0].reason


def test_huge_integer_is_an_item_error(decoder: EventDecoder, make_event: Make) -> None:
    good = orjson.dumps(make_event(timestamp=at(0))).decode()
    bad = good.replace('"output_tokens":300', '"output_tokens":' + "9" * 40)
    out = decoder.decode(f"[{good},{bad}]".encode(), NOW)
    assert len(out.events) == 1
    assert out.rejected[0].errors[0].path == "output_tokens"


@pytest.mark.parametrize(
    ("minutes", "ok"), [(4, True), (6, False), (-60 * 24 * 6, True), (-60 * 24 * 8, False)]
)
def test_timestamp_skew_limits(
    decoder: EventDecoder, make_event: Make, minutes: float, ok: bool
) -> None:
    out = decoder.decode(orjson.dumps(make_event(timestamp=at(minutes))), NOW)
    assert bool(out.events) is ok
    if not ok:
        assert out.rejected[0].errors[0].path == "timestamp"


def test_unknown_model_is_unpriced_not_rejected(decoder: EventDecoder, make_event: Make) -> None:
    out = decoder.decode(orjson.dumps(make_event(timestamp=at(0), model="brand-new-model")), NOW)
    assert out.events[0].cost_source is CostSource.UNPRICED
    assert out.events[0].cost_nanos == 0


def test_normalized_event_carries_cost(decoder: EventDecoder, make_event: Make) -> None:
    out = decoder.decode(orjson.dumps(make_event(timestamp=at(0), cost_usd=0.1)), NOW)
    norm = out.events[0].normalized()
    assert norm["cost_usd"] == "0.100000000"
    assert norm["cost_source"] == "reported"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(decoder: EventDecoder, raw: bytes) -> None:
    out = decoder.decode(raw, NOW)
    for rejected in out.rejected:
        assert rejected.reason
        assert rejected.original == raw or rejected.index is not None


@settings(
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    mutation=st.dictionaries(
        st.sampled_from(
            [
                "event_id",
                "timestamp",
                "provider",
                "model",
                "api_key_id",
                "input_tokens",
                "output_tokens",
                "cache_read_tokens",
                "cost_usd",
                "tags",
                "units",
                "team",
                "status",
                "latency_ms",
                "schema_version",
                "extra",
            ]
        ),
        json_values,
        min_size=1,
        max_size=4,
    )
)
def test_mutated_events_are_valid_or_rejected_with_reason(
    decoder: EventDecoder, make_event: Make, mutation: dict[str, Any]
) -> None:
    good = make_event(timestamp=at(0))
    bad = {**good, **mutation}
    try:
        raw = orjson.dumps([good, bad, good])
    except (TypeError, orjson.JSONEncodeError):
        return
    out = decoder.decode(raw, NOW)
    assert len(out.events) + len(out.rejected) == 3
    assert len(out.events) >= 2
    for rejected in out.rejected:
        assert rejected.index == 1
        assert all(e.problem for e in rejected.errors)
