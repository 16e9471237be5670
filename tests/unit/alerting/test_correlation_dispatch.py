"""Correlation around the dispatcher: the group wait, an explainer resolving first, a
newly explained series, a restart from the outbox and the send record."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import timedelta

from alerting.config import RouteConfig
from alerting.correlate_stage import CorrelateStage
from alerting.correlation import ALSO_RAISED_ON, Correlator
from alerting.delivery import MemorySendRecord, SentEntry
from alerting.dispatcher import Dispatcher
from alerting.inhibit_stage import Inhibitor
from alerting.pipeline import StageKit
from alerting.routing import Router
from alerting.silence_stage import SilenceBook
from schemas.findings import Alert
from tests.unit.alerting.conftest import T0, ManualClock
from tests.unit.alerting.correlation_cases import APP, KEY, ORG, RUNAWAY, TEAM, resolved


class RecordingNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def notify(self, alert: Alert, previous: SentEntry | None) -> dict[str, str]:
        self.sent.append((alert.alert_id, alert.state.value, alert.labels.get(ALSO_RAISED_ON, "")))
        return {"n": str(len(self.sent))}

    async def aclose(self) -> None:
        return None


class Notify:
    """A dispatcher with the correlate stage and one receiver, on a manual clock; the
    send record can be handed to the next one, as the notifier's topic is across a restart."""

    def __init__(self, group_wait_s: int = 30, record: MemorySendRecord | None = None) -> None:
        self.clock = ManualClock()
        self.record = record or MemorySendRecord()
        self.notifier = RecordingNotifier()
        firing: dict[str, Alert] = {}
        ended: dict[str, Alert] = {}
        correlator = Correlator()
        routes = RouteConfig.model_validate(
            {"receiver": "pd", "group_by": ["scope"], "group_wait": f"{group_wait_s}s"}
        )
        stage = CorrelateStage(
            correlator, firing.values, self.record, Router(routes).receivers, ended.values
        )
        kit = StageKit(
            Inhibitor([], firing.values),
            SilenceBook(),
            self.record,
            self.clock,
            self.clock.sleep,
            correlate=stage,
        )
        self.released: list[Hashable] = []
        self.dispatcher = Dispatcher(
            Router(routes),
            {"pd": kit.pipeline(self.notifier)},
            self.clock,
            self.released.extend,
            firing,
            correlator=correlator,
            record=self.record,
            ended=ended,
        )
        self._tokens = 0

    def submit(self, *alerts: Alert) -> None:
        for alert in alerts:
            self._tokens += 1
            self.dispatcher.submit(alert, self._tokens)

    async def at(self, seconds: float) -> list[tuple[str, str, str]]:
        self.clock.now = T0 + timedelta(seconds=seconds)
        self.dispatcher.flush_due()
        await self.dispatcher.settle()
        return list(self.notifier.sent)


async def test_a_broad_alert_first_is_held_for_the_group_wait_then_explained() -> None:
    notify = Notify(group_wait_s=30)
    notify.submit(ORG, TEAM)  # the broad alerts arrive first, each in its own group
    assert await notify.at(10) == []
    notify.submit(KEY)
    assert await notify.at(30) == []  # the broad ones are explained, the key waits
    sent = await notify.at(40)
    assert sent == [(KEY.alert_id, "firing", "team=agents, org=all")]
    assert sorted(notify.released) == [1, 2, 3]  # explained alerts are dealt with too


async def test_the_page_stays_open_until_the_last_alert_of_its_incident_resolves() -> None:
    """The key's alert resolves first (its series closes its minutes sooner): the team's
    still fires, so the key's page neither resolves nor gives way to a second page."""
    notify = Notify(group_wait_s=0)
    notify.submit(KEY, TEAM)
    assert await notify.at(0) == [(KEY.alert_id, "firing", "team=agents")]
    notify.submit(resolved(KEY))
    assert await notify.at(1) == [(KEY.alert_id, "firing", "team=agents")]
    assert await notify.at(3600) == [(KEY.alert_id, "firing", "team=agents")]
    assert sorted(notify.released) == [1, 2, 3]  # the held resolve is dealt with for now
    notify.submit(resolved(TEAM))
    sent = await notify.at(3601)  # a group_wait after the last one resolved
    assert sent[1:] == [(KEY.alert_id, "resolved", "")]
    assert await notify.at(7200) == sent
    assert notify.dispatcher.ended == {}


async def test_an_alert_firing_after_the_page_resolved_pages_on_its_own() -> None:
    """A resolved alert held open stands only for alerts that fired while it fired."""
    notify = Notify(group_wait_s=0)
    notify.submit(KEY, TEAM)
    await notify.at(0)
    notify.submit(resolved(KEY))
    await notify.at(1)
    at = T0 + timedelta(hours=2)
    later = APP.model_copy(update={"alert_id": "app-later", "fired_at": at, "updated_at": at})
    notify.submit(later)  # the key alone would explain it, but had ended by then
    sent = await notify.at(2)
    assert sent[1:] == [("app-later", "firing", "team=agents")]  # a live explainer first
    sent = await notify.at(400)  # the key's page stands for nothing now
    assert sent[2:] == [(KEY.alert_id, "resolved", "")]


async def test_an_alert_of_the_incident_firing_after_its_page_ended_is_named_on_it() -> None:
    """The team's series, on a slower partition, raises its alert after the key's has
    resolved, on spend from while the key fired: no second page; the open page names it."""
    notify = Notify(group_wait_s=0)
    notify.submit(KEY)
    assert await notify.at(0) == [(KEY.alert_id, "firing", "")]
    notify.submit(resolved(KEY))
    notify.submit(TEAM)
    assert await notify.at(10) == [(KEY.alert_id, "firing", "")]  # the team's: explained
    sent = await notify.at(300)  # the key's group, a group_interval after its flush
    assert sent[1:] == [(KEY.alert_id, "firing", "team=agents")]
    assert await notify.at(900) == sent  # held open, nothing new to say
    notify.submit(resolved(TEAM))
    assert (await notify.at(901))[2:] == [(KEY.alert_id, "resolved", "")]


