"""Decode one Kafka message (or HTTP body) into valid, priced events and rejected items.

A message holds one event, a JSON array of events, a ``UsageBatch`` envelope or a columnar
batch (``schemas/columnar.py``, expanded here to its events). Every
item is checked on its own: one bad event never takes its neighbours down, and every
rejected item keeps its original bytes and a reason naming the field path and problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from schemas.columnar import expand_columns
from schemas.event import SCHEMA_VERSION, UsageEvent
from schemas.json_literals import BadNumber, bad_numbers, dump_item, load_json
from schemas.money import Nanos, usd_text
from schemas.pricing import CostSource, PriceBook


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    max_message_bytes: int = 8 * 1024 * 1024
    max_future_skew: timedelta = timedelta(minutes=5)
    max_age: timedelta = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class FieldError:
    path: str
    problem: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "problem": self.problem}

    def as_text(self) -> str:
        return f"{self.path}: {self.problem}" if self.path else self.problem


@dataclass(frozen=True, slots=True)
class Rejected:
    """An input that is not a valid event, with why and its exact bytes."""

    original: bytes
    errors: tuple[FieldError, ...]
    index: int | None = None
    """Position in the batch, or None when the whole message was rejected."""

    @property
    def reason(self) -> str:
        return "; ".join(e.as_text() for e in self.errors)


@dataclass(frozen=True, slots=True)
class PricedEvent:
    event: UsageEvent
    cost_nanos: Nanos
    cost_source: CostSource

    def normalized(self) -> dict[str, Any]:
        """The event as the worker sees it, with the cost it was booked at."""
        data = self.event.model_dump(mode="json", exclude_none=True)
        data["cost_usd"] = usd_text(self.cost_nanos)
        data["cost_source"] = self.cost_source.value
        return data


@dataclass(frozen=True, slots=True)
class Split:
    items: list[Any]
    single: bool
    """The message was one bare event: its bytes are that event's original."""
    rejected: Rejected | None


@dataclass(slots=True)
class Decoded:
    events: list[PricedEvent] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


_FIELDS = frozenset(UsageEvent.model_fields)
_EXTRA = "Extra inputs are not permitted"  # what the model says of an unknown field


def _bad_numbers_of_event(item: dict[str, Any]) -> list[FieldError]:
    """Bad number literals of an event's fields; an unknown field holding one is named
    as unknown, the problem the model would report once the number is fixed."""
    found: list[FieldError] = []
    for key, value in item.items():
        if not isinstance(value, (BadNumber, dict, list)):
            continue
        bad = [FieldError(path, problem) for path, problem in bad_numbers(value, str(key))]
        if bad:
            found += bad if key in _FIELDS else [FieldError(str(key), _EXTRA)]
    return found


def _is_envelope(doc: Any) -> bool:
    """A batch envelope (events or columns) rather than one bare event."""
    return isinstance(doc, dict) and (
        "events" in doc or ("columns" in doc and "event_id" not in doc)
    )


def _items(doc: Any) -> tuple[list[Any] | None, FieldError | None]:
    if isinstance(doc, list):
        return doc, None
    if _is_envelope(doc):
        version = doc.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            return None, FieldError(
                "schema_version", f"unsupported schema_version {version!r}; this build reads 1"
            )
        body = "events" if "events" in doc else "columns"
        extra = set(doc) - {body, "schema_version"}
        if extra:
            return None, FieldError(sorted(extra)[0], "unknown envelope field")
        if body == "columns":
            items, problem = expand_columns(doc["columns"])
            return (None, FieldError(*problem)) if problem else (items, None)
        events = doc["events"]
        if not isinstance(events, list):
            return None, FieldError("events", "must be a JSON array of events")
        return events, None
    if isinstance(doc, dict):
        return [doc], None
    return None, FieldError("", "expected a JSON object, an array of objects or an envelope")


def _errors(exc: ValidationError) -> tuple[FieldError, ...]:
    out = []
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        problem = err["msg"]
        if err["type"] == "value_error" and "error" in err.get("ctx", {}):
            problem = str(err["ctx"]["error"])  # without pydantic's "Value error, " prefix
        if loc and loc[-1] == "[key]":  # a bad map key: name the map, never echo the key
            loc, problem = loc[:-2], f"key: {problem}"
        path = ".".join(str(p) for p in loc)
        if err["type"] == "literal_error" and err["loc"] == ("schema_version",):
            problem = f"unsupported schema_version {err.get('input')!r}; this build reads 1"
        out.append(FieldError(path, problem))
    return tuple(out)


class EventDecoder:
    """Turns raw bytes into priced events. Pure: the clock comes in as ``now``."""

    def __init__(self, prices: PriceBook | None = None, limits: DecodeLimits | None = None) -> None:
        self.prices = prices or PriceBook()
        self.limits = limits or DecodeLimits()

    def split(self, raw: bytes) -> Split:
        """Parse a message into its items, or reject it whole."""
        if len(raw) > self.limits.max_message_bytes:
            too_big = (
                f"message of {len(raw)} bytes exceeds the limit of "
                f"{self.limits.max_message_bytes} bytes"
            )
            return Split([], False, Rejected(raw, (FieldError("", too_big),)))
        doc, problem = load_json(raw)
        if problem is not None:
            return Split([], False, Rejected(raw, (FieldError("", problem),)))
        items, error = _items(doc)
        if error is not None or items is None:
            return Split([], False, Rejected(raw, (error or FieldError("", "no events"),)))
        single = not isinstance(doc, list) and not _is_envelope(doc)
        return Split(items, single, None)

    def decode(self, raw: bytes, now: datetime) -> Decoded:
        split = self.split(raw)
        if split.rejected is not None:
            return Decoded(rejected=[split.rejected])
        out = Decoded()
        for index, item in enumerate(split.items):
            if split.single:
                self.decode_item(item, None, raw, now, out)
            else:
                self.decode_item(item, index, None, now, out)
        return out

    def decode_items(self, items: list[Any], now: datetime) -> Decoded:
        out = Decoded()
        for index, item in enumerate(items):
            self.decode_item(item, index, None, now, out)
        return out

    def decode_item(
        self, item: Any, index: int | None, raw: bytes | None, now: datetime, out: Decoded
    ) -> None:
        def reject(*errors: FieldError) -> None:
            out.rejected.append(
                Rejected(raw if raw is not None else dump_item(item), errors, index)
            )

        if not isinstance(item, dict):
            reject(FieldError("", f"an event must be a JSON object, got {type(item).__name__}"))
            return
        try:
            bad_numbers = _bad_numbers_of_event(item)
        except RecursionError:
            reject(FieldError("", "nesting too deep"))
            return
        if bad_numbers:
            reject(*bad_numbers)
            return
        try:
            event = UsageEvent.model_validate(item)
        except ValidationError as exc:
            reject(*_errors(exc))
            return
        except RecursionError:
            reject(FieldError("", "nesting too deep"))
            return
        skew = event.timestamp - now
        if skew > self.limits.max_future_skew:
            reject(
                FieldError(
                    "timestamp", f"{skew} in the future (limit {self.limits.max_future_skew})"
                )
            )
            return
        if -skew > self.limits.max_age:
            reject(FieldError("timestamp", f"older than the limit of {self.limits.max_age}"))
            return
        cost, source = self.prices.price_event(event)
        out.events.append(PricedEvent(event, cost, source))
