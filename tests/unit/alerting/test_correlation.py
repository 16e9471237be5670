"""Correlation: which firing alert explains which, and the correlate stage at one
receiver (what goes on, what it names, which member stands for the incident)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from alerting.config import CorrelationConfig
from alerting.correlate_stage import CorrelateStage
from alerting.correlation import ALSO_RAISED_ON, Correlator, can_explain, correlated_fingerprint
from alerting.delivery import Delivery, MemorySendRecord, SentEntry, alert_fingerprint
from alerting.routing import RouteMatch
from schemas.findings import Alert, AlertState, Severity
from tests.unit.alerting.conftest import T0
from tests.unit.alerting.correlation_cases import (
    APP,
    KEY,
    MODEL,
    ORG,
    RUNAWAY,
    TEAM,
    resolved,
    spike,
)

ROUTE = RouteMatch(
    "root", "pd", ("team",), timedelta(seconds=30), timedelta(minutes=5), timedelta(hours=4)
)


DRIFT = spike("api_key_id=k-1", 100, detector="unit_cost_drift", team__agents=100)


@pytest.mark.parametrize(
    ("narrow", "broad", "explains"),
    [
        ("api_key_id", "app", True),
        ("api_key_id", "team", True),
        ("api_key_id", "org", True),
        ("app", "team", True),
        ("team", "org", True),
        ("app", "api_key_id", False),
        ("team", "app", False),
        ("org", "team", False),
        ("team", "team", False),
        ("api_key_id", "model", True),
        ("app", "feature", True),
        ("team", "environment", True),
        ("org", "provider", False),
        ("model", "org", False),
        ("model", "provider", False),
        ("feature", "api_key_id", False),
    ],
)
def test_narrower_dimensions(narrow: str, broad: str, explains: bool) -> None:
    assert can_explain(narrow, broad) is explains


@pytest.mark.parametrize(
    ("alert", "firing", "config", "root"),
    [
        (TEAM, RUNAWAY, {}, KEY),  # a key with 91% of its team
        (ORG, RUNAWAY, {}, KEY),  # and 77% of the organisation
        (MODEL, RUNAWAY, {}, KEY),  # a cross-cutting series
        (APP, RUNAWAY, {}, KEY),
        (KEY, RUNAWAY, {}, None),  # the narrowest is never explained
        (ORG, [KEY, ORG], {"min_share": 0.8}, None),  # 77% is below the share asked for
        (ORG, RUNAWAY, {"min_share": 0.8}, KEY),  # but the team has 85%, the key 91% of it
        (TEAM, [KEY, TEAM], {"min_share": 0.9}, KEY),
        # nothing has 90% of the organisation: its alert is sent, and holds the key's
        (TEAM, RUNAWAY, {"min_share": 0.9}, ORG),
        (TEAM, RUNAWAY, {"enabled": False}, None),
        (TEAM, [TEAM, ORG, MODEL], {}, None),  # the key's alert is not firing
        (TEAM, [resolved(KEY), TEAM], {}, None),
        (ORG, [APP, TEAM, ORG], {}, APP),  # through the team, to the app
        (TEAM, [spike("api_key_id=k-1", detector="budget_burn"), TEAM], {}, None),
        (TEAM, [DRIFT, TEAM], {}, DRIFT),  # one family: more spend at a higher unit cost
        (DRIFT, RUNAWAY, {}, KEY),  # on one series, the spike explains the drift
        (KEY, [KEY, DRIFT], {}, None),  # and not the other way round
        (DRIFT, RUNAWAY, {"families": {}}, None),  # each detector its own family
        (TEAM, [DRIFT, TEAM], {"families": {"spike": ["spend_spike"]}}, None),
        (spike("team=agents", 0, **{"api_key_id__k-1": 100}), RUNAWAY, {}, None),  # no spend
        (resolved(TEAM), RUNAWAY, {}, None),  # a resolve always goes through
    ],
)
def test_roots(alert: Alert, firing: list[Alert], config: dict[str, Any], root: Alert) -> None:
    correlator = Correlator(CorrelationConfig(**config))
    found = correlator.root(alert, firing)
    assert (found.alert_id if found else None) == (root.alert_id if root else None)


def test_a_chain_ends_at_the_narrowest_explainer() -> None:
    """The key has 60% of the app, the app 60% of the team: the key has only 36% of the
    team, yet the team's alert is part of the key's incident through the app."""
    key = spike("api_key_id=k-1", 60)
    app = spike("app=runaway", 100, **{"api_key_id__k-1": 60})
    team = spike("team=agents", 100, **{"app__runaway": 60, "api_key_id__k-1": 36})
    correlator = Correlator()
    assert correlator.explainer(team, [key, app, team]) == app
    assert correlator.root(team, [key, app, team]) == key
    assert correlator.explained_by(key, [key, app, team]) == [app, team]


def key_of_team(i: int, severity: str = "warning", share_usd: int = 10) -> Alert:
    """Key ``k-i`` of team ``agents`` spiking on its own, a tenth of the team."""
    return spike(f"api_key_id=k-{i}", share_usd, team__agents=share_usd).model_copy(
        update={"severity": Severity(severity)}
    )


def team_wide(keys: int = 10) -> list[Alert]:
    """A spike spread evenly over ``keys`` keys of one team, each in its own app."""
    costs = {f"api_key_id__k-{i}": 10 for i in range(keys)}
    team = spike("team=agents", 10 * keys, **costs)
    org = spike("org=all", 10 * keys + 5, team__agents=10 * keys, **costs)
    model = spike("model=gpt-4o", 10 * keys, team__agents=10 * keys, **costs)
    return [team, org, model]


def test_a_team_wide_spike_with_no_dominant_key_pages_once_on_the_team() -> None:
    team, org, model = firing = team_wide()
    correlator = Correlator()
    assert correlator.root(team, firing) is None
    assert correlator.root(org, firing) == team and correlator.root(model, firing) == team


@pytest.mark.parametrize(
    ("key", "others", "root"),
    [
        (key_of_team(3), [], "team=agents"),  # a minor part of its team's spike
        (key_of_team(3, "critical"), [], None),  # more urgent than the team: sent itself
        # another team's key: the organisation's alert is the team's, not a root
        (key_of_team(3).model_copy(update={"labels": {"team": "ads"}}), [], None),
        # the team is k-9's incident: k-3's spike is a separate one
        (key_of_team(3), [spike("api_key_id=k-9", 100)], None),
    ],
)
def test_a_key_inside_a_broader_unexplained_spike_is_part_of_it(
    key: Alert, others: list[Alert], root: str | None
) -> None:
    """``team_wide`` has the key at 10 of 100: under the share, so it is contained in the
    team, unless the team is some other key's incident."""
    team, org, model = team_wide()
    if others:
        team = spike("team=agents", 100, **{"api_key_id__k-9": 100, "api_key_id__k-3": 10})
    firing = [key, team, org, model, *others]
    found = Correlator().root(key, firing)
    assert (found.scope.name if found else None) == root


