"""Inputs that once broke or split the decoder tiers: each tier gives the same verdict."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

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


def both_tiers(raw: bytes) -> tuple[list[tuple[int | None, str]], list[str]]:
    """Rejected (index, reason) and accepted event ids; asserts the tiers agree."""
    rows = RowDecoder().decode(raw, NOW)
    plain = EventDecoder().decode(raw, NOW)
    rejected = [(r.index, r.reason) for r in plain.rejected]
    accepted = [p.event.event_id for p in plain.events]
    assert [(r.index, r.reason) for r in rows.rejected] == rejected
    assert [row[0] for row in rows.rows] == accepted
    return rejected, accepted


def batch(make_event: Make, middle: str) -> bytes:
    """Three events; ``middle`` is spliced into the second one's JSON."""
    ev = [orjson.dumps(make_event(timestamp=NOW.isoformat(), event_id=f"e{i}")) for i in range(3)]
    return b"[" + b",".join([ev[0], ev[1][:-1] + middle.encode() + b"}", ev[2]]) + b"]"


def test_nan_inside_tags_or_units_is_that_items_error(make_event: Make) -> None:
    rejected, accepted = both_tiers(batch(make_event, ',"tags":{"k":NaN},"units":{"u":Infinity}'))
    assert accepted == ["e0", "e2"]
    assert rejected == [
        (
            1,
            "tags.k: NaN is not a number JSON allows; "
            "units.u: Infinity is not a number JSON allows",
        )
    ]


def test_a_rejected_item_keeps_its_bad_number_literals(make_event: Make) -> None:
    raw = batch(make_event, ',"latency_ms":NaN,"units":{"u":' + "7" * 40 + "}")
    [rejected] = EventDecoder().decode(raw, NOW).rejected
    assert b'"latency_ms":NaN' in rejected.original.replace(b" ", b"")
    assert b'"u":' + b"7" * 40 + b"}" in rejected.original.replace(b" ", b"")


def test_an_integer_too_long_to_parse_spares_its_neighbours(make_event: Make) -> None:
    rejected, accepted = both_tiers(batch(make_event, ',"latency_ms":' + "9" * 5000))
    assert accepted == ["e0", "e2"]
    assert rejected == [
        (1, "latency_ms: 999999999999...(5000 digits) is too large a number (more than 30 digits)")
    ]


def test_an_unknown_field_holding_a_bad_number_is_named_as_unknown(make_event: Make) -> None:
    rejected, accepted = both_tiers(batch(make_event, ',"latency_ms":NaN,"_":' + "1" * 41))
    assert accepted == ["e0", "e2"]
    assert rejected == [
        (1, "latency_ms: NaN is not a number JSON allows; _: Extra inputs are not permitted")
    ]


def test_a_leading_byte_order_mark_is_skipped(make_event: Make) -> None:
    raw = b"\xef\xbb\xbf" + orjson.dumps(make_event(timestamp=NOW.isoformat(), event_id="bom"))
    assert both_tiers(raw) == ([], ["bom"])


def test_duplicate_keys_the_last_one_wins_on_every_tier(make_event: Make) -> None:
    raw = batch(make_event, ',"output_tokens":7')
    rows = RowDecoder().decode(raw, NOW).rows
    assert [row[10] for row in rows] == [300, 7, 300]
    assert [p.event.output_tokens for p in EventDecoder().decode(raw, NOW).events] == [300, 7, 300]


def test_lone_surrogates_in_tags_are_rejected_by_every_tier(make_event: Make) -> None:
    rejected, accepted = both_tiers(batch(make_event, ',"tags":{"k":"\\udc00"}'))
    assert accepted == ["e0", "e2"]
    assert rejected[0][0] == 1 and rejected[0][1].startswith("tags.k: Input should be a valid")


def test_invisible_characters_in_names_are_refused(make_event: Make) -> None:
    rejected, _ = both_tiers(batch(make_event, ',"team":"search\\u202e"'))
    assert rejected == [
        (1, "team: contains U+202E (an invisible formatting character); "
            "ids and labels must be plainly visible")
    ]  # fmt: skip


def test_a_raw_key_where_an_id_belongs_is_refused(make_event: Make) -> None:
    key = "sk-proj-" + "Q" * 30
    rejected, accepted = both_tiers(batch(make_event, f',"user_id":"{key}"'))
    assert accepted == ["e0", "e2"]
    assert rejected == [
        (1, "user_id: looks like a secret (an 'sk-' API key); "
            "send an id or a hash of the key, never the key")
    ]  # fmt: skip
    assert key not in rejected[0][1]


def test_text_that_is_not_utf8_names_the_byte(make_event: Make) -> None:
    raw = b'[{"event_id": "\xc0\xaf"}]'
    rejected, _ = both_tiers(raw)
    assert rejected == [(None, "malformed JSON: not UTF-8 (byte 0xc0 at offset 15)")]


def test_an_unhashable_status_is_an_item_error_not_a_crash(make_event: Make) -> None:
    rejected, accepted = both_tiers(batch(make_event, ',"status":[]'))
    assert accepted == ["e0", "e2"]
    assert rejected[0][0] == 1 and rejected[0][1].startswith("status: Input should be")


def test_the_unrolled_hint_check_knows_every_hint_and_every_shape_has_one() -> None:
    import re

    from schemas.text_rules import SECRET_HINTS, SECRET_SHAPES, has_secret_hint

    assert all(has_secret_hint(f"a{hint}b") for hint in SECRET_HINTS)
    assert not has_secret_hint("sk_xo-xapp_hooks-slack AIz AKI ASI")
    examples = [
        "sk-" + "a" * 16,
        "xoxb-" + "1" * 8,
        "xapp-" + "1" * 8,
        "https://hooks.slack.com/services/T0",
        "AIza" + "b" * 35,
        "ASIA" + "C" * 16,
    ]
    for (_, pattern), example in zip(SECRET_SHAPES, examples, strict=True):
        assert re.fullmatch(pattern, example) and has_secret_hint(example), pattern


def test_every_forbidden_character_is_unprintable() -> None:
    """The fast paths rely on str.isprintable() to leave these to the model."""
    import re

    from schemas.text_rules import FORBIDDEN_CHARS

    forbidden = re.compile(f"[{FORBIDDEN_CHARS}]")
    chars = [chr(c) for c in range(0x10000) if forbidden.match(chr(c))]
    assert len(chars) == 99  # C0, DEL, C1 and the invisible formatting characters
    assert not any(c.isprintable() for c in chars)


@pytest.mark.parametrize("depth", [200, 900, 980, 1000, 1100])
@pytest.mark.parametrize("nan", [False, True])
def test_deep_nesting_near_the_recursion_limit_is_an_error_not_a_crash(
    make_event: Make, depth: int, nan: bool
) -> None:
    deep = '"tags":' + '{"a":' * depth + "1" + "}" * depth
    rejected, accepted = both_tiers(
        batch(make_event, "," + deep + (',"latency_ms":NaN' if nan else ""))
    )
    if accepted:  # parsed: the neighbours flow and the deep item alone is refused
        assert accepted == ["e0", "e2"]
        assert [index for index, _ in rejected] == [1]
    else:  # too deep for any parser: the message is refused whole
        assert [index for index, _ in rejected] == [None]
