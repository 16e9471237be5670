"""Acknowledge a message only once what it changed is safe in the changelog.

Faust sends a table's changelog records through its producer buffer, and the flush it
runs before committing offsets gives up after 0.1 s without a message leaving that
buffer. A commit can therefore overtake changelog records still buffered: a worker
killed right after it leaves offsets committed whose state changes never reached Kafka,
and a replacement rebuilding from the changelogs misses them (a dedup record missed
means a later copy of its events counts again).

``ChangelogTable`` keeps the future of every changelog record it sends;
``AckWhenStored`` acknowledges the events a write was made for only when Kafka has
acknowledged those records. The stream does not wait: acknowledgements run as the sends
complete (Faust commits the contiguous acknowledged prefix, so their order does not
matter), and a failed send stops the stream at its next message instead of committing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, MutableMapping, Sequence
from typing import Any

import faust
from faust.tables import TableManager
from faust.types import TP, EventT, StreamT
from faust.types.tuples import FutureMessage


class ChangelogTable(faust.Table[Any, Any]):
    """A Faust table that remembers the changelog records it sent until taken."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sends: list[FutureMessage] = []

    def send_changelog(
        self,
        partition: int | None,
        key: Any,
        value: Any,
        key_serializer: Any = None,
        value_serializer: Any = None,
    ) -> FutureMessage:
        sent = super().send_changelog(partition, key, value, key_serializer, value_serializer)
        self._sends.append(sent)
        return sent

    def take_sends(self) -> list[FutureMessage]:
        """The changelog records sent since the last call that Kafka has not yet
        acknowledged (failed ones included, so the failure is seen)."""
        sends, self._sends = self._sends, []
        return [s for s in sends if not s.done() or s.exception() is not None]


MAX_IN_FLIGHT = 20_000
"""Changelog records a stage may have sent and not yet seen stored before it waits."""


class AckWhenStored:
    """Acknowledges events of a stream iterated without automatic acks (``noack``).

    It is also the stage's backpressure: once more than ``max_in_flight`` changelog
    records are on their way to Kafka, ``ack`` returns only when enough of them are
    stored. Without it, a burst that touches many series (100,000 keys at once) queues
    every state write in the producer, gigabytes at that size, faster than Kafka takes
    them.
    """

    def __init__(self, stream: StreamT[bytes], max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self.stream = stream
        self.max_in_flight = max_in_flight
        self.waiting: dict[asyncio.Task[None], int] = {}
        """Acknowledgement tasks, each with the number of records it waits for."""
        self.in_flight = 0
        self.failure: BaseException | None = None

    async def ack(
        self, events: Sequence[EventT[bytes]], sends: Sequence[asyncio.Future[Any]]
    ) -> None:
        """Acknowledge ``events`` once every one of ``sends`` is acknowledged by Kafka."""
        if self.failure is not None:
            raise RuntimeError("a changelog record was not stored") from self.failure
        if not sends:
            for event in events:
                await self.stream.ack(event)
            return
        task = asyncio.ensure_future(self._ack_after(list(events), list(sends)))
        self.waiting[task] = len(sends)
        self.in_flight += len(sends)
        task.add_done_callback(self._done)
        while self.in_flight > self.max_in_flight and self.waiting:
            await asyncio.wait(list(self.waiting), return_when=asyncio.FIRST_COMPLETED)

    async def _ack_after(
        self, events: list[EventT[bytes]], sends: list[asyncio.Future[Any]]
    ) -> None:
        await asyncio.gather(*sends)
        for event in events:
            await self.stream.ack(event)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.in_flight -= self.waiting.pop(task, 0)
        if not task.cancelled() and task.exception() is not None:
            self.failure = task.exception()


class CommitTrackingTables(TableManager):
    """Faust's table manager, also keeping the offsets this worker last committed (the
    ingest stage deletes dedup records by them: ``streams.dedup``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.committed: dict[Any, int] = {}
        """Topic partition to the next offset to read, as committed."""

    def on_commit(self, offsets: MutableMapping[Any, int]) -> None:
        super().on_commit(offsets)
        self.committed.update(offsets)

    @staticmethod
    def committed_of(app: Any, topic: str) -> Callable[[int], int | None]:
        """A partition of ``topic`` to its last committed offset, on ``app``'s manager."""

        def committed(partition: int) -> int | None:
            tables: CommitTrackingTables = app.tables
            return tables.committed.get(TP(topic, partition))

        return committed
