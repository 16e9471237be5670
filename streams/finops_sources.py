"""What the FinOps commands share: their common options, and reading the ledger and the
budgets from a file or a live worker, with errors that name the input at fault."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from enum import StrEnum
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


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


Format = Annotated[OutputFormat, typer.Option("--format", help="table or json.")]


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def worker_url(worker: str | None) -> str:
    return (worker or os.environ.get("SPENDWATCH_WORKER_URL") or DEFAULT_WORKER).rstrip("/")


def fetch_json(worker: str | None, path: str, query: list[tuple[str, str]] | None = None) -> Any:
    """GET a worker endpoint; errors name the URL and the worker's message."""
    url = worker_url(worker) + path
    if query:
        url += "?" + urllib.parse.urlencode(query)
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        raise fail(f"{url}: HTTP {exc.code}: {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise fail(f"{url}: worker not reachable ({exc})") from exc


def as_of(at: datetime | None) -> datetime:
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
            raise fail(f"{events}: cannot read ({exc.strerror})") from exc
        except LedgerInputError as exc:
            raise fail(str(exc)) from exc
    query = [("from", str(first_day)), ("to", str(last_day))]
    return Ledger.from_json(fetch_json(worker, "/v1/reports/ledger", query))


def load_inputs(budgets_file: Path | None, budget: list[str] | None) -> FinOpsInputs:
    from streams.finops.inputs import InputError, load_inputs

    try:
        return load_inputs(budgets_file, budget or ())
    except InputError as exc:
        raise fail(str(exc)) from exc


def history_days(at: datetime) -> tuple[int, int]:
    from streams.finops.ledger import day_of

    today = day_of(at.date())
    return today - 400, today


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
