"""The lifecycle carries what correlation reads: the spend of the bucket the
contributors come from, kept in step with the contributors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from alerting.lifecycle import AlertLifecycle, LifecycleState
from schemas.findings import Contributor, Finding, Scope, Severity, minute_to_datetime

USD = 1_000_000_000


def finding(minute: int, **overrides: Any) -> Finding:
    fields: dict[str, Any] = {
        "detector": "spend_spike",
        "scope": Scope.parse("team=search"),
        "severity": Severity.WARNING,
        "at": minute_to_datetime(minute),
        "window_start": minute_to_datetime(minute - 1),
        "window_end": minute_to_datetime(minute),
        "measure": "usd_per_window",
        "observed": 9.0,
        "expected": 1.0,
        "impact_nanos": 8 * USD,
        "summary": "team=search: spend 9x",
        "contributors": (Contributor(series="api_key_id=k-1", cost_nanos=8 * USD),),
        "spend_nanos": 9 * USD,
    }
    fields.update(overrides)
    return Finding(**fields)


@pytest.mark.parametrize(
    ("escalation", "spend_usd", "contributors"),
    [
        ({"severity": Severity.ERROR, "spend_nanos": 30 * USD}, 30, ("api_key_id=k-1",)),
        (
            {
                "severity": Severity.ERROR,
                "spend_nanos": 30 * USD,
                "contributors": (Contributor(series="api_key_id=k-2", cost_nanos=20 * USD),),
            },
            30,
            ("api_key_id=k-2",),
        ),
        # no contributors in the escalating finding: the old ones stay, with their spend
        ({"severity": Severity.ERROR, "spend_nanos": 30 * USD, "contributors": ()}, 9, None),
    ],
)
def test_spend_follows_the_contributors(
    escalation: dict[str, Any], spend_usd: int, contributors: tuple[str, ...] | None
) -> None:
    life, state = AlertLifecycle(), LifecycleState()
    (fired,) = life.observe(state, [finding(10)])
    assert fired.spend_nanos == 9 * USD
    (escalated,) = life.observe(state, [finding(11, **escalation)])
    assert escalated.spend_nanos == spend_usd * USD
    names = tuple(c.series for c in escalated.contributors)
    assert names == (contributors or ("api_key_id=k-1",))
    (resolved,) = life.tick(state, escalated.updated_at + timedelta(hours=1))
    assert resolved.spend_nanos == escalated.spend_nanos
