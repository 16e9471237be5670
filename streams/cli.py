"""The ``spendwatch`` command."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from streams import cli_alerts, cli_detect, digest_cli, finops_cli
from streams.cli_bench import bench_app
from streams.cli_config import config_app
from streams.cli_token import token_app
from streams.demo import demo

if TYPE_CHECKING:
    from streams.config_reload import LiveConfig
    from streams.settings import WorkerSettings

app = typer.Typer(
    name="spendwatch",
    help="Real-time anomaly detection for AI API spend: exact rolling spend per key, team, "
    "app and model from a Kafka usage stream, with alerts to Slack and PagerDuty.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,  # locals may hold resolved secrets
)
app.add_typer(config_app, name="config")
app.command("demo")(demo)

Bootstrap = Annotated[
    str | None,
    typer.Option("--bootstrap", "-b", help="Kafka bootstrap servers (env SPENDWATCH_BOOTSTRAP)."),
]


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="spendwatch.yaml (env SPENDWATCH_CONFIG_FILE); the file < SPENDWATCH_* < options.",
    ),
]


@app.command()
def worker(
    config: ConfigOption = None,
    bootstrap: Bootstrap = None,
    app_id: Annotated[str | None, typer.Option(help="Faust app id / consumer group.")] = None,
    topic_prefix: TopicPrefix = None,
    data_dir: Annotated[Path | None, typer.Option(help="Directory for table state.")] = None,
    web_port: Annotated[int | None, typer.Option(help="HTTP port of this worker.")] = None,
    partitions: Annotated[int | None, typer.Option(help="Partitions of the usage topic.")] = None,
    loglevel: Annotated[
        str | None, typer.Option(help="Log level (default: logging.level, else info).")
    ] = None,
    log_format: Annotated[
        str | None, typer.Option(help="text or json (env SPENDWATCH_LOG_FORMAT).")
    ] = None,
) -> None:
    """Run a stream worker: consume usage events, keep exact spend, serve the HTTP API.

    With --config the worker watches the file and applies valid changes while it runs."""
    from streams.worker import run_worker

    settings, live = _worker_config(
        config,
        bootstrap=bootstrap,
        app_id=app_id,
        topic_prefix=topic_prefix,
        data_dir=data_dir,
        web_port=web_port,
        partitions=partitions,
        log_format=log_format,
    )
    level = loglevel or (live.current.config.logging.level if live.path else "info")
    run_worker(settings, loglevel=level, live=live)


@app.command()
def schema() -> None:
    """Print the JSON Schema of a usage event (for producers in any language)."""
    from schemas.json_schema import usage_event_schema_json

    sys.stdout.write(usage_event_schema_json())


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="JSON Lines file of usage events ('-' for stdin).")],
) -> None:
    """Check a file of events offline, exactly as the worker would.

    Prints one JSON object per input line: ``line``, ``valid`` and either ``errors`` or
    the normalised event with ``cost_usd`` and ``cost_source``. Exits 1 if any line is
    invalid.
    """
    from streams.validate_file import validate_lines

    stream = sys.stdin.buffer if str(file) == "-" else file.open("rb")
    with stream:
        invalid = validate_lines(stream, sys.stdout.buffer)
    raise typer.Exit(1 if invalid else 0)


def _worker_config(config: Path | None, **overrides: Any) -> tuple[WorkerSettings, LiveConfig]:
    """Settings and the live config: the file (if any) < SPENDWATCH_* < options."""
    import os

    from streams.config_errors import ConfigError
    from streams.config_reload import live_config
    from streams.config_settings import worker_settings

    path = config or (Path(p) if (p := os.environ.get("SPENDWATCH_CONFIG_FILE")) else None)
    try:
        live = live_config(path)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    file_config = live.current.config if path else None
    try:
        settings = worker_settings(file_config, overrides, config_file=path)
    except ValueError as exc:
        typer.echo(f"spendwatch: invalid setting: {exc}", err=True)
        raise typer.Exit(1) from None
    return settings, live


TopicPrefix = Annotated[str | None, typer.Option(help="Prefix of spendwatch's topics.")]


@app.command()
def ingest(
    config: ConfigOption = None,
    bootstrap: Bootstrap = None,
    topic_prefix: TopicPrefix = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: ingest.host, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: ingest.port, 8080).")
    ] = None,
    tokens_file: Annotated[
        Path | None,
        typer.Option(
            help="Producer tokens: 'NAME TOKEN' or 'NAME sha256:HEX' per line "
            "(env SPENDWATCH_INGEST_TOKENS_FILE, else ingest.tokens_file)."
        ),
    ] = None,
    allow_anonymous: Annotated[
        bool,
        typer.Option(
            envvar="SPENDWATCH_INGEST_ALLOW_ANONYMOUS",
            help="Accept requests without a token when no tokens are configured.",
        ),
    ] = False,
    rate: Annotated[
        float,
        typer.Option(
            min=0,
            envvar="SPENDWATCH_INGEST_RATE",
            help="Requests per second per producer token (0: no limit).",
        ),
    ] = 50.0,
    burst: Annotated[
        int,
        typer.Option(
            min=1, envvar="SPENDWATCH_INGEST_BURST", help="Requests a producer may send at once."
        ),
    ] = 100,
    loglevel: Annotated[str, typer.Option(help="Log level.")] = "info",
) -> None:
    """Serve POST /v1/usage: validate events over HTTP and publish them to Kafka."""
    import logging
    import os

    from aiohttp import web

    from streams.ingest_http import AnonymousIngestError, create_ingest_app
    from streams.kafka_wait import EXIT_UNREACHABLE, KafkaUnreachable, ensure_topics_with_retries
    from streams.rate_limit import RateLimit
    from streams.tokens import ProducerTokens, TokenFileError
    from streams.topics import TopicRefused

    logging.basicConfig(
        level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings, live = _worker_config(config, bootstrap=bootstrap, topic_prefix=topic_prefix)
    section = live.current.config.ingest
    if tokens_file is None and not os.environ.get("SPENDWATCH_INGEST_TOKENS_FILE"):
        tokens_file = section.tokens_file
    try:
        tokens = ProducerTokens.load(tokens_file)
        ingest_app = create_ingest_app(
            settings,
            tokens,
            allow_anonymous=allow_anonymous,
            rate_limit=RateLimit(rate=rate, burst=burst),
        )
    except (TokenFileError, AnonymousIngestError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not tokens.enabled:
        typer.echo("warning: --allow-anonymous: /v1/usage accepts anyone", err=True)
    try:
        ensure_topics_with_retries(settings)
    except KafkaUnreachable as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(EXIT_UNREACHABLE) from None
    except TopicRefused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    web.run_app(ingest_app, host=host or section.host, port=port or section.port, print=None)


@app.command()
def produce(
    file: Annotated[Path, typer.Argument(help="JSON Lines file of usage events ('-' for stdin).")],
    config: ConfigOption = None,
    bootstrap: Bootstrap = None,
    topic_prefix: TopicPrefix = None,
    batch: Annotated[int, typer.Option(help="Events per Kafka message.")] = 1000,
) -> None:
    """Replay a file of events to the usage topic. Invalid lines are reported and skipped."""
    import asyncio

    from streams.replay import replay_file

    settings, _ = _worker_config(config, bootstrap=bootstrap, topic_prefix=topic_prefix)
    stream = sys.stdin.buffer if str(file) == "-" else file.open("rb")
    with stream:
        sent, invalid = asyncio.run(replay_file(stream, settings, batch))
    typer.echo(f"sent {sent} events; {invalid} invalid lines skipped", err=True)
    raise typer.Exit(1 if invalid else 0)


@app.command()
def generate(
    config: ConfigOption = None,
    bootstrap: Bootstrap = None,
    topic_prefix: TopicPrefix = None,
    rate: Annotated[float, typer.Option(help="Mean weekday calls per second, whole org.")] = 50.0,
    duration: Annotated[
        float | None, typer.Option(help="Seconds of traffic (live: until Ctrl-C when unset).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Write simulated time to this JSON Lines file instead of Kafka."),
    ] = None,
    start: Annotated[
        datetime | None, typer.Option(help="Simulated start (with --out); default: ends now.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same events.")] = 0,
    teams: Annotated[int, typer.Option(help="Number of teams.")] = 5,
    incident: Annotated[
        list[str] | None,
        typer.Option(
            help="Inject an incident (repeatable): KIND:TARGET:START_S:DURATION_S[:FACTOR]."
        ),
    ] = None,
) -> None:
    """Produce realistic synthetic traffic (daily and weekly rhythm, many keys, teams, apps
    and models), optionally with injected incidents."""
    import asyncio
    from datetime import UTC, timedelta

    from streams.generate_cmd import parse_incident, send_live, write_simulated
    from streams.synthetic_org import TrafficProfile

    try:
        incidents = [parse_incident(spec) for spec in incident or []]
        profile = TrafficProfile(seed=seed, teams=teams, calls_per_second=rate)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if out is not None:
        if duration is None:
            raise typer.BadParameter("--out needs --duration")
        begin = (start or datetime.now(UTC) - timedelta(seconds=duration)).astimezone(UTC)
        with out.open("wb") as sink:
            written = write_simulated(sink, profile, incidents, begin, duration)
        typer.echo(f"wrote {written} events to {out}", err=True)
        return
    settings, _ = _worker_config(config, bootstrap=bootstrap, topic_prefix=topic_prefix)
    try:
        sent = asyncio.run(send_live(settings, profile, incidents, duration))
    except KeyboardInterrupt:
        return
    typer.echo(f"sent {sent} events to {settings.usage_topic}", err=True)


app.add_typer(token_app, name="token")
app.command()(cli_detect.backtest)
app.command("notifier")(cli_alerts.notifier)
app.add_typer(cli_alerts.silence_app, name="silence")
app.add_typer(bench_app, name="bench", no_args_is_help=True)
app.command()(finops_cli.report)
app.command()(finops_cli.budgets)
app.command()(finops_cli.estimate)
app.command()(finops_cli.keys)
app.command()(finops_cli.reconcile)
app.command()(digest_cli.digest)


def main() -> None:
    from streams.redact import install_log_redaction

    install_log_redaction()
    app()


if __name__ == "__main__":
    main()
