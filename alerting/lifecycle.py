"""Alert lifecycle: findings become alerts that fire once, escalate, and resolve themselves.

Findings are keyed by (detector, series). An alert fires when ``fire_after`` findings
of a key arrive without a clean stretch between them, its content is updated when it
escalates (a more urgent severity, or the dollar impact at least doubling), and it
resolves once ``resolve_after_minutes`` of event time pass without a finding
(hysteresis: an alert never flaps on one quiet minute). The clock is event time passed
in by the caller, so the live worker and the backtest behave the same. The state holds
only open alerts and pending keys, and pickles to bytes.

>>> from datetime import timedelta
>>> from schemas.findings import Finding, Scope, Severity, minute_to_datetime
>>> life, state = AlertLifecycle(), LifecycleState()
>>> f = Finding(detector="spend_spike", scope=Scope.parse("team=a"), severity="error",
...     at=minute_to_datetime(10), window_start=minute_to_datetime(9),
...     window_end=minute_to_datetime(10), measure="usd", observed=9.0, expected=1.0,
...     impact_nanos=8 * 10**9, summary="team=a: spend 9x")
>>> [a.state.value for a in life.observe(state, [f])]
['firing']
>>> [a.state.value for a in life.tick(state, f.at + timedelta(minutes=30))]
['resolved']
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schemas.findings import Alert, AlertState, Finding, Severity

_URGENCY = {s: i for i, s in enumerate(Severity)}


@dataclass(frozen=True, slots=True)
class LifecycleConfig:
    fire_after: int = 1
    """Findings in a row needed to fire."""
    resolve_after_minutes: int = 15
    """Event-time minutes without a finding before an alert resolves."""

    def __post_init__(self) -> None:
        if self.fire_after < 1 or self.resolve_after_minutes < 1:
            raise ValueError("fire_after and resolve_after_minutes must be at least 1")


@dataclass(slots=True)
class _Tracked:
    pending: int
    last_at: datetime
    alert: Alert | None = None


@dataclass(slots=True)
class LifecycleState:
    keys: dict[tuple[str, str], _Tracked] = field(default_factory=dict)

    def dumps(self) -> bytes:
        return pickle.dumps(self.keys, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def loads(cls, raw: bytes) -> LifecycleState:
        keys = pickle.loads(raw)
        if not isinstance(keys, dict):
            raise ValueError("lifecycle state: expected a mapping of alert keys")
        return cls(keys)

    def firing(self) -> list[Alert]:
        return [t.alert for t in self.keys.values() if t.alert is not None]


def alert_id(finding: Finding, fired_at: datetime) -> str:
    """Stable for the life of one alert; a later alert on the same key gets a new id."""
    text = f"{finding.detector}|{finding.scope.name}|{fired_at.isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class AlertLifecycle:
    """See the module docstring. Methods return the alerts that changed, in order."""

    def __init__(self, config: LifecycleConfig | None = None) -> None:
        self.config = config or LifecycleConfig()
        self._clean = timedelta(minutes=self.config.resolve_after_minutes)

    def observe(self, state: LifecycleState, findings: list[Finding]) -> list[Alert]:
        changes: list[Alert] = []
        for f in findings:
            tracked = state.keys.get(f.key)
            if tracked is None or (tracked.alert is None and f.at - tracked.last_at >= self._clean):
                tracked = state.keys[f.key] = _Tracked(pending=0, last_at=f.at)
            tracked.pending += 1
            tracked.last_at = max(tracked.last_at, f.at)
            if tracked.alert is None:
                if tracked.pending >= self.config.fire_after:
                    tracked.alert = _alert(f, f.at)
                    changes.append(tracked.alert)
            elif _escalates(tracked.alert, f):
                tracked.alert = _updated(tracked.alert, f)
                changes.append(tracked.alert)
        return changes

    def tick(self, state: LifecycleState, now: datetime) -> list[Alert]:
        """Resolve alerts (and forget pending keys) clean for long enough at ``now``."""
        changes: list[Alert] = []
        for key, tracked in list(state.keys.items()):
            if now - tracked.last_at < self._clean:
                continue
            del state.keys[key]
            if tracked.alert is not None:
                alert = tracked.alert
                changes.append(
                    alert.model_copy(
                        update={
                            "state": AlertState.RESOLVED,
                            "resolved_at": now,
                            "updated_at": now,
                            "version": alert.version + 1,
                        }
                    )
                )
        return changes


def _alert(f: Finding, fired_at: datetime) -> Alert:
    return Alert(
        alert_id=alert_id(f, fired_at),
        detector=f.detector,
        scope=f.scope,
        severity=f.severity,
        state=AlertState.FIRING,
        fired_at=fired_at,
        updated_at=fired_at,
        measure=f.measure,
        observed=f.observed,
        expected=f.expected,
        impact_nanos=f.impact_nanos,
        summary=f.summary,
        contributors=f.contributors,
        labels=f.labels,
        spend_nanos=f.spend_nanos,
    )


def _escalates(alert: Alert, f: Finding) -> bool:
    return _URGENCY[f.severity] < _URGENCY[alert.severity] or f.impact_nanos >= 2 * max(
        alert.impact_nanos, 1
    )


def _updated(alert: Alert, f: Finding) -> Alert:
    return alert.model_copy(
        update={
            "severity": min(alert.severity, f.severity, key=_URGENCY.__getitem__),
            "updated_at": f.at,
            "version": alert.version + 1,
            "measure": f.measure,
            "observed": f.observed,
            "expected": f.expected,
            "impact_nanos": max(alert.impact_nanos, f.impact_nanos),
            "summary": f.summary,
            "contributors": f.contributors or alert.contributors,
            "spend_nanos": f.spend_nanos if f.contributors else alert.spend_nanos,
            "labels": {**alert.labels, **f.labels},
        }
    )
