from __future__ import annotations

import json
from decimal import Decimal

import pytest

from schemas.money import usd_text
from streams.finops.bill_formats import BillFormatError, read_bill
from streams.finops.ledger import Ledger, date_of
from streams.finops.reconcile import reconcile
from streams.finops.showback import Period
from streams.rollup import COST


def _counted(ledger: Ledger) -> dict[tuple[str, str, str], int]:
    out: dict[tuple[str, str, str], int] = {}
    for day, who, sums in ledger.rows(-(10**9), 10**9):
        cell = (date_of(day).isoformat(), who[5], who[4])
        out[cell] = out.get(cell, 0) + sums[COST]
    return out


def test_a_bill_that_matches_except_one_blind_spot(events_lines: list[bytes]) -> None:
    ledger = Ledger.from_jsonl(events_lines)
    counted = _counted(ledger)
    rows = ["date,provider,model,cost_usd"]
    for (day, provider, model), nanos in sorted(counted.items()):
        billed = nanos * 2 if model == "gpt-4o" and day == "2026-11-01" else nanos
        name = f"{model}-2024-08-06" if model == "gpt-4o" else model
        rows.append(f"{day},{provider},{name},{usd_text(billed)}")
    rows.append("2026-11-01,openai,text-embedding-3-small,1.50")
    bill = read_bill("\n".join(rows) + "\n", "auto", "bill.csv")
    data = reconcile(ledger, bill)
    top = data["top_divergences"][0]
    assert (top["date"], top["model"]) == ("2026-11-01", "text-embedding-3-small")
    assert top["capture_rate"] == 0.0
    second = data["top_divergences"][1]
    assert (second["date"], second["model"], second["capture_rate"]) == (
        "2026-11-01",
        "gpt-4o",
        0.5,
    )
    assert [r["model"] for r in data["not_instrumented"]] == ["text-embedding-3-small"]
    assert data["not_billed"] == []
    exact = [r for r in data["cells"] if r["gap_usd"] == "0.000000000"]
    assert len(exact) == len(data["cells"]) - 2
    october = reconcile(ledger, bill, Period.parse("2026-10"))
    assert october["capture_rate"] == 1.0


def test_openai_costs_export() -> None:
    page = {
        "object": "page",
        "data": [
            {
                "object": "bucket",
                "start_time": 1793491200,
                "end_time": 1793577600,
                "results": [
                    {
                        "object": "organization.costs.result",
                        "amount": {"value": 0.06, "currency": "usd"},
                        "line_item": "gpt-4o-2024-08-06, input",
                        "project_id": None,
                    },
                    {
                        "object": "organization.costs.result",
                        "amount": {"value": 1.2, "currency": "usd"},
                        "line_item": None,
                        "project_id": None,
                    },
                ],
            }
        ],
    }
    lines = read_bill(json.dumps(page), "auto", "costs.json")
    assert [(date_of(b.day).isoformat(), b.model, b.cost_nanos) for b in lines] == [
        ("2026-11-01", "gpt-4o-2024-08-06", 60_000_000),
        ("2026-11-01", "(ungrouped)", 1_200_000_000),
    ]


def test_anthropic_cost_report_amounts_are_cents() -> None:
    report = {
        "data": [
            {
                "starting_at": "2026-11-02T00:00:00Z",
                "ending_at": "2026-11-03T00:00:00Z",
                "results": [
                    {
                        "currency": "USD",
                        "amount": "123.45",
                        "model": "claude-sonnet-4-5",
                        "cost_type": "tokens",
                        "token_type": "output_tokens",
                    },
                    {"currency": "USD", "amount": "10", "model": None, "cost_type": "web_search"},
                ],
            }
        ],
        "has_more": False,
        "next_page": None,
    }
    lines = read_bill(json.dumps(report), "auto", "cost.json")
    assert lines[0].cost_nanos == int(Decimal("1.2345") * 10**9)
    assert lines[1].model == "(non-token)"


@pytest.mark.parametrize(
    ("text", "fmt", "problem"),
    [
        ("day,model\n", "generic", "lacks column"),
        ("date,provider,model,cost_usd\n2026-13-01,openai,x,1\n", "generic", "bill:2: date"),
        ("date,provider,model,cost_usd\n2026-11-01,openai,x,abc\n", "generic", "cost_usd"),
        ('{"x": 1}', "auto", "unknown format"),
        ("{}", "xml", "--bill-format"),
    ],
)
def test_bad_bills_are_named(text: str, fmt: str, problem: str) -> None:
    with pytest.raises(BillFormatError, match=problem):
        read_bill(text, fmt, "bill")
