from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.decode import DecodeLimits, EventDecoder
from schemas.pricing import PriceBook
from streams.finops.ledger import Ledger, LedgerInputError
from streams.finops.render import render
from streams.finops.showback import Period, parse_by, showback


def _exact_total(lines: list[bytes], month: str) -> tuple[int, int]:
    """Nanos and calls of the events in ``month``, priced one by one through pydantic."""
    decoder = EventDecoder(PriceBook(), DecodeLimits(max_age=timedelta(days=36_500)))
    nanos = calls = 0
    for line in lines:
        priced = decoder.decode(line, datetime.now(UTC))
        for p in priced.events:
            if p.event.timestamp.strftime("%Y-%m") == month:
                nanos += p.cost_nanos
                calls += 1
    return nanos, calls


@pytest.fixture(scope="module")
def ledger(events_lines: list[bytes]) -> Ledger:
    return Ledger.from_jsonl(events_lines)


def test_totals_reconcile_with_the_events_to_the_nano(
    ledger: Ledger, events_lines: list[bytes]
) -> None:
    for month in ("2026-10", "2026-11"):
        report = showback(ledger, Period.parse(month), "team,app")
        nanos, calls = _exact_total(events_lines, month)
        assert calls > 100
        assert report["total"]["cost_nanos"] == nanos
        assert report["total"]["calls"] == calls
        parts = sum(r["cost_nanos"] for r in report["rows"]) + report["unattributed"]["cost_nanos"]
        assert parts == nanos


def test_unattributed_spend_has_its_own_line_and_rows_carry_the_metrics(ledger: Ledger) -> None:
    report = showback(ledger, Period.parse("2026-11"), ["team", "app"])
    assert report["unattributed"]["calls"] > 0
    assert all(r["team"] != "unattributed" for r in report["rows"])
    row = report["rows"][0]
    assert row["cost_nanos"] == max(r["cost_nanos"] for r in report["rows"])
    assert row["previous_cost_usd"] is not None
    assert 0 < row["share"] <= 1
    per_call = row["cost_nanos"] / row["calls"] / 1e9
    assert abs(float(row["cost_per_call_usd"]) - per_call) < 1e-9
    with_units = [r for r in report["rows"] if r["units"]]
    assert with_units, "summarize/extract apps report units of value"
    assert set(with_units[0]["cost_per_unit_usd"]) == set(with_units[0]["units"])


def test_change_against_the_previous_period(ledger: Ledger) -> None:
    nov = showback(ledger, Period.parse("2026-11"), "team")
    oct_ = showback(ledger, Period.parse("2026-10"), "team")
    before = {r["team"]: r["cost_nanos"] for r in oct_["rows"]}
    for row in nov["rows"]:
        if row["team"] in before:
            expected = (row["cost_nanos"] - before[row["team"]]) / before[row["team"]] * 100
            assert row["change_pct"] == round(expected, 2)


def test_every_format_renders_the_same_totals(ledger: Ledger) -> None:
    report = showback(ledger, Period.parse("2026-11"), "team")
    total = report["total"]["cost_usd"]
    assert json.loads(render(report, "json"))["total"]["cost_usd"] == total
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert rows[-1]["team"] == "TOTAL" and rows[-1]["cost_usd"] == total
    assert rows[-2]["team"] == "(unattributed)"
    table = render(report, "table")
    for row in report["rows"]:
        assert row["team"] in table
    assert "<table>" in render(report, "html")
    with pytest.raises(ValueError, match="unknown format"):
        render(report, "xml")


def test_ledger_round_trips_through_json(ledger: Ledger) -> None:
    again = Ledger.from_json(json.loads(json.dumps(ledger.to_json())))
    assert again.days == ledger.days
    assert again.units == ledger.units


@pytest.mark.parametrize(
    ("text", "problem"),
    [("team,colour", "unknown dimension 'colour'"), ("", "at least one"), ("team,team", "twice")],
)
def test_bad_dimensions_are_named(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_by(text)


def test_bad_period_and_bad_line_are_named() -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        Period.parse("2026-13")
    bad: list[Any] = [b'{"event_id": "a"}']
    with pytest.raises(LedgerInputError, match=r"events.jsonl:1: .*timestamp"):
        Ledger.from_jsonl(bad, source="events.jsonl")
