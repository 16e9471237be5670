"""Start a worker process around the Faust app, once its state directory is usable."""

from __future__ import annotations

import asyncio
import sys

import faust
import mode.loop

from streams.app import create_app
from streams.config_reload import LiveConfig
from streams.kafka_wait import KafkaUnreachable, ensure_topics_with_retries
from streams.log_setup import logging_config
from streams.settings import WorkerSettings
from streams.state_dir import StateDirError, check_state_dir
from streams.topics import TopicRefused, layout_problems


def use_event_loop(name: str) -> None:
    """Make ``name`` ("uvloop" or "asyncio") the kind of every event loop created from
    now on; call it before anything creates the worker's loop. uvloop costs a third less
    CPU per message on small messages (BENCHMARKS.md, "Event loop")."""
    if name == "uvloop":
        mode.loop.use("uvloop")
    else:
        asyncio.set_event_loop_policy(None)


def run_worker(
    settings: WorkerSettings, loglevel: str = "info", live: LiveConfig | None = None
) -> None:
    """Run until SIGTERM/SIGINT. Faust's shutdown stops the agents, flushes the producer,
    commits the offsets of acknowledged messages and closes the tables."""
    try:
        check_state_dir(settings.data_dir, settings.min_free_mb * 1024 * 1024)
    except StateDirError as exc:
        raise SystemExit(f"spendwatch worker: {exc}") from None
    try:
        partitions = ensure_topics_with_retries(settings)
    except KafkaUnreachable as exc:
        sys.stderr.write(exc.message + "\n")
        raise
    except TopicRefused as exc:
        raise SystemExit(f"spendwatch worker: {exc}") from None
    problems = layout_problems(settings, partitions)
    if problems:
        raise SystemExit("spendwatch worker: " + "; ".join(problems))
    use_event_loop(settings.event_loop)
    handle = create_app(settings, live)
    handle.faust_app.finalize()
    worker = faust.Worker(
        handle.faust_app,
        loglevel=loglevel,
        quiet=True,
        logging_config=logging_config(settings.log_format, loglevel),
    )
    worker.execute_from_commandline()
