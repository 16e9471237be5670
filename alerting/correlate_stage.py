"""Correlate: one notification per incident and receiver, naming the series it covers.

An incident is a root alert and the firing alerts it explains or contains (see
``alerting.correlation``). At each receiver one member *represents* it:

1. a member this receiver already heard firing and that still fires (the earliest),
   so an incident that has paged keeps its one page when its root changes;
2. else the root, when its route reaches this receiver;
3. else the most urgent member whose route reaches it (a broad ``error`` alert whose
   ``warning`` root goes to Slack only still pages), then the narrowest, then by id.

The representative goes on as a copy naming the other members, in its summary ("also
raised on team=search, org=all") and in the ``also_raised_on`` label; the other members
are dropped as ``explained by <id>``.

An incident is over when its last member resolves, not its first: the series of one
incident live on different partitions and close their minutes at different times, so a
key's alert may resolve while its team's still fires. A resolved alert this receiver
last heard firing (an *ended* alert, kept by the dispatcher) still stands for the
members that fire: its resolve is held (kept in its group, which flushes every
``group_interval`` while it holds one) and they stay explained by it, so the incident
neither pages again nor looks over. What goes on instead is the page as the receiver
heard it (firing, at the version it heard), naming the alerts it stands for: the dedup
stage sends it only when that changes (a series of the incident that fires late, on a
slower partition, is named on the open page) or a reminder is due. When the last of
them resolves (the dispatcher flushes the ended alert's groups a ``group_wait`` later),
or none is left for it to stand for (an escalation after it ended, a live explainer),
its resolve goes out. Any other resolved alert passes unchanged, so whoever heard a firing hears its
end; a member that nothing heard-firing stands for at a receiver is sent on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from alerting.correlation import ALSO_RAISED_ON, URGENCY, Correlator, Incidents, breadth
from alerting.delivery import Delivery, SendRecord, heard_firing
from schemas.findings import Alert, AlertState

MAX_NAMED = 20
"""Series named in one notification; the rest are counted."""

Receivers = Callable[[Alert], set[str]]
"""The receivers an alert's routes reach."""


class CorrelateStage:
    def __init__(
        self,
        correlator: Correlator,
        firing: Callable[[], Iterable[Alert]],
        record: SendRecord,
        receivers: Receivers,
        ended: Callable[[], Iterable[Alert]] = tuple,
    ) -> None:
        self.correlator = correlator
        self._firing = firing
        self._ended = ended
        self.record = record
        self.receivers = receivers

    async def __call__(self, delivery: Delivery, alerts: list[Alert]) -> list[Alert]:
        if not self.correlator.config.enabled:
            return alerts
        firing = list(self._firing())
        standing: dict[str, Alert] = {}
        for gone in self._ended():
            sent = heard_firing(self.record, delivery.receiver, gone.alert_id)
            if sent is not None:
                standing[gone.alert_id] = as_open(gone, sent.version)
        incidents = self.correlator.incidents([*firing, *standing.values()])
        live = {a.alert_id for a in firing}
        kept = []
        for alert in alerts:
            if alert.state is not AlertState.FIRING:
                ended = standing.get(alert.alert_id)
                others = self.stands_for(delivery.receiver, incidents, ended, live)
                if others is None:
                    kept.append(alert)
                else:  # the page stays open, naming the alerts it stands for
                    delivery.held.add(alert.alert_id)
                    assert ended is not None
                    open_page = ended.model_copy(update={"resolved_at": None})
                    kept.append(self.named(delivery, open_page, others))
                continue
            members = incidents.members(incidents.root(alert))
            chosen = self.representative(delivery.receiver, members)
            if chosen.alert_id == alert.alert_id:
                others = [m for m in members if m.alert_id != alert.alert_id]
                kept.append(self.named(delivery, alert, others))
            else:
                delivery.dropped[alert.alert_id] = f"explained by {chosen.alert_id}"
        return kept

    def named(self, delivery: Delivery, alert: Alert, others: list[Alert]) -> Alert:
        """``alert`` naming ``others`` after what this receiver's last notification of it
        named while it fired (a member that has resolved since stays named)."""
        sent = heard_firing(self.record, delivery.receiver, alert.alert_id)
        before = sent.named if sent is not None else ()
        series = list(dict.fromkeys([*before, *series_of(alert, others)]))
        if series:
            delivery.named[alert.alert_id] = tuple(series)
        return named(alert, series)

    def stands_for(
        self, receiver: str, incidents: Incidents, ended: Alert | None, live: set[str]
    ) -> list[Alert] | None:
        """The other alerts of the incident ``ended`` (resolved, open here) still stands
        for, or None when none of them fires."""
        if ended is None:
            return None
        members = incidents.members(incidents.root(ended))
        if self.representative(receiver, members).alert_id != ended.alert_id:
            return None
        if not any(m.alert_id in live for m in members):
            return None
        return [m for m in members if m.alert_id != ended.alert_id]

    def representative(self, receiver: str, members: list[Alert]) -> Alert:
        """The member that stands for the incident at ``receiver`` (the module's rules);
        ``members[0]`` is the root."""
        heard = []
        for member in members:
            sent = heard_firing(self.record, receiver, member.alert_id)
            if sent is not None:
                heard.append((sent.sent_at, member.alert_id, member))
        if heard:
            return min(heard, key=lambda h: (h[0], h[1]))[2]
        root = members[0]
        if receiver in self.receivers(root):
            return root
        reaching = [m for m in members if receiver in self.receivers(m)]
        if not reaching:
            return root
        return min(reaching, key=lambda m: (URGENCY[m.severity], breadth(m), m.alert_id))


def as_open(alert: Alert, version: int | None = None) -> Alert:
    """An ended alert as a receiver that heard it firing still sees it: firing (at the
    ``version`` it heard), its ``resolved_at`` kept for correlation."""
    update: dict[str, object] = {"state": AlertState.FIRING}
    if version is not None:
        update["version"] = version
    return alert.model_copy(update=update)


def series_of(alert: Alert, others: list[Alert]) -> list[str]:
    """The series of ``others`` as ``alert``'s notification names them: the broader ones
    first (the org, the model), then the narrower (a team's keys); another detector's
    in brackets."""
    ordered = sorted(others, key=lambda a: (breadth(a) < breadth(alert), breadth(a), a.scope.name))
    return list(
        dict.fromkeys(
            a.scope.name if a.detector == alert.detector else f"{a.scope.name} ({a.detector})"
            for a in ordered
        )
    )


def named(alert: Alert, series: list[str]) -> Alert:
    """A copy of ``alert`` that names ``series`` (itself when none)."""
    if not series:
        return alert
    text = ", ".join(series[:MAX_NAMED])
    if len(series) > MAX_NAMED:
        text += f" and {len(series) - MAX_NAMED} more"
    return alert.model_copy(
        update={
            "summary": f"{alert.summary}; also raised on {text}",
            "labels": {**alert.labels, ALSO_RAISED_ON: text},
        }
    )
