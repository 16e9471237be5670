"""Create spendwatch's own topics with the configured partitions before anything uses them."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.settings import WorkerSettings


async def ensure_topics(settings: WorkerSettings, timeout_s: float = 60.0) -> dict[str, int]:
    """Create spendwatch's topics if missing; return their partitions.

    The alerts topic (the notifier's outbox, keyed by alert id) is compacted: it keeps
    every alert's latest version. Waits (up to ``timeout_s``) until the broker describes
    every topic with its partitions.
    """
    wanted = {
        settings.usage_topic: settings.partitions,
        settings.dlq_topic: 1,
        settings.buckets_topic: settings.series_partitions,
        settings.findings_topic: settings.series_partitions,
        settings.alerts_topic: settings.series_partitions,
    }
    compacted = {settings.alerts_topic}
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap, request_timeout_ms=int(timeout_s * 1000)
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name,
                num_partitions=n,
                replication_factor=1,
                topic_configs={"cleanup.policy": "compact"} if name in compacted else None,
            )
            for name, n in wanted.items()
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        # Right after creation the broker may describe a new topic with no partitions yet.
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            described = await admin.describe_topics(list(wanted))
            found = {d["topic"]: len(d["partitions"]) for d in described}
            if all(found.get(name) for name in wanted):
                return found
            if asyncio.get_running_loop().time() > deadline:
                return found
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


def ensure_topics_sync(settings: WorkerSettings) -> dict[str, int]:
    return asyncio.run(ensure_topics(settings))
