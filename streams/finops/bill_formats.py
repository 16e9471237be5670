"""Billing exports read into one shape: (day, provider, model, cost in nano-USD).

Formats, picked with ``--bill-format`` (``auto`` looks at the file):

``generic`` (CSV with a header; extra columns are ignored)::

    date,provider,model,cost_usd
    2026-11-03,openai,gpt-4o,12.345678

    ``date`` is YYYY-MM-DD (UTC) or an RFC 3339 timestamp; ``provider`` is a
    gen_ai.provider.name or an alias (``google``, ``bedrock``); ``cost_usd`` a decimal.

``openai-costs`` (JSON): pages of ``GET /v1/organization/costs`` with ``bucket_width=1d``
    and ``group_by=line_item``, a page object or a list of pages. Each bucket's
    ``start_time`` (Unix seconds) gives the day; each result's ``amount.value`` the USD
    and ``line_item`` the model: the text before the first comma (a result without a
    line item is booked to model ``(ungrouped)``).

``anthropic-cost-report`` (JSON): pages of ``GET /v1/organizations/cost_report`` with
    ``group_by[]=description``. ``starting_at`` gives the day, ``model`` the model
    (``(non-token)`` for web search and code execution), and ``amount`` is a decimal
    string in cents: ``"123.45"`` is $1.2345.

Not covered: AWS CUR (Bedrock) and the GCP billing export name models only through
usage types and SKU descriptions whose mapping to model ids is not documented; export
them as the generic CSV (one row per day and model) instead.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from schemas.money import usd_to_nanos
from schemas.providers import normalize_provider
from streams.finops.ledger import day_of

FORMATS = ("auto", "generic", "openai-costs", "anthropic-cost-report")
GENERIC_COLUMNS = ("date", "provider", "model", "cost_usd")


class BillFormatError(ValueError):
    """A bill that cannot be read, naming the row or field."""


@dataclass(frozen=True, slots=True)
class BillLine:
    day: int
    provider: str
    model: str
    cost_nanos: int


def _day(text: str, where: str) -> int:
    try:
        if len(text) == 10:
            return day_of(date.fromisoformat(text))
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BillFormatError(f"{where}: {text!r} is not a date (YYYY-MM-DD)") from exc
    if when.tzinfo is None:
        raise BillFormatError(f"{where}: timestamp {text!r} needs a zone")
    return day_of(when.astimezone(UTC).date())


def _usd(value: Any, where: str, scale: Decimal = Decimal(1)) -> int:
    try:
        amount = Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation as exc:
        raise BillFormatError(f"{where}: {value!r} is not a decimal amount") from exc
    if not amount.is_finite():
        raise BillFormatError(f"{where}: {value!r} is not a finite amount")
    return usd_to_nanos(amount / scale)


def read_generic(text: str, source: str) -> Iterator[BillLine]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in GENERIC_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise BillFormatError(
            f"{source}: generic bill CSV lacks column(s) {', '.join(missing)}; "
            f"expected a header with {', '.join(GENERIC_COLUMNS)}"
        )
    for number, row in enumerate(reader, start=2):
        where = f"{source}:{number}"
        for column in GENERIC_COLUMNS:
            if not (row.get(column) or "").strip():
                raise BillFormatError(f"{where}: {column} is empty")
        yield BillLine(
            _day(row["date"].strip(), f"{where}: date"),
            normalize_provider(row["provider"].strip()),
            row["model"].strip(),
            _usd(row["cost_usd"].strip(), f"{where}: cost_usd"),
        )


def _pages(data: Any) -> list[Any]:
    return data if isinstance(data, list) else [data]


def read_openai_costs(data: Any, source: str) -> Iterator[BillLine]:
    for p, page in enumerate(_pages(data)):
        for b, bucket in enumerate(page.get("data", [])):
            where = f"{source}: page {p} data[{b}]"
            try:
                day = day_of(datetime.fromtimestamp(int(bucket["start_time"]), UTC).date())
            except (KeyError, TypeError, ValueError) as exc:
                raise BillFormatError(f"{where}.start_time: missing or not Unix seconds") from exc
            for r, result in enumerate(bucket.get("results", [])):
                amount = result.get("amount") or {}
                if str(amount.get("currency", "usd")).lower() != "usd":
                    raise BillFormatError(f"{where}.results[{r}].amount.currency: not usd")
                item = result.get("line_item")
                model = item.split(",", 1)[0].strip() if item else "(ungrouped)"
                value = amount.get("value", 0)
                yield BillLine(
                    day, "openai", model, _usd(value, f"{where}.results[{r}].amount.value")
                )


def read_anthropic_cost_report(data: Any, source: str) -> Iterator[BillLine]:
    for p, page in enumerate(_pages(data)):
        for b, bucket in enumerate(page.get("data", [])):
            where = f"{source}: page {p} data[{b}]"
            day = _day(str(bucket.get("starting_at", "")), f"{where}.starting_at")
            for r, result in enumerate(bucket.get("results", [])):
                if str(result.get("currency", "USD")).upper() != "USD":
                    raise BillFormatError(f"{where}.results[{r}].currency: not USD")
                model = result.get("model") or "(non-token)"
                cents = result.get("amount", "0")
                nanos = _usd(cents, f"{where}.results[{r}].amount", scale=Decimal(100))
                yield BillLine(day, "anthropic", model, nanos)


def read_bill(text: str, fmt: str = "auto", source: str = "bill") -> list[BillLine]:
    """All lines of a bill in ``fmt`` (see the module docstring)."""
    if fmt not in FORMATS:
        raise BillFormatError(f"--bill-format: {fmt!r} is not one of {', '.join(FORMATS)}")
    if fmt == "auto":
        fmt = _guess(text, source)
    if fmt == "generic":
        return list(read_generic(text, source))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BillFormatError(f"{source}: not JSON ({exc.msg} at line {exc.lineno})") from exc
    if fmt == "openai-costs":
        return list(read_openai_costs(data, source))
    return list(read_anthropic_cost_report(data, source))


def _guess(text: str, source: str) -> str:
    head = text.lstrip()[:4000]
    if not head.startswith(("{", "[")):
        return "generic"
    if "organization.costs.result" in head or '"start_time"' in head:
        return "openai-costs"
    if '"starting_at"' in head:
        return "anthropic-cost-report"
    raise BillFormatError(f"{source}: a JSON bill of unknown format; name it with --bill-format")
