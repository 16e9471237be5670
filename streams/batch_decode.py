"""The fastest tier: a whole batch decoded and checked in C by msgspec.

A batch message (a JSON array or a ``UsageBatch`` envelope) whose every event has the
plain shape below is decoded by msgspec into structs in one call, at a fraction of the
cost of parsing to dicts and checking fields in Python. msgspec checks types,
ranges, lengths and unknown fields; the caller checks, with cached verdicts, what
msgspec would check slowly (label characters, timestamp and decimal forms). Together the
checks are *narrower* than the pydantic model's (no surrounding whitespace to strip, no
floats for integers, RFC 3339 timestamps with at most microseconds, reported costs as
plain decimal strings), so whatever passes is valid for the model with the same values;
a property test holds the tiers to that. Any batch with anything else in it returns None and goes
through ``RowDecoder``'s per-item path, which finds and explains the bad items.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from schemas.event import MAX_TOKENS

Label = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
"""Printable, without surrounding whitespace: checked by the caller (it caches labels)."""
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKENS)]
Timestamp = Annotated[str, msgspec.Meta(min_length=20, max_length=32)]
"""RFC 3339 with a zone and at most microseconds: checked by the caller."""
EpochMillis = Annotated[int, msgspec.Meta(ge=0, le=32_503_680_000_000)]
Decimal = Annotated[str, msgspec.Meta(min_length=1, max_length=31)]
"""A plain decimal string: checked by the caller."""
TagKey = Annotated[str, msgspec.Meta(max_length=128)]
TagValue = Annotated[str, msgspec.Meta(max_length=1024)]
UnitName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
UnitCount = Annotated[int, msgspec.Meta(ge=0, le=10**12)]
Status = Literal["ok", "error", "timeout", "cancelled", "rate_limited", "filtered"]
Latency = Annotated[float, msgspec.Meta(ge=0, le=86_400_000)]


class PlainEvent(msgspec.Struct, forbid_unknown_fields=True):
    """A usage event of the plain shape (see the module docstring)."""

    event_id: Label
    timestamp: EpochMillis | Timestamp
    provider: Label
    model: Label
    api_key_id: Label
    schema_version: Literal[1] = 1
    input_tokens: Count = 0
    output_tokens: Count = 0
    cache_read_tokens: Count = 0
    cache_write_tokens: Count = 0
    cost_usd: Decimal | None = None
    team: Label | None = None
    app: Label | None = None
    feature: Label | None = None
    environment: Label | None = None
    user_id: Label | None = None
    tags: Annotated[dict[TagKey, TagValue], msgspec.Meta(max_length=64)] = {}
    units: Annotated[dict[UnitName, UnitCount], msgspec.Meta(max_length=16)] = {}
    status: Status | None = None
    latency_ms: Latency | None = None


class PlainEnvelope(msgspec.Struct, forbid_unknown_fields=True):
    events: Annotated[list[PlainEvent], msgspec.Meta(max_length=100_000)]
    schema_version: Literal[1] = 1


_ENVELOPE = msgspec.json.Decoder(PlainEnvelope)
_ARRAY = msgspec.json.Decoder(Annotated[list[PlainEvent], msgspec.Meta(max_length=100_000)])


def plain_batch(raw: bytes) -> list[PlainEvent] | None:
    """The events of a plain batch message, or None when any part is not plain."""
    start = raw[:64].lstrip()[:1]
    try:
        if start == b"[":
            events: list[PlainEvent] = _ARRAY.decode(raw)
            return events
        if start == b"{":
            return _ENVELOPE.decode(raw).events
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return None  # msgspec raises UnicodeDecodeError on bytes that are not UTF-8
    return None
