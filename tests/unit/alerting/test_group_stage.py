"""The group stage's timing (group_wait, group_interval, repeat_interval) and the
dispatcher that releases an input only after every group it joined was flushed."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from datetime import timedelta

import pytest

from alerting.config import RouteConfig, SilenceConfig
from alerting.delivery import Delivery, MemorySendRecord, Pipeline, SentEntry
from alerting.dispatcher import Dispatcher
from alerting.group_stage import Grouper
from alerting.inhibit_stage import Inhibitor
from alerting.matchers import alert_labels
from alerting.pipeline import StageKit
from alerting.routing import RouteMatch, Router
from alerting.silence_stage import SilenceBook
from schemas.findings import Alert, AlertState
from tests.unit.alerting.conftest import T0, ManualClock, build_alert

ROUTE = RouteMatch(
    "root", "slack", ("team",), timedelta(seconds=30), timedelta(minutes=5), timedelta(hours=4)
)


def add(grouper: Grouper, alert: Alert, at_s: float, token: Hashable = 0) -> None:
    grouper.add(ROUTE, alert_labels(alert), alert, token, T0 + timedelta(seconds=at_s))


def due_at(grouper: Grouper, at_s: float) -> list[list[str]]:
    flushes = grouper.due(T0 + timedelta(seconds=at_s))
    for flush in flushes:
        grouper.flushed(flush, T0 + timedelta(seconds=at_s))
    return [[f"{a.alert_id}@{a.version}" for a in f.alerts] for f in flushes]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # (("add", alert, at_s) | ("due", at_s)), flushes seen at each "due"
        ([("add", "a", 1, 0), ("due", 30)], [[]]),
        ([("add", "a", 1, 0), ("due", 31)], [[["a@1"]]]),
        ([("add", "a", 0, 0), ("add", "b", 10, 0), ("due", 30)], [[["a@1", "b@1"]]]),
        (
            [("add", "a", 0, 0), ("due", 30), ("add", "a", 40, 2), ("due", 300), ("due", 330)],
            [[["a@1"]], [], [["a@2"]]],
        ),
        (
            [("add", "a", 0, 0), ("due", 30), ("due", 329), ("due", 330), ("due", 630)],
            [[["a@1"]], [], [["a@1"]], [["a@1"]]],
        ),
        (
            [
                ("add", "a", 0, 0),
                ("due", 30),
                ("add", "a", 60, 2, "resolved"),
                ("due", 330),
                ("due", 99999),
            ],
            [[["a@1"]], [["a@2"]], []],
        ),
        (
            [("add", "a", 0, 0), ("add", "c", 0, 0, "firing", "ads"), ("due", 30)],
            [[["a@1"], ["c@1"]]],
        ),
    ],
    ids=["waits", "group-wait", "batched", "interval", "periodic", "resolved-leaves", "by-team"],
)
def test_group_timing(steps: list[tuple[object, ...]], expected: list[list[list[str]]]) -> None:
    grouper = Grouper()
    seen = []
    for step in steps:
        if step[0] == "add":
            _, name, at_s, version, *rest = step
            state = AlertState(rest[0]) if rest else AlertState.FIRING
            team = rest[1] if len(rest) > 1 else "search"
            alert = build_alert(
                alert_id=name,
                version=max(1, int(str(version))),
                state=state,
                scope=f"team={team}",
                labels={"team": team},
            )
            add(grouper, alert, float(str(at_s)))
        else:
            seen.append(due_at(grouper, float(str(step[1]))))
    assert seen == expected


class RecordingPipeline(Pipeline):
    def __init__(self, fail: bool = False) -> None:
        super().__init__([])
        self.seen: list[list[str]] = []
        self.fail = fail

    async def __call__(self, delivery: Delivery, alerts: list[Alert]) -> list[Alert]:
        if self.fail:
            raise RuntimeError("receiver pipeline broke")
        self.seen.append([a.alert_id for a in alerts])
        return alerts


ROUTES = RouteConfig.model_validate(
    {
        "receiver": "slack",
        "group_wait": "0s",
        "routes": [
            {"matchers": ["team=search"], "receiver": "slack", "continue": True},
            {"matchers": ["severity=critical"], "receiver": "pager", "continue": True},
            {"matchers": ["team=nobody"], "receiver": "missing"},
        ],
    }
)


async def test_a_token_is_released_once_every_receiver_is_done() -> None:
    clock = ManualClock()
    released: list[Hashable] = []

    def on_released(tokens: Iterable[Hashable]) -> None:
        released.extend(tokens)

    slack, pager = RecordingPipeline(), RecordingPipeline(fail=True)
    dispatcher = Dispatcher(Router(ROUTES), {"slack": slack, "pager": pager}, clock, on_released)
    dispatcher.submit(build_alert(severity="critical"), "t1")
    dispatcher.submit(build_alert(alert_id="quiet", labels={"team": "nobody"}), "t2")
    assert released == ["t2"]  # no pipeline for its receiver: nothing to wait for
    dispatcher.flush_due()
    await dispatcher.settle()
    assert slack.seen == [["spike:team=search"]] and released == ["t2"]
    pager.fail = False
    clock.advance(5)
    dispatcher.flush_due()
    await dispatcher.settle()
    assert pager.seen == [["spike:team=search"]]
    assert released == ["t2", "t1"]


def test_dispatcher_tracks_firing_alerts_for_inhibition() -> None:
    dispatcher = Dispatcher(Router(RouteConfig()), {}, ManualClock(), lambda tokens: None)
    dispatcher.submit(build_alert(), 1)
    assert [a.alert_id for a in dispatcher.firing()] == ["spike:team=search"]
    dispatcher.submit(build_alert(version=2, state=AlertState.RESOLVED), 2)
    assert dispatcher.firing() == []
    dispatcher.submit(build_alert(version=1), 3)  # an older, replayed version
    assert dispatcher.firing() == []


class RecordingNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []

    async def notify(self, alert: Alert, previous: SentEntry | None) -> dict[str, str]:
        self.sent.append((alert.alert_id, alert.version))
        return {"n": str(len(self.sent))}

    async def aclose(self) -> None:
        return None


async def test_an_alert_is_sent_once_its_silence_ends_and_reminded_after_repeat_interval() -> None:
    clock = ManualClock()
    silence = SilenceConfig.model_validate(
        {
            "id": "s",
            "matchers": ["team=search"],
            "starts_at": T0,
            "ends_at": T0 + timedelta(minutes=7),
            "comment": "deploy",
            "created_by": "ana",
        }
    )
    firing: dict[str, Alert] = {}
    kit = StageKit(
        Inhibitor([], firing.values), SilenceBook([silence]), MemorySendRecord(), clock, clock.sleep
    )
    notifier = RecordingNotifier()
    routes = RouteConfig.model_validate({"receiver": "slack", "repeat_interval": "1h"})
    dispatcher = Dispatcher(
        Router(routes), {"slack": kit.pipeline(notifier)}, clock, lambda tokens: None, firing
    )

    async def at(minutes: float) -> list[tuple[str, int]]:
        clock.now = T0 + timedelta(minutes=minutes)
        dispatcher.flush_due()
        await dispatcher.settle()
        return list(notifier.sent)

    dispatcher.submit(build_alert(), 1)
    assert await at(1) == []  # silenced at its first flush (after group_wait)
    assert await at(6) == []  # still silenced at the next group_interval
    assert await at(11) == [("spike:team=search", 1)]  # silence over: sent
    assert await at(16) == [("spike:team=search", 1)]  # nothing new
    assert await at(71.5) == [("spike:team=search", 1)] * 2  # repeat_interval: a reminder
