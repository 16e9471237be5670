"""Mute by inhibitor: a firing source alert mutes firing targets that agree on ``equal``.

The example that matters: a budget page for a team mutes spike warnings for the same
team (``source_match: [detector=budget, severity=critical]``, ``target_match:
[detector=spike, severity=warning]``, ``equal: [team]``). An alert never inhibits itself,
and resolved alerts pass, so a resolve still reaches whoever heard the firing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from alerting.config import InhibitRuleConfig
from alerting.delivery import Delivery
from alerting.matchers import alert_labels, matches_all
from schemas.findings import Alert, AlertState


class Inhibitor:
    """Decides whether an alert is muted by any firing alert of ``firing()``."""

    def __init__(
        self, rules: Iterable[InhibitRuleConfig], firing: Callable[[], Iterable[Alert]]
    ) -> None:
        self.rules = tuple(rules)
        self._firing = firing

    def muted_by(self, target: Alert) -> str | None:
        """The id of an alert muting ``target``, or None."""
        if target.state is not AlertState.FIRING or not self.rules:
            return None
        labels = alert_labels(target)
        candidates = [r for r in self.rules if matches_all(r.target_match, labels)]
        if not candidates:
            return None
        for source in self._firing():
            if source.alert_id == target.alert_id or source.state is not AlertState.FIRING:
                continue
            source_labels = alert_labels(source)
            for rule in candidates:
                if matches_all(rule.source_match, source_labels) and all(
                    source_labels.get(name, "") == labels.get(name, "") for name in rule.equal
                ):
                    return source.alert_id
        return None


class InhibitStage:
    """Drops alerts an inhibitor mutes."""

    def __init__(self, inhibitor: Inhibitor) -> None:
        self.inhibitor = inhibitor

    async def __call__(self, delivery: Delivery, alerts: list[Alert]) -> list[Alert]:
        kept = []
        for alert in alerts:
            source = self.inhibitor.muted_by(alert)
            if source is None:
                kept.append(alert)
            else:
                delivery.dropped[alert.alert_id] = f"inhibited by {source}"
        return kept
