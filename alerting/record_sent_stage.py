"""Record-sent: write the send record for every alert the receiver accepted.

Runs last, so an entry exists only after the receiver said yes; ``put`` returns once
the entry is durable, and only then may the outbox offset be committed.
"""

from __future__ import annotations

from alerting.delivery import (
    Clock,
    Delivery,
    Fingerprint,
    SendRecord,
    SentEntry,
    alert_fingerprint,
)
from schemas.findings import Alert


class RecordSentStage:
    def __init__(
        self, record: SendRecord, clock: Clock, fingerprint: Fingerprint = alert_fingerprint
    ) -> None:
        self.record = record
        self.clock = clock
        self.fingerprint = fingerprint

    async def __call__(self, delivery: Delivery, alerts: list[Alert]) -> list[Alert]:
        for alert in alerts:
            receipt = delivery.receipts.get(alert.alert_id)
            if receipt is None:
                continue
            await self.record.put(
                SentEntry(
                    receiver=delivery.receiver,
                    alert_id=alert.alert_id,
                    version=alert.version,
                    state=alert.state,
                    fingerprint=self.fingerprint(alert),
                    sent_at=self.clock(),
                    ref=receipt,
                    named=delivery.named.get(alert.alert_id, ()),
                )
            )
        return alerts
