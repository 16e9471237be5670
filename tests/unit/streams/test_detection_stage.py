"""Which buckets the worker's detection stage shows the detectors, and when."""

from __future__ import annotations

import pickle
from datetime import timedelta

import pytest

from alerting.lifecycle import AlertLifecycle, LifecycleState
from detectors.config import DetectorsConfig
from detectors.suite import DetectorSuite
from schemas.findings import Alert, Finding, minute_to_datetime
from streams import detection_stage
from streams.detection_stage import DetectionStage, SeriesWatch
from streams.rollup import CALLS, COST, N_METRICS
from streams.series_state import SeriesState

NAME = "api_key_id=k-1"
USD = 10**9
WARM = 90
"""Minutes of steady spend at $1 a minute before each case."""


def sums(usd: float, calls: int = 20) -> list[int]:
    out = [0] * N_METRICS
    out[COST], out[CALLS] = round(usd * USD), calls
    return out


def stage() -> DetectionStage:
    """The stage's evaluation needs no Kafka: ``_run`` is what ``evaluate`` does per
    series before storing and publishing, so the table is an empty dict (nothing stored
    yet) and the topics are left out."""
    return DetectionStage(
        DetectorSuite(DetectorsConfig()), AlertLifecycle(), {}, None, None, open_every_s=0.0
    )


def warm(detection: DetectionStage) -> tuple[SeriesWatch, SeriesState]:
    series = SeriesState()
    for minute in range(WARM):
        series.minutes[minute] = sums(1.0)
    series.newest_minute = WARM - 1
    watch = detection._watch(NAME, series)
    assert detection._run(NAME, watch, series, [], []) is not None
    assert watch.closed_through == WARM - 3  # the last two minutes wait out the grace
    return watch, series


def run(detection: DetectionStage, watch: SeriesWatch, series: SeriesState) -> list[Finding]:
    found: list[Finding] = []
    changes: list[Alert] = []
    detection._run(NAME, watch, series, found, changes)
    return found


@pytest.mark.parametrize("late_usd", [3.6, 4.5])
def test_a_spike_late_in_a_minute_is_seen_once_the_next_minute_has_begun(
    late_usd: float,
) -> None:
    """The minute a spike began in is no longer the newest once the next one has
    data, and it is not closed before the grace minute has passed: it is shown open."""
    detection = stage()
    watch, series = warm(detection)
    spiked = WARM
    series.minutes[spiked] = sums(late_usd)
    series.minutes[spiked + 1] = sums(0.4)  # the first seconds of the next minute
    series.newest_minute = spiked + 1
    found = [f for f in run(detection, watch, series) if f.detector == "spend_spike"]
    assert found, "the still-open minute with the spike was not evaluated"
    assert watch.closed_through < spiked
    assert found[0].window_end - found[0].window_start == timedelta(minutes=1)
    assert found[0].observed == pytest.approx(late_usd)


def test_open_buckets_carry_the_still_open_ones_before_them() -> None:
    detection = stage()
    watch, series = warm(detection)
    series.minutes[WARM + 1] = sums(2.0)
    series.minutes[WARM + 2] = sums(0.5)
    series.newest_minute = WARM + 2
    run(detection, watch, series)  # closes through WARM - 1
    buckets = list(
        detection._open_buckets(NAME, series, watch.closed_through, [WARM + 1, WARM + 2])
    )
    assert [b.start_minute for b in buckets] == [WARM + 1, WARM + 2]
    assert all(not b.closed for b in buckets)
    assert buckets[0].before == (0,)  # minute WARM had no events
    assert buckets[1].before == (0, 2 * USD)


def test_quiet_steady_spend_raises_nothing_open_or_closed() -> None:
    detection = stage()
    watch, series = warm(detection)
    for minute in range(WARM, WARM + 30):
        series.minutes[minute] = sums(1.0)
        series.newest_minute = minute
        assert run(detection, watch, series) == []


def test_a_finding_over_open_buckets_names_the_contributors_of_all_of_them() -> None:
    """A team spike spread over ten keys; the newest minute has only one key's first
    message so far. A finding judged over both open minutes must not make that key look
    like the whole team's spend (the notifier would take it to explain the team's alert)."""
    team = "team=search"
    detection = stage()
    series = SeriesState()
    for minute in range(WARM):
        series.minutes[minute] = sums(0.6)
    series.newest_minute = WARM - 1
    watch = detection._watch(team, series)
    detection._run(team, watch, series, [], [])
    keys = {f"api_key_id=k-{i}": USD for i in range(10)}
    series.minutes[WARM], series.contributors[WARM] = sums(10.0), dict(keys)
    series.minutes[WARM + 1] = sums(2.0)
    series.contributors[WARM + 1] = {"api_key_id=k-0": 2 * USD}
    series.newest_minute = WARM + 1
    found: list[Finding] = []
    detection._run(team, watch, series, found, [])
    late = [f for f in found if f.at == minute_to_datetime(WARM + 2)]
    assert late, [f.summary for f in found]
    for f in late:
        assert f.spend_nanos == 12 * USD
        shares = {c.series: c.cost_nanos / f.spend_nanos for c in f.contributors}
        assert shares["api_key_id=k-0"] == pytest.approx(0.25)


