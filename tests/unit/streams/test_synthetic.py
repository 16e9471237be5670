from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from statistics import mean
from typing import Any

import pytest

from schemas.event import UsageEvent
from schemas.money import usd_to_nanos
from schemas.pricing import CostSource, PriceBook
from streams.synthetic import DEFAULT_START, TrafficGenerator
from streams.synthetic_org import OPUS, Incident, TrafficProfile

HOUR = 3600.0
Events = list[dict[str, Any]]


@pytest.fixture(scope="module")
def prices() -> PriceBook:
    return PriceBook()


def generator(
    prices: PriceBook, incidents: list[Incident] | None = None, **profile: Any
) -> TrafficGenerator:
    return TrafficGenerator(TrafficProfile(**profile), incidents or [], price_book=prices)


def cost_nanos(prices: PriceBook, event: dict[str, Any]) -> int:
    when = datetime.fromisoformat(event["timestamp"])
    nanos, _ = prices.price(
        event["provider"],
        event["model"],
        when,
        event["input_tokens"],
        event["output_tokens"],
        event["cache_read_tokens"],
        event["cache_write_tokens"],
    )
    return nanos


def of(events: Events, **match: str) -> Events:
    return [e for e in events if all(e.get(k) == v for k, v in match.items())]


def test_same_seed_gives_the_same_events_and_another_seed_does_not(prices: PriceBook) -> None:
    a = generator(prices, seed=3, calls_per_second=5).events_between(0, 600)
    b = generator(prices, seed=3, calls_per_second=5).events_between(0, 600)
    c = generator(prices, seed=4, calls_per_second=5).events_between(0, 600)
    assert a == b
    assert a != c
    assert len({e["event_id"] for e in a}) == len(a) > 1000


def test_any_slicing_of_time_gives_the_same_events(prices: PriceBook) -> None:
    gen = generator(prices, calls_per_second=5)
    whole = generator(prices, calls_per_second=5).events_between(0, 900)
    assert gen.events_between(0, 250.5) + gen.events_between(250.5, 900) == whole
    batches = list(gen.iter_batches(900, 7))
    assert [e for b in batches for e in b.events] == whole
    assert batches[0].start == DEFAULT_START
    assert batches[-1].end == DEFAULT_START + timedelta(seconds=900)
    t0 = DEFAULT_START + timedelta(seconds=100)
    assert gen.events_between(t0, t0 + timedelta(seconds=60)) == gen.events_between(100, 160)


def test_every_event_validates_and_every_model_is_priced(prices: PriceBook) -> None:
    incidents = [
        Incident.runaway_loop("key-support-1", 300, 600),
        Incident.leaked_key(600, 600),
        Incident.model_switch("search-rerank", 0, 1800),
        Incident.prompt_bloat("support-bot", 0, 1800),
    ]
    gen = generator(prices, incidents, calls_per_second=5)
    events = gen.events_between(0, 1800)
    parsed = [UsageEvent.model_validate(e) for e in events]
    used = {(e.provider, e.model) for e in parsed}
    assert len(used) >= 6 and all(prices.is_priced(p, m) for p, m in used)
    assert all(prices.is_priced(*model) for a in gen.apps for model, _ in a.models)
    assert [e.timestamp for e in parsed] == sorted(e.timestamp for e in parsed)
    assert {e.environment for e in parsed} == {"prod", "staging", None}
    assert {e.status for e in parsed} >= {"ok", "error", "timeout", "rate_limited"}
    assert any(e.cache_read_tokens for e in parsed) and any(e.cache_write_tokens for e in parsed)
    assert {u for e in parsed for u in e.units} == {"documents", "pages"}
    reported = [e for e in events if "cost_usd" in e]
    assert 0.01 < len(reported) / len(events) < 0.06
    for event in reported:
        assert isinstance(event["cost_usd"], str)
        assert usd_to_nanos(Decimal(event["cost_usd"])) == cost_nanos(prices, event)


