"""Start a worker process around the Faust app, once its state directory is usable."""

from __future__ import annotations

import faust

from streams.app import create_app
from streams.settings import WorkerSettings
from streams.state_dir import StateDirError, check_state_dir
from streams.topics import ensure_topics_sync


def run_worker(settings: WorkerSettings, loglevel: str = "info") -> None:
    try:
        check_state_dir(settings.data_dir, settings.min_free_mb * 1024 * 1024)
    except StateDirError as exc:
        raise SystemExit(f"spendwatch worker: {exc}") from None
    partitions = ensure_topics_sync(settings)
    if partitions.get(settings.usage_topic) != settings.partitions:
        raise SystemExit(
            f"topic {settings.usage_topic} has {partitions.get(settings.usage_topic)} partitions, "
            f"but this worker is configured for {settings.partitions} (--partitions)"
        )
    handle = create_app(settings)
    handle.faust_app.finalize()
    worker = faust.Worker(handle.faust_app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
