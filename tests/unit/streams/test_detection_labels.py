from __future__ import annotations

from datetime import UTC, datetime

from schemas.findings import Finding, Scope, SeriesBucket, Severity
from streams.detection_stage import with_owner_labels

AT = datetime(2026, 11, 29, 12, tzinfo=UTC)


def finding(scope: Scope, labels: dict[str, str] | None = None) -> Finding:
    return Finding(
        detector="spend_spike", scope=scope, severity=Severity.ERROR, at=AT, window_start=AT,
        window_end=AT, measure="usd", observed=2.0, expected=1.0, impact_nanos=1,
        summary="x", labels=labels or {},
    )  # fmt: skip


def bucket(scope: Scope, contributors: dict[str, int]) -> SeriesBucket:
    return SeriesBucket(scope, 0, 1, cost_nanos=10, calls=1, contributors=contributors)


def test_a_key_takes_its_largest_team_and_app() -> None:
    key = Scope.parse("api_key_id=k-1")
    shares = {"team=search": 9, "team=ads": 3, "app=rerank": 5, "model=gpt-4o": 12}
    (labelled,) = with_owner_labels([finding(key)], bucket(key, shares))
    assert labelled.labels == {"team": "search", "app": "rerank"}


def test_a_team_names_itself_and_own_labels_win() -> None:
    team = Scope.parse("team=search")
    shares = {"team=other": 99, "app=rerank": 5}
    (labelled,) = with_owner_labels([finding(team, {"kind": "spike", "app": "x"})],
                                    bucket(team, shares))  # fmt: skip
    assert labelled.labels == {"team": "search", "app": "x", "kind": "spike"}


def test_nothing_to_label() -> None:
    org = Scope.parse("org=all")
    assert with_owner_labels([], bucket(org, {"team=a": 1})) == []
    (same,) = with_owner_labels([finding(org)], bucket(org, {"model=m": 1}))
    assert same.labels == {}
