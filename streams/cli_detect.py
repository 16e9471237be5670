"""``spendwatch backtest`` and ``spendwatch bench detection``: the detectors offline."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError

from alerting.lifecycle import AlertLifecycle, LifecycleConfig
from detectors.config import DetectorsConfig
from streams.config_errors import problems_from
from streams.config_file import AggregationConfig, SpendwatchConfig
from streams.config_load import ConfigError, parse_config
from streams.config_sections import detectors_config


def load_detectors_config(path: Path | None) -> DetectorsConfig:
    """The detectors a config file sets (see ``load_backtest_config``)."""
    return load_backtest_config(path)[0]


def load_backtest_config(path: Path | None) -> tuple[DetectorsConfig, AggregationConfig | None]:
    """The detectors and, from a whole ``spendwatch.yaml``, the aggregation a file sets.

    A whole config file (any section but ``detectors``'s own keys, such as ``kafka``,
    ``aggregation``, ``routes`` or a top-level ``budgets`` list) is validated as the
    worker validates it, and its budgets are merged in as the worker merges them. A file
    of the detectors section's keys alone is read as that section. Errors name the file
    and the path of each bad field.
    """
    if path is None:
        return DetectorsConfig(), None
    try:
        text = path.read_bytes()
        doc: Any = yaml.safe_load(text) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise typer.BadParameter(f"{path}: {exc}", param_hint="--config") from exc
    if not isinstance(doc, dict):
        raise typer.BadParameter(f"{path}: expected a mapping at the top", param_hint="--config")
    if _whole_file(doc):
        try:
            loaded = parse_config(text, str(path)).config
        except ConfigError as exc:
            raise typer.BadParameter(str(exc), param_hint="--config") from exc
        return detectors_config(loaded.detectors, loaded.budgets), loaded.aggregation
    try:
        return DetectorsConfig.model_validate(doc), None
    except ValidationError as exc:
        problems = "; ".join(str(p) for p in problems_from(exc))
        raise typer.BadParameter(f"{path}: {problems}", param_hint="--config") from exc


def _whole_file(doc: dict[str, Any]) -> bool:
    sections = set(SpendwatchConfig.model_fields) - set(DetectorsConfig.model_fields)
    return bool(sections & set(doc)) or isinstance(doc.get("budgets"), list)


def backtest(
    events: Annotated[
        Path, typer.Argument(help="JSON Lines file of usage events ('-' for stdin).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Write alerts here, one JSON per line.")],
    config: Annotated[
        Path | None, typer.Option(help="Config file (YAML/JSON) with a 'detectors' section.")
    ] = None,
    bucket_minutes: Annotated[
        int | None,
        typer.Option(help="Bucket size in minutes [default: the config's aggregation, or 1]."),
    ] = None,
    lateness_minutes: Annotated[
        int | None,
        typer.Option(
            help="Minutes a bucket stays open after newer events arrive "
            "[default: the config's aggregation, or 0]."
        ),
    ] = None,
    resolve_after: Annotated[
        int, typer.Option(help="Clean minutes before an alert resolves.")
    ] = 15,
    fire_after: Annotated[int, typer.Option(help="Findings in a row before firing.")] = 1,
    batch: Annotated[int, typer.Option(min=1, help="Lines per batch (open-bucket views).")] = 500,
) -> None:
    """Replay usage events through pricing, aggregation, detectors and the alert lifecycle
    in event time, and write the alerts they would have raised."""
    from detectors.suite import DetectorSuite
    from streams.backtest import BacktestEngine, iter_batches, run_backtest, write_alerts

    detectors, aggregation = load_backtest_config(config)
    if bucket_minutes is None:
        bucket_minutes = aggregation.bucket_minutes if aggregation else 1
    if lateness_minutes is None:
        lateness_minutes = aggregation.lateness_minutes if aggregation else 0
    try:
        lifecycle = AlertLifecycle(LifecycleConfig(fire_after, resolve_after))
        engine = BacktestEngine(
            DetectorSuite(detectors),
            lifecycle,
            bucket_minutes=bucket_minutes,
            lateness_minutes=lateness_minutes,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    started = time.perf_counter()
    stream = sys.stdin.buffer if str(events) == "-" else events.open("rb")
    with stream:
        alerts, stats = run_backtest(engine, iter_batches(stream, batch))
    with out.open("wb") as sink:
        written = write_alerts(alerts, sink)
    elapsed = time.perf_counter() - started
    for reason in stats.rejections[:5]:
        typer.echo(f"rejected: {reason}", err=True)
    typer.echo(
        f"{stats.events} events ({stats.rejected} rejected), {stats.series} series, "
        f"{stats.buckets} closed buckets, {stats.findings} findings, {written} alerts "
        f"in {elapsed:.1f} s ({stats.events / max(elapsed, 1e-9):,.0f} events/s) -> {out}",
        err=True,
    )


def bench_detection(
    seeds: Annotated[str, typer.Option(help="Scenario seeds, comma-separated.")] = "1,2,3",
    days: Annotated[int, typer.Option(min=3, help="Days per scenario (day one is warm-up).")] = 4,
    config: Annotated[
        Path | None,
        typer.Option(help="Config file with a 'detectors' section (default: defaults)."),
    ] = None,
    show: Annotated[bool, typer.Option(help="List false and missed alerts.")] = False,
    local_time: Annotated[
        bool,
        typer.Option(
            help="Set each organisation's UTC offset (spike.utc_offset_hours) as its "
            "operators would; --no-local-time keeps the config's (UTC by default)."
        ),
    ] = True,
    spike_model: Annotated[
        str,
        typer.Option(
            help="'own' (the detectors' statistics), or 'river' to measure River's "
            "HoltWinters + PredictiveAnomalyDetection + QuantileFilter in its place."
        ),
    ] = "own",
) -> None:
    """Detection quality on labelled synthetic traffic: recall, precision, false alerts per
    day and time to detect, per incident kind and overall. The last stdout line is JSON;
    progress and the table go to stderr."""
    from streams.cli_bench import _bench_package

    _bench_package("detection")
    from bench.detection import print_table, run_detection_bench, summary_line
    from bench.throughput.report import bench_console

    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError as exc:
        raise typer.BadParameter(
            f"not a list of integers: {seeds!r}", param_hint="--seeds"
        ) from exc
    if spike_model not in ("own", "river"):
        raise typer.BadParameter("'own' or 'river'", param_hint="--spike-model")
    console, say = bench_console()
    summary = run_detection_bench(
        seed_list,
        days,
        load_detectors_config(config),
        say=say,
        show_false=show,
        local_time=local_time,
        spike_model=spike_model,
    )
    print_table(console, summary)
    typer.echo(summary_line(summary))
