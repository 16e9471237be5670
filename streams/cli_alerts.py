"""``spendwatch notifier`` and ``spendwatch silence add|list|expire``.

Silences are records in the compacted silences topic, so every running notifier picks
them up without a restart; ``expire`` republishes a silence ending now.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import signal
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
import yaml
from pydantic import ValidationError

from alerting.config import AlertingConfig, SilenceConfig, parse_duration
from alerting.secrets import SecretError, find_inline_secrets
from alerting.silence_stage import SilenceBook
from streams.alert_topics import (
    AlertTopics,
    ensure_alert_topics,
    new_producer,
    publish_silence,
    read_to_end,
)

Bootstrap = Annotated[
    str,
    typer.Option("--bootstrap", "-b", envvar="SPENDWATCH_BOOTSTRAP", help="Kafka bootstrap."),
]
Prefix = Annotated[
    str,
    typer.Option(envvar="SPENDWATCH_TOPIC_PREFIX", help="Prefix of spendwatch's topics."),
]

silence_app = typer.Typer(help="Mute matching alerts for a while.", no_args_is_help=True)


def load_alerting_config(path: Path) -> AlertingConfig:
    """The routes, receivers, inhibit_rules and silences sections of a YAML file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise typer.BadParameter(f"{path}: {exc}") from None
    inline = find_inline_secrets(raw)
    if inline:
        raise typer.BadParameter(f"{path}: inline secrets at {', '.join(inline)}")
    sections = ("routes", "receivers", "inhibit_rules", "silences")
    try:
        return AlertingConfig.model_validate({k: v for k, v in raw.items() if k in sections})
    except ValidationError as exc:
        raise typer.BadParameter(f"{path}: {exc}") from None


def notifier(
    config: Annotated[Path, typer.Option("--config", "-c", help="YAML routing config.")],
    bootstrap: Bootstrap = "127.0.0.1:9092",
    topic_prefix: Prefix = "spendwatch.",
    group_id: Annotated[str, typer.Option(help="Consumer group of the notifier.")] = (
        "spendwatch-notifier"
    ),
    loglevel: Annotated[str, typer.Option(help="Log level.")] = "info",
) -> None:
    """Deliver alerts from the outbox to Slack, PagerDuty and webhooks, once each."""
    from streams.notifier import NotifierService

    logging.basicConfig(level=loglevel.upper(), format="%(asctime)s %(levelname)s %(message)s")
    alerting = load_alerting_config(config)
    try:
        service = NotifierService(bootstrap, alerting, AlertTopics(topic_prefix), group_id)
    except SecretError as exc:
        raise typer.BadParameter(str(exc)) from None

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await service.run(stop)

    asyncio.run(run())


async def add_silence(bootstrap: str, topics: AlertTopics, silence: SilenceConfig) -> None:
    await ensure_alert_topics(bootstrap, topics)
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        await publish_silence(producer, topics, silence)
    finally:
        await producer.stop()


async def current_silences(bootstrap: str, topics: AlertTopics) -> SilenceBook:
    await ensure_alert_topics(bootstrap, topics)
    book = SilenceBook()
    for record in sorted(await read_to_end(bootstrap, topics.silences), key=lambda r: r.offset):
        if record.value is not None:
            book.upsert(SilenceConfig.model_validate_json(record.value))
    return book


@silence_app.command("add")
def silence_add(
    matcher: Annotated[list[str], typer.Argument(help="Matchers, e.g. team=search.")],
    duration: Annotated[str, typer.Option(help="How long, e.g. 30m, 2h.")] = "1h",
    comment: Annotated[str, typer.Option(help="Why.")] = "silenced from the command line",
    created_by: Annotated[str | None, typer.Option(help="Who (default: $USER).")] = None,
    bootstrap: Bootstrap = "127.0.0.1:9092",
    topic_prefix: Prefix = "spendwatch.",
) -> None:
    """Silence alerts matching every MATCHER from now for DURATION; prints its id."""
    now = datetime.now(UTC)
    try:
        silence = SilenceConfig.model_validate(
            {
                "id": uuid.uuid4().hex[:12],
                "matchers": matcher,
                "starts_at": now,
                "ends_at": now + parse_duration(duration),
                "comment": comment,
                "created_by": created_by or getpass.getuser(),
            }
        )
    except (ValidationError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None
    asyncio.run(add_silence(bootstrap, AlertTopics(topic_prefix), silence))
    typer.echo(silence.id)


@silence_app.command("list")
def silence_list(
    bootstrap: Bootstrap = "127.0.0.1:9092",
    topic_prefix: Prefix = "spendwatch.",
    all_: Annotated[bool, typer.Option("--all", help="Include expired silences.")] = False,
) -> None:
    """Active silences (one JSON object per line)."""
    book = asyncio.run(current_silences(bootstrap, AlertTopics(topic_prefix)))
    now = datetime.now(UTC)
    for silence in book.all() if all_ else book.active(now):
        typer.echo(silence.model_dump_json())


@silence_app.command("expire")
def silence_expire(
    silence_id: Annotated[str, typer.Argument(help="Id printed by 'silence add'.")],
    bootstrap: Bootstrap = "127.0.0.1:9092",
    topic_prefix: Prefix = "spendwatch.",
) -> None:
    """End a silence now."""
    topics = AlertTopics(topic_prefix)
    book = asyncio.run(current_silences(bootstrap, topics))
    try:
        ended = book.expire(silence_id, datetime.now(UTC))
    except KeyError:
        raise typer.BadParameter(f"no silence with id {silence_id!r}") from None
    asyncio.run(add_silence(bootstrap, topics, ended))
    typer.echo(f"expired {silence_id}")
