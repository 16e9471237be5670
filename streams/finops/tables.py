"""Terminal tables (rich) for budgets, estimates, the key inventory and reconciliation."""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

WIDTH = 160


def usd(text: str | None, places: int = 2) -> str:
    """An exact USD string shown rounded half-even: ``$1,234.57``."""
    if text is None:
        return ""
    amount = Decimal(text).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return f"${amount:,.{places}f}"


def pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def table_text(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    table = Table(title=title)
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    buffer = io.StringIO()
    Console(file=buffer, width=WIDTH, force_terminal=False, color_system=None).print(table)
    return buffer.getvalue()


def render_budgets(data: dict[str, Any]) -> str:
    lines = data["budgets"]["series"]
    rows = [
        [
            name,
            usd(b["mtd_usd"]),
            usd(b["burn_rate_usd_per_day"]),
            usd(b["forecast_month_end_usd"]),
            f"{usd(b['forecast_interval_usd'][0])} .. {usd(b['forecast_interval_usd'][1])}",
            usd(b["budget_usd"]),
            usd(b.get("variance_usd")),
            pct(b.get("forecast_share")),
            b.get("status", ""),
        ]
        for name, b in lines.items()
    ]
    columns = (
        "series",
        "month to date",
        "burn/day",
        "forecast month end",
        "90% interval",
        "budget",
        "variance",
        "forecast/budget",
        "status",
    )
    out = table_text(f"Budgets as of {data['budgets']['at']}", columns, rows)
    outlook = data["outlook"]
    weeks = [
        [team, *(usd(w["usd"], 0) for w in t["weeks"][:13])] for team, t in outlook["teams"].items()
    ]
    if weeks:
        heads = [w["week_of"][5:] for w in next(iter(outlook["teams"].values()))["weeks"][:13]]
        title = f"{outlook['horizon_days']}-day forecast per team, weekly (weeks from)"
        out += table_text(title, ["team", *heads], weeks)
    return out


def render_estimate(data: dict[str, Any]) -> str:
    rows = [
        [
            f"{r['provider']}:{r['model']}",
            usd(r["cost_per_request_usd"], 6),
            usd(r["cost_per_day_usd"]),
            usd(r["cost_per_month_usd"]),
            "" if r["vs_selected"] is None else f"{r['vs_selected']:.2f}x",
        ]
        for r in data["comparison"]
    ]
    title = (
        f"{data['requests_per_day']:,} requests/day of {data['input_tokens']:,} in "
        f"({data['cache_read_tokens']:,} cached) / {data['output_tokens']:,} out tokens"
    )
    out = table_text(title, ("model", "per request", "per day", "per month", "vs selected"), rows)
    if "team" in data:
        out += (
            f"{data['model']} would take {pct(data['share_of_team_budget'])} of team "
            f"{data['team']}'s monthly budget ({usd(data['team_budget_usd'])}).\n"
        )
    return out


def render_inventory(data: dict[str, Any]) -> str:
    rows = [
        [
            k["api_key_id"],
            k.get("owner_team") or "",
            k.get("owner_source") or "",
            k.get("first_seen", ""),
            k.get("last_seen", ""),
            usd(k.get("spend_mtd_usd")),
            ", ".join(k["flags"]),
        ]
        for k in data["keys"]
    ]
    out = table_text(
        f"API keys as of {data['at']}",
        ("api_key_id", "owner", "from", "first seen", "last seen", "spend MTD", "flags"),
        rows,
    )
    tools = [
        [
            team,
            f"{m['provider']}:{m['model']}",
            usd(m["spend_usd"]),
            f"{m['calls']:,}",
            str(m["keys"]),
        ]
        for team, models in data["tools"].items()
        for m in models
    ]
    return out + table_text(
        "AI tools in use this month", ("team", "model", "spend", "calls", "keys"), tools
    )


def render_reconcile(data: dict[str, Any]) -> str:
    head = (
        f"{data['first_day']} .. {data['last_day']} ({', '.join(data['providers'])}): billed "
        f"{usd(data['billed_usd'])}, counted {usd(data['counted_usd'])}, capture rate "
        f"{pct(data['capture_rate'])}\n"
    )

    def cells(r: dict[str, Any]) -> list[str]:
        return [
            r.get("date", ""),
            f"{r['provider']}:{r['model']}",
            usd(r["billed_usd"]),
            usd(r["counted_usd"]),
            usd(r.get("gap_usd")),
            pct(r["capture_rate"]),
        ]

    columns = ("date", "model", "billed", "counted", "gap", "capture")
    by_model = [
        [
            "",
            f"{r['provider']}:{r['model']}",
            usd(r["billed_usd"]),
            usd(r["counted_usd"]),
            "",
            pct(r["capture_rate"]),
        ]
        for r in data["by_model"]
    ]
    return (
        head
        + table_text("Per model", columns, by_model)
        + table_text("Top divergences", columns, [cells(r) for r in data["top_divergences"]])
    )
