"""Labelled scenarios: an organisation's traffic with incidents at known times and targets.

Each seed draws a different organisation and rhythm (size, rate, peak hour, peak to
trough, weekend share, time zone, start weekday), a nightly batch job that is normal,
and a run of incidents from day two on: runaway loops, leaked keys, model
switches, prompt bloat, a team-wide spike, gradual creep and a budget exhaustion (a team
at 4x from some hour of day two to the end).
Day one is warm-up. Budgets are set for every team at ``BUDGET_MARGIN`` times a month of its
warm-up day, so only the exhausting team should ever be reported. Incidents target the
more expensive half of keys and apps and are drawn with at least ``MIN_INCIDENT_USD`` of
expected extra spend.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import orjson

from schemas.decode import EventDecoder
from streams.backtest import REPLAY_LIMITS
from streams.fast_decode import RowDecoder
from streams.synthetic import DEFAULT_START, TrafficGenerator
from streams.synthetic_org import Incident, KeySpec, TrafficProfile

DAY_S = 86_400
WARMUP_S = DAY_S
SPIKE_KINDS = ("runaway_loop", "team_spike", "leaked_key")
"""Kinds that are spikes of 5x or more (the time-to-detect target)."""


@dataclass(frozen=True, slots=True)
class Scenario:
    seed: int
    profile: TrafficProfile
    days: int
    start_offset_days: int
    incidents: tuple[Incident, ...]
    batch: Incident
    teams_of_keys: dict[str, str] = field(default_factory=dict)
    apps_of_keys: dict[str, str] = field(default_factory=dict)

    @property
    def start(self) -> datetime:
        return DEFAULT_START + timedelta(days=self.start_offset_days)

    def generator(self) -> TrafficGenerator:
        return TrafficGenerator(self.profile, (*self.incidents, self.batch), start=self.start)


MIN_INCIDENT_USD = 10.0
"""Incidents are drawn so that their expected extra spend is at least this: below it, the
detectors' minimum dollar impact keeps them silent by design."""
BUDGET_MARGIN = Decimal("1.6")


def cost_per_call(generator: TrafficGenerator, at_s: float) -> dict[str, float]:
    """Mean nano-USD per call of each key over an hour of baseline traffic from ``at_s``."""
    decoder = RowDecoder(EventDecoder(limits=REPLAY_LIMITS))
    cost: dict[str, int] = defaultdict(int)
    calls: dict[str, int] = defaultdict(int)
    now = generator.start + timedelta(days=30)
    for batch in generator.iter_batches(3600, step_s=300, offset_s=at_s):
        for row in decoder.decode(orjson.dumps(batch.events), now).rows:
            cost[row[4]] += row[13]
            calls[row[4]] += 1
    return {key: cost[key] / calls[key] for key in calls}


