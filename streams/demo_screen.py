"""The demo's live terminal screen (rich) and its plain-text summary."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from streams.demo_monitor import INCIDENT_KEY, DemoStatus


def render(status: DemoStatus, header: list[str], warmup_s: float) -> Group:
    """Header lines, throughput next to spend per team, and the alerts so far."""
    phase = (
        f"incident: runaway loop on {INCIDENT_KEY} since {warmup_s:g} s"
        if status.elapsed_s >= warmup_s
        else f"warm-up: incident on {INCIDENT_KEY} in {warmup_s - status.elapsed_s:.0f} s"
    )
    lines = [*header, f"{phase}; Ctrl-C stops every process"]
    head = Panel(Text("\n".join(lines)), title="spendwatch demo", border_style="cyan")
    flow = Table(title="traffic", expand=False)
    flow.add_column("")
    flow.add_column("", justify="right")
    flow.add_row("elapsed", f"{status.elapsed_s:,.0f} s")
    flow.add_row("sent", f"{status.sent:,}")
    flow.add_row("counted", f"{status.counted:,}")
    flow.add_row("events/s", f"{status.events_per_s:,.0f}")
    flow.add_row("worker", worker_state(status))
    teams = Table(title="spend per team (all time)", expand=False)
    teams.add_column("team")
    teams.add_column("USD", justify="right")
    teams.add_column("calls", justify="right")
    for team, usd, calls in status.teams:
        teams.add_row(team, usd, f"{calls:,}")
    side_by_side = Table.grid(padding=(0, 4))
    side_by_side.add_row(flow, teams)
    alerts = Table(title=f"active alerts ({len(status.alerts)})", expand=False)
    alerts.add_column("channel")
    alerts.add_column("alert")
    for alert in status.alerts[-5:]:
        alerts.add_row(str(alert.get("channel", "")), alert_text(alert))
    return Group(head, side_by_side, alerts)


def worker_state(status: DemoStatus) -> str:
    if status.worker_ready:
        return "ready"
    if status.worker_ok:
        return "joining the consumer group"
    return "starting ..."


def alert_text(message: dict[str, Any], width: int | None = 160) -> str:
    """The first line of a Slack message's text (cut at ``width`` characters, if given)."""
    text = str(message.get("text") or "-").splitlines()[0]
    return text if width is None else text[:width]


def summary_lines(status: DemoStatus) -> list[str]:
    """The plain summary printed at the end (and every few seconds with --for)."""
    teams = ", ".join(f"{team} ${usd}" for team, usd, _ in status.teams) or "none yet"
    return [
        f"t={status.elapsed_s:.0f}s sent={status.sent} counted={status.counted} "
        f"events/s={status.events_per_s:.0f} alerts={len(status.alerts)} "
        f"worker={worker_state(status).split(' (')[0]}",
        f"spend per team: {teams}",
    ]
