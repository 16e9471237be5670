"""JSON as producers send it: parsed fast, with a lenient fallback that keeps what JSON
or spendwatch refuses as numbers (``NaN``, a 5,000-digit integer) as ``BadNumber`` text,
so one item of a batch is rejected for it with a reason of its own, and written back as
it came when that item goes to the dead-letter topic.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_BOM = b"\xef\xbb\xbf"
_MAX_INT_DIGITS = 30
"""Longer integer literals are refused as numbers (no field takes one that large)."""


def load_json(raw: bytes) -> tuple[Any, str | None]:
    """Parse JSON fast; fall back to the lenient parser to salvage a batch's good items.

    A leading UTF-8 byte order mark is skipped (RFC 8259 lets parsers ignore it, and
    some Windows tools write one). Duplicate keys: the last one wins, in every tier.
    """
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError as exc:
        first_problem = f"malformed JSON: {exc}"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 1].hex()
        return None, f"malformed JSON: not UTF-8 (byte 0x{bad} at offset {exc.start})"
    try:
        return json.loads(text, parse_constant=_NonFinite, parse_int=_parse_int), None
    except (ValueError, RecursionError):
        return None, first_problem


class BadNumber(str):
    """A number literal JSON or spendwatch does not take, kept as text so its item alone
    is rejected with a reason of its own."""

    problem = "is not a number"

    def describe(self) -> str:
        shown = self if len(self) <= 24 else f"{self[:12]}...({len(self)} digits)"
        return f"{shown} {self.problem}"


class _NonFinite(BadNumber):
    problem = "is not a number JSON allows"


class _HugeNumber(BadNumber):
    problem = f"is too large a number (more than {_MAX_INT_DIGITS} digits)"


def _parse_int(text: str) -> Any:
    return _HugeNumber(text) if len(text.lstrip("-")) > _MAX_INT_DIGITS else int(text)


def bad_numbers(value: Any, path: str) -> list[tuple[str, str]]:
    """Every bad number literal inside ``value``: (field path, problem)."""
    if isinstance(value, BadNumber):
        return [(path, value.describe())]
    found: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, (BadNumber, dict, list)):
                found += bad_numbers(inner, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            if isinstance(inner, (BadNumber, dict, list)):
                found += bad_numbers(inner, f"{path}.{index}" if path else str(index))
    return found


def dump_item(item: Any) -> bytes:
    """An item of a batch as JSON of its own; bad number literals are written as they
    came (``NaN``, a 5,000-digit integer), not as strings. An item nested too deep to
    write back is replaced by a note saying so."""
    try:
        return _dump_with_literals(item)
    except RecursionError:
        pass
    try:
        return orjson.dumps(item)
    except TypeError:  # orjson's own depth limit (JSONEncodeError is a TypeError)
        return orjson.dumps({"item_not_kept": "nested too deep to write back as JSON"})


def _dump_with_literals(item: Any) -> bytes:
    literals: dict[str, str] = {}

    def swap(value: Any) -> Any:
        if isinstance(value, BadNumber):
            placeholder = f"\x00bad-number-{len(literals)}\x00"
            literals[json.dumps(placeholder)] = str(value)
            return placeholder
        if isinstance(value, dict):
            return {key: swap(inner) for key, inner in value.items()}
        if isinstance(value, list):
            return [swap(inner) for inner in value]
        return value

    swapped = swap(item)
    if not literals:
        try:
            return orjson.dumps(item)
        except TypeError:  # e.g. a lone surrogate, which orjson will not write
            pass
    text = json.dumps(swapped, default=str)
    for placeholder, literal in literals.items():
        text = text.replace(placeholder, literal)
    return text.encode()
