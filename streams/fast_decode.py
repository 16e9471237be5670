"""The worker's hot path: usage messages to compact rows, with pydantic's verdicts.

``RowDecoder`` checks the common shape of an event with plain Python (a few hundred
nanoseconds) and hands anything it cannot vouch for to ``schemas.decode.EventDecoder``,
whose pydantic model has the last word. The fast path only ever accepts what the model
accepts, with the same values (a property test holds it to that), so the worker,
``spendwatch validate`` and the HTTP ingest give every input the same verdict.

Rows are described in ``streams/rows.py``. A columnar batch message takes the
vectorised tier (``streams/columnar_decode.py``) and comes back as one ``ColumnBatch``
instead of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.decode import Decoded, EventDecoder, PricedEvent, Rejected
from schemas.event import MAX_TOKENS
from schemas.providers import normalize_provider
from streams.batch_decode import PlainEvent, plain_batch
from streams.column_batch import ColumnBatch
from streams.columnar_decode import ColumnarDecoder
from streams.event_minutes import EventMinutes
from streams.field_checks import (
    is_label,
    is_name,
    plain_latency,
    plain_tags,
    plain_units,
    reported_nanos,
)
from streams.rows import COMPUTED, REPORTED, SOURCE_CODES, UNPRICED, Row

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_KNOWN = frozenset(
    {"schema_version", "event_id", "timestamp", "provider", "model", "api_key_id",
     "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd",
     "team", "app", "feature", "environment", "user_id", "tags", "units", "status",
     "latency_ms"}
)  # fmt: skip
_STATUSES = frozenset({"ok", "error", "timeout", "cancelled", "rate_limited", "filtered"})
_NO_MAP: dict[str, Any] = {}
"""An absent ``tags`` or ``units`` (never changed; an explicit null is not plain)."""


@dataclass(slots=True)
class DecodedRows:
    rows: list[Row] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    slow_path: int = 0
    """Items the fast path deferred to pydantic (for metrics and tuning)."""
    columns: ColumnBatch | None = None
    """A columnar message's events, when the vectorised tier took it (``rows`` is empty)."""

    def all_rows(self) -> list[Row]:
        """Every valid event as a row, whichever tier decoded the message."""
        return self.columns.rows() if self.columns is not None else self.rows


