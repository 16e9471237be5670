"""Pre-aggregation of one message into per-series partial buckets.

Rows are first summed per *combination* (minute, key, team, app, feature, model,
provider, environment): one dict update per event. Only then are the few combinations
fanned out to every configured dimension, so the per-event cost does not grow with the
number of dimensions. The result is grouped by the partition of the buckets topic that
owns each series, ready to send as one record per partition.

Event time decides the bucket. A row older than the partition's watermark (the latest
minute seen) by more than the allowed lateness is booked in the watermark's minute and
counted as late; nothing is dropped.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import add
from typing import Any

import orjson

from streams.key_partitions import PartitionCache
from streams.rows import UNPRICED, Row

METRICS = (
    "cost_nanos", "calls", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "errors", "late", "unpriced_calls",
)  # fmt: skip
"""The integer sums every bucket keeps, in this order."""
COST, CALLS, INPUT, OUTPUT, CACHE_READ, CACHE_WRITE, ERRORS, LATE, UNPRICED_CALLS = range(9)
N_METRICS = len(METRICS)
DIMENSIONS = (
    "api_key_id", "team", "app", "feature", "model", "provider", "environment", "org",
    "attribution",
)  # fmt: skip
CONTRIBUTOR_DIMENSIONS = ("api_key_id", "model", "app", "team")
"""Dimensions whose series are named as contributors of the other series' buckets."""
TOP_CONTRIBUTORS = 5
UNATTRIBUTED = "unattributed"
ORG = "all"
ATTRIBUTION = "attribution"
"""One series per combination of key, team, app, feature, model, provider and environment:
the cross-dimension detail that showback, chargeback and the key inventory read."""
ATTRIBUTION_FIELDS = ("api_key_id", "team", "app", "feature", "model", "provider", "environment")
ATTRIBUTION_SEPARATOR = "\x1f"
"""Unit separator: a control character, which no label may contain."""
_COMBO_FIELD = {
    "api_key_id": 1, "team": 2, "app": 3, "feature": 4, "model": 5, "provider": 6,
    "environment": 7,
}  # fmt: skip

Combo = tuple[int, str, str, str, str, str, str, str]
Buckets = dict[int, list[int]]
"""Minute (epoch minutes) to the metric sums of that minute."""


def series_key(dimension: str, value: str) -> str:
    return f"{dimension}={value}"


def attribution_value(combo: Sequence[Any]) -> str:
    """The ``attribution`` series value of a combination (its fields after the minute)."""
    return ATTRIBUTION_SEPARATOR.join(str(v) for v in combo[1:])


def attribution_fields(value: str) -> tuple[str, ...]:
    """Inverse of ``attribution_value``: the fields in ``ATTRIBUTION_FIELDS`` order."""
    fields = tuple(value.split(ATTRIBUTION_SEPARATOR))
    if len(fields) != len(ATTRIBUTION_FIELDS):
        raise ValueError(f"not an attribution series value: {value!r}")
    return fields


@dataclass(slots=True)
class MessageTotals:
    combos: dict[Combo, list[int]] = field(default_factory=dict)
    units: dict[Combo, dict[str, Any]] = field(default_factory=dict)
    watermark: int = -1
    late: int = 0


def sum_rows(
    rows: Iterable[Row], watermark: int, lateness_minutes: int, bucket_minutes: int = 1
) -> MessageTotals:
    """Sum rows per combination, in order, advancing the watermark as it goes.

    Buckets start at whole multiples of ``bucket_minutes`` (epoch minutes).
    """
    totals = MessageTotals(watermark=watermark)
    combos = totals.combos
    wm = watermark
    late = 0
    for row in rows:
        (_, minute, provider, model, key, team, app, feature, env,
         inp, out, cr, cw, cost, source, is_error, units) = row  # fmt: skip
        is_late = wm >= 0 and minute < wm - lateness_minutes
        if is_late:
            minute = wm
            late += 1
        elif minute > wm:
            wm = minute
        if bucket_minutes > 1:
            minute -= minute % bucket_minutes
        combo = (minute, key, team or UNATTRIBUTED, app or UNATTRIBUTED,
                 feature or UNATTRIBUTED, model, provider, env or UNATTRIBUTED)  # fmt: skip
        sums = combos.get(combo)
        if sums is None:
            combos[combo] = [cost, 1, inp, out, cr, cw, int(is_error), int(is_late),
                             int(source == UNPRICED)]  # fmt: skip
        else:
            sums[0] += cost
            sums[1] += 1
            sums[2] += inp
            sums[3] += out
            sums[4] += cr
            sums[5] += cw
            sums[6] += is_error
            sums[7] += is_late
            sums[8] += source == UNPRICED
        if units:
            acc = totals.units.setdefault(combo, {})
            for name, amount in units.items():
                acc[name] = acc.get(name, 0) + amount
    totals.watermark = wm
    totals.late = late
    return totals


@dataclass(slots=True)
class SeriesPartials:
    """Per series: minute buckets and units from one message."""

    buckets: dict[str, Buckets] = field(default_factory=lambda: defaultdict(dict))
    units: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    contributors: dict[str, dict[int, dict[str, int]]] = field(default_factory=dict)
    """Per series and minute: the cost of the largest other series inside it."""


