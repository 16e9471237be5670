"""``ColumnBatch``: a decoded, priced columnar message, as numpy arrays and factors.

The vectorised tier's answer for one message: the same facts as its rows
(``streams/rows.py``) column by column. Label columns are *factors* (integer codes into
a list of distinct values), which is what grouping needs; ``rows()`` rebuilds the exact
row tuples when something wants them one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.rows import Row

Ints = npt.NDArray[Any]
"""An integer array: int64, or object (Python ints) where int64 could overflow."""


@dataclass(frozen=True, slots=True)
class Factor:
    """A column as codes into its distinct values (``labels``, all different)."""

    codes: npt.NDArray[np.intp]
    labels: list[Any]

    def values(self) -> list[Any]:
        labels = self.labels
        if len(labels) == 1:
            return labels * len(self.codes)
        return [labels[c] for c in self.codes.tolist()]

    def take(self, index: npt.NDArray[np.intp]) -> Factor:
        return Factor(self.codes[index], self.labels)

    def filled(self, default: str) -> Factor:
        """None replaced by ``default`` (merged with ``default`` when both occur)."""
        if None not in self.labels:
            return self
        where: dict[Any, int] = {}
        remap = [where.setdefault(default if v is None else v, len(where)) for v in self.labels]
        return Factor(np.asarray(remap, dtype=np.intp)[self.codes], list(where))


def factorize(
    values: Sequence[Hashable], transform: Callable[[Any], Any] | None = None
) -> tuple[Factor, list[Any]]:
    """The factor of ``values`` (labels optionally transformed) and its raw distinct values.

    Distinct values keep their order of first appearance. Hashing is done by dicts in C:
    about 40 ns per value.
    """
    distinct = list(dict.fromkeys(values))
    if transform is None:
        labels = distinct
        codes_of = {v: i for i, v in enumerate(distinct)}
    else:
        where: dict[Any, int] = {}
        codes_of = {v: where.setdefault(transform(v), len(where)) for v in distinct}
        labels = list(where)
    if len(distinct) == 1:
        codes = np.full(len(values), codes_of[distinct[0]], dtype=np.intp)
    else:
        codes = np.array(list(map(codes_of.__getitem__, values)), dtype=np.intp)
    return Factor(codes, labels), distinct


@dataclass(frozen=True, slots=True)
class ColumnBatch:
    """One message's valid events, in message order (see the module docstring)."""

    event_id: list[str]
    minute: npt.NDArray[np.int64]
    provider: Factor
    model: Factor
    api_key_id: Factor
    team: Factor
    app: Factor
    feature: Factor
    environment: Factor
    input_tokens: npt.NDArray[np.int64]
    output_tokens: npt.NDArray[np.int64]
    cache_read_tokens: npt.NDArray[np.int64]
    cache_write_tokens: npt.NDArray[np.int64]
    cost_nanos: Ints
    cost_source: npt.NDArray[np.int8]
    is_error: npt.NDArray[np.bool_]
    units: list[dict[str, int] | None] | None
    """Units per event (None or {} for none), or None when no event has any."""

    def __len__(self) -> int:
        return len(self.event_id)

    @property
    def max_minute(self) -> int:
        return int(self.minute.max()) if len(self.event_id) else -1

    def rows(self) -> list[Row]:
        """The row of every event, exactly as the row path builds it."""
        n = len(self.event_id)
        units = self.units or [None] * n
        return list(
            zip(
                self.event_id,
                self.minute.tolist(),
                self.provider.values(),
                self.model.values(),
                self.api_key_id.values(),
                self.team.values(),
                self.app.values(),
                self.feature.values(),
                self.environment.values(),
                self.input_tokens.tolist(),
                self.output_tokens.tolist(),
                self.cache_read_tokens.tolist(),
                self.cache_write_tokens.tolist(),
                self.cost_nanos.tolist(),
                self.cost_source.tolist(),
                self.is_error.tolist(),
                [u or None for u in units],
                strict=True,
            )
        )
