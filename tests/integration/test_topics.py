"""The worker's topics, created ahead of Faust, on a real broker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.settings import WorkerSettings
from streams.topics import changelog_topics, ensure_topics, layout_problems


async def cleanup_policies(bootstrap: str, topics: list[str]) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in topics]
        )
    finally:
        await admin.close()
    policies = {}
    for response in responses:
        for _code, _message, _type, name, entries in response.resources:
            for entry in entries:
                if entry[0] == "cleanup.policy":
                    policies[name] = entry[1]
    return policies


async def test_changelogs_are_created_compacted_with_their_tables_partitions(
    kafka_bootstrap: str, names: Callable[[str], str]
) -> None:
    settings = WorkerSettings(
        bootstrap=kafka_bootstrap,
        app_id=names("app"),
        topic_prefix=names("t") + ".",
        partitions=3,
        bucket_partitions=2,
    )
    found = await ensure_topics(settings)

    changelogs = changelog_topics(settings)
    assert changelogs == {
        f"{settings.app_id}-dedup-changelog": 3,
        f"{settings.app_id}-series-changelog": 2,
        f"{settings.app_id}-detection-changelog": 2,
    }
    assert {name: found[name] for name in changelogs} == changelogs
    assert found[settings.usage_topic] == 3 and found[settings.buckets_topic] == 2
    policies = await cleanup_policies(kafka_bootstrap, [*changelogs, settings.usage_topic])
    assert policies == {**dict.fromkeys(changelogs, "compact"), settings.usage_topic: "delete"}
    assert layout_problems(settings, found) == []


async def test_a_worker_whose_partitions_differ_from_the_topics_is_told_which_and_why(
    kafka_bootstrap: str, names: Callable[[str], str]
) -> None:
    first = WorkerSettings(
        bootstrap=kafka_bootstrap, app_id=names("app"), topic_prefix=names("t") + ".", partitions=2
    )
    await ensure_topics(first)
    wider = first.model_copy(update={"partitions": 4})

    problems = layout_problems(wider, await ensure_topics(wider))

    assert problems == [
        f"topic {first.usage_topic} has 2 partitions, but this worker is configured for 4 "
        "(kafka.partitions)",
        f"topic {first.buckets_topic} has 2 partitions, but this worker is configured for 4 "
        "(kafka.bucket_partitions)",
        f"changelog {first.app_id}-dedup-changelog has 2 partitions, but its table is keyed by "
        "a topic of 4: delete the changelog (and the worker's state directory) or use a new "
        "app id",
        f"changelog {first.app_id}-series-changelog has 2 partitions, but its table is keyed by "
        "a topic of 4: delete the changelog (and the worker's state directory) or use a new "
        "app id",
        f"changelog {first.app_id}-detection-changelog has 2 partitions, but its table is keyed "
        "by a topic of 4: delete the changelog (and the worker's state directory) or use a new "
        "app id",
    ]


def test_the_worker_refuses_to_start_on_a_mismatched_layout(
    kafka_bootstrap: str, names: Callable[[str], str], tmp_path: Path
) -> None:
    app_id, prefix = names("app"), names("t") + "."
    asyncio.run(
        ensure_topics(
            WorkerSettings(
                bootstrap=kafka_bootstrap, app_id=app_id, topic_prefix=prefix, partitions=2
            )
        )
    )
    cmd = [sys.executable, "-m", "streams.cli", "worker", "--bootstrap", kafka_bootstrap]
    cmd += ["--app-id", app_id, "--topic-prefix", prefix, "--partitions", "3"]
    cmd += ["--data-dir", str(tmp_path / "state"), "--web-port", "0"]

    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=120, env={**os.environ}, check=False
    )

    assert done.returncode != 0
    assert f"topic {prefix}usage has 2 partitions, but this worker is configured for 3" in (
        done.stderr
    )
    assert f"changelog {app_id}-dedup-changelog has 2 partitions" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_replication_factor_the_cluster_cannot_meet_stops_the_worker_with_kafkas_words(
    kafka_bootstrap: str, names: Callable[[str], str], tmp_path: Path
) -> None:
    app_id, prefix = names("app"), names("t") + "."
    cmd = [sys.executable, "-m", "streams.cli", "worker", "--bootstrap", kafka_bootstrap]
    cmd += ["--app-id", app_id, "--topic-prefix", prefix, "--partitions", "2"]
    cmd += ["--data-dir", str(tmp_path / "state"), "--web-port", "0"]
    env = {**os.environ, "SPENDWATCH_REPLICATION_FACTOR": "2"}  # the test broker is one

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=False)

    assert done.returncode != 0
    assert f"spendwatch worker: Kafka refused to create topic {prefix}" in done.stderr or (
        f"spendwatch worker: Kafka refused to create topic {app_id}-" in done.stderr
    ), done.stderr
    assert "replication factor of 2" in done.stderr
    assert "Traceback" not in done.stderr


async def test_workers_creating_the_same_topics_at_once_both_go_on(
    kafka_bootstrap: str, names: Callable[[str], str]
) -> None:
    """The broker answers one of them that the topic exists: that is no refusal."""
    settings = WorkerSettings(bootstrap=kafka_bootstrap, topic_prefix=names("sw") + ".")
    layouts = await asyncio.gather(*(ensure_topics(settings) for _ in range(3)))
    assert layouts[0] == layouts[1] == layouts[2]
    assert settings.usage_topic in layouts[0]
