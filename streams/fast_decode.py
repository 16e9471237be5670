"""The worker's hot path: usage messages to compact rows, with pydantic's verdicts.

``RowDecoder`` checks the common shape of an event with plain Python (a few hundred
nanoseconds) and hands anything it cannot vouch for to ``schemas.decode.EventDecoder``,
whose pydantic model has the last word. The fast path only ever accepts what the model
accepts, with the same values (a property test holds it to that), so the worker,
``spendwatch validate`` and the HTTP ingest give every input the same verdict.

A row is a plain tuple, in ``ROW_FIELDS`` order::

    (event_id, minute, provider, model, api_key_id, team, app, feature, environment,
     input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
     cost_nanos, cost_source, is_error, units)

``minute`` is the event time in whole minutes since the epoch; ``cost_source`` is one of
``REPORTED``, ``COMPUTED``, ``UNPRICED``; ``units`` is a dict or None.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.decode import Decoded, EventDecoder, PricedEvent, Rejected
from schemas.event import MAX_REPORTED_COST_USD, MAX_TOKENS
from schemas.money import NANOS_PER_USD
from schemas.pricing import CostSource
from schemas.providers import normalize_provider

ROW_FIELDS = (
    "event_id", "minute", "provider", "model", "api_key_id", "team", "app", "feature",
    "environment", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "cost_nanos", "cost_source", "is_error", "units",
)  # fmt: skip
Row = tuple[Any, ...]
REPORTED, COMPUTED, UNPRICED = 0, 1, 2
SOURCE_CODES = {CostSource.REPORTED: REPORTED, CostSource.COMPUTED: COMPUTED,
                CostSource.UNPRICED: UNPRICED}  # fmt: skip

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_EPOCH_MS = 32_503_680_000_000
_KNOWN = frozenset(
    {"schema_version", "event_id", "timestamp", "provider", "model", "api_key_id",
     "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd",
     "team", "app", "feature", "environment", "user_id", "tags", "units", "status",
     "latency_ms"}
)  # fmt: skip
_STATUSES = frozenset({"ok", "error", "timeout", "cancelled", "rate_limited", "filtered"})
_RFC3339 = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}):([0-5][0-9])(?:\.([0-9]{1,6}))?"
    r"(Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
_PLAIN_DECIMAL = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,18})?")


def _label(value: Any) -> bool:
    """A string pydantic keeps as it is: 1..256 printable chars, no edge spaces."""
    return (
        type(value) is str
        and 0 < len(value) <= 256
        and value.isprintable()
        and value[0] != " "
        and value[-1] != " "
    )


def _optional_label(value: Any) -> bool:
    return value is None or _label(value)


def _count(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_TOKENS


@dataclass(slots=True)
class DecodedRows:
    rows: list[Row] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    slow_path: int = 0
    """Items the fast path deferred to pydantic (for metrics and tuning)."""


class RowDecoder:
    """Decode messages into rows; see the module docstring."""

    def __init__(self, events: EventDecoder | None = None) -> None:
        self.events = events or EventDecoder()
        self.prices = self.events.prices
        limits = self.events.limits
        self._skew_us = limits.max_future_skew // timedelta(microseconds=1)
        self._age_us = limits.max_age // timedelta(microseconds=1)
        self._minutes: dict[tuple[str, str], int] = {}
        self._providers: dict[str, str | None] = {}

    def decode(self, raw: bytes, now: datetime) -> DecodedRows:
        out = DecodedRows()
        split = self.events.split(raw)
        if split.rejected is not None:
            out.rejected.append(split.rejected)
            return out
        now_us = (now - _EPOCH) // timedelta(microseconds=1)
        fast = self.fast_row
        rows = out.rows
        for index, item in enumerate(split.items):
            row = fast(item, now_us)
            if row is not None:
                rows.append(row)
                continue
            out.slow_path += 1
            slow = Decoded()
            if split.single:
                self.events.decode_item(item, None, raw, now, slow)
            else:
                self.events.decode_item(item, index, None, now, slow)
            out.rejected.extend(slow.rejected)
            rows.extend(row_from_priced(p) for p in slow.events)
        return out

    def fast_row(self, item: Any, now_us: int) -> Row | None:
        """The row for a plainly valid event, or None to let pydantic decide."""
        if type(item) is not dict or not item.keys() <= _KNOWN:
            return None
        get = item.get
        version = get("schema_version", 1)
        if type(version) is not int or version != 1:
            return None
        event_id: Any = item.get("event_id")
        model: Any = item.get("model")
        key: Any = item.get("api_key_id")
        team, app, feature, env = get("team"), get("app"), get("feature"), get("environment")
        if not (_label(event_id) and _label(model) and _label(key)):
            return None
        if not (_optional_label(team) and _optional_label(app) and _optional_label(feature)
                and _optional_label(env) and _optional_label(get("user_id"))):  # fmt: skip
            return None
        inp, out = get("input_tokens", 0), get("output_tokens", 0)
        cr, cw = get("cache_read_tokens", 0), get("cache_write_tokens", 0)
        if not (_count(inp) and _count(out) and _count(cr) and _count(cw)) or cr + cw > inp:
            return None
        provider = self._provider(get("provider"))
        minute = self._minute(get("timestamp"), now_us)
        if provider is None or minute is None:
            return None
        status = get("status")
        if status is not None and status not in _STATUSES:
            return None
        if not (_plain_latency(get("latency_ms")) and _plain_tags(get("tags"))):
            return None
        units = get("units")
        if units is not None and not _plain_units(units):
            return None
        reported = get("cost_usd")
        if reported is not None:
            nanos = _reported_nanos(reported)
            if nanos is None:
                return None
            cost, source = nanos, REPORTED
        else:
            card = self.prices.card_at_minute(provider, model, minute, inp)
            if card is None:
                cost, source = 0, UNPRICED
            else:
                cost, source = card.cost_nanos(inp, out, cr, cw), COMPUTED
        is_error = status is not None and status != "ok"
        return (event_id, minute, provider, model, key, team, app, feature, env,
                inp, out, cr, cw, cost, source, is_error, units or None)  # fmt: skip

    def _provider(self, value: Any) -> str | None:
        if type(value) is not str:
            return None
        try:
            return self._providers[value]
        except KeyError:
            pass
        try:
            canonical: str | None = normalize_provider(value)
        except ValueError:
            canonical = None
        if len(self._providers) < 10_000:
            self._providers[value] = canonical
        return canonical

    def _minute(self, value: Any, now_us: int) -> int | None:
        """Event minute when the timestamp is plainly valid and inside the limits."""
        if type(value) is int:
            if not 0 <= value <= _MAX_EPOCH_MS:
                return None
            at_us = value * 1000
            minute = value // 60_000
        elif type(value) is str:
            match = _RFC3339.fullmatch(value)
            if match is None:
                return None
            prefix, seconds, fraction, zone = match.groups()
            base = self._minutes.get((prefix, zone))
            if base is None:
                base = self._zone_minute(prefix, zone)
                if base is None:
                    return None
            fraction_us = int(fraction.ljust(6, "0")) if fraction else 0
            at_us = base * 60_000_000 + int(seconds) * 1_000_000 + fraction_us
            minute = base
        else:
            return None
        if at_us - now_us > self._skew_us or now_us - at_us > self._age_us:
            return None
        return minute

    def _zone_minute(self, prefix: str, zone: str) -> int | None:
        try:
            when = datetime.fromisoformat(f"{prefix}:00{zone}")
        except ValueError:
            return None
        minute = (when - _EPOCH) // timedelta(minutes=1)
        if len(self._minutes) > 100_000:
            self._minutes.clear()
        self._minutes[(prefix, zone)] = minute
        return minute


def _plain_latency(value: Any) -> bool:
    if value is None:
        return True
    kind = type(value)
    return (kind is int or (kind is float and math.isfinite(value))) and 0 <= value <= 86_400_000


def _plain_tags(tags: Any) -> bool:
    if tags is None:
        return True
    if type(tags) is not dict or len(tags) > 64:
        return False
    return all(
        type(k) is str and type(v) is str and len(k) <= 128 and len(v) <= 1024
        and k == k.strip() and v == v.strip()
        for k, v in tags.items()
    )  # fmt: skip


def _plain_units(units: Any) -> bool:
    if type(units) is not dict or len(units) > 16:
        return False
    return all(
        type(k) is str and 0 < len(k) <= 64 and k == k.strip()
        and type(v) is int and 0 <= v <= 10**12
        for k, v in units.items()
    )  # fmt: skip


def _reported_nanos(value: Any) -> int | None:
    if type(value) is not str or _PLAIN_DECIMAL.fullmatch(value) is None:
        return None
    amount = Decimal(value)
    if amount > MAX_REPORTED_COST_USD:
        return None
    nanos = amount * NANOS_PER_USD
    if nanos != nanos.to_integral_value():
        return None  # sub-nano precision: the slow path rounds it
    return int(nanos)


def row_from_priced(priced: PricedEvent) -> Row:
    """The row of an event that went through the pydantic path."""
    ev = priced.event
    minute = (ev.timestamp - _EPOCH) // timedelta(minutes=1)
    units = {k: (int(v) if v == v.to_integral_value() else v) for k, v in ev.units.items()}
    return (ev.event_id, minute, ev.provider, ev.model, ev.api_key_id, ev.team, ev.app,
            ev.feature, ev.environment, ev.input_tokens, ev.output_tokens,
            ev.cache_read_tokens, ev.cache_write_tokens, priced.cost_nanos,
            SOURCE_CODES[priced.cost_source], ev.is_error, units or None)  # fmt: skip
