"""The detector protocol and what every detector shares: finding construction and summaries.

A detector is configuration only; everything it learns about one series lives in a
separate state object (a slotted dataclass of plain numbers, River statistics and
arrays) that pickles to bytes. ``observe`` gets the buckets of one series in event-time
order: open buckets possibly several times with cumulative sums (more than one may be
open at once: a later one carries the earlier ones' costs in ``before``), each closed
bucket exactly once, and no bucket for a gap (a gap is spend of zero). It returns the
findings of that evaluation; it learns only from closed buckets.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from schemas.findings import Contributor, Finding, Scope, SeriesBucket, Severity, minute_to_datetime
from schemas.money import Nanos, format_usd

TOP_CONTRIBUTORS = 3
T = TypeVar("T")


class PerScope(Generic[T]):
    """Per-series settings (defaults with that series' overrides), built once and cached.

    Cached under ``key(scope)``: the series name where it has overrides of its own, else
    its dimension, so a hundred thousand keys without overrides share one entry.
    """

    def __init__(
        self, build: Callable[[Scope], T], key: Callable[[Scope], str], limit: int = 100_000
    ) -> None:
        self._build, self._key, self._limit = build, key, limit
        self._cache: dict[str, T] = {}

    def __call__(self, scope: Scope) -> T:
        key = self._key(scope)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= self._limit:
                self._cache.clear()
            found = self._cache[key] = self._build(scope)
        return found


class Detector(Protocol):
    """One detector family; ``name`` is the ``detector`` of its findings."""

    name: str

    def applies_to(self, scope: Scope) -> bool:
        """Whether this detector watches the series at all."""
        ...

    def new_state(self, scope: Scope, minute: int) -> Any:
        """A fresh state for a series first seen at epoch minute ``minute``."""
        ...

    def observe(self, state: Any, bucket: SeriesBucket) -> list[Finding]:
        """Learn from a closed bucket (or look at an open one) and report findings."""
        ...


def top_contributors(
    contributors: dict[str, Nanos], limit: int = TOP_CONTRIBUTORS
) -> tuple[Contributor, ...]:
    """The largest contributors, most expensive first (ties by name, for determinism).

    >>> [c.series for c in top_contributors({"model=a": 5, "api_key_id=k": 9, "app=x": 1}, 2)]
    ['api_key_id=k', 'model=a']
    """
    ranked = sorted(contributors.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return tuple(Contributor(series=name, cost_nanos=cost) for name, cost in ranked if cost > 0)


OWNER_DIMENSIONS = ("api_key_id", "app", "team")
"""Dimensions whose largest contributor a finding always names, so alerting can tell
whether one key, app or team accounts for a broader series' spend."""


def finding_contributors(contributors: dict[str, Nanos]) -> tuple[Contributor, ...]:
    """The top contributors plus the largest of each owner dimension, most expensive first.

    >>> named = finding_contributors({"model=a": 9, "model=b": 8, "model=c": 7, "app=x": 1})
    >>> [c.series for c in named]
    ['model=a', 'model=b', 'model=c', 'app=x']
    """
    top = top_contributors(contributors)
    seen = {c.series for c in top}
    extra: list[Contributor] = []
    for dimension in OWNER_DIMENSIONS:
        prefix = dimension + "="
        own = {n: c for n, c in contributors.items() if n.startswith(prefix)}
        extra.extend(c for c in top_contributors(own, 1) if c.series not in seen)
    return tuple(sorted((*top, *extra), key=lambda c: (-c.cost_nanos, c.series)))


def summary_line(headline: str, contributors: tuple[Contributor, ...]) -> str:
    """``headline; top: api_key_id=k-1 $12.30, model=gpt-4o $8.00`` (at most 1,024 chars).

    >>> summary_line("spend 5x", (Contributor(series="api_key_id=k", cost_nanos=10**9),))
    'spend 5x; top: api_key_id=k $1.00'
    """
    if contributors:
        names = ", ".join(f"{c.series} {format_usd(c.cost_nanos)}" for c in contributors)
        headline = f"{headline}; top: {names}"
    return headline[:1024]


OWNER_LABELS = ("team", "app")


def owner_labels(bucket: SeriesBucket) -> dict[str, str]:
    """The team and app a series belongs to, for routing and inhibition: a series of one
    of those dimensions names itself; any other takes the largest contributor of the
    dimension in the bucket (a key's team, a team's biggest app).

    >>> b = SeriesBucket(Scope.parse("api_key_id=k"), 0, 1, cost_nanos=9, calls=1,
    ...                  contributors={"team=a": 5, "team=b": 4, "app=x": 9})
    >>> owner_labels(b)
    {'team': 'a', 'app': 'x'}
    """
    labels: dict[str, str] = {}
    for dimension in OWNER_LABELS:
        if bucket.scope.dimension == dimension:
            labels[dimension] = bucket.scope.value
            continue
        prefix = dimension + "="
        shares = [(c, n) for n, c in bucket.contributors.items() if n.startswith(prefix)]
        if shares:
            labels[dimension] = max(shares)[1][len(prefix) :]
    return labels


def finding(
    detector: str,
    bucket: SeriesBucket,
    severity: Severity,
    *,
    window_minutes: int,
    measure: str,
    observed: float,
    expected: float,
    impact_nanos: Nanos,
    headline: str,
    labels: dict[str, str] | None = None,
) -> Finding:
    """A finding evaluated at the end of ``bucket`` over the ``window_minutes`` before it."""
    end = bucket.start_minute + bucket.width_minutes
    contributors = finding_contributors(bucket.contributors)
    return Finding(
        detector=detector,
        scope=bucket.scope,
        severity=severity,
        at=minute_to_datetime(end),
        window_start=minute_to_datetime(end - window_minutes),
        window_end=minute_to_datetime(end),
        measure=measure,
        observed=round(observed, 6),
        expected=round(expected, 6),
        impact_nanos=max(0, impact_nanos),
        summary=summary_line(f"{bucket.scope.name}: {headline}", contributors[:TOP_CONTRIBUTORS]),
        contributors=contributors,
        labels={**owner_labels(bucket), **(labels or {})},
        spend_nanos=bucket.cost_nanos + sum(bucket.before),
    )


def usd(nanos: float) -> str:
    """Nano-USD (possibly a model's float estimate) as display text, ``$1.23``."""
    return format_usd(round(nanos))


def bucket_end(bucket: SeriesBucket) -> datetime:
    return minute_to_datetime(bucket.start_minute + bucket.width_minutes)
