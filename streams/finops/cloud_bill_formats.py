"""Cloud billing exports: the LLM spend in an AWS Cost and Usage Report and in the Google
Cloud billing export, read into bill lines.

Both bills hold a whole account's spend and name models only in free text (no model id),
so each adapter keeps the rows of the LLM services and derives a *model label* from
that text by the rules below. ``reconcile`` matches a label to the counted model whose
name reads the same once versions, vendor prefixes and punctuation are set aside
(``Claude 3.5 Sonnet`` to ``anthropic.claude-3-5-sonnet-20240620-v1:0``); a label it
cannot match stays a blind spot under its own name.

``aws-cur`` (CSV): a Cost and Usage Report, legacy (``lineItem/UsageStartDate``) or
    CUR 2.0 (``line_item_usage_start_date``) column names. Kept: rows of Amazon Bedrock
    (product code ``AmazonBedrock``, or a product named ``... (Amazon Bedrock
    Edition)``, as Marketplace models are) whose line item type is ``Usage`` or
    ``DiscountedUsage``; taxes, credits, refunds and fees are left out. Day: the usage
    start (UTC); cost: the unblended cost, which must be in USD. Label: the product name
    before `` (Amazon Bedrock Edition)``; else the usage type without its region prefix
    and its token suffix (``USE1-NovaLite-input-tokens``: ``NovaLite``). Provider
    ``aws.bedrock``.

``gcp-billing`` (CSV): the standard billing export to BigQuery, saved as CSV (columns
    ``service.description``, ``sku.description``, ``usage_start_time``, ``cost``,
    ``currency``). Kept: services ``Vertex AI`` (provider ``gcp.vertex_ai``) and ``Gemini
    API`` / ``Generative Language API`` (``gcp.gemini``). Cost: ``cost`` before credits,
    in USD. Label: the SKU description before `` - ``, less trailing words that name the
    kind of usage (``Gemini 2.5 Flash Thinking Output Text``: ``Gemini 2.5 Flash``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence

from streams.finops.bill_lines import BillFormatError, BillLine, csv_rows, parse_day, parse_usd

CLOUD_FORMATS = ("aws-cur", "gcp-billing")
CUR_COLUMNS = {
    "start": ("lineItem/UsageStartDate", "line_item_usage_start_date"),
    "code": ("lineItem/ProductCode", "line_item_product_code"),
    "usage_type": ("lineItem/UsageType", "line_item_usage_type"),
    "item_type": ("lineItem/LineItemType", "line_item_line_item_type"),
    "cost": ("lineItem/UnblendedCost", "line_item_unblended_cost"),
    "currency": ("lineItem/CurrencyCode", "line_item_currency_code"),
    "product": ("product/ProductName", "product_product_name"),
}
CUR_KEPT_ITEMS = frozenset({"Usage", "DiscountedUsage"})
BEDROCK_EDITION = " (Amazon Bedrock Edition)"
_REGION_PREFIX = re.compile(r"^[A-Z]{2,4}\d?-")
_TOKEN_SUFFIX = re.compile(
    r"-(cache-?(read|write)-?)?(input|output)-?(token|tokens|token-count)\b.*$", re.IGNORECASE
)
GCP_COLUMNS = ("service.description", "sku.description", "usage_start_time", "cost")
GCP_SERVICES = {
    "Vertex AI": "gcp.vertex_ai",
    "Gemini API": "gcp.gemini",
    "Generative Language API": "gcp.gemini",
}
SKU_USAGE_WORDS = frozenset(
    {
        "input", "output", "text", "image", "images", "audio", "video", "tokens", "token",
        "characters", "character", "caching", "cached", "cache", "storage", "predictions",
        "prediction", "thinking", "batch", "online", "long", "short", "context", "request",
        "requests", "count",
    }
)  # fmt: skip


def _columns(fieldnames: Sequence[str] | None, source: str) -> dict[str, str]:
    present = set(fieldnames or [])
    found: dict[str, str] = {}
    for field, names in CUR_COLUMNS.items():
        name = next((n for n in names if n in present), None)
        if name is None and field != "product":
            raise BillFormatError(
                f"{source}: not a Cost and Usage Report: no column {' or '.join(names)}"
            )
        if name is not None:
            found[field] = name
    return found


def cur_label(product: str, usage_type: str) -> str:
    """The model a Bedrock CUR line is for, as the report names it."""
    if product.endswith(BEDROCK_EDITION):
        return product[: -len(BEDROCK_EDITION)].strip()
    name = _REGION_PREFIX.sub("", usage_type.strip())
    return _TOKEN_SUFFIX.sub("", name) or usage_type.strip()


def read_aws_cur(text: str, source: str) -> Iterator[BillLine]:
    reader = csv.DictReader(io.StringIO(text))
    cols = _columns(reader.fieldnames, source)
    for number, row in enumerate(reader, start=2):
        product = (row.get(cols.get("product", ""), "") or "").strip()
        code = (row[cols["code"]] or "").strip()
        if code != "AmazonBedrock" and not product.endswith(BEDROCK_EDITION):
            continue
        if (row[cols["item_type"]] or "").strip() not in CUR_KEPT_ITEMS:
            continue
        where = f"{source}:{number}"
        currency = (row[cols["currency"]] or "USD").strip().upper()
        if currency != "USD":
            raise BillFormatError(f"{where}: {cols['currency']} is {currency}, not USD")
        yield BillLine(
            parse_day(row[cols["start"]].strip(), f"{where}: {cols['start']}", zone_default=True),
            "aws.bedrock",
            cur_label(product, row[cols["usage_type"]] or ""),
            parse_usd((row[cols["cost"]] or "0").strip(), f"{where}: {cols['cost']}"),
        )


def sku_label(sku: str) -> str:
    """The model a Google Cloud SKU description is for."""
    words = sku.split(" - ", 1)[0].split()
    while len(words) > 1 and words[-1].lower() in SKU_USAGE_WORDS:
        words.pop()
    return " ".join(words)


def read_gcp_billing(text: str, source: str) -> Iterator[BillLine]:
    for where, row in csv_rows(text, source, GCP_COLUMNS, "a Google Cloud billing export"):
        provider = GCP_SERVICES.get((row["service.description"] or "").strip())
        if provider is None:
            continue
        currency = (row.get("currency") or "USD").strip().upper()
        if currency != "USD":
            raise BillFormatError(f"{where}: currency is {currency}, not USD")
        start = (row["usage_start_time"] or "").strip().removesuffix(" UTC")
        yield BillLine(
            parse_day(start, f"{where}: usage_start_time", zone_default=True),
            provider,
            sku_label(row["sku.description"] or ""),
            parse_usd((row["cost"] or "0").strip(), f"{where}: cost"),
        )


def read_cloud_bill(text: str, fmt: str, source: str) -> list[BillLine]:
    if fmt == "aws-cur":
        return list(read_aws_cur(text, source))
    return list(read_gcp_billing(text, source))


def sniff_cloud_csv(header: Sequence[str]) -> str | None:
    """The cloud format whose columns a CSV header has, if any."""
    names = set(header)
    if any(n in names for n in CUR_COLUMNS["start"]):
        return "aws-cur"
    if "sku.description" in names and "service.description" in names:
        return "gcp-billing"
    return None
