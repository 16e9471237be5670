"""``spendwatch produce``: replay a JSON Lines file of events through ``UsageProducer``."""

from __future__ import annotations

import sys
from collections.abc import Iterable

import orjson
from pydantic import ValidationError

from streams.producer import UsageProducer
from streams.settings import WorkerSettings
from streams.topics import ensure_topics


async def replay_file(
    lines: Iterable[bytes], settings: WorkerSettings, batch: int = 1000
) -> tuple[int, int]:
    """Send every valid line; report invalid ones on stderr. Returns (sent, invalid)."""
    await ensure_topics(settings)
    invalid = 0
    async with UsageProducer(
        settings.bootstrap, settings.usage_topic, max_batch_events=batch
    ) as producer:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                await producer.send(orjson.loads(line))
            except (orjson.JSONDecodeError, ValidationError, TypeError) as exc:
                invalid += 1
                problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                sys.stderr.write(f"line {number}: {problem}\n")
        await producer.flush()
        return producer.sent_events, invalid
