"""The ``digest`` command: weekly Slack digests per team, once or on a schedule."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from streams.finops_sources import (
    At,
    Budget,
    BudgetsFile,
    Events,
    Worker,
    as_of,
    fail,
    history_days,
    load_inputs,
    load_ledger,
    worker_url,
)


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
        raise fail(str(exc)) from exc

    def once(when: datetime) -> None:
        ledger = load_ledger(events, worker, *history_days(when))
        alerts = _alerts(alerts_file, worker if events is None else None)
        try:
            for line in job.post(ledger, alerts, when):
                typer.echo(line, err=not dry_run)
        except RuntimeError as exc:
            raise fail(str(exc)) from exc

    if schedule is None:
        once(as_of(at))
        return
    try:
        run_schedule(schedule, once)
    except ValueError as exc:
        raise fail(str(exc)) from exc


def _alerts(path: Path | None, worker: str | None) -> list[Any]:
    from pydantic import TypeAdapter, ValidationError

    from schemas.findings import Alert

    adapter = TypeAdapter(list[Alert])
    if path is not None:
        try:
            return adapter.validate_json(path.read_bytes())
        except (OSError, ValidationError) as exc:
            raise fail(f"{path}: not a JSON list of alerts ({exc})") from exc
    if worker is None:
        return []
    url = worker_url(worker) + "/v1/alerts"
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            body = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return []  # a worker without alerting yet: a digest without anomalies
    items = body.get("alerts", []) if isinstance(body, dict) else body
    try:
        return adapter.validate_python(items)
    except ValidationError as exc:
        raise fail(f"{url}: unexpected alerts ({exc.error_count()} errors)") from exc