def test_a_combined_series_waits_for_its_slowest_active_source() -> None:
    """Two usage partitions feed the org series; one races ahead (a backfill). A minute
    closes only once the slower source has passed it too; a source quiet for
    ``idle_s`` seconds no longer holds it."""
    detection = stage()
    watch, series = warm(detection)
    progress = detection.sources
    progress.note(0, source=0, minute=WARM + 5, now=100.0)
    progress.note(0, source=1, minute=WARM, now=100.0)
    for minute in range(WARM, WARM + 6):
        series.minutes[minute] = sums(0.5)  # source 0's half only, so far
    series.newest_minute = WARM + 5
    detection._run(NAME, watch, series, [], [], progress.low(0, now=101.0))
    assert watch.closed_through == WARM - 2  # WARM - 1 is passed by both, WARM is not
    progress.note(0, source=1, minute=WARM + 3, now=102.0)
    detection._run(NAME, watch, series, [], [], progress.low(0, now=102.0))
    assert watch.closed_through == WARM + 1
    later = 102.0 + progress.idle_s + 1
    progress.note(0, source=0, minute=WARM + 5, now=later)
    detection._run(NAME, watch, series, [], [], progress.low(0, now=later))
    assert watch.closed_through == WARM + 3  # by source 0 alone: source 1 went quiet


def test_source_marks_only_move_forward_and_are_forgotten_on_rebalance() -> None:
    detection = stage()
    progress = detection.sources
    assert progress.low(3, now=0.0) is None
    progress.note(3, source=1, minute=50, now=0.0)
    progress.note(3, source=1, minute=40, now=1.0)  # an older record replayed
    progress.note(3, source=2, minute=45, now=1.0)
    assert progress.low(3, now=1.0) == 45
    assert progress.low(4, now=1.0) is None
    detection.forget_partitions()
    assert progress.low(3, now=1.0) is None


async def test_quiet_series_are_read_again_only_when_event_time_can_close_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A thousand keys that called once each: their minute waits for the watermark to
    pass it by the allowed lateness. Flushes before that read none of them; the flush
    after reads each once (a few hundred per flush at most), and closes it."""
    monkeypatch.setattr(detection_stage, "DUE_PER_FLUSH", 300)
    detection = stage()
    states = {}
    for i in range(1000):
        series = SeriesState()
        series.minutes[100] = sums(0.01, calls=1)
        series.newest_minute = 100
        states[f"api_key_id=k-{i}"] = series
    detection.advance(100)
    reads: list[str] = []

    def state_of(name: str) -> SeriesState:
        reads.append(name)
        return states[name]

    await detection.evaluate(0, list(states), state_of)
    assert len(reads) == 1000
    for _ in range(3):
        reads.clear()
        await detection.evaluate(0, [], state_of)
        assert reads == []
    assert not detection.waiting_on(0, evaluated_at=100)
    detection.advance(100 + 1 + detection.idle_close_minutes)
    assert detection.waiting_on(0, evaluated_at=100)
    read_per_flush = []
    while detection.waiting_on(0, evaluated_at=detection.watermark):
        reads.clear()
        await detection.evaluate(0, [], state_of)
        read_per_flush.append(len(reads))
    assert read_per_flush == [300, 300, 300, 100]
    assert all(detection._watch(n, s).closed_through == 100 for n, s in states.items())


async def test_a_series_held_back_by_a_slow_source_is_read_again_when_that_source_moves() -> None:
    detection = stage()
    series = SeriesState()
    for minute in range(100, 106):
        series.minutes[minute] = sums(1.0)
    series.newest_minute = 105
    detection.advance(105)
    detection.sources.note(0, source=0, minute=105)
    detection.sources.note(0, source=1, minute=100)
    reads: list[str] = []

    def state_of(name: str) -> SeriesState:
        reads.append(name)
        return series

    await detection.evaluate(0, ["org=all"], state_of)
    watch = detection.watches["org=all"]
    assert watch.closed_through == -1  # source 1 has not passed minute 100
    reads.clear()
    await detection.evaluate(0, [], state_of)
    assert reads == [] and not detection.waiting_on(0, evaluated_at=105)
    detection.sources.note(0, source=1, minute=103)
    assert detection.waiting_on(0, evaluated_at=105)
    await detection.evaluate(0, [], state_of)
    assert reads == ["org=all"]
    assert watch.closed_through == 101  # what both sources have passed by a grace minute


def test_detector_state_of_an_older_format_is_relearned_and_its_alerts_stay() -> None:
    """A series stored by an earlier version: the models start afresh from where the
    series had got to, and the alerts it had firing are still tracked."""
    detection = stage()
    watch, series = warm(detection)
    for minute in range(WARM, WARM + 5):
        series.minutes[minute] = sums(40.0)
    series.newest_minute = WARM + 4
    changes: list[Alert] = []
    detection._run(NAME, watch, series, [], changes)
    assert changes, "the spike fired no alert"
    version, closed_through, _, lifecycle = pickle.loads(detection._dumps(watch))
    older = pickle.dumps((1, "detector state of format 1"))
    table = {NAME.encode(): pickle.dumps((version, closed_through, older, lifecycle))}

    later = DetectionStage(detection.suite, AlertLifecycle(), table, None, None)
    restored = later._watch(NAME, series)

    tracked = LifecycleState.loads(lifecycle).keys
    assert tracked and restored.lifecycle.keys.keys() == tracked.keys()
    assert restored.closed_through == closed_through == watch.closed_through
    assert restored.detectors.last_minute == closed_through
    assert restored.detectors.states["spend_spike"].history == 0


def test_detector_state_of_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format 99"):
        stage().suite.loads(pickle.dumps((99, None)))
