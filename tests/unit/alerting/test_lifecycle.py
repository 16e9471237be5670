"""Alert lifecycle: fire, escalate, resolve with hysteresis, serialise."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerting.lifecycle import AlertLifecycle, LifecycleConfig, LifecycleState
from schemas.findings import AlertState, Finding, Scope, Severity, minute_to_datetime


def finding(
    minute: int, severity: str = "warning", impact_usd: int = 5, scope: str = "team=a"
) -> Finding:
    return Finding(
        detector="spend_spike",
        scope=Scope.parse(scope),
        severity=Severity(severity),
        at=minute_to_datetime(minute),
        window_start=minute_to_datetime(minute - 1),
        window_end=minute_to_datetime(minute),
        measure="usd_per_window",
        observed=9.0,
        expected=1.0,
        impact_nanos=impact_usd * 10**9,
        summary=f"{scope}: spend at minute {minute}",
    )


def test_fires_once_then_stays_quiet_while_findings_continue() -> None:
    life, state = AlertLifecycle(), LifecycleState()
    changes = [a for m in range(100, 110) for a in life.observe(state, [finding(m)])]
    assert [(a.state, a.version) for a in changes] == [(AlertState.FIRING, 1)]
    assert changes[0].fired_at == minute_to_datetime(100)


def test_needs_consecutive_findings_when_configured() -> None:
    life = AlertLifecycle(LifecycleConfig(fire_after=3, resolve_after_minutes=10))
    state = LifecycleState()
    assert life.observe(state, [finding(100)]) == []
    assert life.observe(state, [finding(101)]) == []
    fired = life.observe(state, [finding(102)])
    assert len(fired) == 1 and fired[0].fired_at == minute_to_datetime(102)


def test_a_lone_finding_is_forgotten_after_a_clean_stretch() -> None:
    life = AlertLifecycle(LifecycleConfig(fire_after=2, resolve_after_minutes=10))
    state = LifecycleState()
    life.observe(state, [finding(100)])
    assert life.tick(state, minute_to_datetime(111)) == []
    assert life.observe(state, [finding(130)]) == []


def test_escalation_updates_content_and_keeps_the_id() -> None:
    life, state = AlertLifecycle(), LifecycleState()
    (fired,) = life.observe(state, [finding(100)])
    assert life.observe(state, [finding(101, impact_usd=6)]) == []
    (worse,) = life.observe(state, [finding(102, severity="error", impact_usd=6)])
    (bigger,) = life.observe(state, [finding(103, severity="warning", impact_usd=20)])
    assert worse.alert_id == bigger.alert_id == fired.alert_id
    assert (worse.version, bigger.version) == (2, 3)
    assert bigger.severity is Severity.ERROR
    assert bigger.impact_nanos == 20 * 10**9


def test_resolves_only_after_enough_clean_minutes_no_flapping() -> None:
    life = AlertLifecycle(LifecycleConfig(resolve_after_minutes=15))
    state = LifecycleState()
    life.observe(state, [finding(100)])
    for minute in range(101, 160):
        if minute % 10 == 0:
            assert life.observe(state, [finding(minute)]) == []
        assert life.tick(state, minute_to_datetime(minute)) == []
    (resolved,) = life.tick(state, minute_to_datetime(150 + 15))
    assert resolved.state is AlertState.RESOLVED
    assert resolved.resolved_at == minute_to_datetime(165)
    assert resolved.fired_at == minute_to_datetime(100)
    (again,) = life.observe(state, [finding(200)])
    assert again.alert_id != resolved.alert_id


def test_keys_are_separate_and_state_round_trips() -> None:
    life, state = AlertLifecycle(), LifecycleState()
    life.observe(state, [finding(100), finding(100, scope="team=b")])
    restored = LifecycleState.loads(state.dumps())
    assert {a.scope.name for a in restored.firing()} == {"team=a", "team=b"}
    resolved = life.tick(restored, minute_to_datetime(100) + timedelta(hours=1))
    assert {a.state for a in resolved} == {AlertState.RESOLVED}
    assert restored.firing() == []
    assert len(state.firing()) == 2


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LifecycleConfig(fire_after=0)
