"""``sum_columns``: ``rollup.sum_rows`` for a ``ColumnBatch``, with numpy instead of a loop.

Same rules, same ``MessageTotals``: lateness against the running watermark (the highest
minute before each event, which a prefix maximum gives at once), buckets of
``bucket_minutes``, and exact integer sums per combination (minute, key, team, app,
feature, model, provider, environment). Combinations are found by combining the label
factors' codes into one integer key; sums come from a stable sort and
``np.add.reduceat`` over int64 (over Python integers when int64 could overflow), never
from floats. Combinations keep the order of their first event, as in ``sum_rows``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from streams.column_batch import ColumnBatch, Factor
from streams.rollup import N_METRICS, UNATTRIBUTED, Combo, MessageTotals
from streams.rows import UNPRICED

_KEY_LIMIT = 2**62


def _combined(parts: list[tuple[npt.NDArray[np.intp], int]], n: int) -> npt.NDArray[np.int64]:
    """One integer per event that is equal exactly when all its parts' codes are."""
    key = np.zeros(n, dtype=np.int64)
    size = 1
    for codes, cardinality in parts:
        if cardinality == 1:
            continue
        if size * cardinality >= _KEY_LIMIT:
            _, key = np.unique(key, return_inverse=True)
            key = key.reshape(-1).astype(np.int64)
            size = int(key.max()) + 1
        key = key * cardinality + codes
        size *= cardinality
    return key


def sum_columns(
    batch: ColumnBatch,
    kept: list[int] | None,
    watermark: int,
    lateness_minutes: int,
    bucket_minutes: int = 1,
) -> MessageTotals:
    """Totals of the ``kept`` events of ``batch`` (all when None), as ``sum_rows`` gives."""
    index = None if kept is None else np.asarray(kept, dtype=np.intp)

    def pick(values: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
        return values if index is None else values[index]

    def factor(f: Factor, default: bool = False) -> Factor:
        chosen = f if index is None else f.take(index)
        return chosen.filled(UNATTRIBUTED) if default else chosen

    minute: npt.NDArray[np.int64] = batch.minute if index is None else batch.minute[index]
    n = len(minute)
    if not n:
        return MessageTotals(watermark=watermark)
    running = np.maximum.accumulate(minute)
    before = np.empty(n, dtype=np.int64)
    before[0] = watermark
    np.maximum(running[:-1], watermark, out=before[1:])
    late = (before >= 0) & (minute < before - lateness_minutes)
    booked = np.where(late, before, minute)
    if bucket_minutes > 1:
        booked -= booked % bucket_minutes
    labels = [
        factor(batch.api_key_id),
        factor(batch.team, True),
        factor(batch.app, True),
        factor(batch.feature, True),
        factor(batch.model),
        factor(batch.provider),
        factor(batch.environment, True),
    ]
    low = int(booked.min())
    parts = [(booked - low, int(booked.max()) - low + 1)]
    parts += [(f.codes, len(f.labels)) for f in labels]
    key = _combined(parts, n)

    cost = pick(batch.cost_nanos)
    exact_int64 = cost.dtype != object and int(np.abs(cost).max()) * n < 2**63
    metrics = np.empty((n, N_METRICS), dtype=np.int64 if exact_int64 else object)
    metrics[:, 0] = cost
    metrics[:, 1] = 1
    metrics[:, 2] = pick(batch.input_tokens)
    metrics[:, 3] = pick(batch.output_tokens)
    metrics[:, 4] = pick(batch.cache_read_tokens)
    metrics[:, 5] = pick(batch.cache_write_tokens)
    metrics[:, 6] = pick(batch.is_error).astype(np.int64)
    metrics[:, 7] = late.astype(np.int64)
    metrics[:, 8] = (pick(batch.cost_source) == UNPRICED).astype(np.int64)

    order = np.argsort(key, kind="stable")
    ordered = key[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    sums = np.add.reduceat(metrics[order], starts, axis=0)
    firsts = order[starts]
    by_appearance = np.argsort(firsts)
    firsts = firsts[by_appearance]
    columns = [booked[firsts].tolist()] + [f.take(firsts).values() for f in labels]
    combos: list[Combo] = list(zip(*columns, strict=True))
    totals = MessageTotals(
        combos=dict(zip(combos, sums[by_appearance].tolist(), strict=True)),
        watermark=max(watermark, int(running[-1])),
        late=int(np.count_nonzero(late)),
    )
    if batch.units is not None:
        _sum_units(totals, combos, batch.units, kept, order, starts, by_appearance)
    return totals


def _sum_units(
    totals: MessageTotals,
    combos: list[Combo],
    units: list[dict[str, int] | None],
    kept: list[int] | None,
    order: npt.NDArray[np.intp],
    starts: npt.NDArray[np.intp],
    by_appearance: npt.NDArray[np.intp],
) -> None:
    """Units per combination, summed in event order as ``sum_rows`` does."""
    chosen = units if kept is None else [units[i] for i in kept]
    groups = len(starts)
    rank = np.empty(groups, dtype=np.intp)
    rank[by_appearance] = np.arange(groups)
    sizes = np.diff(np.append(starts, len(order)))
    group = np.empty(len(order), dtype=np.intp)
    group[order] = np.repeat(rank, sizes)
    sums: dict[int, dict[str, int]] = {}
    present = [i for i, amounts in enumerate(chosen) if amounts]
    where_of = group[present].tolist()
    for position, where in zip(present, where_of, strict=True):
        amounts = chosen[position]
        if amounts:
            into = sums.get(where)
            if into is None:
                sums[where] = dict(amounts)
            else:
                for name, amount in amounts.items():
                    into[name] = into.get(name, 0) + amount
    totals.units = {combos[where]: amounts for where, amounts in sums.items()}
