"""Labelled scenarios: an organisation's traffic with incidents at known times and targets.

Each seed draws a different organisation and rhythm (size, rate, peak hour, peak to
trough, weekend share, time zone, start weekday), a nightly batch job that is normal,
and a run of incidents on days two and three: runaway loops, leaked keys, model
switches, prompt bloat, a team-wide spike, gradual creep and a budget exhaustion.
Day one is warm-up. Budgets are set for every team at 1.3 times a month of its
warm-up day, so only the exhausting team should ever be reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np

from streams.synthetic import DEFAULT_START, Incident, TrafficGenerator, TrafficProfile

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


def build_scenario(seed: int, days: int = 3) -> Scenario:
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
    probe = TrafficGenerator(profile)
    keys = [k for k in probe.keys if k.environment == "prod"]
    keys.sort(key=lambda k: -k.share)
    big_keys = keys[: max(2, len(keys) // 2)]
    teams = sorted({k.team for k in probe.keys})
    apps = sorted({k.app for k in big_keys})
    long_teams = [str(t) for t in rng.choice(teams, 2, replace=False)]
    short_keys = [k for k in big_keys if k.team not in long_teams] or big_keys
    short_apps = [a for a in apps if any(k.app == a for k in short_keys)] or apps
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
        start = WARMUP_S + 3600 + i * gap + float(rng.uniform(0, gap - 75 * 60))
        pick_key = short_keys[int(rng.integers(len(short_keys)))].api_key_id
        pick_app = short_apps[int(rng.integers(len(short_apps)))]
        minutes = float(rng.uniform(20, 60))
        if kind == "runaway_loop":
            minutes = float(rng.uniform(15, 45))
            incidents.append(
                Incident.runaway_loop(pick_key, start, minutes * 60, float(rng.uniform(10, 50)))
            )
        elif kind == "leaked_key":
            rate = float(rng.uniform(0.3, 2.0))
            leaked = f"key-leaked-{seed}-{i}"
            incidents.append(Incident.leaked_key(start, minutes * 60, leaked, rate))
        elif kind == "model_switch":
            incidents.append(
                Incident.model_switch(pick_app, start, float(rng.uniform(40, 60)) * 60)
            )
        elif kind == "prompt_bloat":
            factor = float(rng.uniform(3, 4))
            incidents.append(Incident.prompt_bloat(pick_app, start, (minutes + 20) * 60, factor))
        else:
            team = short_teams[int(rng.integers(len(short_teams)))]
            incidents.append(
                Incident.team_spike(
                    team, start, float(rng.uniform(20, 40)) * 60, float(rng.uniform(5, 10))
                )
            )
    creep_keys = [k for k in big_keys if k.team == long_teams[0]] or big_keys
    creep_key = creep_keys[0].api_key_id
    incidents.append(Incident.gradual_creep(creep_key, WARMUP_S + 2 * 3600, 22 * 3600, 0.05))
    exhaust_start = WARMUP_S + float(rng.uniform(2, 20)) * 3600
    incidents.append(Incident.budget_exhaustion(long_teams[1], exhaust_start, 10 * 3600, 3.0))
    return Scenario(
        seed=seed,
        profile=profile,
        days=days,
        start_offset_days=int(rng.choice([0, 1, 2, 3])),
        incidents=tuple(incidents),
        batch=batch,
        teams_of_keys={k.api_key_id: k.team for k in probe.keys},
        apps_of_keys={k.api_key_id: k.app for k in probe.keys},
    )


def budgets_from_day(team_spend_nanos: dict[str, int]) -> dict[str, Decimal]:
    """Monthly budgets: 1.3 times 30 days of each team's warm-up-day spend."""
    return {
        f"team={team}": (Decimal(nanos) * 39 / 10**9).quantize(Decimal("0.01"))
        for team, nanos in sorted(team_spend_nanos.items())
        if nanos > 0 and team != "unattributed"
    }
