"""Retry: hand each alert to the notifier until the receiver accepts it.

HTTP 429 waits the receiver's ``Retry-After``; 5xx, connection errors and timeouts back
off exponentially (capped); a request the receiver rejects for good (HTTP 400) is not
retried: it is dropped with the reason. With no ``give_up_after`` an outage of any
length delays but never loses a notification. Accepted alerts get a receipt in the
delivery (the receiver's handle on the message).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from alerting.delivery import Clock, Delivery, DeliveryError, Notifier, SendRecord, Sleep
from schemas.findings import Alert

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits between attempts: ``first`` seconds, times ``factor`` each time, at most ``cap``."""

    first: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    give_up_after: float | None = None
    """Seconds after which a still-failing notification is dropped (None: never)."""

    def wait(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        if retry_after is not None:
            return max(0.0, retry_after)
        return float(min(self.cap, self.first * self.factor ** (attempt - 1)))


DEFAULT_BACKOFF = Backoff()


class RetryStage:
    def __init__(
        self,
        notifier: Notifier,
        record: SendRecord,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
        backoff: Backoff = DEFAULT_BACKOFF,
    ) -> None:
        self.notifier = notifier
        self.record = record
        self.clock = clock
        self.sleep = sleep
        self.backoff = backoff

    async def __call__(self, delivery: Delivery, alerts: list[Alert]) -> list[Alert]:
        accepted = []
        for alert in alerts:
            receipt = await self._deliver(delivery, alert)
            if receipt is not None:
                delivery.receipts[alert.alert_id] = receipt
                accepted.append(alert)
        return accepted

    async def _deliver(self, delivery: Delivery, alert: Alert) -> dict[str, str] | None:
        previous = self.record.get(delivery.receiver, alert.alert_id)
        started = self.clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self.notifier.notify(alert, previous)
            except DeliveryError as exc:
                if not exc.retryable:
                    log.error(
                        "receiver %s rejected alert %s: %s",
                        delivery.receiver,
                        alert.alert_id,
                        exc.reason,
                    )
                    delivery.dropped[alert.alert_id] = f"rejected: {exc.reason}"
                    return None
                elapsed = (self.clock() - started).total_seconds()
                limit = self.backoff.give_up_after
                if limit is not None and elapsed >= limit:
                    log.error(
                        "receiver %s: gave up on alert %s after %d attempts: %s",
                        delivery.receiver,
                        alert.alert_id,
                        attempt,
                        exc.reason,
                    )
                    delivery.dropped[alert.alert_id] = f"gave up: {exc.reason}"
                    return None
                wait = self.backoff.wait(attempt, exc.retry_after)
                log.warning(
                    "receiver %s: alert %s attempt %d failed (%s); retrying in %.1fs",
                    delivery.receiver,
                    alert.alert_id,
                    attempt,
                    exc.reason,
                    wait,
                )
                await self.sleep(wait)
