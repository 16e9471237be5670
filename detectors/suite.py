"""``DetectorSuite``: the one entry point the live worker and the backtest call per series.

Built from the ``detectors`` config section, it picks the detectors that watch each
series, keeps their states together in one ``SeriesDetectorsState`` and serialises that
to bytes for a changelogged table. Call sequence, per series, in event-time order::

    state = suite.loads(stored) if stored else suite.new_state(scope, minute)
    findings = suite.observe(state, bucket)   # open buckets any number of times
                                              # (those costing less than
                                              # suite.open_floor_nanos may be skipped),
                                              # each closed bucket exactly once
    stored = suite.dumps(state)               # after closed buckets (or on flush)
    if suite.is_idle(state, now_minute): evict it (it is re-learned if it returns)

>>> from schemas.findings import Scope, SeriesBucket
>>> suite = DetectorSuite(DetectorsConfig())
>>> scope = Scope.parse("api_key_id=k-1")
>>> state = suite.new_state(scope, 0)
>>> suite.observe(state, SeriesBucket(scope, 0, 1, cost_nanos=10**6, calls=1))
[]
>>> suite.loads(suite.dumps(state)).last_minute
0
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from detectors.base import Detector
from detectors.budget import BudgetDetector
from detectors.config import DetectorsConfig, nanos
from detectors.policy import PolicyDetector
from detectors.spike import SpikeDetector
from detectors.static import StaticThresholdDetector
from detectors.unit_cost import UnitCostDetector
from schemas.findings import Finding, Scope, SeriesBucket, scope_named

FORMAT = 2
"""Version of ``dumps``' bytes. 2: the spike and unit-cost models are River filters."""


PLANS_CACHED = 20_000
"""Series whose detector plan is kept (working it out again takes a few microseconds)."""


class StaleState(ValueError):
    """Detector state of an older format: the series is learned afresh."""


@dataclass(slots=True)
class SeriesDetectorsState:
    """Everything the detectors learned about one series, by detector name."""

    scope: Scope
    born: int
    last_minute: int = -1
    """Start of the newest closed bucket observed."""
    states: dict[str, Any] = field(default_factory=dict)


class DetectorSuite:
    """All configured detectors; stateless apart from per-scope caches."""

    def __init__(
        self,
        config: DetectorsConfig | None = None,
        origin_minute: int | None = None,
        spike: Detector | None = None,
    ):
        """``spike`` replaces the spend-spike detector (benchmarks compare models)."""
        self.config = config or DetectorsConfig()
        self.policy = PolicyDetector(self.config, origin_minute)
        self.detectors: tuple[Detector, ...] = (
            spike or SpikeDetector(self.config),
            UnitCostDetector(self.config),
            BudgetDetector(self.config),
            StaticThresholdDetector(self.config),
            self.policy,
        )
        self._plans: dict[str, tuple[Detector, ...]] = {}
        self._shapes: dict[tuple[Detector, ...], tuple[Detector, ...]] = {}
        """Each distinct plan once, shared by every series it applies to."""
        self.open_floor_nanos = _open_floor(self.config)
        """No detector reports on an open bucket that has cost less than this so far."""

    def detectors_for(self, scope: Scope) -> tuple[Detector, ...]:
        plan = self._plans.get(scope.name)
        if plan is None:
            found = tuple(d for d in self.detectors if d.applies_to(scope))
            plan = self._shapes.setdefault(found, found)
            if len(self._plans) >= PLANS_CACHED:
                self._plans.clear()
            self._plans[scope.name] = plan
        return plan

    def new_state(self, scope: Scope, minute: int) -> SeriesDetectorsState:
        """A fresh state for a series whose first bucket starts at ``minute``."""
        if self.policy.origin_minute is None:
            self.policy.origin_minute = minute
        return SeriesDetectorsState(
            scope=scope,
            born=minute,
            states={d.name: d.new_state(scope, minute) for d in self.detectors_for(scope)},
        )

    def observe(self, state: SeriesDetectorsState, bucket: SeriesBucket) -> list[Finding]:
        """Findings of one bucket of the state's series (see the module docstring)."""
        if bucket.scope is not state.scope and bucket.scope != state.scope:
            raise ValueError(f"bucket of {bucket.scope.name} given to {state.scope.name}")
        if bucket.start_minute <= state.last_minute:
            return []
        if bucket.closed:
            state.last_minute = bucket.start_minute
        found: list[Finding] = []
        states = state.states
        for detector in self.detectors_for(state.scope):
            sub = states.get(detector.name)
            if sub is None:
                sub = states[detector.name] = detector.new_state(state.scope, bucket.start_minute)
            found.extend(detector.observe(sub, bucket))
        return found

    def is_idle(self, state: SeriesDetectorsState, now_minute: int) -> bool:
        """Whether the series has been silent long enough to evict its state."""
        return now_minute - state.last_minute > self.config.idle_evict_minutes

    def dumps(self, state: SeriesDetectorsState) -> bytes:
        """The state as bytes for a changelogged table (versioned pickle)."""
        return pickle.dumps((FORMAT, state), protocol=pickle.HIGHEST_PROTOCOL)

    def loads(self, raw: bytes) -> SeriesDetectorsState:
        """A state from ``dumps``; detectors added to the config since start fresh.
        Raises ``StaleState`` for an older format, ``ValueError`` for foreign bytes."""
        version, state = pickle.loads(raw)
        if isinstance(version, int) and 0 < version < FORMAT:
            raise StaleState(f"detector state of format {version}; now {FORMAT}")
        if version != FORMAT or not isinstance(state, SeriesDetectorsState):
            raise ValueError(f"detector state of format {version!r}; expected {FORMAT}")
        state.scope = scope_named(state.scope.name)  # not a copy per state read back
        return state


def _open_floor(config: DetectorsConfig) -> int:
    """The least spend on which any detector can report before a bucket closes."""
    amounts = [config.spike.min_impact_usd, config.policy.new_key_min_usd]
    amounts += [r.max_usd for r in config.static]
    for override in config.overrides.values():
        if "min_impact_usd" in override.spike:
            amounts.append(Decimal(str(override.spike["min_impact_usd"])))
    return max(0, nanos(min(amounts)) - 1)
