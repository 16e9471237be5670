"""Inputs that once broke or split the decoder tiers: each tier gives the same verdict."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.decode import EventDecoder
from streams.fast_decode import RowDecoder

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
Make = Callable[..., dict[str, Any]]


def test_bytes_that_are_not_utf8_reject_the_message_on_every_tier(make_event: Make) -> None:
    good = orjson.dumps([make_event(timestamp=NOW.isoformat(), event_id="e-overlong")])
    raw = good.replace(b"e-overlong", b"e-\xc0\xafx")  # an overlong '/' inside a string
    rows = RowDecoder().decode(raw, NOW)
    plain = EventDecoder().decode(raw, NOW)
    assert rows.rows == [] and plain.events == []
    assert [r.index for r in rows.rejected] == [r.index for r in plain.rejected] == [None]
    assert rows.rejected[0].original == raw
    assert rows.rejected[0].reason.startswith("malformed JSON")
