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

``aws-cur`` and ``gcp-billing`` (CSV): an AWS Cost and Usage Report and the Google Cloud
    billing export; see ``streams.finops.cloud_bill_formats``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from schemas.providers import normalize_provider
from streams.finops.bill_lines import BillFormatError, BillLine, csv_rows, parse_day, parse_usd
from streams.finops.cloud_bill_formats import CLOUD_FORMATS, read_cloud_bill, sniff_cloud_csv
from streams.finops.ledger import day_of

__all__ = ["FORMATS", "BillFormatError", "BillLine", "read_bill"]

FORMATS = ("auto", "generic", "openai-costs", "anthropic-cost-report", *CLOUD_FORMATS)
GENERIC_COLUMNS = ("date", "provider", "model", "cost_usd")


def read_generic(text: str, source: str) -> Iterator[BillLine]:
    what = f"a generic bill CSV (header {','.join(GENERIC_COLUMNS)})"
    for where, row in csv_rows(text, source, GENERIC_COLUMNS, what):
        for column in GENERIC_COLUMNS:
            if not (row.get(column) or "").strip():
                raise BillFormatError(f"{where}: {column} is empty")
        yield BillLine(
            parse_day(row["date"].strip(), f"{where}: date"),
            normalize_provider(row["provider"].strip()),
            row["model"].strip(),
            parse_usd(row["cost_usd"].strip(), f"{where}: cost_usd"),
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
                    day, "openai", model, parse_usd(value, f"{where}.results[{r}].amount.value")
                )


def read_anthropic_cost_report(data: Any, source: str) -> Iterator[BillLine]:
    for p, page in enumerate(_pages(data)):
        for b, bucket in enumerate(page.get("data", [])):
            where = f"{source}: page {p} data[{b}]"
            day = parse_day(str(bucket.get("starting_at", "")), f"{where}.starting_at")
            for r, result in enumerate(bucket.get("results", [])):
                if str(result.get("currency", "USD")).upper() != "USD":
                    raise BillFormatError(f"{where}.results[{r}].currency: not USD")
                model = result.get("model") or "(non-token)"
                cents = result.get("amount", "0")
                nanos = parse_usd(cents, f"{where}.results[{r}].amount", scale=Decimal(100))
                yield BillLine(day, "anthropic", model, nanos)


def read_bill(text: str, fmt: str = "auto", source: str = "bill") -> list[BillLine]:
    """All lines of a bill in ``fmt`` (see the module docstring)."""
    if fmt not in FORMATS:
        raise BillFormatError(f"--bill-format: {fmt!r} is not one of {', '.join(FORMATS)}")
    if fmt == "auto":
        fmt = _guess(text, source)
    if fmt == "generic":
        return list(read_generic(text, source))
    if fmt in CLOUD_FORMATS:
        return read_cloud_bill(text, fmt, source)
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
        header = next(csv.reader(io.StringIO(head)), [])
        return sniff_cloud_csv(header) or "generic"
    if "organization.costs.result" in head or '"start_time"' in head:
        return "openai-costs"
    if '"starting_at"' in head:
        return "anthropic-cost-report"
    raise BillFormatError(f"{source}: a JSON bill of unknown format; name it with --bill-format")
