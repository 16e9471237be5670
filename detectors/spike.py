"""Spend spikes and gradual creep on one series, against a learned per-minute expectation.

The model of a series is River's ``QuantileFilter`` around a River anomaly detector,
``SeasonalSpend`` (``seasonal.py``): the expectation is the larger of a short-term level
and the time-of-day profile, so both the daily rhythm and recurring jobs are expected;
the noise is the exponentially weighted variance around the level. A window of the last
1, 3, 5, 10 or 30 minutes is a spike when its spend exceeds ``ratio`` times the
expectation, by at least ``min_impact_usd`` (so tiny keys never page), and by more
standard deviations than the series' threshold: ``z``, or the filter's quantile of the
scores of the series' unreported minutes where that is higher, up to 1.5 times ``z``.
One-sided: drops are ignored.
Spike minutes (by ratio and ``z`` spreads, even below the dollar floor) are learned at
``protect_weight`` of the usual rate, so an incident does not become the new baseline,
not even while it grows towards being worth reporting; reported minutes are kept out of
the quantile. The open bucket is evaluated too (with its spend so far), which catches
large spikes before the minute closes.

Creep, the slow version, is in ``creep.py``.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from detectors.base import PerScope, finding, usd
from detectors.config import DetectorsConfig, SpikeConfig, nanos
from detectors.creep import CreepState, creep_finding, push
from detectors.quantile_filter import QuantileFilter, spreads
from detectors.seasonal import SeasonalSpend, new_model, scorer
from schemas.findings import Finding, Scope, SeriesBucket, Severity

RECENT = 32
"""Closed buckets remembered: the longest spike window (``windows_minutes`` allows 32)."""


@dataclass(slots=True)
class SpikeState:
    born: int
    last: int = -1
    """Start minute of the last closed bucket (-1 before the first)."""
    history: int = 0
    """Minutes of closed history."""
    model: QuantileFilter = field(default_factory=new_model)
    """A River ``QuantileFilter`` around ``SeasonalSpend`` (see ``seasonal.py``)."""
    recent: array[int] = field(default_factory=lambda: array("q"))
    """Cost of the latest ``RECENT`` closed buckets, newest last (an array of int64:
    a tenth of a deque of Python ints in memory)."""
    recent_sum: int = 0
    creep: CreepState = field(default_factory=CreepState)


def _earlier(before: tuple[int, ...], recent: array[int]) -> Sequence[int]:
    """The costs of the buckets before an observed one, oldest first: closed history,
    then the still-open buckets in between (indexed from the end, newest last)."""
    if not before:
        return recent
    return [*recent, *before]


def _local(cfg: SpikeConfig, minute: int) -> int:
    """A minute of the epoch moved to the organisation's local time."""
    return minute + round(cfg.utc_offset_hours * 60)


