"""Findings carry the team and app of their series, for routing and inhibition."""

from __future__ import annotations

from detectors.base import finding
from schemas.findings import Finding, Scope, SeriesBucket, Severity


def found(
    scope: Scope, contributors: dict[str, int], labels: dict[str, str] | None = None
) -> Finding:
    bucket = SeriesBucket(scope, 0, 1, cost_nanos=10, calls=1, contributors=contributors)
    return finding(
        "spend_spike", bucket, Severity.ERROR, window_minutes=1, measure="usd",
        observed=2.0, expected=1.0, impact_nanos=1, headline="x", labels=labels,
    )  # fmt: skip


def test_a_key_takes_its_largest_team_and_app() -> None:
    key = Scope.parse("api_key_id=k-1")
    shares = {"team=search": 9, "team=ads": 3, "app=rerank": 5, "model=gpt-4o": 12}
    assert found(key, shares).labels == {"team": "search", "app": "rerank"}


def test_a_team_names_itself_and_own_labels_win() -> None:
    team = Scope.parse("team=search")
    shares = {"team=other": 99, "app=rerank": 5}
    labelled = found(team, shares, {"kind": "spike", "app": "x"})
    assert labelled.labels == {"team": "search", "app": "x", "kind": "spike"}


def test_nothing_to_label() -> None:
    assert found(Scope.parse("org=all"), {"model=m": 1}).labels == {}
