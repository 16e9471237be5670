"""Spend spikes and gradual creep on one series, against a learned per-minute expectation.

Expectation: the larger of a short-term level (exponentially weighted mean of spend per
minute, gaps counted as zero) and the time-of-day profile (``profile.py``), so both the
daily rhythm and recurring jobs are expected. Noise: the exponentially weighted variance
of spend per minute around the level. A window of the last 1, 3, 10 or 30 minutes is a
spike when its spend exceeds ``ratio`` times the expectation, by ``z`` standard deviations and
by at least ``min_impact_usd`` (so tiny keys never page). One-sided: drops are ignored.
Spike minutes (by ratio and spread, even below the dollar floor) are learned at
``protect_weight`` of the usual rate, so an incident does not become the new baseline,
not even while it grows towards being worth reporting. The open bucket is evaluated too
(with its spend so far), which catches large spikes before the minute closes.

Creep is the slow version, judged on whole hours once the profile holds
``CREEP_HISTORY_DAYS`` days: spend over the last ``creep_window_minutes`` against what
the profile expected for the same minutes, above ``creep_ratio`` in total and above its
square root in every one of those hours (one heavy half hour is not creep). Spike
minutes count at their expectation, so creep only reports what the spike rule did not;
it is reported on every bucket of the hour after.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from detectors.base import PerScope, finding, usd
from detectors.config import DetectorsConfig, SpikeConfig, nanos
from detectors.profile import TimeOfDayProfile
from schemas.findings import Finding, Scope, SeriesBucket, Severity

PROFILE_GROWTH = 3.0
CREEP_HISTORY_DAYS = 2
"""Creep is judged only against slots learned on at least this many days: one day of
history (say, a local Sunday evening that is Monday in UTC) is no baseline for a day."""


@dataclass(slots=True)
class SpikeState:
    born: int
    last: int = -1
    """Start minute of the last closed bucket (-1 before the first)."""
    history: int = 0
    """Minutes of closed history."""
    level: float = 0.0
    var: float = 0.0
    recent: deque[int] = field(default_factory=lambda: deque(maxlen=32))
    """Cost of the latest closed buckets, newest last."""
    recent_sum: int = 0
    profile: TimeOfDayProfile = field(default_factory=TimeOfDayProfile.empty)
    creep_hours: deque[tuple[float, float]] = field(default_factory=deque)
    """(actual, expected) spend of the latest whole hours, newest last."""
    creep_hour: int = -1
    creep_now: list[float] = field(default_factory=lambda: [0.0, 0.0])
    creep_verdict: tuple[float, float] | None = None
    """(actual, expected) over the window when the last whole hour was creep."""


def _earlier(before: tuple[int, ...], recent: deque[int]) -> Sequence[int]:
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
        self.settings = PerScope(config.spike_for)

    def applies_to(self, scope: Scope) -> bool:
        cfg = self.settings(scope)
        return cfg.enabled and scope.dimension in cfg.dimensions

    def new_state(self, scope: Scope, minute: int) -> SpikeState:
        return SpikeState(born=minute)

    def expected(self, state: SpikeState, cfg: SpikeConfig, minute: int) -> float:
        """Expected spend per minute (nano-USD) at ``minute``."""
        return max(state.level, state.profile.expect(_local(cfg, minute)))

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
        usual = state.profile.usual(_local(cfg, minute))
        anomalous = spike is not None or self._unusual(state, cfg, bucket, expected)
        self._learn(state, cfg, bucket, expected, anomalous)
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
                and excess > cfg.z * math.sqrt(state.var * minutes)
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
            state.var * bucket.width_minutes
        )

    def _learn(
        self,
        state: SpikeState,
        cfg: SpikeConfig,
        bucket: SeriesBucket,
        expected: float,
        anomalous: bool,
    ) -> None:
        width = bucket.width_minutes
        per_minute = bucket.cost_nanos / width
        alpha = 1.0 - 0.5 ** (width / cfg.level_half_life_minutes)
        warm = min(1.0, width / (state.history + width))
        alpha = max(alpha, warm)
        if anomalous:
            alpha *= cfg.protect_weight
        deviation = per_minute - state.level
        state.level += alpha * deviation
        state.var = (1.0 - alpha) * (state.var + alpha * deviation * deviation)
        local = _local(cfg, bucket.start_minute)
        for m in range(local, local + width):
            state.profile.learn(m, per_minute, cfg.profile_day_weight, PROFILE_GROWTH)
        self._remember(state, bucket.cost_nanos)
        state.last = bucket.start_minute
        state.history += width

    @staticmethod
    def _remember(state: SpikeState, cost: int) -> None:
        recent = state.recent
        if len(recent) == recent.maxlen:
            state.recent_sum -= recent[0]
        recent.append(cost)
        state.recent_sum += cost

    def _gap(self, state: SpikeState, cfg: SpikeConfig, start: int, minutes: int) -> None:
        decay = 0.5 ** (minutes / cfg.level_half_life_minutes)
        state.var = decay * state.var + (1.0 - decay) * state.level * state.level
        state.level *= decay
        local = _local(cfg, start)
        state.profile.learn_zeros(local, minutes, cfg.profile_day_weight)
        for _ in range(min(minutes, state.recent.maxlen or 0)):
            self._remember(state, 0)
        state.history += minutes
        for m in range(local, local + min(minutes, cfg.creep_window_minutes)):
            self._creep_push(state, cfg, 0.0, state.profile.expect(m), m)

    def _creep_push(
        self, state: SpikeState, cfg: SpikeConfig, actual: float, expected: float, minute: int
    ) -> None:
        """Add a minute (local time) to the hourly sums; at each new hour, judge the window.
        A verdict stands until the next hour, or for one bucket when the next hour has no
        history to judge against."""
        hour = minute // 60
        if hour != state.creep_hour:
            if state.creep_hour >= 0:
                state.creep_hours.append((state.creep_now[0], state.creep_now[1]))
                while len(state.creep_hours) > cfg.creep_window_minutes // 60:
                    state.creep_hours.popleft()
                state.creep_verdict = self._creep_verdict(state, cfg)
            else:
                state.creep_verdict = None
            state.creep_hour, state.creep_now = hour, [0.0, 0.0]
        if not state.profile.seen(minute, CREEP_HISTORY_DAYS):
            state.creep_hours.clear()
            state.creep_hour = -1
            return
        state.creep_now[0] += actual
        state.creep_now[1] += expected

    def _creep_verdict(self, state: SpikeState, cfg: SpikeConfig) -> tuple[float, float] | None:
        hours = state.creep_hours
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
        if excess <= cfg.z * math.sqrt(state.var * 60 * len(hours)):
            return None
        return observed, expected

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
        for m in range(local, local + width):
            self._creep_push(state, cfg, actual, profile_expected, m)
        if state.creep_verdict is None:
            return None
        observed, exp_w = state.creep_verdict
        excess = observed - exp_w
        hours = cfg.creep_window_minutes // 60
        return finding(
            self.creep_name,
            bucket,
            Severity.WARNING,
            window_minutes=60 * hours + _local(cfg, bucket.start_minute) % 60 + width,
            measure="usd_per_window",
            observed=observed / 1e9,
            expected=exp_w / 1e9,
            impact_nanos=round(excess),
            headline=(
                f"spend {usd(observed)} over {hours:g} h, {observed / exp_w:.1f}x what "
                f"the same hours usually cost ({usd(exp_w)})"
            ),
            labels={"kind": "creep"},
        )


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