def build_scenario(seed: int, days: int = 4) -> Scenario:
    """One seed's organisation, nightly batch and incidents (see the module docstring)."""
    rng = np.random.default_rng([seed, 77])
    profile = TrafficProfile(
        seed=seed,
        teams=int(rng.integers(4, 8)),
        apps_per_team=int(rng.integers(3, 5)),
        keys_per_app=int(rng.integers(2, 4)),
        calls_per_second=float(rng.uniform(3.0, 8.0)),
        peak_hour=float(rng.uniform(10, 18)),
        peak_to_trough=float(rng.uniform(3, 8)),
        weekend_factor=float(rng.uniform(0.2, 0.6)),
        utc_offset_hours=float(rng.choice([-8.0, -5.0, 0.0, 1.0, 5.5, 9.0])),
    )
    offset_days = int(rng.choice([0, 1, 2, 3]))
    probe = TrafficGenerator(profile, start=DEFAULT_START + timedelta(days=offset_days))
    per_call = cost_per_call(probe, 12 * 3600)
    keys = [k for k in probe.keys if k.environment == "prod"]
    keys.sort(key=lambda k: -k.share)
    teams = sorted({k.team for k in probe.keys})
    long_teams = [str(t) for t in rng.choice(teams, 2, replace=False)]
    shares = {k.api_key_id: k.share for k in probe.keys}

    def usd_per_s(keys_of: list[str], at_s: float) -> float:
        rate = probe.rate_at(at_s)
        return sum(rate * shares[k] * per_call.get(k, 0.0) for k in keys_of) / 1e9

    def spend_rank(names: list[str], keys_of: Callable[[str], list[str]]) -> list[str]:
        """The more expensive half of ``names`` (at least two)."""
        ranked = sorted(names, key=lambda n: -usd_per_s(keys_of(n), 12 * 3600))
        return ranked[: max(2, len(ranked) // 2)]

    others = [k for k in keys if k.team not in long_teams] or keys
    costly = set(spend_rank([k.api_key_id for k in others], lambda n: [n]))
    short_keys = [k for k in others if k.api_key_id in costly]
    short_apps = spend_rank(
        sorted({k.app for k in others}),
        lambda app: [k.api_key_id for k in probe.keys if k.app == app],
    )
    short_teams = [t for t in teams if t not in long_teams] or teams

    mean_rate = profile.calls_per_second
    batch_key = keys[int(rng.integers(len(keys)))]
    batch = Incident.nightly_batch(
        batch_key.api_key_id,
        float(rng.uniform(0.5, 4.0)) * 3600,
        float(rng.uniform(15, 40)) * 60,
        max(0.2, mean_rate * batch_key.share * float(rng.uniform(5, 15))),
    )
    kinds = (
        ["runaway_loop"] * 3 + ["leaked_key"] * 2 + ["model_switch"] * 2
        + ["prompt_bloat"] * 2 + ["team_spike"]
    )  # fmt: skip
    rng.shuffle(kinds)
    incidents: list[Incident] = []
    span = (days - 1) * DAY_S - 4 * 3600
    gap = span / len(kinds)
    for i, kind in enumerate(kinds):
        best: tuple[float, Incident] | None = None
        for _ in range(50):  # the first draw worth detecting, else the costliest
            start = WARMUP_S + 3600 + i * gap + float(rng.uniform(0, gap - 75 * 60))
            incident, extra = _draw(kind, rng, start, short_keys, short_apps, short_teams,
                                    f"key-leaked-{seed}-{i}", usd_per_s, probe)  # fmt: skip
            if best is None or extra > best[0]:
                best = (extra, incident)
            if extra >= MIN_INCIDENT_USD:
                break
        assert best is not None
        incidents.append(best[1])
    creep_keys = [k for k in keys if k.team == long_teams[0]] or keys
    creep_key = max(creep_keys, key=lambda k: usd_per_s([k.api_key_id], 12 * 3600)).api_key_id
    creep_start = (days - 2) * DAY_S + 2 * 3600  # creep needs two days of history
    incidents.append(Incident.gradual_creep(creep_key, creep_start, 22 * 3600, 0.05))
    exhaust_start = WARMUP_S + float(rng.uniform(2, 20)) * 3600
    # 4x until the end: the team's month-end forecast passes a budget of 1.6x its usual
    # month within the scenario (a 10-hour burst at 4x uses 2 % of it and is a spike)
    exhaust_s = days * DAY_S - exhaust_start
    incidents.append(Incident.budget_exhaustion(long_teams[1], exhaust_start, exhaust_s, 4.0))
    return Scenario(
        seed=seed,
        profile=profile,
        days=days,
        start_offset_days=offset_days,
        incidents=tuple(incidents),
        batch=batch,
        teams_of_keys={k.api_key_id: k.team for k in probe.keys},
        apps_of_keys={k.api_key_id: k.app for k in probe.keys},
    )


def _draw(
    kind: str,
    rng: np.random.Generator,
    start: float,
    keys: list[KeySpec],
    apps: list[str],
    teams: list[str],
    leaked: str,
    usd_per_s: Callable[[list[str], float], float],
    probe: TrafficGenerator,
) -> tuple[Incident, float]:
    """One incident of ``kind`` and its expected extra spend in USD."""
    key = keys[int(rng.integers(len(keys)))].api_key_id
    app = apps[int(rng.integers(len(apps)))]
    app_keys = [k.api_key_id for k in probe.keys if k.app == app]
    minutes = float(rng.uniform(20, 60))
    if kind == "runaway_loop":
        factor = float(rng.uniform(10, 50))
        minutes = float(rng.uniform(15, 45))
        extra = usd_per_s([key], start) * (factor - 1) * minutes * 60
        return Incident.runaway_loop(key, start, minutes * 60, factor), extra
    if kind == "leaked_key":
        rate = float(rng.uniform(0.3, 2.0))
        return Incident.leaked_key(start, minutes * 60, leaked, rate), rate * 60 * minutes * 0.1
    if kind == "model_switch":
        extra = usd_per_s(app_keys, start) * (minutes + 20) * 60
        return Incident.model_switch(app, start, (minutes + 20) * 60), extra
    if kind == "prompt_bloat":
        factor = float(rng.uniform(3, 4))
        extra = usd_per_s(app_keys, start) * (factor - 1) * 0.5 * (minutes + 20) * 60
        return Incident.prompt_bloat(app, start, (minutes + 20) * 60, factor), extra
    team = teams[int(rng.integers(len(teams)))]
    team_keys = [k.api_key_id for k in probe.keys if k.team == team]
    factor = float(rng.uniform(5, 10))
    minutes = float(rng.uniform(20, 40))
    extra = usd_per_s(team_keys, start) * (factor - 1) * minutes * 60
    return Incident.team_spike(team, start, minutes * 60, factor), extra


def budgets_from_day(team_spend_nanos: dict[str, int]) -> dict[str, Decimal]:
    """Monthly budgets: ``BUDGET_MARGIN`` times 30 days of each team's warm-up-day spend."""
    return {
        f"team={team}": (Decimal(nanos) * 30 * BUDGET_MARGIN / 10**9).quantize(Decimal("0.01"))
        for team, nanos in sorted(team_spend_nanos.items())
        if nanos > 0 and team != "unattributed"
    }
