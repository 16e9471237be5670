from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from streams.rollup import N_METRICS
from streams.series_state import CONTRIBUTOR_MINUTES, MINUTES_KEPT, SeriesState, month_of_minute

BASE = (datetime(2026, 11, 29, 12, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
    minutes=1
)


def bucket(minute: int, cost: int, calls: int = 1) -> list[int]:
    return [minute, cost, calls] + [0] * (N_METRICS - 2)


def test_a_partial_is_applied_once_per_source_position() -> None:
    state = SeriesState()
    assert state.apply(0, 5, [bucket(BASE, 100)])
    assert not state.apply(0, 5, [bucket(BASE, 100)])
    assert state.apply(0, 4, [bucket(BASE, 1)])  # out of order, first time: applied
    assert not state.apply(0, 4, [bucket(BASE, 1)])
    assert state.apply(1, 2, [bucket(BASE, 10)])
    assert state.window("5m", BASE)[0] == 111


def test_a_partial_below_its_sources_committed_offset_is_not_applied_again() -> None:
    """Partials carry their source partition's committed offset: everything below it was
    stored before them, so the state keeps exact offsets only above it."""
    state = SeriesState()
    for offset in range(0, 300, 3):  # a series in every third message
        assert state.apply(0, offset, [bucket(BASE, 1)])
    assert len(state.applied[0].ranges) == 100
    assert state.apply(0, 300, [bucket(BASE, 1)], committed=290)
    assert state.applied[0].ranges == [[291, 291], [294, 294], [297, 297], [300, 300]]
    assert not state.apply(0, 150, [bucket(BASE, 1)])  # a replayed old record
    assert state.apply(0, 295, [bucket(BASE, 1)], committed=280)  # an older mark: no change
    assert state.apply(0, 310, [bucket(BASE, 1)], committed=400)  # never past the record
    assert state.window("5m", BASE)[0] == 103
    again = SeriesState.from_bytes(state.to_bytes())
    assert not again.apply(0, 305, [bucket(BASE, 1)])


def test_windows() -> None:
    state = SeriesState()
    state.apply(0, 1, [bucket(BASE - 3, 1), bucket(BASE - 30, 10), bucket(BASE - 120, 100)])
    state.apply(0, 2, [bucket(BASE - 60 * 30, 1000), bucket(BASE - 60 * 24 * 6, 10_000)])
    assert state.window("5m", BASE)[0] == 1
    assert state.window("1h", BASE)[0] == 11
    assert state.window("24h", BASE)[0] == 111  # 30 h ago is outside 24 h
    assert state.window("7d", BASE)[0] == 11_111
    assert state.window("mtd", BASE)[0] == 11_111
    assert state.total()[0] == 11_111
    assert state.window("5m", BASE + 10)[0] == 0


def test_minutes_expire_but_hours_days_and_months_keep_the_money() -> None:
    state = SeriesState()
    span = MINUTES_KEPT + 40
    for offset in range(span):
        state.apply(0, offset, [bucket(BASE + offset, 5)])
    assert BASE not in state.minutes
    assert len(state.minutes) <= MINUTES_KEPT + 31
    assert state.total()[0] == 5 * span
    assert state.window("1h", BASE + span - 1)[0] == 5 * 60


@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(-5000, 5000), st.integers(0, 10**12)), max_size=30
    )
)
def test_round_trip_and_exact_sums(parts: list[tuple[int, int, int]]) -> None:
    state = SeriesState()
    applied = 0
    for offset, (partition, delta, cost) in enumerate(parts):
        if state.apply(partition, offset, [bucket(BASE + delta, cost)], [[BASE, {"docs": "1.5"}]]):
            applied += cost
    again = SeriesState.from_bytes(state.to_bytes())
    assert again == state
    assert again.total()[0] == applied
    if parts:
        assert again.units[month_of_minute(BASE)]["docs"] == Decimal("1.5") * len(parts)


def test_contributors_are_applied_once_kept_for_recent_minutes_and_stored() -> None:
    state = SeriesState()
    shares = [[BASE, {"api_key_id=k1": 70, "model=gpt-4o": 100}]]
    assert state.apply(0, 1, [bucket(BASE, 100)], contributors=shares)
    assert not state.apply(0, 1, [bucket(BASE, 100)], contributors=shares)
    state.apply(0, 2, [bucket(BASE + 1, 5)], contributors=[[BASE + 1, {"api_key_id=k1": 5}]])
    assert state.contributors_between(BASE, BASE + 2) == {"api_key_id=k1": 75, "model=gpt-4o": 100}
    assert state.contributors_between(BASE + 1, BASE + 2) == {"api_key_id=k1": 5}
    restored = SeriesState.from_bytes(state.to_bytes())
    assert restored.contributors == state.contributors
    late = BASE + 1 - CONTRIBUTOR_MINUTES - 1
    state.apply(1, 1, [bucket(late, 1)], contributors=[[late, {"api_key_id=old": 1}]])
    assert state.window("5m", late)[0] == 1
    # Not yet seen by the detectors: kept although older than CONTRIBUTOR_MINUTES.
    assert state.contributors_between(late, late + 1) == {"api_key_id=old": 1}
    for step in range(2, CONTRIBUTOR_MINUTES + 20):
        state.contributors_needed_from = BASE + step  # the detectors keep up
        state.apply(0, 2 + step, [bucket(BASE + step, 1)],
                    contributors=[[BASE + step, {"app=a": 1}]])  # fmt: skip
    assert len(state.contributors) <= CONTRIBUTOR_MINUTES + 11  # trimmed in steps
    assert late not in state.contributors
    lagging = SeriesState(contributors_needed_from=BASE)  # detectors stuck at BASE
    for step in range(CONTRIBUTOR_MINUTES + 20):
        lagging.apply(0, step, [bucket(BASE + step, 1)],
                      contributors=[[BASE + step, {"app=a": 1}]])  # fmt: skip
    assert BASE in lagging.contributors
    assert SeriesState.from_bytes(lagging.to_bytes()).contributors_needed_from == BASE
