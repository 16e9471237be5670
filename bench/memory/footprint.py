"""Where a series' memory should go, estimated from the objects the worker keeps.

No tracemalloc: the worker is a separate process, so these are model numbers built from
``sys.getsizeof`` of the same objects it holds, to set beside the measured RSS:

* the ``SeriesState`` in ``SeriesStage.cache`` (every series ever touched stays there),
  its name string and its slot in the cache dict;
* the state's stored form (``to_bytes``), which RocksDB keeps in its memtable once per
  write until the memtable is flushed to disk (one write per flush a series was dirty in);
* per event, the dedup filter's memory of the event id (``PartitionDedup.first_seen`` and
  its per-offset id lists).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from streams.dedup import PartitionDedup
from streams.rollup import N_METRICS
from streams.series_state import SeriesState

_SMALL_INTS = range(-5, 257)
"""CPython shares these; they cost nothing per series."""
DICT_SLOT_BYTES = 8 + 24
"""A combined dict's entry (hash, key, value) plus its index slot, at 8-byte indices."""


def deep_sizeof(obj: Any, seen: set[int] | None = None) -> int:
    """Bytes of ``obj`` and everything it refers to, each object once; shared small ints,
    ``None`` and booleans count nothing."""
    seen = set() if seen is None else seen
    if obj is None or isinstance(obj, bool) or id(obj) in seen:
        return 0
    if type(obj) is int and obj in _SMALL_INTS:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        for key, value in obj.items():
            size += deep_sizeof(key, seen) + deep_sizeof(value, seen)
    elif isinstance(obj, list | tuple | set | frozenset):
        for item in obj:
            size += deep_sizeof(item, seen)
    elif hasattr(obj, "__dict__"):
        size += deep_sizeof(vars(obj), seen)
    elif slots := [n for c in type(obj).__mro__ for n in getattr(c, "__slots__", ())]:
        size += sum(deep_sizeof(getattr(obj, n, None), seen) for n in slots)
    elif isinstance(obj, str | bytes | int | float | Decimal):
        pass
    return size


@dataclass(frozen=True, slots=True)
class SeriesFootprint:
    python_bytes: int
    """The state object, its name and its cache slot."""
    stored_bytes: int
    """Key plus ``to_bytes`` value, as written to the table (and its memtable)."""


def series_footprint(
    name: str, minutes: Sequence[int], calls_per_minute: int = 1, source_partitions: int = 1
) -> SeriesFootprint:
    """A series that received ``calls_per_minute`` events in each of ``minutes``
    (each from its own message), as the worker's series agent builds it."""
    state = SeriesState()
    for offset, minute in enumerate(minutes):
        sums = [1_234_567 + offset, calls_per_minute, 1_500, 300, 1_024, 0, 0, 0, 0]
        assert len(sums) == N_METRICS
        state.apply(offset % source_partitions, offset, [[minute, *sums]])
    key = name
    stored = len(key.encode()) + len(state.to_bytes())  # packs it, as a flush does
    python = deep_sizeof(state) + deep_sizeof(key) + DICT_SLOT_BYTES
    return SeriesFootprint(python, stored)


def dedup_bytes_per_event(event_ids: Sequence[str]) -> float:
    """The dedup filter's memory of one first-seen event id, for a message of
    ``event_ids``: the id string, its slot in ``first_seen`` and its reference in the
    message's id list."""
    if not event_ids:
        raise ValueError("no event ids")
    dedup = PartitionDedup(0, 60)
    ids = [str(bytearray(e.encode()).decode()) for e in event_ids]  # own objects, as parsed
    for event_id in ids:
        dedup.first_seen[event_id] = 1_000_000
    dedup.remember(1_000_000, 0, ids)
    total = deep_sizeof(dedup.first_seen) + deep_sizeof(dedup.ids)
    return total / len(ids)