def fan_out(
    totals: MessageTotals,
    dimensions: Sequence[str] = DIMENSIONS,
    contributor_dimensions: Sequence[str] = CONTRIBUTOR_DIMENSIONS,
) -> SeriesPartials:
    """Spread combination sums over every dimension's series, noting top contributors."""
    partials = SeriesPartials()
    buckets_of = partials.buckets
    combos = totals.combos
    aligned: dict[str, list[str]] = {}
    """Per dimension, the series name of each combination, in ``combos`` order."""
    for dimension in dimensions:
        index = _COMBO_FIELD.get(dimension)
        whole = dimension == ATTRIBUTION
        names: dict[Any, str] = {}
        in_order = aligned[dimension] = []
        for combo, sums in combos.items():
            value = combo if whole else (ORG if index is None else combo[index])
            name = names.get(value)
            if name is None:
                text = attribution_value(combo) if whole else str(value)
                name = names[value] = series_key(dimension, text)
            in_order.append(name)
            buckets = buckets_of[name]
            minute = combo[0]
            current = buckets.get(minute)
            buckets[minute] = list(sums) if current is None else list(map(add, current, sums))
        for combo, combo_units in totals.units.items():
            if not combo_units:
                continue
            name = names[combo if whole else (ORG if index is None else combo[index])]
            acc = partials.units.setdefault(name, {}).setdefault(combo[0], {})
            for unit, amount in combo_units.items():
                acc[unit] = acc.get(unit, 0) + amount
    contributing = [aligned[d] for d in dimensions if d in contributor_dimensions]
    if contributing:
        described = [aligned[d] for d in dimensions if d != ATTRIBUTION]
        _contribute(partials.contributors, list(combos.items()), described, contributing)
        _keep_top(partials.contributors)
    return partials


def _contribute(
    target: dict[str, dict[int, dict[str, int]]],
    combos: list[tuple[Combo, list[int]]],
    described: list[list[str]],
    contributing: list[list[str]],
) -> None:
    """Each described series gets the cost of every contributing series inside it."""
    for position, (combo, sums) in enumerate(combos):
        cost = sums[0]
        if not cost:
            continue
        minute = combo[0]
        parts = [names[position] for names in contributing]
        for names in described:
            name = names[position]
            acc = target.setdefault(name, {}).setdefault(minute, {})
            for part in parts:
                if part != name:
                    acc[part] = acc.get(part, 0) + cost


def _keep_top(contributors: dict[str, dict[int, dict[str, int]]]) -> None:
    """At most ``TOP_CONTRIBUTORS`` per contributing dimension, per series and minute."""
    for minutes in contributors.values():
        for minute, acc in minutes.items():
            if len(acc) > 3 * TOP_CONTRIBUTORS:
                minutes[minute] = top_contributors(acc)


def top_contributors(acc: dict[str, int], keep: int = TOP_CONTRIBUTORS) -> dict[str, int]:
    """The ``keep`` largest entries of each dimension (``dimension=value`` keys).

    >>> top_contributors({"model=a": 5, "model=b": 9, "app=x": 1}, keep=1)
    {'model=b': 9, 'app=x': 1}
    """
    by_dimension: dict[str, list[tuple[int, str]]] = {}
    for part, cost in acc.items():
        by_dimension.setdefault(part.partition("=")[0], []).append((cost, part))
    kept: dict[str, int] = {}
    for entries in by_dimension.values():
        for cost, part in heapq.nlargest(keep, entries):
            kept[part] = cost
    return kept


_PARTITIONS: dict[int, PartitionCache] = {}
"""Series-name partition caches, per number of partitions."""


def partial_records(
    partials: SeriesPartials,
    source_partition: int,
    source_offset: int,
    partitions: int,
    source_minute: int = -1,
    committed: int | None = None,
) -> dict[int, bytes]:
    """One buckets-topic record per owning partition, tagged with the message it came from.

    The tag (source partition, source offset) lets the owner apply each message's
    partials exactly once, however often they are sent; ``source_minute``, the source
    partition's event-time watermark after the message (``w``, when known), tells the
    owner how far that source has got (``streams.source_progress``); ``committed``, the
    source partition's committed offset (``k``, when known: every partial of an offset
    below it is stored ahead of this record), how far back it need not remember.
    """
    grouped: dict[int, dict[str, Any]] = {}
    head: dict[str, Any] = {"p": source_partition, "o": source_offset}
    if source_minute >= 0:
        head["w"] = source_minute
    if committed is not None:
        head["k"] = committed
    cache = _PARTITIONS.get(partitions)
    if cache is None:
        cache = _PARTITIONS[partitions] = PartitionCache(partitions)
    partitioned = zip(partials.buckets.items(), cache.of(list(partials.buckets)), strict=True)
    for (name, buckets), partition in partitioned:
        record = grouped.setdefault(partition, {**head, "s": {}, "u": {}})
        record["s"][name] = [[minute, *sums] for minute, sums in buckets.items()]
        contributors = partials.contributors.get(name)
        if contributors:
            record.setdefault("c", {})[name] = [[m, acc] for m, acc in contributors.items()]
        units = partials.units.get(name)
        if units:
            record["u"][name] = [
                [minute, {k: str(v) for k, v in amounts.items()}]
                for minute, amounts in units.items()
            ]
    return {p: orjson.dumps(record) for p, record in grouped.items()}
