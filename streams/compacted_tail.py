"""Follow a compacted topic: read it from the start, then keep applying new records.

The send record and the silences are compacted topics that every notifier reads in
full at start and then follows, so what one notifier records or one ``spendwatch
silence`` command publishes reaches every running notifier.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer

from streams.alert_topics import partitions_of, read_to_end

log = logging.getLogger(__name__)


class CompactedTail:
    """Applies every record value of ``topic`` in order; a value ``apply`` refuses with
    ``ValueError`` is logged and skipped (deletions, ``None`` values, are skipped too)."""

    def __init__(self, bootstrap: str, topic: str, apply: Callable[[bytes], None]) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.apply = apply
        self._position: dict[int, int] = {}

    def _take(self, partition: int, offset: int, value: bytes | None) -> None:
        self._position[partition] = offset + 1
        if value is None:
            return
        try:
            self.apply(value)
        except ValueError as exc:
            log.error("%s %d@%d skipped: %s", self.topic, partition, offset, exc)

    async def catch_up(self) -> int:
        """Apply everything up to the topic's end now; returns how many records."""
        records = await read_to_end(self.bootstrap, self.topic)
        for record in sorted(records, key=lambda r: (r.partition, r.offset)):
            self._take(record.partition, record.offset, record.value)
        return len(records)

    async def follow(self) -> None:
        """Apply new records as they come, until cancelled."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = await partitions_of(self.bootstrap, self.topic)
            consumer.assign(partitions)
            for tp in partitions:
                consumer.seek(tp, self._position.get(tp.partition, 0))
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        self._take(record.partition, record.offset, record.value)
        finally:
            await consumer.stop()
