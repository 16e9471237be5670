"""Fuzzing every decoder tier with near-valid messages: no crash, a reason for every
rejection, intact neighbours always accepted, and the tiers always agreeing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.decode import Decoded, EventDecoder
from streams.fast_decode import RowDecoder, row_from_priced
from tests.support.corpus import NOW
from tests.support.fuzz_strategies import ENVELOPE_FIELDS, FIELDS, Message, messages

EVENTS = EventDecoder()
ROWS = RowDecoder(EVENTS)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_reasons(out: Decoded, message: Message) -> None:
    for rejected in out.rejected:
        assert rejected.errors, rejected
        for error in rejected.errors:
            assert error.problem.strip(), error
            head = error.path.split(".", 1)[0]
            unknown = error.problem in {"Extra inputs are not permitted", "unknown envelope field"}
            assert head in {"", *FIELDS, *ENVELOPE_FIELDS} or unknown, error
        if rejected.index is None:
            assert rejected.original == message.raw
        else:
            assert 0 <= rejected.index < message.items


@FUZZ
@given(message=messages())
def test_event_decoder_accounts_for_every_item(message: Message) -> None:
    out = EVENTS.decode(message.raw, NOW)
    check_reasons(out, message)
    whole = [r for r in out.rejected if r.index is None]
    if whole and message.items > 1:
        assert out.events == [] and len(out.rejected) == 1  # refused whole, with its reason
        assert message.corrupted or whole[0].errors[0].path in {"", *ENVELOPE_FIELDS}
        return
    if not whole:
        assert len(out.events) + len(out.rejected) == message.items
    accepted = {p.event.event_id for p in out.events}
    if not message.corrupted:
        assert set(message.intact) <= accepted, [r.reason for r in out.rejected]


@FUZZ
@given(message=messages())
def test_worker_tiers_agree_with_the_model(message: Message) -> None:
    rows = ROWS.decode(message.raw, NOW)
    reference = EVENTS.decode(message.raw, NOW)
    assert rows.rows == [row_from_priced(p) for p in reference.events]
    got = [(r.index, r.reason, r.original) for r in rows.rejected]
    assert got == [(r.index, r.reason, r.original) for r in reference.rejected]


@FUZZ
@given(message=messages())
def test_single_items_decode_like_their_batch(message: Message) -> None:
    """``EventDecoder.decode_items`` (the ingest's per-item entry) agrees with ``decode``."""
    split = EVENTS.split(message.raw)
    if split.rejected is not None or split.single:
        return
    items = EVENTS.decode_items(split.items, NOW)
    whole = EVENTS.decode(message.raw, NOW)
    assert [p.event for p in items.events] == [p.event for p in whole.events]
    assert [(r.index, r.reason) for r in items.rejected] == [
        (r.index, r.reason) for r in whole.rejected
    ]


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=400))
def test_random_bytes_are_refused_with_a_reason_by_every_tier(raw: bytes) -> None:
    rows = ROWS.decode(raw, NOW)
    reference = EVENTS.decode(raw, NOW)
    assert [(r.index, r.reason) for r in rows.rejected] == [
        (r.index, r.reason) for r in reference.rejected
    ]
    assert all(r.reason for r in reference.rejected)


@pytest.mark.parametrize("field", ["tags", "units"])
def test_an_explicit_null_map_is_rejected_by_every_tier_as_by_the_model(field: str) -> None:
    raw = (
        b'[{"event_id":"ev-0-0","timestamp":"2026-11-29T12:00:00+00:00","provider":"openai",'
        b'"model":"gpt-4o","api_key_id":"0-0","input_tokens":0,"output_tokens":0,"'
        + field.encode()
        + b'":null}]'
    )
    reference = EVENTS.decode(raw, NOW)
    rows = ROWS.decode(raw, NOW)
    assert reference.events == [] and len(reference.rejected) == 1
    assert rows.rows == [] and [r.reason for r in rows.rejected] == [
        r.reason for r in reference.rejected
    ]
