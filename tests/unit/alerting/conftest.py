"""Factories for alerts and a settable clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.findings import Alert, AlertState, Contributor, Scope, Severity

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    async def sleep(self, seconds: float) -> None:
        """Records the wait and moves the clock instead of waiting."""
        self.slept.append(seconds)
        self.advance(seconds)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def build_alert(**overrides: Any) -> Alert:
    fields: dict[str, Any] = {
        "alert_id": "spike:team=search",
        "detector": "spike",
        "scope": Scope.parse("team=search"),
        "severity": Severity.WARNING,
        "state": AlertState.FIRING,
        "fired_at": T0,
        "updated_at": T0,
        "measure": "usd_per_minute",
        "observed": 12.5,
        "expected": 1.25,
        "impact_nanos": 1_234_560_000_000,
        "summary": "spend 10x the usual rate",
        "contributors": (Contributor(series="api_key_id=k-1", cost_nanos=900_000_000_000),),
        "labels": {"team": "search"},
    }
    if isinstance(overrides.get("scope"), str):
        overrides["scope"] = Scope.parse(overrides["scope"])
    fields.update(overrides)
    return Alert(**fields)


@pytest.fixture
def make_alert() -> Callable[..., Alert]:
    return build_alert
