"""Backtest of the spend forecast (streams/finops/forecast.py) on synthetic traffic.

Generates ``--days`` of seeded synthetic traffic, prices and sums it exactly as the worker
does (``Ledger.from_jsonl``), then, at a cutoff every 7 days, fits the forecast on the
days before the cutoff and compares the forecast total of the next H days with the
actual total, per team and for the organisation. Two scenarios: the generator's flat
traffic (weekly and daily rhythm, no trend), and the same traffic thinned so that the
call rate grows linearly from 50% to 100% over the period (a trend).

Prints a table to stderr and one JSON summary line to stdout::

    .venv/bin/python bench/forecast_backtest.py --days 196
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from streams.finops.forecast import fit_forecast
from streams.finops.ledger import Ledger, day_of
from streams.rollup import COST
from streams.synthetic import TrafficGenerator
from streams.synthetic_org import TrafficProfile

START = datetime(2025, 6, 2, tzinfo=UTC)
HORIZONS = (7, 28, 90)
MIN_HISTORY = 56


def _days(gen: TrafficGenerator, days: int) -> Iterator[list[dict[str, Any]]]:
    for d in range(days):
        yield gen.events_between(d * 86400, (d + 1) * 86400)


def build_series(days: int, rate: float, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """Per scenario, per team (and ``org``): exact nanos per day, as floats for the fit."""
    gen = TrafficGenerator(TrafficProfile(seed=seed, calls_per_second=rate), start=START)
    rng = np.random.default_rng(seed)
    first = day_of(START.date())
    ledgers = {"flat": Ledger(), "growing": Ledger()}
    for d, events in enumerate(_days(gen, days)):
        keep = rng.random(len(events)) < 0.5 + 0.5 * d / max(days - 1, 1)
        lines = [orjson.dumps(e) for e in events]
        ledgers["flat"].merge(Ledger.from_jsonl(lines))
        ledgers["growing"].merge(
            Ledger.from_jsonl([x for x, k in zip(lines, keep, strict=True) if k])
        )
        if d % 28 == 27:
            print(f"  generated {d + 1} days", file=sys.stderr)
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, ledger in ledgers.items():
        series: dict[str, np.ndarray] = {}
        for day, who, sums in ledger.rows(first, first + days - 1):
            for team in (who[1], "org"):
                series.setdefault(team, np.zeros(days))[day - first] += sums[COST]
        out[name] = series
    return out


def backtest(series: dict[str, np.ndarray], days: int) -> dict[str, Any]:
    """Absolute percentage error of the H-day total, and interval coverage, per horizon."""
    result: dict[str, Any] = {}
    for horizon in HORIZONS:
        errors, naive_errors, covered = [], [], []
        for cutoff in range(MIN_HISTORY, days - horizon + 1, 7):
            for team, y in series.items():
                if team == "unattributed":
                    continue
                forecast = fit_forecast(0, y[:cutoff], horizon)
                mean, low, high = forecast.total()
                actual = float(y[cutoff : cutoff + horizon].sum())
                naive = float(y[cutoff - 28 : cutoff].mean()) * horizon
                errors.append(abs(mean - actual) / actual)
                naive_errors.append(abs(naive - actual) / actual)
                covered.append(low <= actual <= high)
        result[f"{horizon}d"] = {
            "forecasts": len(errors),
            "mape_pct": round(100 * float(np.mean(errors)), 2),
            "p90_ape_pct": round(100 * float(np.quantile(errors, 0.9)), 2),
            "naive_mape_pct": round(100 * float(np.mean(naive_errors)), 2),
            "interval_coverage_pct": round(100 * float(np.mean(covered)), 1),
        }
    return result


def _cached(
    path: str | None, days: int, rate: float, seed: int
) -> dict[str, dict[str, np.ndarray]]:
    """``build_series``, read from / written to ``path`` when given (same arguments only)."""
    tag = f"{days}-{rate}-{seed}"
    if path and Path(path).exists():
        with np.load(path) as stored:
            if str(stored["tag"]) == tag:
                out: dict[str, dict[str, np.ndarray]] = {}
                for key in stored.files:
                    if "/" in key:
                        scenario, team = key.split("/", 1)
                        out.setdefault(scenario, {})[team] = stored[key]
                return out
    scenarios = build_series(days, rate, seed)
    if path:
        arrays: dict[str, Any] = {
            f"{s}/{t}": y for s, series in scenarios.items() for t, y in series.items()
        }
        np.savez(path, tag=np.array(tag), **arrays)
    return scenarios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=196)
    parser.add_argument("--rate", type=float, default=0.02, help="Mean weekday calls/s.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", help="Keep the generated daily series in this .npz file.")
    args = parser.parse_args()
    if args.days < MIN_HISTORY + max(HORIZONS):
        parser.error(f"--days must be at least {MIN_HISTORY + max(HORIZONS)}")
    began = time.monotonic()
    scenarios = _cached(args.cache, args.days, args.rate, args.seed)
    summary: dict[str, Any] = {"days": args.days, "rate": args.rate, "seed": args.seed}
    print(f"{'scenario':9} {'horizon':>7} {'n':>4} {'MAPE':>7} {'p90 APE':>8} "
          f"{'naive MAPE':>10} {'90% cover':>9}", file=sys.stderr)  # fmt: skip
    for name, series in scenarios.items():
        summary[name] = backtest(series, args.days)
        for horizon, r in summary[name].items():
            print(f"{name:9} {horizon:>7} {r['forecasts']:>4} {r['mape_pct']:>6.2f}% "
                  f"{r['p90_ape_pct']:>7.2f}% {r['naive_mape_pct']:>9.2f}% "
                  f"{r['interval_coverage_pct']:>8.1f}%", file=sys.stderr)  # fmt: skip
    summary["seconds"] = round(time.monotonic() - began, 1)
    summary["end"] = (START + timedelta(days=args.days)).date().isoformat()
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
