"""The columnar batch: many usage events as one JSON object of equally long columns.

``{"schema_version": 1, "columns": {"event_id": [...], "timestamp": [...], ...}}`` holds
the same events as ``{"schema_version": 1, "events": [...]}``: event ``i`` is made of
the ``i``-th value of every column, and a ``null`` value (or a missing column) means the
field is absent from that event. Column names are the event's field names. A column may
also be *dictionary-encoded*, ``{"values": [distinct values], "codes": [index per
event]}``: event ``i`` has ``values[codes[i]]``. Labels repeat a lot within a batch (a
few keys, teams and models), so this is smaller and saves the reader one string per
event and column. The worker
decodes such a batch column by column, with one typed call per column instead of one
per field per event; that is what lets one process count a few hundred thousand events
a second.

Whatever the worker cannot check column-wise is expanded back to events
(``expand_columns``) and checked one by one, so every event keeps its own verdict and
its index in the batch.

>>> batch = columns_of([{"event_id": "e1", "timestamp": "2026-11-29T12:00:00.250Z",
...                      "provider": "openai", "model": "gpt-4o", "api_key_id": "k"}])
>>> batch["columns"]["timestamp"]
[1795953600250]
>>> expand_columns(batch["columns"])[0][0]["timestamp"]
1795953600250
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.event import SCHEMA_VERSION, UsageEvent

COLUMNS: tuple[str, ...] = tuple(
    name for name in UsageEvent.model_fields if name != "schema_version"
)
"""Every column a batch may carry, in the order the encoder writes them."""
TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
NULLABLE = frozenset(
    {"cost_usd", "team", "app", "feature", "environment", "user_id", "status", "latency_ms"}
)
"""Fields whose explicit ``null`` in an event means the same as leaving them out."""
MAX_EPOCH_MS = 32_503_680_000_000
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
DICTIONARY_COLUMNS = frozenset(
    {"provider", "model", "api_key_id", "team", "app", "feature", "environment", "user_id",
     "status"}
)  # fmt: skip
"""Columns the encoder dictionary-encodes when their values repeat."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SKIPPED = frozenset({"schema_version"})


def expand_columns(columns: Any) -> tuple[list[dict[str, Any]], tuple[str, str] | None]:
    """The events of a batch's ``columns``, or ([], (path, problem)) when it is malformed.

    A ``null`` value leaves the field out of that event; unknown columns are kept, so the
    event model names them.
    """
    if not isinstance(columns, dict):
        return [], ("columns", "must be a JSON object of equally long arrays")
    size = None
    first = ""
    columns = dict(columns)
    for name, given in columns.items():
        values = given
        if isinstance(given, dict):
            values, problem = _undictionary(given)
            if problem is not None:
                return [], (f"columns.{name}.{problem[0]}".rstrip("."), problem[1])
            columns[name] = values
        if not isinstance(values, list):
            return [], (f"columns.{name}", "must be a JSON array (one value per event)")
        if size is None:
            size, first = len(values), name
        elif len(values) != size:
            return [], (
                f"columns.{name}",
                f"has {len(values)} values but columns.{first} has {size}",
            )
    items: list[dict[str, Any]] = [{} for _ in range(size or 0)]
    for name, values in columns.items():
        for item, value in zip(items, values, strict=True):
            if value is not None:
                item[name] = value
    return items, None


def _undictionary(column: dict[str, Any]) -> tuple[list[Any], tuple[str, str] | None]:
    """The plain values of a dictionary-encoded column, or (path, problem)."""
    if set(column) != {"values", "codes"}:
        return [], ("", 'a dictionary column has exactly "values" and "codes"')
    values, codes = column["values"], column["codes"]
    if not isinstance(values, list):
        return [], ("values", "must be a JSON array")
    if not isinstance(codes, list):
        return [], ("codes", "must be a JSON array")
    for index, code in enumerate(codes):
        if type(code) is not int or not 0 <= code < len(values):
            return [], (f"codes.{index}", f"{code!r} is not an index into values")
    return [values[code] for code in codes], None


def epoch_millis(value: Any) -> int | None:
    """``value`` as epoch milliseconds when that is exact, else None.

    An RFC 3339 string converts only when it has no sub-millisecond part and lies in the
    range the event accepts for integers; anything else stays as it was written.

    >>> epoch_millis("1970-01-01T00:01:00.001+00:00"), epoch_millis("2026-11-29T12:00:00.0001Z")
    (60001, None)
    """
    if type(value) is int:
        return value if 0 <= value <= MAX_EPOCH_MS else None
    if type(value) is not str or _RFC3339.fullmatch(value) is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.microsecond % 1000:
        return None
    delta = when - _EPOCH
    millis = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    return millis if 0 <= millis <= MAX_EPOCH_MS else None


def columns_of(events: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The columnar batch of ``events`` (JSON-ready dicts), or None when one of them has
    something a column cannot say exactly (an unknown field, an explicit null where the
    event model does not allow one, a schema version other than 1).

    Timestamps become epoch milliseconds where that is exact; absent token counts are
    written as 0 (their default), other absent fields as null; all-null columns are left out.
    """
    size = len(events)
    columns: dict[str, list[Any]] = {}
    for index, event in enumerate(events):
        for name, value in event.items():
            column = columns.get(name)
            if column is None:
                if name in _SKIPPED:
                    if type(value) is not int or value != SCHEMA_VERSION:
                        return None
                    continue
                if name not in COLUMNS:
                    return None
                column = columns[name] = [0 if name in TOKEN_COLUMNS else None] * size
            if value is None and name not in NULLABLE:
                return None
            column[index] = value
    stamps = columns.get("timestamp")
    if stamps is not None:
        millis = [epoch_millis(v) for v in stamps]
        columns["timestamp"] = [v if m is None else m for v, m in zip(stamps, millis, strict=True)]
    ordered: dict[str, Any] = {}
    for name in COLUMNS:
        values = columns.get(name)
        if values is None or all(v is None for v in values):
            continue
        ordered[name] = _dictionary(values) if name in DICTIONARY_COLUMNS else values
    return {"schema_version": SCHEMA_VERSION, "columns": ordered}


def _dictionary(values: list[Any]) -> list[Any] | dict[str, list[Any]]:
    """The column dictionary-encoded when its values repeat (at most half distinct)."""
    if len(values) < 8 or not all(v is None or type(v) is str for v in values):
        return values
    codes_of: dict[Any, int] = {}
    codes = [codes_of.setdefault(v, len(codes_of)) for v in values]
    if 2 * len(codes_of) > len(values):
        return values
    return {"values": list(codes_of), "codes": codes}


class DictionaryColumn(BaseModel):
    """A dictionary-encoded column: event i has ``values[codes[i]]``."""

    model_config = ConfigDict(extra="forbid", title="DictionaryColumn")

    values: list[Any] = Field(description="The distinct values of the column.")
    codes: list[int] = Field(description="Per event, the index of its value in values.")


class UsageColumns(BaseModel):
    """JSON Schema of a columnar batch (documentation; events are validated one by one)."""

    model_config = ConfigDict(extra="forbid", title="UsageColumns")

    schema_version: Literal[1] = Field(1, description="Version of this schema; this build reads 1.")
    columns: dict[str, list[Any] | DictionaryColumn] = Field(
        description="One array per event field (or a dictionary column), all of the same "
        "length; event i is the i-th value of every column, and null (or a missing column) "
        "leaves the field out of it. Timestamps are best given as epoch milliseconds.",
        json_schema_extra={"propertyNames": {"enum": list(COLUMNS)}},
    )
