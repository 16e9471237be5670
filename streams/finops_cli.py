"""The FinOps commands: ``report``, ``budgets``, ``estimate``, ``keys``, ``reconcile``,
``digest``. Each reads the live worker over HTTP (``--worker``) or a JSON Lines file of
events (``--events``) through the same pricing and aggregation code."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from streams.finops.inputs import FinOpsInputs
    from streams.finops.ledger import Ledger

DEFAULT_WORKER = "http://127.0.0.1:6066"
Events = Annotated[
    Path | None,
    typer.Option(help="Compute offline from this JSON Lines file of events (else ask --worker)."),
]
Worker = Annotated[
    str | None,
    typer.Option(help=f"Worker base URL (env SPENDWATCH_WORKER_URL; default {DEFAULT_WORKER})."),
]
Budget = Annotated[
    list[str] | None,
    typer.Option("--budget", help="Monthly budget, repeatable: team=search:5000, app=bot:250."),
]
BudgetsFile = Annotated[
    Path | None,
    typer.Option(help="YAML/JSON file with 'budgets' and 'key_owners' (see README)."),
]
At = Annotated[datetime | None, typer.Option(help="As of this time (UTC; default: now).")]
Format = Annotated[str, typer.Option("--format", help="table or json.")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _worker_url(worker: str | None) -> str:
    return (worker or os.environ.get("SPENDWATCH_WORKER_URL") or DEFAULT_WORKER).rstrip("/")


def fetch_json(worker: str | None, path: str, query: list[tuple[str, str]] | None = None) -> Any:
    """GET a worker endpoint; errors name the URL and the worker's message."""
    url = _worker_url(worker) + path
    if query:
        url += "?" + urllib.parse.urlencode(query)
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        raise _fail(f"{url}: HTTP {exc.code}: {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise _fail(f"{url}: worker not reachable ({exc})") from exc


def _at(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def load_ledger(events: Path | None, worker: str | None, first_day: int, last_day: int) -> Ledger:
    from streams.finops.ledger import Ledger, LedgerInputError

    if events is not None:
        try:
            with events.open("rb") as stream:
                return Ledger.from_jsonl(stream, source=str(events))
        except OSError as exc:
            raise _fail(f"{events}: cannot read ({exc.strerror})") from exc
        except LedgerInputError as exc:
            raise _fail(str(exc)) from exc
    query = [("from", str(first_day)), ("to", str(last_day))]
    return Ledger.from_json(fetch_json(worker, "/v1/reports/ledger", query))


def load_inputs(budgets_file: Path | None, budget: list[str] | None) -> FinOpsInputs:
    from streams.finops.inputs import InputError, load_inputs

    try:
        return load_inputs(budgets_file, budget or ())
    except InputError as exc:
        raise _fail(str(exc)) from exc


def _history(at: datetime) -> tuple[int, int]:
    from streams.finops.ledger import day_of

    today = day_of(at.date())
    return today - 400, today


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


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
        raise _fail(str(exc)) from exc
    if events is not None:
        ledger: Ledger = load_ledger(events, None, 0, 0)
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
    fmt: Format = "table",
) -> None:
    """Budgets and forecasts per team and app.

    Month to date, burn rate, month-end forecast with a 90% interval, variance against
    budget, and a per-team daily forecast with weekly rhythm and trend.
    """
    from streams.finops.budgets import budget_report, team_outlook
    from streams.finops.tables import render_budgets

    when = _at(at)
    inputs = load_inputs(budgets_file, budget)
    ledger = load_ledger(events, worker, *_history(when))
    data = {
        "budgets": budget_report(ledger, when, inputs.budgets),
        "outlook": team_outlook(ledger, when, horizon),
    }
    if fmt == "json":
        _print_json(data)
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
    fmt: Format = "table",
) -> None:
    """Launch-gate estimate: cost per request, day and month at current prices."""
    from streams.finops.estimate import EstimateError, Workload
    from streams.finops.estimate import estimate as run_estimate
    from streams.finops.tables import render_estimate

    try:
        rate = Decimal(cache_hit_rate)
    except InvalidOperation as exc:
        raise _fail(f"--cache-hit-rate: {cache_hit_rate!r} is not a number") from exc
    team_budget = None
    if team is not None:
        inputs = load_inputs(budgets_file, budget)
        amount = inputs.budgets.get(f"team={team}")
        if amount is None:
            raise _fail(f"--team {team}: no budget for team={team} (give --budget team={team}:USD)")
        team_budget = (team, amount)
    try:
        work = Workload(input_tokens, output_tokens, requests_per_day, rate, days_per_month)
        data = run_estimate(provider, model, work, compare_model or (), team_budget)
    except EstimateError as exc:
        raise _fail(str(exc)) from exc
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
    fmt: Format = "table",
) -> None:
    """Key inventory: every api_key_id seen, and the AI tools in use per team.

    Owner, first and last seen, spend month to date, flags (unattributed, idle, new this
    week, owner mismatch); providers and models per team with spend.
    """
    from streams.finops.inventory import key_inventory
    from streams.finops.tables import render_inventory

    when = _at(at)
    inputs = load_inputs(budgets_file, None)
    ledger = load_ledger(events, worker, *_history(when))
    data = key_inventory(ledger, when, inputs.key_owners, idle_days)
    if fmt == "json":
        _print_json(data)
    else:
        sys.stdout.write(render_inventory(data))


