"""``spendwatch bench ...``: the benchmarks, run from a checkout (``bench/`` is not installed)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from streams import cli_detect


def _bench_package(name: str) -> None:
    """Make ``bench/NAME`` importable; it lives in a checkout, not in the installed package."""
    repo = str(Path(__file__).resolve().parents[1])
    if not (Path(repo) / "bench" / name / "__init__.py").is_file():
        raise typer.BadParameter("bench/ is not here; run from a spendwatch checkout")
    if repo not in sys.path:
        sys.path.insert(0, repo)


def _run_bench(run: Callable[[], str]) -> None:
    """Run a benchmark; its JSON summary is the last stdout line, errors exit non-zero."""
    from bench.throughput import BenchError

    try:
        line = run()
    except BenchError as exc:
        typer.echo(f"bench: error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        typer.echo("bench: interrupted", err=True)
        raise typer.Exit(130) from None
    typer.echo(line)


bench_app = typer.Typer(help="Benchmarks on a real Kafka broker (from a checkout).")

BenchBootstrap = Annotated[
    str | None,
    typer.Option("--bootstrap", "-b", help="Use this broker (default: start a local one)."),
]


@bench_app.command("throughput")
def bench_throughput(
    events: Annotated[int, typer.Option(min=1, help="Events for the batched runs.")] = 200_000,
    single_events: Annotated[
        int | None,
        typer.Option(min=1, help="Events for the one-event-per-message runs (default: N/10)."),
    ] = None,
    bootstrap: BenchBootstrap = None,
    partitions: Annotated[int, typer.Option(min=1, help="Partitions of the input topics.")] = 4,
    batch_size: Annotated[int, typer.Option(min=1, help="Events per batched message.")] = 1000,
    naive_store: Annotated[
        str, typer.Option(help="Table store of the naive Faust baseline.")
    ] = "rocksdb://",
    columnar: Annotated[
        bool,
        typer.Option(help="Batched messages as columnar batches (else {'events': [...]})."),
    ] = True,
    keep_dir: Annotated[bool, typer.Option(help="Keep the run's logs and state.")] = False,
    scale_out: Annotated[
        int, typer.Option(min=0, help="Workers in one group for the scale-out run (0: none).")
    ] = 2,
) -> None:
    """Consumption throughput per worker process: spendwatch on batched and on single-event
    messages, a naive Faust app and a raw aiokafka+orjson ceiling, on one broker. The last
    line on stdout is a JSON summary; progress and a table go to stderr."""
    _bench_package("throughput")
    from bench.throughput import BenchConfig, run_benchmark, summary_line

    config = BenchConfig(
        events=events,
        single_events=single_events,
        partitions=partitions,
        batch_size=batch_size,
        bootstrap=bootstrap,
        naive_store=naive_store,
        columnar=columnar,
        keep_dir=keep_dir,
        scale_out_workers=scale_out,
    )
    _run_bench(lambda: summary_line(run_benchmark(config)))


@bench_app.command("memory")
def bench_memory(
    series: Annotated[
        str, typer.Option(help="Distinct api_key_id series per measurement, comma-separated.")
    ] = "10000,100000",
    bootstrap: BenchBootstrap = None,
    partitions: Annotated[int, typer.Option(min=1, help="Partitions of the usage topic.")] = 4,
    events_per_key: Annotated[int, typer.Option(min=1, help="Events per api_key_id.")] = 2,
    keep_dir: Annotated[bool, typer.Option(help="Keep the run's logs and state.")] = False,
) -> None:
    """Worker memory per series and state recovery time: RSS of a worker holding S series
    against an idle one, then the time a replacement takes to answer with the full state
    from the changelogs (fresh data dir) and from RocksDB (same data dir). The last line on
    stdout is a JSON summary; progress and a table go to stderr."""
    _bench_package("memory")
    from bench.memory import MemoryConfig, parse_series, run_memory_benchmark, summary_line

    try:
        counts = parse_series(series)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--series") from exc
    config = MemoryConfig(
        series=counts,
        partitions=partitions,
        bootstrap=bootstrap,
        events_per_key=events_per_key,
        keep_dir=keep_dir,
    )
    _run_bench(lambda: summary_line(run_memory_benchmark(config)))


@bench_app.command("latency")
def bench_latency(
    runs: Annotated[int, typer.Option(min=1, help="Spikes to time, one fresh key each.")] = 8,
    bootstrap: BenchBootstrap = None,
) -> None:
    """Wall-clock time from the first event of a 10x spike, in live steady traffic, to the
    alert reaching a local Slack server through the worker, the outbox and the notifier.
    The last line on stdout is a JSON summary with median_s, p95_s and runs."""
    _bench_package("latency")
    from bench.latency import LatencyConfig, run_latency_benchmark
    from bench.throughput.report import bench_console, summary_line

    _, say = bench_console()
    config = LatencyConfig(runs=runs, bootstrap=bootstrap)
    _run_bench(lambda: summary_line(run_latency_benchmark(config, say)))


bench_app.command("detection")(cli_detect.bench_detection)
