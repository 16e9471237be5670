"""What the notify stages share: the notifier interface, delivery errors, the send record
and the stage interface.

A notification is one alert to one receiver. Stages take the alerts of one group flush
for one receiver and return those that go on; each stage does one thing (mute by
inhibitor, mute by silencer, dedup, retry, record-sent) so each is tested alone with a
table of cases, the clock and the fingerprint injected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import orjson

from alerting.routing import RouteMatch
from schemas.findings import Alert, AlertState

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]
Fingerprint = Callable[[Alert], str]


def alert_fingerprint(alert: Alert) -> str:
    """What makes a notification different from the last one sent for the same alert."""
    key = f"{alert.alert_id}|{alert.version}|{alert.state.value}|{alert.severity.value}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class DeliveryError(Exception):
    """A receiver did not accept a notification.

    ``retryable`` is False for requests the receiver will never accept (HTTP 400);
    ``retry_after`` is the receiver's own wait in seconds (HTTP 429 ``Retry-After``).
    Messages never contain tokens, routing keys or webhook URLs.
    """

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True, slots=True)
class SentEntry:
    """The last notification a receiver accepted for an alert, and the receiver's handle
    on it (Slack's channel and ``ts``, so a resolve updates the same message)."""

    receiver: str
    alert_id: str
    version: int
    state: AlertState
    fingerprint: str
    sent_at: datetime
    ref: dict[str, str] = field(default_factory=dict)
    named: tuple[str, ...] = ()
    """The other series the notification named ("also raised on"): a later one for the
    same alert names them too, so the list only grows while the incident lasts."""

    @property
    def key(self) -> str:
        return f"{self.receiver}/{self.alert_id}"

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "receiver": self.receiver,
                "alert_id": self.alert_id,
                "version": self.version,
                "state": self.state.value,
                "fingerprint": self.fingerprint,
                "sent_at": self.sent_at.isoformat(),
                "ref": self.ref,
                "named": list(self.named),
            }
        )

    @classmethod
    def from_json(cls, raw: bytes) -> SentEntry:
        """Raises ValueError naming the problem for anything but a written entry."""
        try:
            data: dict[str, Any] = orjson.loads(raw)
            return cls(
                receiver=str(data["receiver"]),
                alert_id=str(data["alert_id"]),
                version=int(data["version"]),
                state=AlertState(data["state"]),
                fingerprint=str(data["fingerprint"]),
                sent_at=datetime.fromisoformat(data["sent_at"]),
                ref={str(k): str(v) for k, v in data.get("ref", {}).items()},
                named=tuple(str(n) for n in data.get("named", ())),
            )
        except KeyError as exc:
            raise ValueError(f"send record entry: missing field {exc}") from None
        except (TypeError, AttributeError) as exc:
            raise ValueError(f"send record entry: {exc}") from None


class SendRecord(Protocol):
    """Which notifications were accepted; ``put`` returns once the entry is durable."""

    def get(self, receiver: str, alert_id: str) -> SentEntry | None: ...

    async def put(self, entry: SentEntry) -> None: ...


def heard_firing(record: SendRecord, receiver: str, alert_id: str) -> SentEntry | None:
    """The receiver's last notification of the alert, when that said it fires."""
    sent = record.get(receiver, alert_id)
    return sent if sent is not None and sent.state is AlertState.FIRING else None


class MemorySendRecord:
    """A send record in memory (tests, and the cache in front of a durable one)."""

    def __init__(self) -> None:
        self.entries: dict[str, SentEntry] = {}

    def get(self, receiver: str, alert_id: str) -> SentEntry | None:
        return self.entries.get(f"{receiver}/{alert_id}")

    def load(self, entry: SentEntry) -> None:
        self.entries[entry.key] = entry

    async def put(self, entry: SentEntry) -> None:
        self.load(entry)


class Notifier(Protocol):
    """Sends one alert to one receiver; returns the receiver's handle on the message.

    Raises ``DeliveryError`` when the receiver did not accept it.
    """

    async def notify(self, alert: Alert, previous: SentEntry | None) -> dict[str, str]: ...

    async def aclose(self) -> None: ...


@dataclass(slots=True)
class Delivery:
    """One group flush to one receiver, as it passes the stages."""

    receiver: str
    route: RouteMatch
    group_key: str
    now: datetime
    receipts: dict[str, dict[str, str]] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    """alert_id to why it went no further (muted, duplicate, rejected)."""
    named: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """alert_id to the other series its notification names (``SentEntry.named``)."""
    held: set[str] = field(default_factory=set)
    """Resolved alerts whose resolve waits: they stay in their group for the next flush."""


class Stage(Protocol):
    """One step of the notify pipeline: the alerts that go on to the next stage."""

    async def __call__(self, delivery: Delivery, alerts: list[Alert]) -> list[Alert]: ...


class Pipeline:
    """Stages run in order; an empty list stops the flush early."""

    def __init__(self, stages: list[Stage]) -> None:
        self.stages = stages

    async def __call__(self, delivery: Delivery, alerts: list[Alert]) -> list[Alert]:
        for stage in self.stages:
            if not alerts:
                break
            alerts = await stage(delivery, alerts)
        return alerts
