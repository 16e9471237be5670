"""A real Apache Kafka broker for the session, and factories for workers on it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streams.alert_topics import AlertTopics
from streams.local_receivers import FakePagerDuty, FakeSlack
from tests.support.notifier_rig import Rig
from tests.support.worker_process import WorkerProcess

REPO = Path(__file__).resolve().parents[2]
KAFKA_LOCAL = REPO / "scripts" / "kafka-local"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``SPENDWATCH_TEST_KAFKA`` when set, else a broker started here and stopped at the end."""
    preset = os.environ.get("SPENDWATCH_TEST_KAFKA")
    if preset:
        yield preset
        return
    state = tmp_path_factory.mktemp("kafka")
    started = subprocess.run(
        [sys.executable, str(KAFKA_LOCAL), "--dir", str(state), "start"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if started.returncode != 0:
        pytest.fail(f"could not start Apache Kafka:\n{started.stderr}", pytrace=False)
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run(
            [sys.executable, str(KAFKA_LOCAL), "--dir", str(state), "stop"],
            capture_output=True,
            timeout=120,
            check=False,
        )


@pytest.fixture
def names() -> Callable[[str], str]:
    """Unique names per test, so tests never see each other's topics or groups."""
    token = uuid.uuid4().hex[:10]
    return lambda role: f"t{token}-{role}"


@pytest.fixture
def spawn_worker(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start ``spendwatch worker`` subprocesses; every one is stopped after the test."""
    started: list[WorkerProcess] = []

    def spawn(
        app_id: str, topic_prefix: str, restart_of: WorkerProcess | None = None, **options: object
    ) -> WorkerProcess:
        """A new worker; ``restart_of`` reuses that (stopped) worker's state directory."""
        data_dir = restart_of.data_dir if restart_of else tmp_path / f"{app_id}-{len(started)}"
        proc = WorkerProcess(
            bootstrap=kafka_bootstrap,
            app_id=app_id,
            topic_prefix=topic_prefix,
            data_dir=data_dir,
            options=options,
            env={"SPENDWATCH_PROGRESS_LOG_S": "5"},
        )
        started.append(proc)
        proc.start()
        return proc

    yield spawn
    for proc in started:
        proc.stop()


@pytest.fixture
def rig(
    monkeypatch: pytest.MonkeyPatch,
    kafka_bootstrap: str,
    names: Callable[[str], str],
    fake_slack: FakeSlack,
    fake_pagerduty: FakePagerDuty,
) -> Rig:
    monkeypatch.setenv("TEST_SLACK_TOKEN", fake_slack.token)
    monkeypatch.setenv("TEST_PD_KEY", fake_pagerduty.routing_key)
    topics = AlertTopics(prefix=names("alerts") + ".", outbox_partitions=2)
    return Rig(kafka_bootstrap, topics, names, fake_slack, fake_pagerduty)