class SpikeDetector:
    """See the module docstring. Findings: ``spend_spike`` and ``spend_creep``."""

    name = "spend_spike"
    creep_name = "spend_creep"

    def __init__(self, config: DetectorsConfig) -> None:
        self.config = config
        self.settings = PerScope(config.spike_for, config.settings_key)

    def applies_to(self, scope: Scope) -> bool:
        cfg = self.settings(scope)
        return cfg.enabled and scope.dimension in cfg.dimensions

    def new_state(self, scope: Scope, minute: int) -> SpikeState:
        return SpikeState(born=minute)

    def expected(self, state: SpikeState, cfg: SpikeConfig, minute: int) -> float:
        """Expected spend per minute (nano-USD) at ``minute``."""
        return scorer(state.model).expect(_local(cfg, minute))

    def observe(self, state: SpikeState, bucket: SeriesBucket) -> list[Finding]:
        cfg = self.settings(bucket.scope)
        width = bucket.width_minutes
        minute = bucket.start_minute
        if minute <= state.last:
            return []
        if bucket.closed and state.last >= 0 and minute > state.last + width:
            self._gap(state, cfg, state.last + width, minute - state.last - width)
        expected = self.expected(state, cfg, minute)
        spike = self._spike(state, cfg, bucket, expected)
        if not bucket.closed:
            return [spike] if spike else []
        found = [spike] if spike else []
        usual = scorer(state.model).profile.usual(_local(cfg, minute))
        anomalous = spike is not None or self._unusual(state, cfg, bucket, expected)
        self._learn(state, cfg, bucket, anomalous, spike is not None)
        creep = self._creep(state, cfg, bucket, expected, usual, anomalous)
        if creep:
            found.append(creep)
        return found

    def _spike(
        self, state: SpikeState, cfg: SpikeConfig, bucket: SeriesBucket, expected: float
    ) -> Finding | None:
        if state.history < cfg.warmup_minutes:
            return None
        min_impact = nanos(cfg.min_impact_usd)
        before = bucket.before
        if state.recent_sum + sum(before) + bucket.cost_nanos < min_impact:
            return None  # no window can hold enough excess
        width = bucket.width_minutes
        earlier = _earlier(before, state.recent)
        best: tuple[float, int, int, float] | None = None
        observed = bucket.cost_nanos
        still = bucket.cost_nanos >= cfg.still_ratio * expected * width
        held_to = spreads(cfg.z, state.model)
        var = scorer(state.model).var
        taken = 1
        for window in cfg.windows_minutes:
            n = max(1, -(-window // width))
            if n > 1 and not still:
                continue
            while taken < n and taken <= len(earlier):
                observed += earlier[-taken]
                taken += 1
            minutes = n * width
            exp_w = expected * minutes
            excess = observed - exp_w
            if (
                observed > cfg.ratio * exp_w
                and excess > held_to * math.sqrt(var * minutes)
                and excess >= min_impact
                and (best is None or excess > best[0])
            ):
                best = (excess, minutes, observed, exp_w)
        if best is None:
            return None
        excess, minutes, observed_w, exp_w = best
        ratio = observed_w / exp_w if exp_w > 0 else math.inf
        times = f"{ratio:.1f}x" if math.isfinite(ratio) else "from nothing"
        headline = (
            f"spend {usd(observed_w)} in {minutes} min, {times} the expected "
            f"{usd(exp_w)}{'' if bucket.closed else ' (minute still open)'}"
        )
        return spike_finding(
            self.name, bucket, cfg, minutes, (observed_w, exp_w), headline, {"kind": "spike"}
        )

    @staticmethod
    def _unusual(
        state: SpikeState, cfg: SpikeConfig, bucket: SeriesBucket, expected: float
    ) -> bool:
        """A spike bucket by ratio and spread, however small: protected from learning,
        so a growing incident is not learned before it is worth reporting."""
        if state.history < cfg.warmup_minutes:
            return False
        exp_w = expected * bucket.width_minutes
        excess = bucket.cost_nanos - exp_w
        return bucket.cost_nanos > cfg.ratio * exp_w and excess > cfg.z * math.sqrt(
            scorer(state.model).var * bucket.width_minutes
        )

    def _learn(
        self,
        state: SpikeState,
        cfg: SpikeConfig,
        bucket: SeriesBucket,
        anomalous: bool,
        reported: bool,
    ) -> None:
        """Learn a closed bucket: at ``protect_weight`` if ``anomalous``; its score joins
        the series' quantile unless a spike was ``reported`` on it (or in warm-up)."""
        width = bucket.width_minutes
        per_minute = bucket.cost_nanos / width
        alpha = 1.0 - 0.5 ** (width / cfg.level_half_life_minutes)
        warm = min(1.0, width / (state.history + width))
        alpha = max(alpha, warm)
        x: dict[Hashable, Any] = {
            "minute": _local(cfg, bucket.start_minute),
            "spend": per_minute,
            "width": width,
        }
        if anomalous:
            alpha *= cfg.protect_weight
        # through the filter (its score joins the quantile) unless reported or warming up
        learner: QuantileFilter | SeasonalSpend = state.model
        if reported or state.history < cfg.warmup_minutes:
            learner = scorer(state.model)
        learner.learn_one(x, alpha=alpha, day_weight=cfg.profile_day_weight)
        self._remember(state, bucket.cost_nanos)
        state.last = bucket.start_minute
        state.history += width

    @staticmethod
    def _remember(state: SpikeState, cost: int) -> None:
        recent = state.recent
        if len(recent) == RECENT:
            state.recent_sum -= recent[0]
            del recent[0]
        recent.append(cost)
        state.recent_sum += cost

    def _gap(self, state: SpikeState, cfg: SpikeConfig, start: int, minutes: int) -> None:
        local = _local(cfg, start)
        model = scorer(state.model)
        model.learn_gap(local, minutes, cfg.level_half_life_minutes, cfg.profile_day_weight)
        for _ in range(min(minutes, RECENT)):
            self._remember(state, 0)
        state.history += minutes
        for m in range(local, local + min(minutes, cfg.creep_window_minutes)):
            push(state.creep, cfg, model, 0.0, model.profile.expect(m), m)

    def _creep(
        self,
        state: SpikeState,
        cfg: SpikeConfig,
        bucket: SeriesBucket,
        expected: float,
        profile_expected: float,
        anomalous: bool,
    ) -> Finding | None:
        width = bucket.width_minutes
        actual = expected if anomalous else bucket.cost_nanos / width
        local = _local(cfg, bucket.start_minute)
        model = scorer(state.model)
        for m in range(local, local + width):
            push(state.creep, cfg, model, actual, profile_expected, m)
        if state.creep.verdict is None:
            return None
        return creep_finding(self.creep_name, bucket, cfg, state.creep.verdict, local)


def spike_finding(
    name: str,
    bucket: SeriesBucket,
    cfg: SpikeConfig,
    minutes: int,
    spend_nanos: tuple[float, float],
    headline: str,
    labels: dict[str, str],
) -> Finding:
    """A spike over ``minutes``: spend observed and expected (nanos), a page when the
    excess reaches ``page_impact_usd``, a warning below."""
    observed, expected = spend_nanos
    impact = round(observed - expected)
    severity = Severity.ERROR if impact >= nanos(cfg.page_impact_usd) else Severity.WARNING
    return finding(
        name,
        bucket,
        severity,
        window_minutes=minutes,
        measure="usd_per_window",
        observed=observed / 1e9,
        expected=expected / 1e9,
        impact_nanos=impact,
        headline=headline,
        labels=labels,
    )
