"""Each notify stage alone, with tables of cases and an injected clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from alerting.config import InhibitRuleConfig, SilenceConfig
from alerting.dedup_stage import DedupStage
from alerting.delivery import (
    Delivery,
    DeliveryError,
    MemorySendRecord,
    SentEntry,
    alert_fingerprint,
)
from alerting.inhibit_stage import Inhibitor, InhibitStage
from alerting.record_sent_stage import RecordSentStage
from alerting.retry_stage import Backoff, RetryStage
from alerting.routing import RouteMatch
from alerting.silence_stage import SilenceBook, SilenceStage
from schemas.findings import Alert, AlertState
from tests.unit.alerting.conftest import T0, ManualClock, build_alert

ROUTE = RouteMatch(
    "root",
    "pd",
    ("team",),
    timedelta(seconds=30),
    timedelta(minutes=5),
    timedelta(hours=4),
)


def delivery() -> Delivery:
    return Delivery("pd", ROUTE, "g", T0)


BUDGET_PAGE = build_alert(alert_id="budget:team=search", detector="budget", severity="critical")
RULE = InhibitRuleConfig.model_validate(
    {
        "source_match": ["detector=budget", "severity=critical"],
        "target_match": ["detector=spike", "severity=warning"],
        "equal": ["team"],
    }
)


@pytest.mark.parametrize(
    ("sources", "target", "muted"),
    [
        ([BUDGET_PAGE], build_alert(), True),
        ([], build_alert(), False),
        ([BUDGET_PAGE], build_alert(labels={"team": "ads"}, scope="team=ads"), False),
        ([BUDGET_PAGE], build_alert(severity="critical"), False),
        ([BUDGET_PAGE.model_copy(update={"state": AlertState.RESOLVED})], build_alert(), False),
        ([BUDGET_PAGE], build_alert(state=AlertState.RESOLVED), False),
        ([build_alert(alert_id="budget:team=search", detector="budget")], build_alert(), False),
        ([build_alert()], build_alert(), False),
    ],
    ids=[
        "budget-page-mutes-team-spike",
        "no-source",
        "other-team",
        "target-not-warning",
        "source-resolved",
        "resolve-passes",
        "source-not-critical",
        "never-itself",
    ],
)
async def test_inhibit_stage(sources: list[Alert], target: Alert, muted: bool) -> None:
    stage = InhibitStage(Inhibitor([RULE], lambda: sources))
    run = delivery()
    out = await stage(run, [target])
    assert (out == []) is muted
    assert ("inhibited by budget:team=search" in run.dropped.values()) is muted


def silence(matchers: list[str], start_h: float = -1, end_h: float = 1) -> SilenceConfig:
    return SilenceConfig.model_validate(
        {
            "id": "s1",
            "matchers": matchers,
            "starts_at": T0 + timedelta(hours=start_h),
            "ends_at": T0 + timedelta(hours=end_h),
            "comment": "deploy",
            "created_by": "ana",
        }
    )


@pytest.mark.parametrize(
    ("silences", "alert", "muted"),
    [
        ([silence(["team=search"])], build_alert(), True),
        ([silence(["team=ads"])], build_alert(), False),
        ([silence(["team=search"], start_h=1, end_h=2)], build_alert(), False),
        ([silence(["team=search"], start_h=-2, end_h=0)], build_alert(), False),
        ([silence(["team=search", "severity=critical"])], build_alert(), False),
        ([silence(["detector=~spi.*"])], build_alert(), True),
        ([silence(["team=search"])], build_alert(state=AlertState.RESOLVED), False),
    ],
    ids=["match", "other", "not-yet", "expired-at-end", "partial", "regex", "resolve-passes"],
)
async def test_silence_stage(silences: list[SilenceConfig], alert: Alert, muted: bool) -> None:
    stage = SilenceStage(SilenceBook(silences), ManualClock())
    assert (await stage(delivery(), [alert]) == []) is muted


def test_expiring_a_silence_ends_it_now() -> None:
    book = SilenceBook([silence(["team=search"])])
    book.expire("s1", T0)
    assert book.active(T0) == [] and book.muting(build_alert(), T0) is None
    with pytest.raises(KeyError):
        book.expire("nope", T0)


FIRING = build_alert()


def entry(alert: Alert, minutes_ago: float = 1) -> SentEntry:
    return SentEntry(
        "pd",
        alert.alert_id,
        alert.version,
        alert.state,
        alert_fingerprint(alert),
        T0 - timedelta(minutes=minutes_ago),
        {"dedup_key": alert.alert_id},
    )


@pytest.mark.parametrize(
    ("sent", "alert", "send"),
    [
        (None, FIRING, True),
        (None, build_alert(state=AlertState.RESOLVED), False),
        (entry(FIRING), FIRING, False),
        (entry(FIRING, minutes_ago=4 * 60), FIRING, True),
        (entry(FIRING, minutes_ago=4 * 60 - 1), FIRING, False),
        (entry(FIRING), build_alert(version=2, severity="critical"), True),
        (entry(FIRING), build_alert(version=2, state=AlertState.RESOLVED), True),
        (entry(build_alert(version=2, state=AlertState.RESOLVED)), FIRING, False),
        (
            entry(build_alert(version=2, state=AlertState.RESOLVED)),
            build_alert(version=2, state=AlertState.RESOLVED),
            False,
        ),
        (entry(build_alert(version=3)), build_alert(version=2), False),
    ],
    ids=[
        "first-firing",
        "resolve-never-heard",
        "same-version",
        "repeat-due",
        "repeat-not-yet",
        "changed",
        "resolved",
        "replayed-older-firing",
        "resolve-twice",
        "older-version",
    ],
)
async def test_dedup_stage(sent: SentEntry | None, alert: Alert, send: bool) -> None:
    record = MemorySendRecord()
    if sent is not None:
        record.load(sent)
    out = await DedupStage(record, ManualClock())(delivery(), [alert])
    assert (out == [alert]) is send


class ScriptedNotifier:
    """A receiver whose answers the test scripts (errors, then acceptance)."""

    def __init__(self, failures: list[DeliveryError]) -> None:
        self.failures = list(failures)
        self.calls: list[tuple[str, SentEntry | None]] = []

    async def notify(self, alert: Alert, previous: SentEntry | None) -> dict[str, str]:
        self.calls.append((alert.alert_id, previous))
        if self.failures:
            raise self.failures.pop(0)
        return {"ok": alert.alert_id}

    async def aclose(self) -> None:
        return None


def err(retryable: bool = True, retry_after: float | None = None) -> DeliveryError:
    return DeliveryError("boom", retryable=retryable, retry_after=retry_after)


@pytest.mark.parametrize(
    ("failures", "backoff", "accepted", "waits"),
    [
        ([], Backoff(), True, []),
        ([err(retry_after=7)], Backoff(), True, [7.0]),
        ([err(), err(), err()], Backoff(first=1, factor=2), True, [1.0, 2.0, 4.0]),
        ([err()] * 5, Backoff(first=10, factor=3, cap=60), True, [10.0, 30.0, 60.0, 60.0, 60.0]),
        ([err(retryable=False)], Backoff(), False, []),
        ([err(), err(retryable=False)], Backoff(), False, [1.0]),
        ([err()] * 10, Backoff(first=1, factor=1, give_up_after=3), False, [1.0, 1.0, 1.0]),
    ],
    ids=["ok", "429-retry-after", "5xx-backoff", "capped", "400-never", "5xx-then-400", "give-up"],
)
async def test_retry_stage(
    failures: list[DeliveryError], backoff: Backoff, accepted: bool, waits: list[float]
) -> None:
    clock = ManualClock()
    notifier = ScriptedNotifier(failures)
    stage = RetryStage(notifier, MemorySendRecord(), clock, clock.sleep, backoff)
    run = delivery()
    out = await stage(run, [FIRING])
    assert (out == [FIRING]) is accepted
    assert clock.slept == waits
    assert (FIRING.alert_id in run.receipts) is accepted


async def test_retry_stage_hands_the_previous_send_to_the_notifier() -> None:
    record = MemorySendRecord()
    record.load(entry(FIRING))
    notifier = ScriptedNotifier([])
    clock = ManualClock()
    await RetryStage(notifier, record, clock, clock.sleep)(delivery(), [FIRING])
    assert notifier.calls == [(FIRING.alert_id, entry(FIRING))]


@pytest.mark.parametrize(
    ("receipts", "recorded"),
    [({FIRING.alert_id: {"ts": "1.2"}}, True), ({}, False)],
    ids=["accepted", "not-accepted"],
)
async def test_record_sent_stage_records_only_accepted(
    receipts: dict[str, dict[str, str]], recorded: bool
) -> None:
    record = MemorySendRecord()
    clock = ManualClock()
    run = delivery()
    run.receipts.update(receipts)
    await RecordSentStage(record, clock)(run, [FIRING])
    got = record.get("pd", FIRING.alert_id)
    assert (got is not None) is recorded
    if got is not None:
        assert (got.version, got.ref, got.sent_at) == (1, {"ts": "1.2"}, T0)
        assert SentEntry.from_json(got.to_json()) == got


def test_sent_entries_survive_json(make_alert: Callable[..., Alert]) -> None:
    e = entry(make_alert(state=AlertState.RESOLVED, version=4))
    assert SentEntry.from_json(e.to_json()) == e