def reconcile(
    bill: Annotated[Path, typer.Option(help="The provider's billing export.")],
    bill_format: Annotated[
        str, typer.Option(help="auto, generic, openai-costs or anthropic-cost-report.")
    ] = "auto",
    period: Annotated[str | None, typer.Option(help="Only this month, YYYY-MM.")] = None,
    events: Events = None,
    worker: Worker = None,
    fmt: Format = "table",
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
        raise _fail(str(exc)) from exc
    except OSError as exc:
        raise _fail(f"{bill}: cannot read ({exc.strerror})") from exc
    days = [b.day for b in lines] or [0]
    ledger = load_ledger(events, worker, min(days), max(days))
    data = run_reconcile(ledger, lines, month)
    if fmt == "json":
        _print_json(data)
    else:
        sys.stdout.write(render_reconcile(data))


def digest(
    channel: Annotated[
        list[str] | None,
        typer.Option(help="Where a team's digest goes, repeatable: search=#search-spend."),
    ] = None,
    default_channel: Annotated[
        str | None, typer.Option(help="Channel for teams without --channel.")
    ] = None,
    team: Annotated[list[str] | None, typer.Option(help="Only these teams.")] = None,
    budget: Budget = None,
    budgets_file: BudgetsFile = None,
    events: Events = None,
    worker: Worker = None,
    alerts_file: Annotated[
        Path | None, typer.Option(help="Alerts as a JSON list (default: the worker's).")
    ] = None,
    at: At = None,
    schedule: Annotated[
        str | None, typer.Option(help="Post every week at DAY@HH:MM UTC (runs until stopped).")
    ] = None,
    slack_base_url: Annotated[
        str, typer.Option(help="Slack Web API base URL (env SPENDWATCH_SLACK_BASE_URL).")
    ] = "https://slack.com/api/",
    dry_run: Annotated[
        bool, typer.Option(help="Print the messages as JSON; post nothing.")
    ] = False,
) -> None:
    """Weekly Slack digest per team (Block Kit).

    Spend against last week, forecast and budget, the week's anomalies, top movers and
    cost per call. The bot token is read from SPENDWATCH_SLACK_TOKEN.
    """
    from streams.finops.digest_post import DigestJob, run_schedule

    try:
        job = DigestJob.build(
            channels=channel or [],
            default_channel=default_channel,
            teams=team or [],
            inputs=load_inputs(budgets_file, budget),
            base_url=os.environ.get("SPENDWATCH_SLACK_BASE_URL") or slack_base_url,
            token=os.environ.get("SPENDWATCH_SLACK_TOKEN"),
            dry_run=dry_run,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from exc

    def once(when: datetime) -> None:
        ledger = load_ledger(events, worker, *_history(when))
        alerts = _alerts(alerts_file, worker if events is None else None)
        try:
            for line in job.post(ledger, alerts, when):
                typer.echo(line, err=not dry_run)
        except RuntimeError as exc:
            raise _fail(str(exc)) from exc

    if schedule is None:
        once(_at(at))
        return
    try:
        run_schedule(schedule, once)
    except ValueError as exc:
        raise _fail(str(exc)) from exc


def _alerts(path: Path | None, worker: str | None) -> list[Any]:
    from pydantic import TypeAdapter, ValidationError

    from schemas.findings import Alert

    adapter = TypeAdapter(list[Alert])
    if path is not None:
        try:
            return adapter.validate_json(path.read_bytes())
        except (OSError, ValidationError) as exc:
            raise _fail(f"{path}: not a JSON list of alerts ({exc})") from exc
    if worker is None:
        return []
    url = _worker_url(worker) + "/v1/alerts"
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            body = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return []  # a worker without alerting yet: a digest without anomalies
    items = body.get("alerts", []) if isinstance(body, dict) else body
    try:
        return adapter.validate_python(items)
    except ValidationError as exc:
        raise _fail(f"{url}: unexpected alerts ({exc.error_count()} errors)") from exc
