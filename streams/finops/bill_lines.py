"""One line of a provider's bill, and the parsing every bill format shares."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from schemas.money import usd_to_nanos
from streams.finops.ledger import day_of


class BillFormatError(ValueError):
    """A bill that cannot be read, naming the row or field."""


@dataclass(frozen=True, slots=True)
class BillLine:
    day: int
    provider: str
    model: str
    cost_nanos: int


def parse_day(text: str, where: str, *, zone_default: bool = False) -> int:
    """The epoch day of a date or timestamp; a timestamp without a zone is refused
    unless ``zone_default`` (then it is read as UTC, as billing exports write it)."""
    try:
        if len(text) == 10:
            return day_of(date.fromisoformat(text))
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BillFormatError(f"{where}: {text!r} is not a date (YYYY-MM-DD)") from exc
    if when.tzinfo is None and zone_default:
        when = when.replace(tzinfo=UTC)
    if when.tzinfo is None:
        raise BillFormatError(f"{where}: timestamp {text!r} needs a zone")
    return day_of(when.astimezone(UTC).date())


def parse_usd(value: Any, where: str, scale: Decimal = Decimal(1)) -> int:
    try:
        amount = Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation as exc:
        raise BillFormatError(f"{where}: {value!r} is not a decimal amount") from exc
    if not amount.is_finite():
        raise BillFormatError(f"{where}: {value!r} is not a finite amount")
    return usd_to_nanos(amount / scale)


def csv_rows(
    text: str, source: str, required: Sequence[str], what: str
) -> Iterator[tuple[str, dict[str, str]]]:
    """The rows of a CSV bill with a header, each with its place (``bill.csv:7``);
    a header without every ``required`` column is refused, naming ``what`` was expected."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise BillFormatError(f"{source}: {what} lacks column(s) {', '.join(missing)}")
    for number, row in enumerate(reader, start=2):
        yield f"{source}:{number}", row