def everywhere(alert: Alert) -> set[str]:
    return {"pd", "slack"}


async def run_stage(
    alerts: list[Alert],
    firing: list[Alert],
    config: CorrelationConfig | None = None,
    record: MemorySendRecord | None = None,
    receivers: Callable[[Alert], set[str]] = everywhere,
) -> tuple[list[Alert], dict[str, str]]:
    delivery = Delivery("pd", ROUTE, "g", T0)
    stage = CorrelateStage(
        Correlator(config), lambda: firing, record or MemorySendRecord(), receivers
    )
    return await stage(delivery, alerts), delivery.dropped


@pytest.mark.parametrize(
    ("alerts", "firing", "sent", "named"),
    [
        (
            RUNAWAY,
            RUNAWAY,
            ["spend_spike:api_key_id=k-1"],
            "app=runaway, team=agents, org=all, model=gpt-4o",
        ),
        ([TEAM], RUNAWAY, [], None),
        ([KEY], [KEY, ORG], ["spend_spike:api_key_id=k-1"], "org=all"),
        ([KEY], [KEY], ["spend_spike:api_key_id=k-1"], None),
        ([TEAM, ORG], [TEAM, ORG], ["spend_spike:team=agents"], "org=all"),
        (team_wide(), team_wide(), ["spend_spike:team=agents"], "org=all, model=gpt-4o"),
        (
            [*team_wide(), key_of_team(3)],
            [*team_wide(), key_of_team(3)],
            ["spend_spike:team=agents"],
            "org=all, model=gpt-4o, api_key_id=k-3",  # broader first, then its keys
        ),
        ([resolved(TEAM)], RUNAWAY, ["spend_spike:team=agents"], None),
    ],
)
async def test_the_stage_sends_the_root_naming_what_it_explains(
    alerts: list[Alert], firing: list[Alert], sent: list[str], named: str | None
) -> None:
    kept, dropped = await run_stage(alerts, firing)
    assert [a.alert_id for a in kept] == sent
    for alert in alerts:
        if alert.alert_id not in sent:
            assert dropped[alert.alert_id].startswith("explained by spend_spike:")
    if named is None:
        assert all(ALSO_RAISED_ON not in a.labels for a in kept)
    else:
        (root,) = kept
        assert root.labels[ALSO_RAISED_ON] == named
        assert root.summary.endswith(f"; also raised on {named}")