class RowDecoder:
    """Decode messages into rows; see the module docstring."""

    def __init__(self, events: EventDecoder | None = None) -> None:
        self.events = events or EventDecoder()
        self.prices = self.events.prices
        limits = self.events.limits
        self._skew_us = limits.max_future_skew // timedelta(microseconds=1)
        self._age_us = limits.max_age // timedelta(microseconds=1)
        self._minute = EventMinutes(self._skew_us, self._age_us).minute
        self._providers: dict[Any, str] = {}
        self._labels: set[str] = set()
        self.columnar = ColumnarDecoder(
            self.prices,
            skew_us=self._skew_us,
            age_us=self._age_us,
            labels=self._labels,
            known_label=self._known_label,
            provider=self._cached_provider,
        )

    def decode(self, raw: bytes, now: datetime) -> DecodedRows:
        now_us = (now - _EPOCH) // timedelta(microseconds=1)
        if len(raw) <= self.events.limits.max_message_bytes:
            if b'"columns"' in raw[:48]:
                columns = self.columnar.decode(raw, now_us)
                if columns is not None:
                    return DecodedRows(columns=columns)
                return self.decode_items(raw, now, now_us)
            plain = plain_batch(raw)
            if plain is not None:
                rows = self.plain_rows(plain, now_us)
                if rows is not None:
                    return DecodedRows(rows=rows)
        return self.decode_items(raw, now, now_us)

    def plain_rows(self, events: list[PlainEvent], now_us: int) -> list[Row] | None:
        """Rows of a batch msgspec already checked, or None if any event needs more care."""
        rows: list[Row] = []
        append = rows.append
        providers = self._providers
        labels = self._labels
        known = self._known_label
        for ev in events:
            inp, out = ev.input_tokens, ev.output_tokens
            cr, cw = ev.cache_read_tokens, ev.cache_write_tokens
            if cr + cw > inp:
                return None
            model, key, team, app, feature, env = (
                ev.model,
                ev.api_key_id,
                ev.team,
                ev.app,
                ev.feature,
                ev.environment,
            )
            if not (
                is_label(ev.event_id)
                and (model in labels or known(model))
                and (key in labels or known(key))
                and (team is None or team in labels or known(team))
                and (app is None or app in labels or known(app))
                and (feature is None or feature in labels or known(feature))
                and (env is None or env in labels or known(env))
                and (ev.user_id is None or is_name(ev.user_id))
            ):  # fmt: skip
                return None
            if (ev.tags and not plain_tags(ev.tags)) or (ev.units and not plain_units(ev.units)):
                return None
            provider = providers.get(ev.provider) or self._provider(ev.provider)
            minute = self._minute(ev.timestamp, now_us)
            if provider is None or minute is None:
                return None
            if ev.cost_usd is not None:
                cost = reported_nanos(ev.cost_usd)
                if cost is None:
                    return None
                source = REPORTED
            else:
                card = self.prices.card_at_minute(provider, model, minute, inp)
                if card is None:
                    cost, source = 0, UNPRICED
                else:
                    cost, source = card.cost_nanos(inp, out, cr, cw), COMPUTED
            status = ev.status
            append((ev.event_id, minute, provider, model, key, team, app, feature, env,
                    inp, out, cr, cw, cost, source, status is not None and status != "ok",
                    ev.units or None))  # fmt: skip
        return rows

    def decode_items(self, raw: bytes, now: datetime, now_us: int) -> DecodedRows:
        """Item by item: the fast check where it applies, pydantic for the rest."""
        out = DecodedRows()
        split = self.events.split(raw)
        if split.rejected is not None:
            out.rejected.append(split.rejected)
            return out
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
        labels = self._labels
        known = self._known_label
        event_id: Any = get("event_id")
        model: Any = get("model")
        key: Any = get("api_key_id")
        team, app, feature, env = get("team"), get("app"), get("feature"), get("environment")
        if not (
            is_label(event_id)
            and type(model) is str and (model in labels or known(model))
            and type(key) is str and (key in labels or known(key))
            and (team is None or (type(team) is str and (team in labels or known(team))))
            and (app is None or (type(app) is str and (app in labels or known(app))))
            and (feature is None or (type(feature) is str and (feature in labels
                                                                or known(feature))))
            and (env is None or (type(env) is str and (env in labels or known(env))))
        ):  # fmt: skip
            return None
        user_id = get("user_id")
        if user_id is not None and not is_name(user_id):
            return None
        inp, out = get("input_tokens", 0), get("output_tokens", 0)
        cr, cw = get("cache_read_tokens", 0), get("cache_write_tokens", 0)
        if not (
            type(inp) is int and type(out) is int and type(cr) is int and type(cw) is int
            and 0 <= out <= MAX_TOKENS and cr >= 0 and cw >= 0 and cr + cw <= inp <= MAX_TOKENS
        ):  # fmt: skip
            return None
        raw_provider = get("provider")
        provider = self._providers.get(raw_provider) if type(raw_provider) is str else None
        if provider is None:
            provider = self._provider(raw_provider)
        minute = self._minute(get("timestamp"), now_us)
        if provider is None or minute is None:
            return None
        status = get("status")
        if status is not None and (type(status) is not str or status not in _STATUSES):
            return None
        tags, units = get("tags", _NO_MAP), get("units", _NO_MAP)
        if not (plain_latency(get("latency_ms")) and plain_tags(tags) and plain_units(units)):
            return None
        reported = get("cost_usd")
        if reported is not None:
            nanos = reported_nanos(reported)
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

    def _known_label(self, value: Any) -> bool:
        """Check a label once; remember it when it is plainly valid."""
        if not is_name(value):
            return False
        if len(self._labels) >= 100_000:
            self._labels.clear()
        self._labels.add(value)
        return True

    def _cached_provider(self, value: Any) -> str | None:
        return self._providers.get(value) or self._provider(value)

    def _provider(self, value: Any) -> str | None:
        if type(value) is not str:
            return None
        try:
            canonical: str | None = normalize_provider(value)
        except ValueError:
            canonical = None
        if canonical is not None and len(self._providers) < 10_000:
            self._providers[value] = canonical
        return canonical


def row_from_priced(priced: PricedEvent) -> Row:
    """The row of an event that went through the pydantic path."""
    ev = priced.event
    minute = (ev.timestamp - _EPOCH) // timedelta(minutes=1)
    units = {k: (int(v) if v == v.to_integral_value() else v) for k, v in ev.units.items()}
    return (ev.event_id, minute, ev.provider, ev.model, ev.api_key_id, ev.team, ev.app,
            ev.feature, ev.environment, ev.input_tokens, ev.output_tokens,
            ev.cache_read_tokens, ev.cache_write_tokens, priced.cost_nanos,
            SOURCE_CODES[priced.cost_source], ev.is_error, units or None)  # fmt: skip
