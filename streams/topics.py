"""Create spendwatch's own topics with the configured partitions before anything uses them."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.settings import WorkerSettings


class TopicRefused(Exception):
    """The broker refused to create a topic (replication factor, authorisation, policy)."""


def _raise_refusals(errors: list[tuple[str, int, str | None]]) -> None:
    """Raise for the first topic the broker refused, with its words; one that already
    exists (a worker started alongside created it) is no refusal."""
    for topic, code, message in errors:
        if code not in (0, TopicAlreadyExistsError.errno):
            raise TopicRefused(
                f"Kafka refused to create topic {topic}: {message or f'error {code}'}"
            )


def changelog_topics(settings: WorkerSettings) -> dict[str, int]:
    """The worker's table changelogs, named as Faust names them, with their partitions.

    Each must have as many partitions as the topic its table is keyed by.
    """
    tables = {"dedup": settings.partitions, "series": settings.series_partitions}
    if settings.detect:
        tables["detection"] = settings.series_partitions
    return {f"{settings.app_id}-{name}-changelog": n for name, n in tables.items()}


async def ensure_topics(settings: WorkerSettings, timeout_s: float = 60.0) -> dict[str, int]:
    """Create spendwatch's topics if missing; return their partitions.

    The alerts topic (the notifier's outbox, keyed by alert id) and the tables' changelogs
    are compacted: they keep every key's latest version. The changelogs are created here,
    not by Faust at startup: a worker whose first table write comes while the broker still
    describes a just-created changelog with only some of its partitions stops with
    Faust's ``PartitionsMismatch``. Waits (up to ``timeout_s``) until the broker describes
    every topic with all its partitions led.
    """
    changelogs = changelog_topics(settings)
    wanted = {
        settings.usage_topic: settings.partitions,
        settings.dlq_topic: 1,
        settings.buckets_topic: settings.series_partitions,
        settings.findings_topic: settings.series_partitions,
        settings.alerts_topic: settings.series_partitions,
        **changelogs,
    }
    compacted = {settings.alerts_topic, *changelogs}
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
                replication_factor=settings.replication_factor,
                topic_configs={"cleanup.policy": "compact"} if name in compacted else None,
            )
            for name, n in wanted.items()
            if name not in existing
        ]
        if missing:  # aiokafka returns the broker's errors per topic; it raises none
            response = await admin.create_topics(missing)
            _raise_refusals(response.topic_errors)
        # Right after creation the broker may describe a new topic with no partitions yet.
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            described = await admin.describe_topics(list(wanted))
            found = {d["topic"]: len(d["partitions"]) for d in described}
            led = {
                d["topic"]
                for d in described
                if d["partitions"] and all(p["leader"] >= 0 for p in d["partitions"])
            }
            if all(found.get(name) for name in wanted) and led >= set(wanted):
                return found
            if asyncio.get_running_loop().time() > deadline:
                return found
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


def layout_problems(settings: WorkerSettings, found: dict[str, int]) -> list[str]:
    """Why the topics on the broker do not fit this worker's settings (none: they fit).

    A table keyed by a topic needs a changelog with as many partitions as that topic.
    """
    problems = []
    sources = {
        settings.usage_topic: (settings.partitions, "kafka.partitions"),
        settings.buckets_topic: (settings.series_partitions, "kafka.bucket_partitions"),
    }
    for topic, (n, key) in sources.items():
        if found.get(topic) != n:
            problems.append(
                f"topic {topic} has {found.get(topic)} partitions, "
                f"but this worker is configured for {n} ({key})"
            )
    for topic, n in changelog_topics(settings).items():
        if found.get(topic) != n:
            problems.append(
                f"changelog {topic} has {found.get(topic)} partitions, but its table is keyed "
                f"by a topic of {n}: delete the changelog (and the worker's state directory) "
                "or use a new app id"
            )
    return problems
