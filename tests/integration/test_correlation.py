"""Correlation through the Kafka outbox and the notifier: one page for an incident's
alerts, kept across a notifier restart and open until its last alert resolves, and an
explained alert sent on its own once it escalates after its explainer resolved."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from schemas.findings import Alert, AlertState, Contributor, Scope, Severity
from tests.support.notifier_rig import Rig, eventually, settled

USD = 1_000_000_000


def spike(
    scope: str, spend_usd: int, version: int = 1, costs: dict[str, int] | None = None
) -> Alert:
    """A firing ``spend_spike`` alert of team ``search``; ``costs`` are its contributors
    with their dollars in the alert's bucket."""
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "alert_id": f"spend_spike:{scope}",
        "detector": "spend_spike",
        "scope": Scope.parse(scope),
        "severity": Severity.ERROR,
        "state": AlertState.FIRING,
        "fired_at": now,
        "updated_at": now,
        "version": version,
        "measure": "usd_per_window",
        "observed": 40.0,
        "expected": 4.0,
        "impact_nanos": 36 * USD,
        "summary": f"{scope}: spend 10x the usual rate",
        "labels": {"team": "search"},
        "spend_nanos": spend_usd * USD,
        "contributors": tuple(
            Contributor(series=series, cost_nanos=c * USD) for series, c in (costs or {}).items()
        ),
    }
    return Alert(**fields)


def resolved(alert: Alert) -> Alert:
    return alert.model_copy(
        update={
            "state": AlertState.RESOLVED,
            "version": alert.version + 1,
            "resolved_at": datetime.now(UTC),
        }
    )


async def test_one_page_per_incident_across_a_restart_then_the_team_alone(rig: Rig) -> None:
    key = spike("api_key_id=k1", 90)
    team = spike("team=search", 100, costs={"api_key_id=k1": 90})
    org = spike("org=all", 120, costs={"team=search": 100, "api_key_id=k1": 90})
    config = rig.config(group_wait="2s")
    async with rig.running(config) as service:
        await rig.publish(org, team)  # the broad alerts first: held for the group wait
        await rig.publish(key)
        await settled(service)
    assert [e["dedup_key"] for e in rig.pagerduty.events] == [key.alert_id]
    (message,) = rig.slack.posted()
    assert "also raised on team=search, org=all" in str(message.blocks)
    # A new notifier: it learns what fires from the outbox and what was sent from the
    # send record, so the team's escalation is still the key's incident.
    team_again = spike("team=search", 100, version=2, costs={"api_key_id=k1": 95})
    await rig.publish(team_again)
    async with rig.running(config) as service:
        await settled(service)
        assert [e["dedup_key"] for e in rig.pagerduty.events] == [key.alert_id]
        # The key calms down first; the team's alert, explained by it, still fires: the
        # key's page stays open (no resolve, no second page).
        await rig.publish(resolved(key))
        await settled(service)
        await asyncio.sleep(3)  # past the group wait after the key resolved
        assert [e["dedup_key"] for e in rig.pagerduty.events] == [key.alert_id]
        # The team escalates after that (another cause): it pages on its own now, and
        # the key's page, standing for nothing any more, resolves.
        escalated = spike("team=search", 300, version=3, costs={"api_key_id=k1": 95})
        await rig.publish(escalated)
        await eventually(lambda: len(rig.pagerduty.events) >= 3, 30)
        await settled(service)
    actions = [(e["event_action"], e["dedup_key"]) for e in rig.pagerduty.events]
    assert sorted(actions[1:]) == sorted([("resolve", key.alert_id), ("trigger", team.alert_id)])
    assert len({key for _, key in actions}) == 2
    (page,) = [e for e in rig.pagerduty.events if e["dedup_key"] == team.alert_id]
    assert page["payload"]["custom_details"]["labels"]["also_raised_on"] == "org=all"


async def test_a_page_resolves_when_the_last_alert_of_its_incident_does(rig: Rig) -> None:
    """The key's series closes its minutes first, so its alert resolves while the team's
    and the organisation's still fire: one page, resolved once, after the last of them."""
    key = spike("api_key_id=k1", 90)
    team = spike("team=search", 100, costs={"api_key_id=k1": 90})
    org = spike("org=all", 120, costs={"team=search": 100, "api_key_id=k1": 90})
    async with rig.running(rig.config(group_wait="1s")) as service:
        await rig.publish(key, team, org)
        await eventually(lambda: len(rig.pagerduty.events) == 1, 30)
        await rig.publish(resolved(key))
        await settled(service)
        await rig.publish(resolved(team))
        await settled(service)
        await asyncio.sleep(2)  # past the group wait after each of them resolved
        assert {e["event_action"] for e in rig.pagerduty.events} == {"trigger"}
        (message,) = rig.slack.posted()
        assert "[RESOLVED]" not in str(message.blocks[0])
        await rig.publish(resolved(org))
        await eventually(lambda: rig.pagerduty.events[-1]["event_action"] == "resolve", 30)
        await eventually(lambda: "[RESOLVED]" in str(rig.slack.posted()[0].blocks[0]), 30)
    actions = [e["event_action"] for e in rig.pagerduty.events]
    assert actions.count("resolve") == 1  # the one page (its summary may be updated)
    assert {e["dedup_key"] for e in rig.pagerduty.events} == {key.alert_id}
    assert len(rig.slack.posted()) == 1
