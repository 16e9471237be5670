"""Cost-pipeline health and policy: spend that is unpriced, unowned, unknown or unapproved.

- ``unpriced_model``: calls on a model with no price (booked at zero, so spend is
  understated) on a ``model`` series.
- ``unattributed_spend``: spend without a team (``team=unattributed``) above
  ``unattributed_max_usd_per_hour`` over the last hour.
- ``new_key_spend``: an API key never seen before (or silent for ``idle_key_minutes``)
  that spends ``new_key_min_usd`` within ``new_key_window_minutes`` of its first call.
  Keys listed in ``key_owners`` and keys already active while the detectors warmed up
  (``known_keys_warmup_minutes`` after ``origin_minute``) are known.
- ``unapproved_model``: a team with an approved list whose bucket shows a model or
  provider outside it (read from the bucket's contributors).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from detectors.base import finding, usd
from detectors.config import ApprovedModels, DetectorsConfig, nanos
from schemas.findings import Finding, Scope, SeriesBucket, Severity

UNATTRIBUTED = "unattributed"


@dataclass(slots=True)
class PolicyState:
    born: int
    last: int = -1
    first_spend: int = -1
    new_spend: int = 0
    recent: list[tuple[int, int]] = field(default_factory=list)
    """(minute, cost) of the last hour's closed buckets, oldest first; only the
    unattributed team keeps any (a list: every key series has a policy state, and an
    empty deque takes 600 bytes; states stored with a deque work the same)."""


class PolicyDetector:
    """See the module docstring."""

    name = "policy"

    def __init__(self, config: DetectorsConfig, origin_minute: int | None = None) -> None:
        self.cfg = config.policy
        self.origin_minute = origin_minute

    def applies_to(self, scope: Scope) -> bool:
        if not self.cfg.enabled:
            return False
        return scope.dimension in ("model", "api_key_id") or (
            scope.dimension == "team"
            and (scope.value == UNATTRIBUTED or scope.value in self.cfg.approved)
        )

    def new_state(self, scope: Scope, minute: int) -> PolicyState:
        return PolicyState(born=minute)

    def observe(self, state: PolicyState, bucket: SeriesBucket) -> list[Finding]:
        if bucket.start_minute <= state.last:
            return []
        scope = bucket.scope
        found: list[Finding] = []
        if scope.dimension == "api_key_id":
            self._new_key(state, bucket, found)
        elif bucket.closed and scope.dimension == "model" and self.cfg.unpriced:
            if bucket.unpriced_calls:
                found.append(
                    finding(
                        "unpriced_model",
                        bucket,
                        Severity.WARNING,
                        window_minutes=bucket.width_minutes,
                        measure="unpriced_calls",
                        observed=bucket.unpriced_calls,
                        expected=0,
                        impact_nanos=0,
                        headline=(
                            f"{bucket.unpriced_calls} calls on a model with no known price "
                            "(booked at $0: spend is understated)"
                        ),
                    )
                )
        elif scope.value == UNATTRIBUTED:
            self._unattributed(state, bucket, found)
        else:
            approved = self.cfg.approved.get(scope.value)
            if approved is not None and bucket.closed:
                self._unapproved(approved, bucket, found)
        if bucket.closed:
            state.last = bucket.start_minute
        return found

    def _new_key(self, state: PolicyState, bucket: SeriesBucket, out: list[Finding]) -> None:
        cfg = self.cfg
        minute = bucket.start_minute
        if state.last >= 0 and minute - state.last > cfg.idle_key_minutes:
            state.first_spend, state.new_spend = minute, 0
        known = bucket.scope.value in cfg.key_owners or (
            state.first_spend < 0
            and (
                self.origin_minute is None
                or state.born < self.origin_minute + cfg.known_keys_warmup_minutes
            )
        )
        if state.first_spend < 0 and not known:
            state.first_spend = minute
        if known or state.first_spend < 0:
            return
        if minute >= state.first_spend + cfg.new_key_window_minutes:
            return
        spent = state.new_spend + bucket.cost_nanos
        if bucket.closed:
            state.new_spend = spent
        if spent >= nanos(cfg.new_key_min_usd):
            idle = state.born < state.first_spend
            out.append(
                finding(
                    "new_key_spend",
                    bucket,
                    Severity.ERROR,
                    window_minutes=minute + bucket.width_minutes - state.first_spend,
                    measure="usd_since_first_call",
                    observed=spent / 1e9,
                    expected=0,
                    impact_nanos=spent,
                    headline=(
                        f"{'a long idle' if idle else 'a never-seen'} key spent {usd(spent)} "
                        f"since its first call {minute - state.first_spend} min ago"
                    ),
                )
            )

    def _unattributed(self, state: PolicyState, bucket: SeriesBucket, out: list[Finding]) -> None:
        end = bucket.start_minute + bucket.width_minutes
        recent = state.recent
        while recent and recent[0][0] < end - 60:
            recent.pop(0)
        spent = bucket.cost_nanos + sum(c for _, c in recent)
        if bucket.closed:
            recent.append((bucket.start_minute, bucket.cost_nanos))
        limit = nanos(self.cfg.unattributed_max_usd_per_hour)
        if spent > limit:
            out.append(
                finding(
                    "unattributed_spend",
                    bucket,
                    Severity.WARNING,
                    window_minutes=60,
                    measure="usd_per_hour",
                    observed=spent / 1e9,
                    expected=limit / 1e9,
                    impact_nanos=spent - limit,
                    headline=f"{usd(spent)} in the last hour with no team attribution",
                )
            )

    def _unapproved(
        self, approved: ApprovedModels, bucket: SeriesBucket, out: list[Finding]
    ) -> None:
        bad: dict[str, int] = {}
        for name, cost in bucket.contributors.items():
            dimension, _, value = name.partition("=")
            if dimension == "provider" and approved.providers:
                ok = any(fnmatchcase(value, p) for p in approved.providers)
            elif dimension == "model" and approved.models:
                ok = any(fnmatchcase(value, p) for p in approved.models)
            else:
                continue
            if not ok:
                bad[name] = cost
        if bad:
            spent = sum(bad.values())
            names = ", ".join(sorted(bad))
            out.append(
                finding(
                    "unapproved_model",
                    bucket,
                    Severity.WARNING,
                    window_minutes=bucket.width_minutes,
                    measure="usd_per_window",
                    observed=spent / 1e9,
                    expected=0,
                    impact_nanos=spent,
                    headline=f"{usd(spent)} on {names}, not approved for team {bucket.scope.value}",
                    labels={"unapproved": names},
                )
            )
