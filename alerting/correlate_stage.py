"""Correlate: an explained alert is not sent; the alert explaining it names it.

A firing alert that a firing alert of the same detector on a narrower series explains
(see ``alerting.correlation``) is dropped as ``explained by <id>``; an explaining alert
goes on as a copy that names the series it explains, in its summary ("also raised on
team=search, org=all") and in the ``also_raised_on`` label, so one incident is one
notification. Resolved alerts pass unchanged, so whoever heard a firing hears its end.
When the explaining alert resolves, the dispatcher flushes the groups of the alerts it
explained a ``group_wait`` later; this stage then finds those still firing unexplained,
and they are sent on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from alerting.correlation import ALSO_RAISED_ON, Correlator
from alerting.delivery import Delivery
from schemas.findings import Alert, AlertState

MAX_NAMED = 20
"""Series named in one notification; the rest are counted."""


class CorrelateStage:
    def __init__(self, correlator: Correlator, firing: Callable[[], Iterable[Alert]]) -> None:
        self.correlator = correlator
        self._firing = firing

    async def __call__(self, delivery: Delivery, alerts: list[Alert]) -> list[Alert]:
        if not self.correlator.config.enabled:
            return alerts
        firing = [a for a in self._firing() if a.state is AlertState.FIRING]
        kept = []
        for alert in alerts:
            root = self.correlator.root(alert, firing)
            if root is not None:
                delivery.dropped[alert.alert_id] = f"explained by {root.alert_id}"
                continue
            if alert.state is AlertState.FIRING:
                kept.append(named(alert, self.correlator.explained_by(alert, firing)))
            else:
                kept.append(alert)
        return kept


def named(alert: Alert, explained: list[Alert]) -> Alert:
    """A copy of ``alert`` that names the series of ``explained`` (itself when none)."""
    series = list(dict.fromkeys(a.scope.name for a in explained))
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
