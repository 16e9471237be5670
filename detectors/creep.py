"""Gradual creep on one series: the slow version of a spend spike.

Judged on whole hours (local time) once the series' time-of-day profile holds
``CREEP_HISTORY_DAYS`` days: spend over the last ``creep_window_minutes`` against what
the profile expected for the same minutes, above ``creep_ratio`` in total and above its
square root in every one of those hours (one heavy half hour is not creep), by more
than five times ``min_impact_usd`` and by ``z`` standard deviations. The spike detector
feeds spike minutes at their expectation, so creep only reports what the spike rule did
not; it is reported on every bucket of the hour after.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from detectors.base import finding, usd
from detectors.config import SpikeConfig, nanos
from detectors.seasonal import SeasonalSpend
from schemas.findings import Finding, SeriesBucket, Severity

CREEP_HISTORY_DAYS = 2
"""Creep is judged only against slots learned on at least this many days: one day of
history (say, a local Sunday evening that is Monday in UTC) is no baseline for a day."""


@dataclass(slots=True)
class CreepState:
    hours: list[tuple[float, float]] = field(default_factory=list)
    """(actual, expected) spend of the latest whole hours, newest last (a list: an empty
    deque takes 600 bytes)."""
    hour: int = -1
    now: list[float] = field(default_factory=lambda: [0.0, 0.0])
    verdict: tuple[float, float] | None = None
    """(actual, expected) over the window when the last whole hour was creep."""


def push(
    creep: CreepState,
    cfg: SpikeConfig,
    model: SeasonalSpend,
    actual: float,
    expected: float,
    minute: int,
) -> None:
    """Add a minute (local time) to the hourly sums; at each new hour, judge the window.
    A verdict stands until the next hour, or for one bucket when the next hour has no
    history to judge against."""
    hour = minute // 60
    if hour != creep.hour:
        if creep.hour >= 0:
            creep.hours.append((creep.now[0], creep.now[1]))
            del creep.hours[: max(0, len(creep.hours) - cfg.creep_window_minutes // 60)]
            creep.verdict = _verdict(creep, cfg, model.var)
        else:
            creep.verdict = None
        creep.hour, creep.now = hour, [0.0, 0.0]
    if not model.profile.seen(minute, CREEP_HISTORY_DAYS):
        creep.hours.clear()
        creep.hour = -1
        return
    creep.now[0] += actual
    creep.now[1] += expected


def _verdict(creep: CreepState, cfg: SpikeConfig, var: float) -> tuple[float, float] | None:
    hours = creep.hours
    if len(hours) < cfg.creep_window_minutes // 60:
        return None
    floor = math.sqrt(cfg.creep_ratio)
    if any(actual <= floor * expected for actual, expected in hours):
        return None
    observed = sum(a for a, _ in hours)
    expected = sum(e for _, e in hours)
    excess = observed - expected
    if observed <= cfg.creep_ratio * expected or excess < nanos(cfg.min_impact_usd) * 5:
        return None
    if excess <= cfg.z * math.sqrt(var * 60 * len(hours)):
        return None
    return observed, expected


def creep_finding(
    name: str,
    bucket: SeriesBucket,
    cfg: SpikeConfig,
    verdict: tuple[float, float],
    local_minute: int,
) -> Finding:
    """The finding of a creep verdict, on a bucket starting at ``local_minute``."""
    observed, expected = verdict
    hours = cfg.creep_window_minutes // 60
    return finding(
        name,
        bucket,
        Severity.WARNING,
        window_minutes=60 * hours + local_minute % 60 + bucket.width_minutes,
        measure="usd_per_window",
        observed=observed / 1e9,
        expected=expected / 1e9,
        impact_nanos=round(observed - expected),
        headline=(
            f"spend {usd(observed)} over {hours:g} h, {observed / expected:.1f}x what "
            f"the same hours usually cost ({usd(expected)})"
        ),
        labels={"kind": "creep"},
    )
