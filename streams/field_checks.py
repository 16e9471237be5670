"""Plain-shape checks of single fields, shared by the worker's fast decode tiers.

Each returns True only for values the pydantic model keeps exactly as they are, so a
caller that passes them can skip the model; anything else goes to the model.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

from schemas.event import MAX_REPORTED_COST_USD
from schemas.money import NANOS_PER_USD
from schemas.text_rules import has_secret_hint

_PLAIN_DECIMAL = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,18})?")


def is_label(value: Any) -> bool:
    """A string pydantic keeps as it is: 1..256 printable chars, no edge spaces.

    Printable excludes every character ``schemas.text_rules`` refuses (and more, such
    as non-ASCII spaces, which pydantic then decides on)."""
    return (
        type(value) is str
        and 0 < len(value) <= 256
        and value.isprintable()
        and value[0] != " "
        and value[-1] != " "
    )


def is_name(value: Any) -> bool:
    """A label that is also plainly no secret (every id and label but ``event_id``)."""
    return is_label(value) and not has_secret_hint(value)


def plain_latency(value: Any) -> bool:
    if value is None:
        return True
    kind = type(value)
    return (kind is int or (kind is float and math.isfinite(value))) and 0 <= value <= 86_400_000


_CLEAN_TAG_TEXT: set[str] = set()
"""Tag keys and values already found printable and free of secret hints (they repeat)."""


def _clean_tag_text(text: str) -> bool:
    if not text.isprintable() or has_secret_hint(text):
        return False
    if len(_CLEAN_TAG_TEXT) >= 100_000:
        _CLEAN_TAG_TEXT.clear()
    _CLEAN_TAG_TEXT.add(text)
    return True


def plain_tags(tags: Any) -> bool:
    if type(tags) is not dict or len(tags) > 64:
        return False
    clean = _CLEAN_TAG_TEXT
    return all(
        type(k) is str and type(v) is str and len(k) <= 128 and len(v) <= 1024
        and k == k.strip() and v == v.strip()
        and (k in clean or _clean_tag_text(k)) and (v in clean or _clean_tag_text(v))
        for k, v in tags.items()
    )  # fmt: skip


def plain_units(units: Any) -> bool:
    if type(units) is not dict or len(units) > 16:
        return False
    return all(
        type(k) is str and 0 < len(k) <= 64 and k == k.strip()
        and type(v) is int and 0 <= v <= 10**12
        for k, v in units.items()
    )  # fmt: skip


def reported_nanos(value: Any) -> int | None:
    if type(value) is not str or _PLAIN_DECIMAL.fullmatch(value) is None:
        return None
    amount = Decimal(value)
    if amount > MAX_REPORTED_COST_USD:
        return None
    nanos = amount * NANOS_PER_USD
    if nanos != nanos.to_integral_value():
        return None  # sub-nano precision: the slow path rounds it
    return int(nanos)
