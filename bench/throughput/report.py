"""The results of a run: the summary dict, its JSON line and the table for people."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.throughput.progress import Rate


def bench_console(console: Console | None = None) -> tuple[Console, Callable[[str], None]]:
    """The console progress goes to (stderr, wide when not a terminal) and ``say``."""
    if console is None:
        console = Console(stderr=True)
        if not console.is_terminal:
            console.width = max(console.width, 120)
    out = console

    def say(text: str) -> None:
        out.print(f"[dim]bench:[/] {text}", highlight=False)

    return console, say


def build_summary(
    *,
    events: int,
    single_events: int,
    batch_size: int,
    partitions: int,
    batched: Rate,
    single_event: Rate,
    naive_faust: Rate,
    raw_ceiling: Rate,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON summary line: rates rounded to 0.1 event/s, ratio batched / naive Faust."""
    rates = {
        "batched": batched,
        "single_event": single_event,
        "naive_faust": naive_faust,
        "raw_ceiling": raw_ceiling,
    }
    summary: dict[str, Any] = {
        "events": events,
        "single_events": single_events,
        **{f"{name}_eps": round(rate.eps, 1) for name, rate in rates.items()},
        "ratio": round(batched.eps / naive_faust.eps, 2) if naive_faust.eps > 0 else None,
        "ceiling_ratio": round(batched.eps / raw_ceiling.eps, 3) if raw_ceiling.eps > 0 else None,
        "batch_size": batch_size,
        "partitions": partitions,
        "seconds": {name: round(rate.seconds, 3) for name, rate in rates.items()},
    }
    cpu = {name: rate.cpu_us_per_event for name, rate in rates.items()}
    summary["cpu_us_per_event"] = {k: round(v, 2) for k, v in cpu.items() if v is not None}
    bounds = [name for name, rate in rates.items() if rate.lower_bound]
    if bounds:
        summary["lower_bounds"] = bounds
    summary.update(extra or {})
    return summary


def scale_out_summary(scale: Rate | None, single: Rate, workers: int) -> dict[str, Any]:
    """``scale_out``: the group's rate, its factor over one worker, CPU per event."""
    if scale is None:
        return {}
    cpu = scale.cpu_us_per_event
    return {
        "scale_out": {
            "workers": workers,
            "eps": round(scale.eps, 1),
            "seconds": round(scale.seconds, 3),
            "factor": round(scale.eps / single.eps, 2) if single.eps > 0 else None,
            "cpu_us_per_event": round(cpu, 2) if cpu is not None else None,
        }
    }


def summary_line(summary: Mapping[str, Any]) -> str:
    return json.dumps(summary, separators=(", ", ": "))


def print_table(console: Console, summary: Mapping[str, Any]) -> None:
    naive = float(summary["naive_faust_eps"]) or math.nan
    table = Table(title="consumption throughput per worker process", title_justify="left")
    table.add_column("mode")
    table.add_column("events", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("events/s", justify="right")
    table.add_column("x naive Faust", justify="right")
    rows = (
        ("raw ceiling (aiokafka + orjson, batched)", "raw_ceiling", summary["events"]),
        (f"spendwatch, {summary['batch_size']} events/message", "batched", summary["events"]),
        ("spendwatch, 1 event/message", "single_event", summary["single_events"]),
        ("naive Faust, 1 event/message", "naive_faust", summary["single_events"]),
    )
    for label, key, events in rows:
        eps = float(summary[f"{key}_eps"])
        table.add_row(
            label,
            f"{events:,}",
            f"{summary['seconds'][key]:.2f}",
            f"{eps:,.0f}",
            f"{eps / naive:,.1f}x" if not math.isnan(naive) else "-",
        )
    scale = summary.get("scale_out")
    if scale:
        table.add_row(
            f"spendwatch, {scale['workers']} workers in one group (x{scale['factor']} one)",
            f"{summary['events']:,}",
            f"{scale['seconds']:.2f}",
            f"{scale['eps']:,.0f}",
            f"{scale['eps'] / naive:,.1f}x" if not math.isnan(naive) else "-",
        )
    console.print(table)
