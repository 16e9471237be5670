"""The dispatcher: route each alert, group it, flush due groups through each receiver's
pipeline, and report which inputs are fully dealt with.

Every alert is submitted with a token (the outbox offset); a token is released once
every group it joined has been flushed through its pipeline (sent, muted, deduplicated
or rejected for good), so the caller commits only what can never be lost. Flushes of
different groups run concurrently: an outage of one receiver does not hold up another.
When an alert of an incident (see ``alerting.correlation``) resolves, the groups of the
incident's other alerts are flushed a ``group_wait`` later (not a ``group_interval``):
one that does not resolve with it may have to stand for it at a receiver that did not
hear it, and an *ended* alert (resolved, but last heard firing by some receiver) whose
resolve the correlate stage held while the incident's other alerts fired gets its resolve
out once they are over.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from datetime import datetime, timedelta

from alerting.correlate_stage import as_open
from alerting.correlation import Correlator
from alerting.delivery import Clock, Delivery, Pipeline, SendRecord, heard_firing
from alerting.group_stage import Flush, Grouper
from alerting.matchers import alert_labels
from alerting.routing import Router
from schemas.findings import Alert, AlertState

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        router: Router,
        pipelines: Mapping[str, Pipeline],
        clock: Clock,
        on_released: Callable[[Iterable[Hashable]], None],
        alerts: dict[str, Alert] | None = None,
        correlator: Correlator | None = None,
        record: SendRecord | None = None,
        ended: dict[str, Alert] | None = None,
    ) -> None:
        self.router = router
        self.pipelines = pipelines
        self.clock = clock
        self.on_released = on_released
        self.grouper = Grouper()
        self.alerts: dict[str, Alert] = {} if alerts is None else alerts
        """The latest version of every alert seen and still firing (inhibition sources);
        pass a dict to share it with an inhibitor built before the dispatcher."""
        self.correlator = correlator
        self.record = record
        self.ended: dict[str, Alert] = {} if ended is None else ended
        """Resolved alerts some receiver last heard firing (kept only with a ``record``):
        each may still stand for its incident there; pass a dict to share it with the
        correlate stage built before the dispatcher."""
        self._versions: dict[str, int] = {}
        self._pending: Counter[Hashable] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()

    def firing(self) -> list[Alert]:
        return list(self.alerts.values())

    def remember(self, alert: Alert) -> None:
        """Track the alert's latest version (firing ones are inhibition sources)."""
        if alert.version >= self._versions.get(alert.alert_id, 0):
            self._versions[alert.alert_id] = alert.version
            if alert.state is AlertState.FIRING:
                self.alerts[alert.alert_id] = alert
                self.ended.pop(alert.alert_id, None)
            else:
                self.alerts.pop(alert.alert_id, None)
                self._note_ended(alert)

    def _note_ended(self, alert: Alert) -> None:
        """Keep a resolved alert while a receiver's last word on it is still "firing"."""
        record = self.record
        heard = record is not None and any(
            heard_firing(record, receiver, alert.alert_id) for receiver in self.pipelines
        )
        if heard:
            self.ended[alert.alert_id] = alert
        else:
            self.ended.pop(alert.alert_id, None)

    def submit(self, alert: Alert, token: Hashable) -> None:
        """Route and group an alert; a token no route wants is released at once."""
        recheck = self._recheck(alert)
        self.remember(alert)
        labels = alert_labels(alert)
        matches = [m for m in self.router.match(labels) if m.receiver in self.pipelines]
        now = self.clock()
        if recheck:
            self._wake(recheck, now)
        for match in matches:
            self.grouper.add(match, labels, alert, token, now)
            self._pending[token] += 1
        if not matches:
            log.info("alert %s matches no route with a receiver", alert.alert_id)
            self.on_released([token])

    def _wake(self, alert_ids: set[str], now: datetime) -> None:
        """Re-check these alerts a ``group_wait`` from now; one known only from the outbox
        read at start (in no group yet) joins its groups first, without a token."""
        grouped = {i for group in self.grouper.groups.values() for i in group.alerts}
        for alert_id in sorted(alert_ids - grouped):
            alert = self.alerts.get(alert_id) or self.ended.get(alert_id)
            if alert is None:
                continue
            labels = alert_labels(alert)
            for match in self.router.match(labels):
                if match.receiver in self.pipelines:
                    self.grouper.add(match, labels, alert, None, now)
        self.grouper.wake(alert_ids, now)

    def _recheck(self, alert: Alert) -> set[str]:
        """Ids of alerts whose groups this version calls to be flushed again: when it ends
        its firing, the other alerts of its incident, firing or ended (one may have to
        stand for the incident now, or an ended one send its held resolve); when it
        changes while an ended alert stands for it, that alert (it may stand for it no
        longer: an escalation after it ended)."""
        current = self.alerts.get(alert.alert_id)
        firing = alert.state is AlertState.FIRING
        if (
            self.correlator is None
            or current is None
            or alert.version <= current.version
            or (firing and not self.ended)
        ):
            return set()
        standing = [as_open(a) for a in self.ended.values()]
        incidents = self.correlator.incidents([*self.alerts.values(), *standing])
        members = {a.alert_id for a in incidents.members(incidents.root(current))}
        return members & self.ended.keys() if firing else members - {alert.alert_id}

    def flush_due(self) -> int:
        """Start a task for every group due now; returns how many started."""
        flushes = self.grouper.due(self.clock())
        for flush in flushes:
            task = asyncio.create_task(self._flush(flush), name=f"flush {flush.key}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(flushes)

    async def _flush(self, flush: Flush) -> None:
        receiver = flush.route.receiver
        assert receiver is not None
        delivery = Delivery(receiver, flush.route, flush.key, self.clock())
        try:
            await self.pipelines[receiver](delivery, list(flush.alerts))
        except Exception:
            log.exception("flush of group %s to %s failed; will retry", flush.key, receiver)
            group = self.grouper.groups[flush.key]
            group.in_flight = False
            group.tokens[:0] = flush.tokens
            group.next_flush = self.clock() + timedelta(seconds=5)
            return
        for alert_id, why in delivery.dropped.items():
            log.debug("%s: alert %s not sent: %s", receiver, alert_id, why)
        for alert in flush.alerts:
            if alert.alert_id in self.ended and self.ended[alert.alert_id].version == alert.version:
                self._note_ended(alert)  # its resolve sent everywhere: no longer kept
        released = []
        for token in self.grouper.flushed(flush, self.clock(), delivery.held):
            self._pending[token] -= 1
            if self._pending[token] <= 0:
                del self._pending[token]
                released.append(token)
        if released:
            self.on_released(released)

    async def settle(self) -> None:
        """Wait for the flushes running now (their failures are already logged)."""
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def run(self, tick_s: float = 0.1) -> None:
        """Flush due groups until cancelled; running flushes are cancelled with it."""
        try:
            while True:
                self.flush_due()
                await asyncio.sleep(tick_s)
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
