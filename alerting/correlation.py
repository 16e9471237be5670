"""Correlation: which firing alert explains another, so one incident pages once.

A runaway key raises alerts of the same detector family (``spend_spike``,
``static_threshold``, ``spend_creep``, ``unit_cost_drift`` by default) on every series
it dominates: its app, its team, ``org=all``, its model, provider, environment and
feature. An alert B is *explained* by a firing alert A when both detectors are of one
family (``CorrelationConfig.families``) and either

- A's series is *narrower* than B's: ``api_key_id`` < ``app`` < ``team`` < ``org``; the
  cross-cutting dimensions (``feature``, ``model``, ``provider``, ``environment``) are
  explained by any ``api_key_id``, ``app`` or ``team`` alert and explain nothing; and
  A's series accounts for at least ``min_share`` of B's spend, read from B's own
  contributors (``cost_nanos / spend_nanos`` of the bucket B was last measured on); or
- A is on the same series, by a detector listed before B's in the family (a spike
  explains the unit-cost drift of the calls that make it).

Explanations chain (a team explained by an app explained by a key). The other way
round, an alert that nothing explains and that is a minor part (under ``min_share``) of
a broader firing alert of its family on its app, team or ``org``, no more urgent and
itself unexplained, is *contained* in it: ten keys of a team-wide spike page once, on
the team. The *root* of B is the end of its chain, the alert that is sent and names B
("also raised on team=search").
Nothing here keeps state: the answer depends only on the firing alerts, which the
notifier rebuilds from the outbox at start, so restarts agree with the run before.
An alert without a firing explainer (a team-wide spike spread over many keys) is never
explained, so no incident is lost.

>>> from datetime import UTC, datetime
>>> from schemas.findings import Alert, Contributor, Scope
>>> now = datetime(2026, 1, 1, tzinfo=UTC)
>>> def alert(scope, spend=0, **costs):
...     return Alert(alert_id=scope, detector="spend_spike", scope=Scope.parse(scope),
...         severity="error", state="firing", fired_at=now, updated_at=now, measure="usd",
...         observed=9.0, expected=1.0, impact_nanos=8, summary="s", spend_nanos=spend,
...         contributors=tuple(Contributor(series=s, cost_nanos=c) for s, c in costs.items()))
>>> key, team = alert("api_key_id=k-1"), alert("team=search", 100, **{"api_key_id=k-1": 90})
>>> Correlator().root(team, [key, team]).alert_id
'api_key_id=k-1'
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from alerting.config import CorrelationConfig
from alerting.delivery import alert_fingerprint
from schemas.findings import Alert, AlertState, Severity

NARROWNESS = {"api_key_id": 0, "app": 1, "team": 2, "org": 3}
"""Owner dimensions, narrowest first: each is explained by any narrower one."""
CROSS_CUTTING = frozenset({"feature", "model", "provider", "environment"})
CROSS_EXPLAINERS = frozenset({"api_key_id", "app", "team"})
URGENCY = {s: i for i, s in enumerate(Severity)}
ALSO_RAISED_ON = "also_raised_on"
"""The label naming the series an alert explains, on the copy that is sent."""


def can_explain(narrow: str, broad: str) -> bool:
    """Whether an alert on dimension ``narrow`` may explain one on ``broad``.

    >>> can_explain("api_key_id", "org"), can_explain("team", "app")
    (True, False)
    >>> can_explain("app", "model"), can_explain("model", "org")
    (True, False)
    """
    if broad in CROSS_CUTTING:
        return narrow in CROSS_EXPLAINERS
    if narrow in NARROWNESS and broad in NARROWNESS:
        return NARROWNESS[narrow] < NARROWNESS[broad]
    return False


def correlated_fingerprint(alert: Alert) -> str:
    """The send fingerprint: ``alert_fingerprint`` plus the series the alert explains,
    so naming a newly explained series updates the notification already sent."""
    also = alert.labels.get(ALSO_RAISED_ON)
    if not also:
        return alert_fingerprint(alert)
    key = f"{alert_fingerprint(alert)}|{also}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class Correlator:
    """Answers, for a set of firing alerts, which explains which (see the module doc)."""

    def __init__(self, config: CorrelationConfig | None = None) -> None:
        self.config = config or CorrelationConfig()

    def share(self, narrow: Alert, broad: Alert) -> float:
        """The share of ``broad``'s spend that ``narrow``'s series accounts for (0 unknown)."""
        if narrow.scope == broad.scope:
            return 1.0
        if broad.spend_nanos <= 0:
            return 0.0
        cost = next((c.cost_nanos for c in broad.contributors if c.series == narrow.scope.name), 0)
        return cost / broad.spend_nanos

    def _rank(self, other: Alert, alert: Alert) -> tuple[int, int, float, str] | None:
        """How well ``other`` explains ``alert`` (lower is better), or None if it does not."""
        if other.alert_id == alert.alert_id or other.state is not AlertState.FIRING:
            return None
        family, place = self.config.family(other.detector)
        alert_family, alert_place = self.config.family(alert.detector)
        if family != alert_family:
            return None
        if other.scope == alert.scope:
            if place >= alert_place:
                return None
        elif not can_explain(other.scope.dimension, alert.scope.dimension):
            return None
        share = self.share(other, alert)
        if share < self.config.min_share:
            return None
        return (breadth(other), place, -share, other.alert_id)

    def explainer(self, alert: Alert, firing: Iterable[Alert]) -> Alert | None:
        """The firing alert that directly explains ``alert``: the narrowest, then the
        earliest detector of the family, then the largest share, then the lowest id."""
        if not self.config.enabled or alert.state is not AlertState.FIRING:
            return None
        best: tuple[int, int, float, str] | None = None
        found: Alert | None = None
        for other in firing:
            rank = self._rank(other, alert)
            if rank is not None and (best is None or rank < best):
                best, found = rank, other
        return found

    def container(self, alert: Alert, firing: Sequence[Alert]) -> Alert | None:
        """The firing broader alert ``alert`` is a minor part of, when nothing explains
        either: the narrowest of the same family on the ``app``, ``team`` (by the alert's
        own labels) or ``org`` it belongs to, at least as urgent, that it does not explain.
        A team-wide spike thus pages once on the team, naming its keys."""
        if not self.config.enabled or alert.state is not AlertState.FIRING:
            return None
        if alert.scope.dimension not in NARROWNESS or self.explainer(alert, firing):
            return None
        family = self.config.family(alert.detector)[0]
        best: tuple[int, str] | None = None
        found: Alert | None = None
        for other in firing:
            broad = other.scope
            if (
                other.state is not AlertState.FIRING
                or broad.dimension not in NARROWNESS
                or NARROWNESS[broad.dimension] <= NARROWNESS[alert.scope.dimension]
                or self.config.family(other.detector)[0] != family
                or URGENCY[other.severity] > URGENCY[alert.severity]
                or (broad.dimension != "org" and alert.labels.get(broad.dimension) != broad.value)
                or self.share(alert, other) >= self.config.min_share
                or self.explainer(other, firing) is not None
            ):
                continue
            rank = (NARROWNESS[broad.dimension], other.alert_id)
            if best is None or rank < best:
                best, found = rank, other
        return found

    def root(self, alert: Alert, firing: Sequence[Alert]) -> Alert | None:
        """The alert sent for ``alert``'s incident, or None when that is ``alert`` itself.

        The chain follows explainers (each narrower, or an earlier detector on the same
        series) and then containers (each broader, never explained), so it cannot loop;
        the seen set guards it all the same."""
        current: Alert | None = alert
        seen: set[str] = set()
        while current is not None and current.alert_id not in seen:
            seen.add(current.alert_id)
            nxt = self.explainer(current, firing) or self.container(current, firing)
            if nxt is None:
                break
            current = nxt
        if current is None or current.alert_id == alert.alert_id:
            return None
        return current

    def explained_by(self, alert: Alert, firing: Sequence[Alert]) -> list[Alert]:
        """The firing alerts whose root is ``alert`` (what its notification names as
        "also raised on"), narrowest dimension first, then by series name."""
        if not self.config.enabled:
            return []
        found = []
        for other in firing:
            root = self.root(other, firing)
            if root is not None and root.alert_id == alert.alert_id:
                found.append(other)
        return sorted(found, key=lambda a: (breadth(a), a.scope.name))


def breadth(alert: Alert) -> int:
    """Owner dimensions by narrowness; the cross-cutting ones after them all."""
    return NARROWNESS.get(alert.scope.dimension, len(NARROWNESS))
