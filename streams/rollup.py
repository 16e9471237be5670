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

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from operator import add
from typing import Any

import orjson

from streams.producer import partition_for
from streams.rows import UNPRICED, Row

METRICS = (
    "cost_nanos", "calls", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "errors", "late", "unpriced_calls",
)  # fmt: skip
"""The integer sums every bucket keeps, in this order."""
COST, CALLS, INPUT, OUTPUT, CACHE_READ, CACHE_WRITE, ERRORS, LATE, UNPRICED_CALLS = range(9)
N_METRICS = len(METRICS)
DIMENSIONS = ("api_key_id", "team", "app", "feature", "model", "provider", "environment", "org")
UNATTRIBUTED = "unattributed"
ORG = "all"
_COMBO_FIELD = {
    "api_key_id": 1, "team": 2, "app": 3, "feature": 4, "model": 5, "provider": 6,
    "environment": 7,
}  # fmt: skip

Combo = tuple[int, str, str, str, str, str, str, str]
Buckets = dict[int, list[int]]
"""Minute (epoch minutes) to the metric sums of that minute."""


def series_key(dimension: str, value: str) -> str:
    return f"{dimension}={value}"


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


def fan_out(totals: MessageTotals, dimensions: Sequence[str] = DIMENSIONS) -> SeriesPartials:
    """Spread combination sums over every dimension's series."""
    partials = SeriesPartials()
    buckets_of = partials.buckets
    combos = totals.combos
    for dimension in dimensions:
        index = _COMBO_FIELD.get(dimension)
        names: dict[Any, str] = {}
        for combo, sums in combos.items():
            value = ORG if index is None else combo[index]
            name = names.get(value)
            if name is None:
                name = names[value] = series_key(dimension, str(value))
            buckets = buckets_of[name]
            minute = combo[0]
            current = buckets.get(minute)
            buckets[minute] = list(sums) if current is None else list(map(add, current, sums))
        for combo, combo_units in totals.units.items():
            if not combo_units:
                continue
            name = names[ORG if index is None else combo[index]]
            acc = partials.units.setdefault(name, {}).setdefault(combo[0], {})
            for unit, amount in combo_units.items():
                acc[unit] = acc.get(unit, 0) + amount
    return partials


@lru_cache(maxsize=1 << 16)
def _series_partition(name: str, partitions: int) -> int:
    return partition_for(name, partitions)


def partial_records(
    partials: SeriesPartials, source_partition: int, source_offset: int, partitions: int
) -> dict[int, bytes]:
    """One buckets-topic record per owning partition, tagged with the message it came from.

    The tag (source partition, source offset) lets the owner apply each message's
    partials exactly once, however often they are sent.
    """
    grouped: dict[int, dict[str, Any]] = {}
    for name, buckets in partials.buckets.items():
        partition = _series_partition(name, partitions)
        record = grouped.setdefault(partition, {"p": source_partition, "o": source_offset,
                                                "s": {}, "u": {}})  # fmt: skip
        record["s"][name] = [[minute, *sums] for minute, sums in buckets.items()]
        units = partials.units.get(name)
        if units:
            record["u"][name] = [
                [minute, {k: str(v) for k, v in amounts.items()}]
                for minute, amounts in units.items()
            ]
    return {p: orjson.dumps(record) for p, record in grouped.items()}
