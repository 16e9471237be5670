"""The FinOps commands: ``report``, ``budgets``, ``estimate``, ``keys``, ``reconcile``.

Each reads the live worker over HTTP (``--worker``) or a JSON Lines file of events
(``--events``) through the same pricing and aggregation code.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer

from streams.finops_sources import (
    At,
    Budget,
    BudgetsFile,
    Events,
    Format,
    OutputFormat,
    Worker,
    as_of,
    fail,
    fetch_json,
    history_days,
    load_inputs,
    load_ledger,
    print_json,
)


def report(
    period: Annotated[
        str | None, typer.Option(help="Month, YYYY-MM (default: this month).")
    ] = None,
    by: Annotated[str, typer.Option(help="Dimensions, e.g. team,app,model.")] = "team",
    fmt: Annotated[str, typer.Option("--format", help="table, csv, json or html.")] = "table",
    events: Events = None,
    worker: Worker = None,
) -> None:
    """Showback/chargeback for a month, by team, app, ...

    Spend, calls, tokens, cost per call and per unit of value, share of the total and
    change against the previous month; unattributed spend on its own line.
    """
    from streams.finops.render import FORMATS, render
    from streams.finops.showback import Period, parse_by, showback

    try:
        month = Period.parse(period or datetime.now(UTC).strftime("%Y-%m"))
        dims = parse_by(by)
        if fmt not in FORMATS:
            raise ValueError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    except ValueError as exc:
        raise fail(str(exc)) from exc
    if events is not None:
        ledger = load_ledger(events, None, 0, 0)
        data = showback(ledger, month, dims)
    else:
        data = fetch_json(worker, "/v1/reports/spend", [("period", str(month)), ("by", by)])
    sys.stdout.write(render(data, fmt))


def budgets(
    budget: Budget = None,
    budgets_file: BudgetsFile = None,
    events: Events = None,
    worker: Worker = None,
    at: At = None,
    horizon: Annotated[int, typer.Option(min=0, help="Days of per-team forecast.")] = 90,
    fmt: Format = OutputFormat.TABLE,
) -> None:
    """Budgets and forecasts per team and app.

    Month to date, burn rate, month-end forecast with a 90% interval, variance against
    budget, and a per-team daily forecast with weekly rhythm and trend.
    """
    from streams.finops.budgets import budget_report, team_outlook
    from streams.finops.tables import render_budgets

    when = as_of(at)
    inputs = load_inputs(budgets_file, budget)
    ledger = load_ledger(events, worker, *history_days(when))
    data = {
        "budgets": budget_report(ledger, when, inputs.budgets),
        "outlook": team_outlook(ledger, when, horizon),
    }
    if fmt == "json":
        print_json(data)
    else:
        sys.stdout.write(render_budgets(data))


def estimate(
    provider: Annotated[str, typer.Option(help="Provider, e.g. openai.")],
    model: Annotated[str, typer.Option(help="Model, e.g. gpt-4o.")],
    input_tokens: Annotated[int, typer.Option(help="Input tokens per request.")],
    output_tokens: Annotated[int, typer.Option(help="Output tokens per request.")],
    requests_per_day: Annotated[int, typer.Option(help="Requests per day.")],
    cache_hit_rate: Annotated[
        str, typer.Option(help="Share of input tokens read from the prompt cache, 0..1.")
    ] = "0",
    compare_model: Annotated[
        list[str] | None,
        typer.Option(help="Also price this model (MODEL or PROVIDER:MODEL), repeatable."),
    ] = None,
    team: Annotated[str | None, typer.Option(help="Show the share of this team's budget.")] = None,
    budget: Budget = None,
    budgets_file: BudgetsFile = None,
    days_per_month: Annotated[int, typer.Option(min=1, max=31)] = 30,
    fmt: Format = OutputFormat.TABLE,
) -> None:
    """Launch-gate estimate: cost per request, day and month at current prices."""
    from streams.finops.estimate import EstimateError, Workload
    from streams.finops.estimate import estimate as run_estimate
    from streams.finops.tables import render_estimate

    try:
        rate = Decimal(cache_hit_rate)
    except InvalidOperation as exc:
        raise fail(f"--cache-hit-rate: {cache_hit_rate!r} is not a number") from exc
    team_budget = None
    if team is not None:
        inputs = load_inputs(budgets_file, budget)
        amount = inputs.budgets.get(f"team={team}")
        if amount is None:
            raise fail(f"--team {team}: no budget for team={team} (give --budget team={team}:USD)")
        team_budget = (team, amount)
    try:
        work = Workload(input_tokens, output_tokens, requests_per_day, rate, days_per_month)
        data = run_estimate(provider, model, work, compare_model or (), team_budget)
    except EstimateError as exc:
        raise fail(str(exc)) from exc
    if fmt == "json":
        sys.stdout.write(json.dumps(data) + "\n")
    else:
        sys.stdout.write(render_estimate(data))


def keys(
    budgets_file: BudgetsFile = None,
    events: Events = None,
    worker: Worker = None,
    at: At = None,
    idle_days: Annotated[int, typer.Option(min=1, help="Flag keys idle this many days.")] = 7,
    fmt: Format = OutputFormat.TABLE,
) -> None:
    """Key inventory: every api_key_id seen, and the AI tools in use per team.

    Owner, first and last seen, spend month to date, flags (unattributed, idle, new this
    week, owner mismatch); providers and models per team with spend.
    """
    from streams.finops.inventory import key_inventory
    from streams.finops.tables import render_inventory

    when = as_of(at)
    inputs = load_inputs(budgets_file, None)
    ledger = load_ledger(events, worker, *history_days(when))
    data = key_inventory(ledger, when, inputs.key_owners, idle_days)
    if fmt == "json":
        print_json(data)
    else:
        sys.stdout.write(render_inventory(data))


def reconcile(
    bill: Annotated[Path, typer.Option(help="The provider's billing export.")],
    bill_format: Annotated[
        str,
        typer.Option(
            help="auto, generic, openai-costs, anthropic-cost-report, aws-cur or gcp-billing."
        ),
    ] = "auto",
    period: Annotated[str | None, typer.Option(help="Only this month, YYYY-MM.")] = None,
    events: Events = None,
    worker: Worker = None,
    fmt: Format = OutputFormat.TABLE,
) -> None:
    """Compare counted spend with a provider's bill, per day and model.

    Capture rate (counted / billed), gaps, and the days and models that diverge most.
    """
    from streams.finops.bill_formats import BillFormatError, read_bill
    from streams.finops.reconcile import reconcile as run_reconcile
    from streams.finops.showback import Period
    from streams.finops.tables import render_reconcile

    try:
        month = Period.parse(period) if period else None
        lines = read_bill(bill.read_text(), bill_format, str(bill))
    except (BillFormatError, ValueError) as exc:
        raise fail(str(exc)) from exc
    except OSError as exc:
        raise fail(f"{bill}: cannot read ({exc.strerror})") from exc
    days = [b.day for b in lines] or [0]
    ledger = load_ledger(events, worker, min(days), max(days))
    data = run_reconcile(ledger, lines, month)
    if fmt == "json":
        print_json(data)
    else:
        sys.stdout.write(render_reconcile(data))
