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
are dropped as ``explained by <id>``. Resolved alerts pass unchanged, so whoever heard a
firing hears its end. When a member resolves, the dispatcher flushes the groups of the
others a ``group_wait`` later; whatever then fires unrepresented is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from alerting.correlation import ALSO_RAISED_ON, URGENCY, Correlator, breadth
from alerting.delivery import Delivery, SendRecord
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
    ) -> None:
        self.correlator = correlator
        self._firing = firing
        self.record = record
        self.receivers = receivers

    async def __call__(self, delivery: Delivery, alerts: list[Alert]) -> list[Alert]:
        if not self.correlator.config.enabled:
            return alerts
        incidents = self.correlator.incidents(self._firing())
        kept = []
        for alert in alerts:
            if alert.state is not AlertState.FIRING:
                kept.append(alert)
                continue
            members = incidents.members(incidents.root(alert))
            chosen = self.representative(delivery.receiver, members)
            if chosen.alert_id == alert.alert_id:
                kept.append(named(alert, [m for m in members if m.alert_id != alert.alert_id]))
            else:
                delivery.dropped[alert.alert_id] = f"explained by {chosen.alert_id}"
        return kept

    def representative(self, receiver: str, members: list[Alert]) -> Alert:
        """The member that stands for the incident at ``receiver`` (the module's rules);
        ``members[0]`` is the root."""
        heard = []
        for member in members:
            sent = self.record.get(receiver, member.alert_id)
            if sent is not None and sent.state is AlertState.FIRING:
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


def named(alert: Alert, others: list[Alert]) -> Alert:
    """A copy of ``alert`` that names the series of ``others`` (itself when none): the
    broader ones first (the org, the model), then the narrower (a team's keys)."""
    ordered = sorted(others, key=lambda a: (breadth(a) < breadth(alert), breadth(a), a.scope.name))
    series = list(
        dict.fromkeys(
            a.scope.name if a.detector == alert.detector else f"{a.scope.name} ({a.detector})"
            for a in ordered
        )
    )
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
