"""AWS Cost and Usage Report and Google Cloud billing export: read and reconciled."""

from __future__ import annotations

import csv
import io
import uuid
from decimal import Decimal

import orjson
import pytest

from streams.finops.bill_formats import BillFormatError, read_bill
from streams.finops.cloud_bill_formats import cur_label, sku_label
from streams.finops.ledger import Ledger
from streams.finops.reconcile import model_key, reconcile

NANOS = 10**9


def _event(provider: str, model: str, usd: str, day: str = "2026-11-03") -> bytes:
    return orjson.dumps(
        {
            "event_id": uuid.uuid4().hex,
            "timestamp": f"{day}T10:00:00Z",
            "provider": provider,
            "model": model,
            "api_key_id": "k-1",
            "team": "search",
            "input_tokens": 1000,
            "output_tokens": 100,
            "cost_usd": usd,
        }
    )


def _csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


LEGACY_CUR = [
    "identity/LineItemId", "lineItem/UsageStartDate", "lineItem/ProductCode",
    "lineItem/UsageType", "lineItem/LineItemType", "lineItem/UnblendedCost",
    "lineItem/CurrencyCode", "product/ProductName",
]  # fmt: skip
CUR_ROWS = [
    ["a", "2026-11-03T00:00:00Z", "AmazonBedrock", "USE1-NovaLite-input-tokens", "Usage",
     "1.25", "USD", "Amazon Bedrock"],
    ["b", "2026-11-03T00:00:00Z", "AmazonBedrock", "USE1-NovaLite-output-tokens", "Usage",
     "0.75", "USD", "Amazon Bedrock"],
    ["c", "2026-11-03T00:00:00Z", "prod-4pmewlybdftbs", "USE1-MP:USE1_InputTokenCount-Units",
     "Usage", "6.00", "USD", "Claude 3.5 Sonnet (Amazon Bedrock Edition)"],
    ["d", "2026-11-03T00:00:00Z", "AmazonBedrock", "USE1-NovaLite-input-tokens", "Tax",
     "0.20", "USD", "Amazon Bedrock"],
    ["e", "2026-11-03T00:00:00Z", "AmazonEC2", "USE1-BoxUsage:m5.large", "Usage",
     "40.00", "USD", "Amazon Elastic Compute Cloud"],
    ["f", "2026-11-04T00:00:00Z", "AmazonBedrock", "USE1-Llama3-70B-input-tokens", "Usage",
     "3.00", "USD", "Amazon Bedrock"],
]  # fmt: skip


def test_aws_cur_keeps_bedrock_usage_and_names_its_models() -> None:
    text = _csv(LEGACY_CUR, CUR_ROWS)
    lines = read_bill(text, "auto", "cur.csv")
    assert [(b.provider, b.model, b.cost_nanos) for b in lines] == [
        ("aws.bedrock", "NovaLite", 1_250_000_000),
        ("aws.bedrock", "NovaLite", 750_000_000),
        ("aws.bedrock", "Claude 3.5 Sonnet", 6 * NANOS),
        ("aws.bedrock", "Llama3-70B", 3 * NANOS),
    ]
    assert lines[0].day + 1 == lines[3].day


def test_cur_2_column_names_and_timestamps_without_a_zone() -> None:
    header = [
        "line_item_usage_start_date", "line_item_product_code", "line_item_usage_type",
        "line_item_line_item_type", "line_item_unblended_cost", "line_item_currency_code",
    ]  # fmt: skip
    text = _csv(header, [["2026-11-03 00:00:00", "AmazonBedrock", "USW2-NovaPro-output-tokens",
                          "DiscountedUsage", "2.5", "USD"]])  # fmt: skip
    (line,) = read_bill(text, "aws-cur", "cur2.csv")
    assert (line.model, line.cost_nanos) == ("NovaPro", 2_500_000_000)


def test_a_cur_is_reconciled_against_bedrock_events() -> None:
    ledger = Ledger.from_jsonl(
        [
            _event("aws.bedrock", "amazon.nova-lite-v1:0", "2.00"),
            _event("aws.bedrock", "us.anthropic.claude-3-5-sonnet-20240620-v1:0", "4.50"),
            _event("openai", "gpt-4o", "9.00"),
        ]
    )
    data = reconcile(ledger, read_bill(_csv(LEGACY_CUR, CUR_ROWS[:3]), "aws-cur", "cur.csv"))
    by_model = {row["model"]: row for row in data["by_model"]}
    assert set(by_model) == {
        "amazon.nova-lite-v1:0",
        "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
    }
    assert by_model["amazon.nova-lite-v1:0"]["capture_rate"] == 1.0
    sonnet = by_model["us.anthropic.claude-3-5-sonnet-20240620-v1:0"]
    assert sonnet["billed_usd"] == "6.000000000" and sonnet["capture_rate"] == 0.75
    assert data["providers"] == ["aws.bedrock"]  # the OpenAI spend is not on this bill
    assert data["capture_rate"] == pytest.approx(6.5 / 8.0)


