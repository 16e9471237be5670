"""Series buckets with their top contributors, from the combination sums of one bucket.

``rollup.sum_rows`` sums rows per combination (minute, key, team, app, feature, model,
provider, environment); ``rollup.fan_out`` spreads those sums over every dimension's
series. For detection each series bucket also names what drove it: for a team, its most
expensive keys, apps and models; for a model, the keys and teams on it. Contributors are
the ``TOP`` largest values of each of ``CONTRIBUTOR_DIMENSIONS`` other than the series'
own dimension, costed inside the bucket.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache

from schemas.findings import Scope, SeriesBucket
from streams.rollup import (
    _COMBO_FIELD,
    CACHE_READ,
    CACHE_WRITE,
    CALLS,
    COST,
    DIMENSIONS,
    ERRORS,
    INPUT,
    ORG,
    OUTPUT,
    UNPRICED_CALLS,
    Combo,
    MessageTotals,
    fan_out,
)

CONTRIBUTOR_DIMENSIONS = ("api_key_id", "app", "model", "team", "provider")
TOP = 3


def contributors_by_series(
    combos: dict[Combo, list[int]],
    dimensions: Sequence[str] = DIMENSIONS,
    top: int = TOP,
    only: set[str] | None = None,
) -> dict[str, dict[str, int]]:
    """Per series name (of ``only``, when given), its top contributors
    (``"api_key_id=k-1"`` to cost nanos)."""
    fields = [(d, _COMBO_FIELD.get(d)) for d in dimensions]
    sources = [(c, _COMBO_FIELD[c]) for c in CONTRIBUTOR_DIMENSIONS]
    acc: dict[str, dict[str, int]] = defaultdict(dict)
    for combo, sums in combos.items():
        cost = sums[COST]
        if cost <= 0:
            continue
        names = [f"{c}={combo[i]}" for c, i in sources]
        for dimension, index in fields:
            series = f"{dimension}={ORG if index is None else combo[index]}"
            if only is not None and series not in only:
                continue
            bucket = acc[series]
            for (c, _), name in zip(sources, names, strict=True):
                if c != dimension:
                    bucket[name] = bucket.get(name, 0) + cost
    return {series: _top(found, top) for series, found in acc.items()}


def _top(found: dict[str, int], top: int) -> dict[str, int]:
    by_dimension: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for name, cost in found.items():
        by_dimension[name.partition("=")[0]].append((cost, name))
    kept: dict[str, int] = {}
    for items in by_dimension.values():
        items.sort(key=lambda item: (-item[0], item[1]))
        kept.update((name, cost) for cost, name in items[:top])
    return kept


@lru_cache(maxsize=100_000)
def scope_of(name: str) -> Scope:
    return Scope.parse(name)


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
        if buckets[minute][COST] >= min_cost
    }
    only = set(chosen) if min_cost > 0 else None
    contributors = contributors_by_series(combos, dimensions, only=only)
    out: list[SeriesBucket] = []
    for name in sorted(chosen):
        sums = chosen[name]
        out.append(
            SeriesBucket(
                scope=scope_of(name),
                start_minute=minute,
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
                contributors=contributors.get(name, {}),
            )
        )
    return out