async def test_an_escalation_after_the_page_resolved_pages_on_its_own() -> None:
    """The team's alert gets worse after the key's ended (another cause): the key's page
    resolves at once, and the team's pages, naming the organisation it now explains."""
    notify = Notify(group_wait_s=0)
    notify.submit(KEY, TEAM, ORG)
    await notify.at(0)
    notify.submit(resolved(KEY))
    assert len(await notify.at(1)) == 1
    worse = TEAM.model_copy(
        update={"version": 2, "updated_at": T0 + timedelta(hours=1), "impact_nanos": 10**12}
    )
    notify.submit(worse)
    assert (await notify.at(2))[1:] == [(KEY.alert_id, "resolved", "")]
    sent = await notify.at(400)  # the team's group, a group_interval after its flush
    assert sent[2:] == [(TEAM.alert_id, "firing", "org=all")]


async def test_a_member_that_nobody_heard_firing_is_sent_when_its_explainer_resolves() -> None:
    """At a receiver the key's page never reached, the team's alert stands alone once the
    key's alert is over."""
    notify = Notify(group_wait_s=0)
    notify.submit(KEY, TEAM)
    notify.submit(resolved(KEY))  # resolved before the group's first flush: never heard
    sent = await notify.at(0)
    assert sent == [(TEAM.alert_id, "firing", "")]


async def test_an_explained_alert_resolving_with_its_explainer_is_never_sent() -> None:
    notify = Notify(group_wait_s=30)
    notify.submit(KEY, TEAM)
    assert await notify.at(30) == [(KEY.alert_id, "firing", "team=agents")]
    notify.submit(resolved(KEY))
    assert await notify.at(40) == [(KEY.alert_id, "firing", "team=agents")]
    notify.submit(resolved(TEAM))  # within the group wait after the key resolved
    sent = await notify.at(400)
    assert sent[1:] == [(KEY.alert_id, "resolved", "")]


async def test_a_newly_explained_series_updates_the_root_notification() -> None:
    notify = Notify(group_wait_s=0)
    notify.submit(KEY)
    assert await notify.at(0) == [(KEY.alert_id, "firing", "")]
    notify.submit(ORG)
    sent = await notify.at(301)  # the key's group flushes again after group_interval
    assert sent[1:] == [(KEY.alert_id, "firing", "org=all")]
    assert await notify.at(602) == sent  # nothing new: no repeat


async def test_a_page_keeps_naming_what_it_raised_on_after_that_resolves() -> None:
    """The team's alert resolving does not re-send the key's page to drop it from the
    names; a series newly raised on is added to them."""
    notify = Notify(group_wait_s=0)
    notify.submit(KEY, TEAM)
    assert await notify.at(0) == [(KEY.alert_id, "firing", "team=agents")]
    notify.submit(resolved(TEAM))
    assert await notify.at(301) == [(KEY.alert_id, "firing", "team=agents")]
    notify.submit(ORG)
    sent = await notify.at(602)
    assert sent[1:] == [(KEY.alert_id, "firing", "team=agents, org=all")]
    entry = notify.record.get("pd", KEY.alert_id)
    assert entry is not None and entry.named == ("team=agents", "org=all")
    assert SentEntry.from_json(entry.to_json()) == entry  # kept across a restart


async def test_a_restart_with_the_same_firing_alerts_and_send_record_sends_nothing_again() -> None:
    first = Notify(group_wait_s=0)
    first.submit(*RUNAWAY)
    sent = await first.at(0)
    assert [s[0] for s in sent] == [KEY.alert_id]
    again = Notify(group_wait_s=0, record=first.record)
    for alert in RUNAWAY:  # what the notifier learns from the outbox at start
        again.dispatcher.remember(alert)
    again.submit(*RUNAWAY)  # and the outbox replayed from an older offset
    assert await again.at(0) == []
    assert await again.at(3600 * 5) == [(KEY.alert_id, "firing", sent[0][2])]  # a reminder


async def test_a_resolve_of_an_explained_alert_is_not_sent_to_whoever_never_heard_it() -> None:
    notify = Notify(group_wait_s=0)
    notify.submit(KEY, TEAM)
    await notify.at(0)
    notify.submit(resolved(TEAM))
    sent = await notify.at(1)
    assert TEAM.alert_id not in [s[0] for s in sent]


async def test_after_a_restart_the_held_page_resolves_with_the_last_alert() -> None:
    """After a restart the team's alert and the key's ended one are known from the outbox
    and the send record, in no group; the key's resolve waits for the team's."""
    before = Notify(group_wait_s=0)
    before.submit(KEY, TEAM)
    sent = await before.at(0)
    after = Notify(group_wait_s=5, record=before.record)
    for alert in (KEY, TEAM):
        after.dispatcher.remember(alert)
    after.submit(resolved(KEY))
    assert await after.at(1) == []
    assert await after.at(5) == []  # held: the team's alert still fires
    again = Notify(group_wait_s=5, record=before.record)
    for alert in (resolved(KEY), TEAM):  # a second restart: the key known as ended
        again.dispatcher.remember(alert)
    again.submit(resolved(TEAM))
    assert await again.at(4) == []
    assert await again.at(5) == [(KEY.alert_id, "resolved", "")]
    assert sent == [(KEY.alert_id, "firing", "team=agents")]
    assert again.released == [1]  # the re-checked alert brought no token of its own
