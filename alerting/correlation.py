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
  contributors (``cost_nanos / spend_nanos`` of the buckets B was last measured on); or
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
explained, so no incident is lost. A resolved alert a receiver still holds open for its
incident (``alerting.correlate_stage``) comes in as firing with its ``resolved_at`` set:
it is the root of its own incident (neither explained nor contained), comes after any
live explainer, and explains or contains only alerts last updated before it resolved.

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
from collections.abc import Iterable

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

    def rank(self, other: Alert, alert: Alert) -> tuple[bool, int, int, float, str] | None:
        """How well ``other`` explains ``alert`` (lower is better), or None if it does not."""
        if (
            other.alert_id == alert.alert_id
            or other.state is not AlertState.FIRING
            or not overlaps(other, alert)
        ):
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
        return (other.resolved_at is not None, breadth(other), place, -share, other.alert_id)

    def incidents(self, firing: Iterable[Alert]) -> Incidents:
        """The incidents of a set of firing alerts (build once per decision)."""
        return Incidents(self, firing)

    def explainer(self, alert: Alert, firing: Iterable[Alert]) -> Alert | None:
        """The firing alert that directly explains ``alert``: a live one before an ended
        one held open, then the narrowest, then the earliest detector of the family, then
        the largest share, then the lowest id."""
        return self.incidents(firing).explainer(alert)

    def root(self, alert: Alert, firing: Iterable[Alert]) -> Alert | None:
        """The alert sent for ``alert``'s incident, or None when that is ``alert`` itself."""
        root = self.incidents(firing).root(alert)
        return None if root.alert_id == alert.alert_id else root

    def explained_by(self, alert: Alert, firing: Iterable[Alert]) -> list[Alert]:
        """The other firing alerts of the incident ``alert`` is the root of."""
        return self.incidents(firing).members(alert)[1:]


class Incidents:
    """A set of firing alerts indexed by series, each alert's explainer and root worked
    out once: an explainer is among the series an alert names as contributors, a
    container among the app, team and ``org`` it belongs to, so a decision costs about
    the size of the set, not its square."""

    def __init__(self, correlator: Correlator, firing: Iterable[Alert]) -> None:
        self.correlator = correlator
        self.config = correlator.config
        self.firing = [a for a in firing if a.state is AlertState.FIRING]
        self.by_series: dict[str, list[Alert]] = {}
        for alert in self.firing:
            self.by_series.setdefault(alert.scope.name, []).append(alert)
        self._explainers: dict[str, Alert | None] = {}
        self._roots: dict[str, Alert] = {}
        self._members: dict[str, list[Alert]] | None = None

    def explainer(self, alert: Alert) -> Alert | None:
        """See ``Correlator.explainer``."""
        if (
            not self.config.enabled
            or alert.state is not AlertState.FIRING
            or alert.resolved_at is not None  # ended, held open: the root of its incident
        ):
            return None
        if alert.alert_id in self._explainers:
            return self._explainers[alert.alert_id]
        candidates = [*self.by_series.get(alert.scope.name, ())]
        for contributor in alert.contributors:
            candidates.extend(self.by_series.get(contributor.series, ()))
        best: tuple[bool, int, int, float, str] | None = None
        found: Alert | None = None
        for other in candidates:
            rank = self.correlator.rank(other, alert)
            if rank is not None and (best is None or rank < best):
                best, found = rank, other
        self._explainers[alert.alert_id] = found
        return found

    def container(self, alert: Alert) -> Alert | None:
        """The firing broader alert ``alert`` is a minor part of, when nothing explains
        either: the narrowest of the same family on the ``app``, ``team`` (by the alert's
        own labels) or ``org`` it belongs to, at least as urgent, that it does not explain.
        A team-wide spike thus pages once on the team, naming its keys."""
        if (
            not self.config.enabled
            or alert.state is not AlertState.FIRING
            or alert.resolved_at is not None
        ):
            return None
        if alert.scope.dimension not in NARROWNESS or self.explainer(alert) is not None:
            return None
        family = self.config.family(alert.detector)[0]
        series = [f"{d}={alert.labels[d]}" for d in ("app", "team") if d in alert.labels]
        best: tuple[int, str] | None = None
        found: Alert | None = None
        for name in (*series, "org=all"):
            for other in self.by_series.get(name, ()):
                if (
                    NARROWNESS[other.scope.dimension] <= NARROWNESS[alert.scope.dimension]
                    or self.config.family(other.detector)[0] != family
                    or URGENCY[other.severity] > URGENCY[alert.severity]
                    or self.correlator.share(alert, other) >= self.config.min_share
                    or self.explainer(other) is not None
                    or not overlaps(other, alert)
                ):
                    continue
                rank = (NARROWNESS[other.scope.dimension], other.alert_id)
                if best is None or rank < best:
                    best, found = rank, other
        return found

    def root(self, alert: Alert) -> Alert:
        """The alert sent for ``alert``'s incident (``alert`` itself when a root).

        The chain follows explainers (each narrower, or an earlier detector on the same
        series) and then containers (each broader, never explained), so it cannot loop;
        the seen set guards it all the same."""
        known = self._roots.get(alert.alert_id)
        if known is not None:
            return known
        current = alert
        seen: set[str] = set()
        while current.alert_id not in seen:
            seen.add(current.alert_id)
            nxt = self.explainer(current) or self.container(current)
            if nxt is None:
                break
            current = nxt
        self._roots[alert.alert_id] = current
        return current

    def members(self, root: Alert) -> list[Alert]:
        """``root`` first, then the firing alerts whose root it is, narrowest first."""
        if self._members is None:
            self._members = {}
            for alert in self.firing:
                self._members.setdefault(self.root(alert).alert_id, []).append(alert)
        others = [a for a in self._members.get(root.alert_id, ()) if a.alert_id != root.alert_id]
        return [root, *sorted(others, key=lambda a: (breadth(a), a.scope.name))]


def overlaps(other: Alert, alert: Alert) -> bool:
    """Whether ``alert``'s latest evidence came while ``other`` still fired: an ended
    alert a receiver holds open (``resolved_at`` set, see ``alerting.correlate_stage``)
    explains or contains only alerts last updated before it resolved, never a later one
    nor a later escalation (another cause, which pages on its own)."""
    return other.resolved_at is None or alert.updated_at <= other.resolved_at


def breadth(alert: Alert) -> int:
    """Owner dimensions by narrowness; the cross-cutting ones after them all."""
    return NARROWNESS.get(alert.scope.dimension, len(NARROWNESS))