def test_names_look_real_and_keys_are_identifiers(prices: PriceBook) -> None:
    gen = generator(prices, teams=9, apps_per_team=5, keys_per_app=3)
    assert {a.team for a in gen.apps} >= {"search", "support", "research", "growth", "platform"}
    assert "team-9" in {a.team for a in gen.apps}
    assert {"search-rerank", "support-bot"} <= {a.name for a in gen.apps}
    assert all(re.fullmatch(r"key-[a-z0-9-]+-\d+", k.api_key_id) for k in gen.keys)
    assert len(gen.keys) == 9 * 5 * 3 == len({k.api_key_id for k in gen.keys})
    assert sum(k.share for k in gen.keys) == pytest.approx(1.0)


def test_epoch_milliseconds_timestamps(prices: PriceBook) -> None:
    events = generator(prices, timestamp_format="epoch_ms").events_between(0, 30)
    start_ms = int(DEFAULT_START.timestamp() * 1000)
    assert all(start_ms <= e["timestamp"] < start_ms + 30_000 for e in events)
    UsageEvent.model_validate(events[0])


def test_counts_follow_a_poisson_process(prices: PriceBook) -> None:
    events = generator(prices, calls_per_second=10, peak_to_trough=1.0).events_between(0, HOUR)
    assert abs(len(events) - 36_000) < 4 * 36_000**0.5
    start = DEFAULT_START.timestamp()
    seconds = [datetime.fromisoformat(e["timestamp"]).timestamp() - start for e in events]
    bins = Counter(int(s // 10) for s in seconds)
    counts = [bins[i] for i in range(360)]
    m = mean(counts)
    dispersion = sum((c - m) ** 2 for c in counts) / (len(counts) - 1) / m
    assert 0.75 < dispersion < 1.3


def test_diurnal_pattern_peaks_in_working_hours(prices: PriceBook) -> None:
    gen = generator(prices, calls_per_second=0.5)
    events = gen.events_between(0, 24 * HOUR)
    hours = Counter(datetime.fromisoformat(e["timestamp"]).hour for e in events)
    assert hours[14] > 2 * hours[2]
    assert max(hours, key=hours.__getitem__) in range(11, 18)
    assert abs(len(events) - 0.5 * 86_400) < 0.05 * 0.5 * 86_400
    shifted = generator(prices, utc_offset_hours=-5)
    assert shifted.rate_at(19 * HOUR) > 5 * shifted.rate_at(7 * HOUR)


def test_weekends_are_quieter(prices: PriceBook) -> None:
    gen = generator(prices, calls_per_second=2)
    monday = gen.events_between(10 * HOUR, 12 * HOUR)
    saturday = gen.events_between(5 * 24 * HOUR + 10 * HOUR, 5 * 24 * HOUR + 12 * HOUR)
    assert DEFAULT_START.weekday() == 0
    assert len(saturday) < 0.5 * len(monday)


def test_runaway_loop_multiplies_one_keys_calls(prices: PriceBook) -> None:
    key = "key-support-1"
    start, duration = 10 * HOUR, 600.0
    incident = Incident.runaway_loop(key, start, duration, factor=30)
    gen = generator(prices, [incident], calls_per_second=5)
    base = generator(prices, calls_per_second=5)
    window = gen.events_between(start, start + duration)
    baseline = base.events_between(start, start + duration)
    before = of(gen.events_between(start - duration, start), api_key_id=key)
    assert len(of(window, api_key_id=key)) > 10 * max(len(of(baseline, api_key_id=key)), 1)
    assert len(of(window, api_key_id=key)) > 10 * max(len(before), 1)
    others = [e for e in window if e["api_key_id"] != key]
    assert others == [e for e in baseline if e["api_key_id"] != key]
    support_bot = next(a for a in gen.apps if a.name == "support-bot")
    baseline_ids = {e["event_id"] for e in baseline}
    extra = [e for e in of(window, api_key_id=key) if e["event_id"] not in baseline_ids]
    assert len(extra) > 5 * len(of(baseline, api_key_id=key))
    assert {e["model"] for e in extra} == {support_bot.models[0][0][1]}
    after = start + duration
    assert gen.events_between(after, after + 600) == base.events_between(after, after + 600)


def test_leaked_key_appears_only_during_the_incident(prices: PriceBook) -> None:
    gen = generator(prices, [Incident.leaked_key(HOUR, 900, calls_per_second=4)])
    events = gen.events_between(HOUR - 900, HOUR + 1800)
    leaked = of(events, api_key_id="key-leaked-1")
    start = DEFAULT_START + timedelta(seconds=HOUR)
    times = [datetime.fromisoformat(e["timestamp"]) for e in leaked]
    assert start <= min(times) and max(times) < start + timedelta(seconds=900)
    assert abs(len(leaked) - 3600) < 4 * 60
    assert all("team" not in e and "app" not in e for e in leaked)
    assert {(e["provider"], e["model"]) for e in leaked} == {OPUS}


def test_model_switch_changes_the_mix_and_cost_per_call_not_the_volume(
    prices: PriceBook,
) -> None:
    app, start, duration = "search-rerank", 10 * HOUR, 1800.0
    gen = generator(prices, [Incident.model_switch(app, start, duration)], calls_per_second=5)
    base = generator(prices, calls_per_second=5)
    window = of(gen.events_between(start, start + duration), app=app)
    baseline = of(base.events_between(start, start + duration), app=app)
    assert abs(len(window) - len(baseline)) <= 0.3 * len(baseline)
    assert {e["model"] for e in window}.isdisjoint({e["model"] for e in baseline})
    per_call = mean(cost_nanos(prices, e) for e in window)
    assert per_call > 2 * mean(cost_nanos(prices, e) for e in baseline)
    before = of(gen.events_between(start - 600, start), app=app)
    assert before == of(base.events_between(start - 600, start), app=app)


def test_prompt_bloat_multiplies_input_tokens_at_constant_volume(prices: PriceBook) -> None:
    app, start, duration = "support-bot", 10 * HOUR, 1800.0
    gen = generator(prices, [Incident.prompt_bloat(app, start, duration)], calls_per_second=5)
    window = of(gen.events_between(start, start + duration), app=app)
    baseline = of(
        generator(prices, calls_per_second=5).events_between(start, start + duration), app=app
    )
    assert len(window) == len(baseline)
    ratio = mean(e["input_tokens"] for e in window) / mean(e["input_tokens"] for e in baseline)
    assert 7 < ratio < 9
    for e in window:
        UsageEvent.model_validate(e)


def test_an_unpriced_model_only_when_configured(prices: PriceBook) -> None:
    odd = ("openai", "not-a-real-model")
    gen = generator(prices, [Incident.leaked_key(0, 600, calls_per_second=50, model=odd)])
    leaked = of(gen.events_between(0, 600), api_key_id="key-leaked-1")
    assert {e["model"] for e in leaked} == {odd[1]} and not prices.is_priced(*odd)
    assert all("cost_usd" not in e for e in leaked)
    assert prices.price(*odd, datetime.now(UTC), 1, 1, 0, 0)[1] is CostSource.UNPRICED


@pytest.mark.parametrize(
    "incident",
    [
        Incident.runaway_loop("key-nobody-1", 0, 60),
        Incident.model_switch("no-such-app", 0, 60),
        Incident.leaked_key(0, 60, key="key-search-1"),
        Incident.prompt_bloat("support-bot", 0, 0),
    ],
)
def test_bad_incidents_are_refused(prices: PriceBook, incident: Incident) -> None:
    with pytest.raises(ValueError):
        generator(prices, [incident])


def test_bad_profiles_are_refused() -> None:
    with pytest.raises(ValueError):
        TrafficProfile(teams=0)
    with pytest.raises(ValueError):
        TrafficProfile(error_rate=1.5)
