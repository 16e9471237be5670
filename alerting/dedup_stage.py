"""Dedup against the send record: notify on a change, on a due reminder, never twice.

Per (receiver, alert): send when nothing was sent yet for a firing alert, when the
alert's fingerprint differs from the last one accepted (a new version, severity or
state), or, while still firing unchanged, once ``repeat_interval`` has passed since the
last send. A resolve for an alert this receiver never heard firing is not sent, and an
older version than the one sent (a replay) never is.
"""

from __future__ import annotations

from alerting.delivery import Clock, Delivery, Fingerprint, SendRecord, alert_fingerprint
from schemas.findings import Alert, AlertState


class DedupStage:
    def __init__(
        self, record: SendRecord, clock: Clock, fingerprint: Fingerprint = alert_fingerprint
    ) -> None:
        self.record = record
        self.clock = clock
        self.fingerprint = fingerprint

    async def __call__(self, delivery: Delivery, alerts: list[Alert]) -> list[Alert]:
        now = self.clock()
        kept = []
        for alert in alerts:
            sent = self.record.get(delivery.receiver, alert.alert_id)
            firing = alert.state is AlertState.FIRING
            if sent is None:
                send = firing
            elif alert.version < sent.version:
                send = False
            elif sent.fingerprint != self.fingerprint(alert):
                send = firing or sent.state is AlertState.FIRING
            else:
                send = firing and now - sent.sent_at >= delivery.route.repeat_interval
            if send:
                kept.append(alert)
            else:
                delivery.dropped[alert.alert_id] = "already notified"
        return kept
