"""Events are acknowledged only after Kafka acknowledged the changelog records written
for them; a failed record stops the stream instead of letting its offset commit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from faust.types.tuples import FutureMessage

from streams.stored_acks import AckWhenStored


class AckRecorder:
    """Stands in for a Faust stream's ``ack`` (the only part the helper uses)."""

    def __init__(self) -> None:
        self.acked: list[Any] = []

    async def ack(self, event: Any) -> bool:
        self.acked.append(event)
        return True


def send() -> FutureMessage:
    return FutureMessage(message=None)  # type: ignore[arg-type]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_events_wait_for_every_changelog_record_they_wrote() -> None:
    stream = AckRecorder()
    acks = AckWhenStored(stream)  # type: ignore[arg-type]
    first, second = send(), send()
    await acks.ack(["e1", "e2"], [first, second])
    await settle()
    assert stream.acked == []
    first.set_result(None)  # type: ignore[arg-type]
    await settle()
    assert stream.acked == []  # one record still in flight
    second.set_result(None)  # type: ignore[arg-type]
    await settle()
    assert stream.acked == ["e1", "e2"]
    assert not acks.waiting


async def test_a_later_event_does_not_wait_for_an_earlier_ones_records() -> None:
    stream = AckRecorder()
    acks = AckWhenStored(stream)  # type: ignore[arg-type]
    slow = send()
    await acks.ack(["e1"], [slow])
    await acks.ack(["e2"], [])  # wrote nothing: acknowledged at once
    await settle()
    assert stream.acked == ["e2"]  # Faust commits only the contiguous prefix anyway
    slow.set_result(None)  # type: ignore[arg-type]
    await settle()
    assert stream.acked == ["e2", "e1"]


async def test_a_failed_record_leaves_its_events_unacknowledged_and_stops_the_stream() -> None:
    stream = AckRecorder()
    acks = AckWhenStored(stream)  # type: ignore[arg-type]
    failed = send()
    await acks.ack(["e1"], [failed])
    failed.set_exception(OSError("broker gone"))
    await settle()
    assert stream.acked == []
    with pytest.raises(RuntimeError, match="not stored") as raised:
        await acks.ack(["e2"], [])
    assert isinstance(raised.value.__cause__, OSError)
    assert stream.acked == []


async def test_too_many_records_in_flight_hold_the_stage_until_some_are_stored() -> None:
    stream = AckRecorder()
    acks = AckWhenStored(stream, max_in_flight=3)  # type: ignore[arg-type]
    early = [send(), send()]
    await acks.ack(["e1"], early)  # 2 in flight: under the bound, returns at once
    late = [send(), send()]
    held = asyncio.ensure_future(acks.ack(["e2"], late))  # 4 in flight: over it
    await settle()
    assert not held.done() and acks.in_flight == 4
    early[0].set_result(None)  # type: ignore[arg-type]
    await settle()
    assert not held.done()  # e1's records are not all stored yet
    early[1].set_result(None)  # type: ignore[arg-type]
    await settle()
    assert held.done() and acks.in_flight == 2
    assert stream.acked == ["e1"]
    for each in late:
        each.set_result(None)  # type: ignore[arg-type]
    await settle()
    assert stream.acked == ["e1", "e2"] and acks.in_flight == 0 and not acks.waiting
