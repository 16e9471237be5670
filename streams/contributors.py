"""Series buckets as detectors see them, with the contributors that drove them.

``rollup.fan_out`` spreads a message's combination sums over every dimension's series
and names, per series and minute, the most expensive series of the contributing
dimensions inside it (for a team: its keys, models and apps). The live worker keeps
those in its series state; the backtest takes them straight from ``fan_out``. Both
build ``SeriesBucket`` values here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from schemas.findings import SeriesBucket, scope_named
from streams.rollup import (
    CACHE_READ,
    CACHE_WRITE,
    CALLS,
    COST,
    DIMENSIONS,
    ERRORS,
    INPUT,
    OUTPUT,
    UNPRICED_CALLS,
    Combo,
    MessageTotals,
    fan_out,
)

ATTRIBUTION_PREFIX = "attribution="
"""The FinOps attribution series are not watched by detectors."""


def bucket_of(
    name: str,
    start_minute: int,
    width_minutes: int,
    sums: Sequence[int],
    closed: bool,
    contributors: dict[str, int] | None = None,
) -> SeriesBucket:
    """The detectors' view of one series' bucket from its metric sums (``rollup.METRICS``)."""
    return SeriesBucket(
        scope=scope_named(name),
        start_minute=start_minute,
        width_minutes=width_minutes,
        cost_nanos=sums[COST],
        calls=sums[CALLS],
        input_tokens=sums[INPUT],
        output_tokens=sums[OUTPUT],
        cache_read_tokens=sums[CACHE_READ],
        cache_write_tokens=sums[CACHE_WRITE],
        errors=sums[ERRORS],
        unpriced_calls=sums[UNPRICED_CALLS],
        closed=closed,
        contributors=dict(contributors or {}),
    )


def span_contributors(parts: Iterable[Mapping[str, int] | None]) -> dict[str, int]:
    """The contributors of several buckets of one series taken together (the still-open
    buckets an open one carries in ``before``, and itself).

    >>> span_contributors([{"api_key_id=a": 5}, None, {"api_key_id=a": 1, "app=x": 2}])
    {'api_key_id=a': 6, 'app=x': 2}
    """
    total: dict[str, int] = {}
    for part in parts:
        for name, cost in (part or {}).items():
            total[name] = total.get(name, 0) + cost
    return total


def series_buckets(
    minute: int,
    combos: dict[Combo, list[int]],
    width_minutes: int,
    closed: bool,
    dimensions: Sequence[str] = DIMENSIONS,
    min_cost: int = 0,
) -> list[SeriesBucket]:
    """Every series' bucket starting at ``minute`` from that bucket's combination sums
    (only those costing at least ``min_cost``)."""
    partials = fan_out(MessageTotals(combos=combos), dimensions)
    chosen = {
        name: buckets[minute]
        for name, buckets in partials.buckets.items()
        if buckets[minute][COST] >= min_cost and not name.startswith(ATTRIBUTION_PREFIX)
    }
    return [
        bucket_of(
            name,
            minute,
            width_minutes,
            chosen[name],
            closed,
            partials.contributors.get(name, {}).get(minute),
        )
        for name in sorted(chosen)
    ]
