"""The group stage: when the alerts of a group are handed to their receiver.

Alertmanager's timing: a new group waits ``group_wait`` so alerts that fire together
go out together; after a flush, changes wait until ``group_interval`` has passed since
it; a group with firing alerts is flushed again every ``group_interval`` even when
nothing changed, and the dedup stage decides what goes out (a reminder once
``repeat_interval`` has passed, an alert whose silence or inhibition has just ended).
Resolved alerts leave the group once flushed, but for one whose resolve the pipeline
held back (an incident's page open while its other alerts fire): it stays, and its group
is flushed every ``group_interval`` as if it fired.
Each added alert carries an opaque token (a Kafka offset, say) that ``flushed`` hands
back, so the caller knows what has been fully dealt with.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alerting.routing import RouteMatch
from schemas.findings import Alert, AlertState

MIN_PERIOD = timedelta(seconds=1)
"""The shortest period of unchanged flushes (a ``group_interval`` of 0 would spin)."""


@dataclass(slots=True)
class Group:
    key: str
    route: RouteMatch
    alerts: dict[str, Alert] = field(default_factory=dict)
    tokens: list[Hashable] = field(default_factory=list)
    next_flush: datetime | None = None
    last_flush: datetime | None = None
    in_flight: bool = False
    held: set[str] = field(default_factory=set)
    """Resolved alerts the last flush held back (their resolve waits): flushed again."""


@dataclass(frozen=True, slots=True)
class Flush:
    """A snapshot of a group handed to the pipeline."""

    key: str
    route: RouteMatch
    alerts: tuple[Alert, ...]
    tokens: tuple[Hashable, ...]


class Grouper:
    def __init__(self) -> None:
        self.groups: dict[str, Group] = {}

    def add(
        self,
        route: RouteMatch,
        labels: Mapping[str, str],
        alert: Alert,
        token: Hashable | None,
        now: datetime,
    ) -> str:
        """Put an alert (its latest version wins) in its group; returns the group key.
        ``token`` None adds no token (an alert re-checked, not a new input)."""
        key = route.group_key(labels)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group(key, route, next_flush=now + route.group_wait)
        current = group.alerts.get(alert.alert_id)
        if current is None or alert.version >= current.version:
            group.alerts[alert.alert_id] = alert
        if token is not None:
            group.tokens.append(token)
        if group.next_flush is None:
            since = group.last_flush or now
            group.next_flush = max(now, since + route.group_interval)
        return key

    def wake(self, alert_ids: set[str], now: datetime) -> None:
        """Flush the groups holding any of ``alert_ids`` a ``group_wait`` from now, as if
        they were new: their explainer resolved, and an alert still firing then (not
        resolving with it) goes out on its own."""
        for group in self.groups.values():
            if alert_ids.intersection(group.alerts):
                due = now + group.route.group_wait
                group.next_flush = due if group.next_flush is None else min(group.next_flush, due)

    def due(self, now: datetime) -> list[Flush]:
        """Groups to flush now; each is marked in flight until ``flushed``."""
        ready = []
        for group in self.groups.values():
            if group.in_flight:
                continue
            changed = group.next_flush is not None and group.next_flush <= now
            periodic = (
                group.next_flush is None
                and group.last_flush is not None
                and now >= group.last_flush + max(group.route.group_interval, MIN_PERIOD)
                and (
                    bool(group.held)
                    or any(a.state is AlertState.FIRING for a in group.alerts.values())
                )
            )
            if changed or periodic:
                group.in_flight = True
                ready.append(
                    Flush(group.key, group.route, tuple(group.alerts.values()), tuple(group.tokens))
                )
                group.tokens = []
                group.next_flush = None
        return ready

    def flushed(
        self, flush: Flush, now: datetime, held: Set[str] = frozenset()
    ) -> tuple[Hashable, ...]:
        """Mark a flush done; resolved alerts it carried leave the group, but for those the
        pipeline ``held`` (flushed again every ``group_interval``). Returns its tokens."""
        group = self.groups[flush.key]
        group.in_flight = False
        group.last_flush = now
        group.held = set(held)
        for alert in flush.alerts:
            if alert.alert_id in held:
                continue
            if alert.state is AlertState.RESOLVED and group.alerts.get(alert.alert_id) == alert:
                del group.alerts[alert.alert_id]
        if not group.alerts and not group.tokens:
            del self.groups[flush.key]
        return flush.tokens
