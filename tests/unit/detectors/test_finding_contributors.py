"""Findings name what correlation needs: the largest key, app and team of the bucket,
even when other dimensions fill the top three, and the bucket's own spend."""

from __future__ import annotations

from detectors.base import finding
from schemas.findings import Scope, SeriesBucket, Severity

USD = 1_000_000_000


def test_a_finding_names_the_largest_key_app_and_team_and_the_bucket_spend() -> None:
    bucket = SeriesBucket(
        scope=Scope.parse("org=all"),
        start_minute=100,
        width_minutes=1,
        cost_nanos=50 * USD,
        calls=10,
        contributors={
            "model=gpt-4o": 50 * USD,
            "provider=openai": 50 * USD,
            "environment=prod": 50 * USD,
            "team=search": 45 * USD,
            "team=ads": 5 * USD,
            "app=rerank": 40 * USD,
            "api_key_id=k-1": 30 * USD,
            "api_key_id=k-2": 20 * USD,
        },
    )
    found = finding(
        "spend_spike",
        bucket,
        Severity.ERROR,
        window_minutes=1,
        measure="usd_per_window",
        observed=50.0,
        expected=5.0,
        impact_nanos=45 * USD,
        headline="spend 10x",
    )
    assert [c.series for c in found.contributors] == [
        "environment=prod",
        "model=gpt-4o",
        "provider=openai",
        "team=search",
        "app=rerank",
        "api_key_id=k-1",
    ]
    assert found.spend_nanos == 50 * USD
    assert "team=search" not in found.summary  # the summary keeps the top three
