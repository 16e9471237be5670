"""Mute by silencer: active silences mute matching firing alerts.

Silences come from config and from ``spendwatch silence add``; the book is updated while
the notifier runs. Expiry is by time (``ends_at``), so an expired silence simply stops
matching. Resolved alerts pass, so a resolve still reaches whoever heard the firing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from alerting.config import SilenceConfig
from alerting.delivery import Clock, Delivery
from alerting.matchers import alert_labels
from schemas.findings import Alert, AlertState


class SilenceBook:
    """The silences known now, by id; a later version of a silence replaces the earlier."""

    def __init__(self, silences: Iterable[SilenceConfig] = ()) -> None:
        self._by_id = {s.id: s for s in silences}

    def upsert(self, silence: SilenceConfig) -> None:
        self._by_id[silence.id] = silence

    def expire(self, silence_id: str, now: datetime) -> SilenceConfig:
        """End a silence now; raises KeyError for an unknown id."""
        current = self._by_id[silence_id]
        ended = current.model_copy(update={"ends_at": max(now, current.starts_at)})
        self._by_id[silence_id] = ended
        return ended

    def all(self) -> list[SilenceConfig]:
        return sorted(self._by_id.values(), key=lambda s: (s.starts_at, s.id))

    def active(self, now: datetime) -> list[SilenceConfig]:
        return [s for s in self.all() if s.active(now)]

    def muting(self, alert: Alert, now: datetime) -> SilenceConfig | None:
        labels = alert_labels(alert)
        return next((s for s in self._by_id.values() if s.mutes(labels, now)), None)


class SilenceStage:
    """Drops firing alerts an active silence matches."""

    def __init__(self, book: SilenceBook, clock: Clock) -> None:
        self.book = book
        self.clock = clock

    async def __call__(self, delivery: Delivery, alerts: list[Alert]) -> list[Alert]:
        now = self.clock()
        kept = []
        for alert in alerts:
            silence = self.book.muting(alert, now) if alert.state is AlertState.FIRING else None
            if silence is None:
                kept.append(alert)
            else:
                delivery.dropped[alert.alert_id] = f"silenced by {silence.id}"
        return kept
