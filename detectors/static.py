"""Static thresholds from config: any series of a dimension above a USD amount in a window.

``static: [{dimension: api_key_id, window_minutes: 5, max_usd: 50}]`` reports any key
that spends more than $50 in 5 minutes. The open bucket counts, so a key that crosses
the line is reported before its minute closes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from detectors.base import finding, usd
from detectors.config import DetectorsConfig, StaticThreshold, nanos
from schemas.findings import Finding, Scope, SeriesBucket


@dataclass(slots=True)
class StaticState:
    last: int = -1
    recent: deque[tuple[int, int]] = field(default_factory=deque)
    """(start minute, cost) of closed buckets within the longest window."""


class StaticThresholdDetector:
    """See the module docstring. Findings: ``static_threshold``."""

    name = "static_threshold"

    def __init__(self, config: DetectorsConfig) -> None:
        self.rules = config.static
        self.longest = max((r.window_minutes for r in self.rules), default=0)

    def _rules(self, scope: Scope) -> list[StaticThreshold]:
        return [
            r
            for r in self.rules
            if r.dimension == scope.dimension and (r.value is None or r.value == scope.value)
        ]

    def applies_to(self, scope: Scope) -> bool:
        return bool(self._rules(scope))

    def new_state(self, scope: Scope, minute: int) -> StaticState:
        return StaticState()

    def observe(self, state: StaticState, bucket: SeriesBucket) -> list[Finding]:
        if bucket.start_minute <= state.last:
            return []
        end = bucket.start_minute + bucket.width_minutes
        recent = state.recent
        while recent and recent[0][0] < end - self.longest:
            recent.popleft()
        found: list[Finding] = []
        width = bucket.width_minutes
        first_open = bucket.start_minute - width * len(bucket.before)
        still_open = [(first_open + i * width, c) for i, c in enumerate(bucket.before)]
        for rule in self._rules(bucket.scope):
            start = end - rule.window_minutes
            spent = bucket.cost_nanos + sum(c for m, c in recent if m >= start)
            spent += sum(c for m, c in still_open if m >= start)
            limit = nanos(rule.max_usd)
            if spent > limit:
                found.append(
                    finding(
                        self.name,
                        bucket,
                        rule.severity,
                        window_minutes=rule.window_minutes,
                        measure="usd_per_window",
                        observed=spent / 1e9,
                        expected=limit / 1e9,
                        impact_nanos=spent - limit,
                        headline=(
                            f"spend {usd(spent)} in {rule.window_minutes} min is over the "
                            f"limit of {usd(limit)}"
                        ),
                        labels={"limit_usd": str(rule.max_usd)},
                    )
                )
        if bucket.closed:
            recent.append((bucket.start_minute, bucket.cost_nanos))
            state.last = bucket.start_minute
        return found[:1] if len(found) > 1 else found
