"""The FinOps commands, run offline on a file of synthetic events."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.finops.ledger import Ledger
from streams.finops.showback import Period, showback

runner = CliRunner()
ESTIMATE = (
    "estimate",
    "--provider",
    "openai",
    "--model",
    "gpt-4o",
    "--input-tokens",
    "1200",
    "--output-tokens",
    "300",
    "--requests-per-day",
    "50000",
)


@pytest.fixture(scope="module")
def events_file(events_lines: list[bytes], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("finops") / "events.jsonl"
    path.write_bytes(b"\n".join(events_lines) + b"\n")
    return path


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_report_json_and_csv_offline(events_file: Path, events_lines: list[bytes]) -> None:
    out = _run(
        "report",
        "--events",
        str(events_file),
        "--period",
        "2026-11",
        "--by",
        "team,app",
        "--format",
        "json",
    )
    expected = showback(Ledger.from_jsonl(events_lines), Period.parse("2026-11"), "team,app")
    assert json.loads(out) == json.loads(json.dumps(expected))
    out = _run("report", "--events", str(events_file), "--period", "2026-11", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[-1]["cost_usd"] == expected["total"]["cost_usd"]
    table = _run("report", "--events", str(events_file), "--period", "2026-11")
    assert "TOTAL" in table and "(unattributed)" in table


def test_report_rejects_bad_options(events_file: Path) -> None:
    result = runner.invoke(app, ["report", "--events", str(events_file), "--by", "colour"])
    assert result.exit_code == 2
    assert "unknown dimension 'colour'" in result.output


def test_estimate_json_is_one_object() -> None:
    extra = ("--cache-hit-rate", "0.3", "--compare-model", "gpt-4o-mini", "--team", "search")
    out = _run(*ESTIMATE, *extra, "--budget", "team=search:5000", "--format", "json")
    data = json.loads(out)
    assert {"cost_per_request_usd", "cost_per_day_usd", "cost_per_month_usd"} <= set(data)
    assert data["share_of_team_budget"] > 0
    assert len(out.strip().splitlines()) == 1
    assert "gpt-4o-mini" in _run(*ESTIMATE, "--compare-model", "gpt-4o-mini")


def test_estimate_without_a_team_budget_says_so() -> None:
    result = runner.invoke(app, [*ESTIMATE, "--team", "search"])
    assert result.exit_code == 2
    assert "no budget for team=search" in result.output


def test_budgets_keys_and_reconcile_offline(events_file: Path, tmp_path: Path) -> None:
    at = "2026-11-01T03:00:00"
    data = json.loads(
        _run(
            "budgets",
            "--events",
            str(events_file),
            "--at",
            at,
            "--budget",
            "team=search:100",
            "--format",
            "json",
        )
    )
    assert data["budgets"]["series"]["team=search"]["budget_usd"] == "100"
    assert "search" in data["outlook"]["teams"]
    assert "team=search" in _run("budgets", "--events", str(events_file), "--at", at)
    owners = tmp_path / "owners.yaml"
    owners.write_text("key_owners:\n  key-search-1: {team: growth}\n")
    keys = json.loads(
        _run(
            "keys",
            "--events",
            str(events_file),
            "--at",
            at,
            "--budgets-file",
            str(owners),
            "--format",
            "json",
        )
    )
    by_id = {k["api_key_id"]: k for k in keys["keys"]}
    assert "owner mismatch" in by_id["key-search-1"]["flags"]
    bill = tmp_path / "bill.csv"
    bill.write_text("date,provider,model,cost_usd\n2026-11-01,openai,gpt-4o,100\n")
    out = json.loads(
        _run("reconcile", "--bill", str(bill), "--events", str(events_file), "--format", "json")
    )
    assert out["billed_usd"] == "100.000000000"
    assert 0 < out["capture_rate"] < 1
    table = _run("reconcile", "--bill", str(bill), "--events", str(events_file))
    assert "openai:gpt-4o" in table and "Top divergences" in table
    cur = tmp_path / "cur.csv"
    cur.write_text(
        "lineItem/UsageStartDate,lineItem/ProductCode,lineItem/UsageType,"
        "lineItem/LineItemType,lineItem/UnblendedCost,lineItem/CurrencyCode\n"
        "2026-11-01T00:00:00Z,AmazonBedrock,USE1-NovaLite-input-tokens,Usage,2.5,USD\n"
    )
    out = json.loads(
        _run("reconcile", "--bill", str(cur), "--events", str(events_file), "--format", "json")
    )
    assert out["providers"] == ["aws.bedrock"] and out["billed_usd"] == "2.500000000"
    assert [r["model"] for r in out["not_instrumented"]] == ["NovaLite"]
    table = _run("keys", "--events", str(events_file), "--at", at)
    assert "key-search-1" in table and "AI tools in use" in table


def test_bad_budget_file_is_named(tmp_path: Path, events_file: Path) -> None:
    bad = tmp_path / "b.yaml"
    bad.write_text("budgets:\n  team=search: lots\n")
    result = runner.invoke(
        app, ["budgets", "--events", str(events_file), "--budgets-file", str(bad)]
    )
    assert result.exit_code == 2
    assert "budgets.team=search: 'lots' is not an amount in USD" in result.output
