"""Unit-cost drift: what one call costs, against what it usually costs on this series.

Closed buckets are summed into windows of at least ``window_minutes``; a window short of
``min_calls`` calls grows until ``max_window_minutes`` (so small series are judged on
more calls). Each window gives three scaled features (log cost per call, log input
tokens per call and log output/input ratio) to the series' model: River's
``QuantileFilter`` around a River anomaly detector, ``UnitCostProfile``
(``unit_cost_model.py``). A window with a feature above its mean by a factor of ``ratio``
and by more standard deviations than the series' threshold (``z``, or the filter's
quantile of the series' normal scores where that is higher, up to 1.5 times) drifts:
prompt bloat or a switch to a pricier model at constant call volume. Drift is reported once
``confirm_windows`` windows in a row drift (one window of a few huge calls is not drift)
and what those windows cost beyond what their calls usually cost adds up to
``min_impact_usd``: the dollar floor is judged on the drift so far, not on one window,
so a quiet series drifting by a few dollars an hour is reported once it has cost them.
Drifting windows are not learned (an incident must not become the baseline) until drift
has lasted ``ADOPT_AFTER`` windows, after which it is the new normal.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from detectors.base import PerScope, finding, usd
from detectors.config import DetectorsConfig, UnitCostConfig, nanos
from detectors.quantile_filter import QuantileFilter, spreads
from detectors.unit_cost_model import FEATURES, new_model, profile_of
from schemas.findings import Finding, Scope, SeriesBucket, Severity

ADOPT_AFTER = 72


@dataclass(slots=True)
class UnitCostState:
    start: int = -1
    """First minute of the window being summed (-1: none)."""
    sums: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    """Cost, calls, input and output tokens of the current window so far."""
    drifting: int = 0
    """Windows in a row that drifted."""
    drift_start: int = -1
    """First minute of the first of them."""
    drift_nanos: int = 0
    """What they cost beyond what their calls usually cost."""
    model: QuantileFilter = field(default_factory=new_model)
    """A River ``QuantileFilter`` around ``UnitCostProfile`` (``unit_cost_model.py``)."""


class UnitCostDetector:
    """See the module docstring. Findings: ``unit_cost_drift``."""

    name = "unit_cost_drift"

    def __init__(self, config: DetectorsConfig) -> None:
        self.config = config
        self.settings = PerScope(config.unit_cost_for, config.settings_key)

    def applies_to(self, scope: Scope) -> bool:
        cfg = self.settings(scope)
        return cfg.enabled and scope.dimension in cfg.dimensions

    def new_state(self, scope: Scope, minute: int) -> UnitCostState:
        return UnitCostState()

    def observe(self, state: UnitCostState, bucket: SeriesBucket) -> list[Finding]:
        if not bucket.closed:
            return []
        cfg = self.settings(bucket.scope)
        found: list[Finding] = []
        if state.start < 0 or bucket.start_minute - state.start >= cfg.max_window_minutes:
            state.start, state.sums = bucket.start_minute, [0, 0, 0, 0]
        sums = state.sums
        sums[0] += bucket.cost_nanos
        sums[1] += bucket.calls - bucket.errors
        sums[2] += bucket.input_tokens
        sums[3] += bucket.output_tokens
        length = bucket.start_minute + bucket.width_minutes - state.start
        if length >= cfg.window_minutes and self._finish(state, cfg, bucket, length, found):
            state.start = -1
        return found

    def _finish(
        self,
        state: UnitCostState,
        cfg: UnitCostConfig,
        bucket: SeriesBucket,
        length: int,
        out: list[Finding],
    ) -> bool:
        """Judge the window; False to let it grow."""
        cost, calls, inp, outp = state.sums
        if calls < cfg.min_calls or cost <= 0:
            return length + bucket.width_minutes > cfg.max_window_minutes
        scaled = (
            math.log(cost / calls),
            math.log((inp + 1) / calls),
            math.log((outp + 1) / (inp + 1)),
        )
        values: dict[Hashable, Any] = dict(zip(FEATURES, scaled, strict=True))
        drifted = self._drifted(state, cfg, values)
        if drifted and state.drifting < ADOPT_AFTER:
            if state.drifting == 0:
                state.drift_start, state.drift_nanos = state.start, 0
            state.drifting += 1
            state.drift_nanos += round(cost - calls * math.exp(profile_of(state.model).mean(0)))
            if state.drifting >= cfg.confirm_windows and state.drift_nanos >= nanos(
                cfg.min_impact_usd
            ):
                out.append(self._finding(state, cfg, bucket, drifted, values, calls))
            return True
        if not drifted:
            state.drifting = 0
            state.model.learn_one(values, half_life=cfg.half_life_windows)  # joins the quantile
        else:  # adopted as the new normal, not as a normal score
            profile_of(state.model).learn_one(values, half_life=cfg.half_life_windows)
        return True

    @staticmethod
    def _drifted(
        state: UnitCostState, cfg: UnitCostConfig, values: dict[Hashable, Any]
    ) -> list[str]:
        """The features of a window that drift above their learned distribution."""
        profile = profile_of(state.model)
        if profile.learned < cfg.warmup_windows:
            return []
        return profile.drifted(values, math.log(cfg.ratio), spreads(cfg.z, state.model))

    def _finding(
        self,
        state: UnitCostState,
        cfg: UnitCostConfig,
        bucket: SeriesBucket,
        drifted: list[str],
        values: dict[Hashable, Any],
        calls: int,
    ) -> Finding:
        per_call = state.sums[0] / calls
        profile = profile_of(state.model)
        expected = math.exp(profile.mean(0))
        impact = state.drift_nanos
        minutes = bucket.start_minute + bucket.width_minutes - state.drift_start
        factors = ", ".join(
            f"{name.replace('_', ' ')} {math.exp(values[name] - profile.mean(i)):.1f}x"
            for i, name in enumerate(FEATURES)
            if name in drifted
        )
        severity = Severity.ERROR if impact >= nanos(cfg.page_impact_usd) else Severity.WARNING
        return finding(
            self.name,
            bucket,
            severity,
            window_minutes=minutes,
            measure="usd_per_call",
            observed=per_call / 1e9,
            expected=expected / 1e9,
            impact_nanos=impact,
            headline=(
                f"{factors} over the last {calls} calls; {usd(impact)} more than usual "
                f"in {minutes} min of drift"
            ),
            labels={"features": ",".join(drifted)},
        )
