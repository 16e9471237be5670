"""Reach Kafka before starting: retries with backoff and one clear line per failure.

A worker (or the ingest) started before its broker, or pointed at a wrong address,
should say which address it cannot reach and keep trying for a while, not print a stack
trace. After the last retry it exits with status 2 and a one-line message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import IO

from aiokafka.errors import KafkaConnectionError, KafkaError

from streams.settings import WorkerSettings
from streams.topics import ensure_topics

MAX_DELAY_S = 30.0
EXIT_UNREACHABLE = 2


class KafkaUnreachable(SystemExit):
    """Kafka did not answer after every retry; the message names the address."""

    def __init__(self, message: str) -> None:
        super().__init__(EXIT_UNREACHABLE)
        self.message = message


def backoff_delays(retries: int, first_s: float) -> list[float]:
    """Delays before each retry: doubling, at most 30 s.

    >>> backoff_delays(5, 1.0)
    [1.0, 2.0, 4.0, 8.0, 16.0]
    """
    return [min(first_s * 2**n, MAX_DELAY_S) for n in range(retries)]


@contextlib.contextmanager
def quiet_client_logs() -> Iterator[None]:
    """aiokafka logs every failed connection; the caller says it once, clearly."""
    logger = logging.getLogger("aiokafka")
    before = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(before)


def ensure_topics_with_retries(
    settings: WorkerSettings, out: IO[str] = sys.stderr, attempt_timeout_s: float = 10.0
) -> dict[str, int]:
    """``ensure_topics`` once Kafka answers; raises ``KafkaUnreachable`` after the retries."""
    delays = backoff_delays(settings.connect_retries, settings.connect_backoff_s)
    attempts = len(delays) + 1
    for attempt in range(1, attempts + 1):
        try:
            with quiet_client_logs():
                return asyncio.run(ensure_topics(settings, timeout_s=attempt_timeout_s))
        except (KafkaError, OSError, TimeoutError) as exc:
            reason = _reason(exc)
            if attempt == attempts:
                raise KafkaUnreachable(
                    f"spendwatch: cannot reach Kafka at {settings.bootstrap} after {attempts} "
                    f"attempts ({reason}); check kafka.bootstrap, SPENDWATCH_BOOTSTRAP or "
                    "--bootstrap"
                ) from None
            delay = delays[attempt - 1]
            out.write(
                f"spendwatch: cannot reach Kafka at {settings.bootstrap} ({reason}); "
                f"retry {attempt}/{len(delays)} in {delay:g} s\n"
            )
            out.flush()
            asyncio.run(asyncio.sleep(delay))
    raise AssertionError("unreachable")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KafkaConnectionError):
        return "no broker answered"
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