GCP = ["billing_account_id", "service.description", "sku.description", "usage_start_time",
       "cost", "currency", "credits"]  # fmt: skip


def test_gcp_billing_export_keeps_vertex_and_gemini_api_rows() -> None:
    rows = [
        ["X", "Vertex AI", "Gemini 2.5 Flash Thinking Output Text - Predictions",
         "2026-11-03 04:00:00 UTC", "3.10", "USD", "[]"],
        ["X", "Vertex AI", "Gemini 2.5 Flash Input Text", "2026-11-03 05:00:00 UTC", "0.90",
         "USD", "[]"],
        ["X", "Gemini API", "Gemini 2.0 Flash Lite Input Tokens", "2026-11-03 05:00:00 UTC",
         "1.00", "USD", "[]"],
        ["X", "Compute Engine", "N2 Instance Core", "2026-11-03 05:00:00 UTC", "12.00", "USD",
         "[]"],
    ]  # fmt: skip
    lines = read_bill(_csv(GCP, rows), "auto", "gcp.csv")
    assert [(b.provider, b.model, b.cost_nanos) for b in lines] == [
        ("gcp.vertex_ai", "Gemini 2.5 Flash", 3_100_000_000),
        ("gcp.vertex_ai", "Gemini 2.5 Flash", 900_000_000),
        ("gcp.gemini", "Gemini 2.0 Flash Lite", NANOS),
    ]
    ledger = Ledger.from_jsonl([_event("gcp.vertex_ai", "gemini-2.5-flash", "4.00")])
    data = reconcile(ledger, lines)
    vertex = next(r for r in data["by_model"] if r["provider"] == "gcp.vertex_ai")
    assert (vertex["model"], vertex["capture_rate"]) == ("gemini-2.5-flash", 1.0)
    assert [r["model"] for r in data["not_instrumented"]] == ["Gemini 2.0 Flash Lite"]


@pytest.mark.parametrize(
    ("name", "same"),
    [
        ("Claude 3.5 Sonnet", "us.anthropic.claude-3-5-sonnet-20240620-v1:0"),
        ("NovaLite", "amazon.nova-lite-v1:0"),
        ("Gemini 1.5 Pro", "gemini-1.5-pro-002"),
        ("Claude Sonnet 4", "anthropic.claude-sonnet-4-20250514-v1:0"),
    ],
)
def test_model_keys_set_aside_vendor_version_and_punctuation(name: str, same: str) -> None:
    assert model_key(name) == model_key(same)
    assert model_key("gpt-4o") != model_key("gpt-4o-mini")


def test_labels_from_usage_types_and_skus() -> None:
    assert cur_label("", "EUC1-TitanEmbeddingsG1-Text-input-tokens") == "TitanEmbeddingsG1-Text"
    assert cur_label("Claude Opus 4 (Amazon Bedrock Edition)", "x") == "Claude Opus 4"
    assert sku_label("Gemini 1.5 Pro Text Input Characters - Predictions") == "Gemini 1.5 Pro"


EUR_ROW = ["a", "2026-11-03T00:00:00Z", "AmazonBedrock", "u", "Usage", "1", "EUR", "Amazon Bedrock"]
UNDATED_ROW = ["a", "yesterday", "AmazonBedrock", "u", "Usage", "1", "USD", ""]


@pytest.mark.parametrize(
    ("text", "fmt", "problem"),
    [
        ("a,b\n1,2\n", "aws-cur", "not a Cost and Usage Report"),
        ("service.description,cost\nVertex AI,1\n", "gcp-billing", "sku.description"),
        (_csv(LEGACY_CUR, [EUR_ROW]), "aws-cur", "cur.csv:2: .* EUR"),
        (_csv(LEGACY_CUR, [UNDATED_ROW]), "aws-cur", "UsageStartDate"),
    ],
)
def test_bad_cloud_bills_are_named(text: str, fmt: str, problem: str) -> None:
    with pytest.raises(BillFormatError, match=problem):
        read_bill(text, fmt, "cur.csv")


def test_amounts_stay_exact() -> None:
    rows = [["a", "2026-11-03T00:00:00Z", "AmazonBedrock", "USE1-NovaMicro-input-tokens",
             "Usage", "0.123456789", "USD", "Amazon Bedrock"]] * 3  # fmt: skip
    lines = read_bill(_csv(LEGACY_CUR, rows), "aws-cur", "cur.csv")
    assert sum(b.cost_nanos for b in lines) == int(Decimal("0.370370367") * NANOS)