async def test_the_stage_does_nothing_when_disabled() -> None:
    kept, dropped = await run_stage(RUNAWAY, RUNAWAY, CorrelationConfig(enabled=False))
    assert kept == RUNAWAY and dropped == {}


def test_the_fingerprint_changes_only_with_what_is_named() -> None:
    assert correlated_fingerprint(KEY) == alert_fingerprint(KEY)
    named = KEY.model_copy(update={"labels": {ALSO_RAISED_ON: "team=agents"}})
    more = KEY.model_copy(update={"labels": {ALSO_RAISED_ON: "team=agents, org=all"}})
    assert len({correlated_fingerprint(a) for a in (KEY, named, more)}) == 3
    assert correlated_fingerprint(named) == correlated_fingerprint(named.model_copy())


def pages(alert: Alert) -> set[str]:
    """Routes as the usual config has them: everything to Slack, errors also to "pd"."""
    return {"slack", "pd"} if alert.severity.value in ("critical", "error") else {"slack"}


def sent_to_pd(alert: Alert, state: AlertState) -> MemorySendRecord:
    record = MemorySendRecord()
    record.load(SentEntry("pd", alert.alert_id, 1, state, "f", T0))
    return record


WARN_TEAM = TEAM.model_copy(update={"severity": Severity.WARNING})
ERROR_ORG = ORG.model_copy(update={"severity": Severity.ERROR})


@pytest.mark.parametrize(
    ("alerts", "firing", "record", "sent"),
    [
        # the root is a warning, so only Slack hears it: the org's error pages for it
        ([ERROR_ORG], [WARN_TEAM, ERROR_ORG], None, {"spend_spike:org=all": "team=agents"}),
        # once the org has paged, it stays the incident's page when the team escalates
        (
            [TEAM, ERROR_ORG],
            [TEAM, ERROR_ORG],
            sent_to_pd(ERROR_ORG, AlertState.FIRING),
            {"spend_spike:org=all": "team=agents"},
        ),
        # the org's page was resolved: the team, now paging, stands for it
        (
            [TEAM, ERROR_ORG],
            [TEAM, ERROR_ORG],
            sent_to_pd(ERROR_ORG, AlertState.RESOLVED),
            {"spend_spike:team=agents": "org=all"},
        ),
        # the same series, another detector of the family: named with its detector
        ([KEY, DRIFT], [KEY, DRIFT], None, {KEY.alert_id: "api_key_id=k-1 (unit_cost_drift)"}),
    ],
)
async def test_one_member_stands_for_the_incident_at_each_receiver(
    alerts: list[Alert],
    firing: list[Alert],
    record: MemorySendRecord | None,
    sent: dict[str, str],
) -> None:
    kept, dropped = await run_stage(alerts, firing, record=record, receivers=pages)
    assert {a.alert_id: a.labels[ALSO_RAISED_ON] for a in kept} == sent
    assert set(dropped) == {a.alert_id for a in alerts} - set(sent)
