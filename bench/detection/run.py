"""``spendwatch bench detection``: labelled scenarios through the backtest, scored."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from alerting.lifecycle import AlertLifecycle
from bench.detection.river_spike import RiverSpikeDetector
from bench.detection.scenario import DAY_S, Scenario, budgets_from_day, build_scenario
from bench.detection.score import Scored, score, table
from detectors.config import DetectorsConfig
from detectors.suite import DetectorSuite
from schemas.decode import EventDecoder
from schemas.findings import Alert
from streams.backtest import REPLAY_LIMITS, BacktestEngine, run_backtest
from streams.fast_decode import RowDecoder

STEP_S = 20.0
"""Event time per batch of lines: the open bucket is looked at this often."""


def team_day_spend(scenario: Scenario) -> dict[str, int]:
    """Each team's spend on the warm-up day, priced by the worker's decoder."""
    decoder = RowDecoder(EventDecoder(limits=REPLAY_LIMITS))
    spend: dict[str, int] = defaultdict(int)
    now = scenario.start + timedelta(days=30)
    for batch in scenario.generator().iter_batches(DAY_S, step_s=STEP_S):
        for row in decoder.decode(orjson.dumps(batch.events), now).rows:
            spend[row[5] or "unattributed"] += row[13]
    return dict(spend)


def run_scenario(
    scenario: Scenario, base: DetectorsConfig, local_time: bool = True, spike_model: str = "own"
) -> tuple[list[Alert], dict[str, Any]]:
    """Alerts and run figures; ``local_time`` sets the organisation's UTC offset in the
    config, as its operators would (else the config's own, UTC by default);
    ``spike_model`` "river" replaces the spike detector with River's models
    (``bench.detection.river_spike``)."""
    budgets = {**budgets_from_day(team_day_spend(scenario)), **base.budgets}
    update: dict[str, Any] = {"budgets": budgets}
    if local_time:
        offset = scenario.profile.utc_offset_hours
        update["spike"] = base.spike.model_copy(update={"utc_offset_hours": offset})
    config = base.model_copy(update=update)
    spike = RiverSpikeDetector(config) if spike_model == "river" else None
    engine = BacktestEngine(DetectorSuite(config, spike=spike), AlertLifecycle())
    generator = scenario.generator()
    started = time.perf_counter()
    lines = (
        [orjson.dumps(e) for e in batch.events]
        for batch in generator.iter_batches(scenario.days * DAY_S, step_s=STEP_S)
    )
    alerts, stats = run_backtest(engine, lines)
    elapsed = time.perf_counter() - started
    observes = stats.buckets + stats.open_views
    sizes = sorted(len(engine.suite.dumps(state)) for state in engine.states.values())
    return alerts, {
        "seed": scenario.seed,
        "events": stats.events,
        "series": stats.series,
        "closed_buckets": stats.buckets,
        "open_views": stats.open_views,
        "seconds": round(elapsed, 1),
        "events_per_s": round(stats.events / elapsed),
        "us_per_observe": round(stats.detector_seconds / max(observes, 1) * 1e6, 2),
        "state_bytes_per_series_mean": round(sum(sizes) / max(len(sizes), 1)),
        "state_bytes_per_series_max": sizes[-1] if sizes else 0,
        "alerts": len(alerts),
    }


def run_detection_bench(
    seeds: list[int],
    days: int = 4,
    config: DetectorsConfig | None = None,
    say: Callable[[str], None] = lambda _: None,
    show_false: bool = False,
    local_time: bool = True,
    spike_model: str = "own",
) -> dict[str, Any]:
    scored: list[Scored] = []
    runs = []
    for seed in seeds:
        scenario = build_scenario(seed, days)
        alerts, run = run_scenario(scenario, config or DetectorsConfig(), local_time, spike_model)
        result = score(scenario, alerts, days * DAY_S)
        scored.append(result)
        runs.append(run)
        say(
            f"seed {seed}: {run['events']:,} events, {run['series']} series, "
            f"{run['alerts']} alerts, {result.matched}/{result.alerts} matched after warm-up, "
            f"{run['seconds']} s"
        )
        if show_false:
            for alert in result.false_alerts:
                say(f"  false: {alert.fired_at:%a %H:%M} {alert.detector} {alert.summary[:150]}")
            for label in result.labels:
                if label.first_alert is None:
                    say(f"  missed: {label.kind} {label.start:%a %H:%M} {sorted(label.series)[:3]}")
    return {
        "seeds": seeds,
        "days": days,
        "local_time": local_time,
        "spike_model": spike_model,
        "rows": table(scored),
        "runs": runs,
    }


def print_table(console: Console, summary: dict[str, Any]) -> None:
    grid = Table(title="Detection quality (event time; warm-up day excluded)")
    columns = ("kind", "incidents", "detected", "recall", "precision",
               "false_alerts_per_day", "ttd_median_min")  # fmt: skip
    for name in columns:
        grid.add_column(name.replace("_", " "), justify="left" if name == "kind" else "right")
    for row in summary["rows"]:
        grid.add_row(*("-" if row[c] is None else str(row[c]) for c in columns))
    console.print(grid)


def summary_line(summary: dict[str, Any]) -> str:
    return json.dumps(summary, separators=(",", ":"))
