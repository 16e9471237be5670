"""One level of a series' time buckets (minutes, hours, days or months), packed.

A series keeps up to 180 minute, 192 hour, 400 day and 14 month buckets of nine sums
each. As a dict of lists of Python ints a bucket took about 330 bytes (its dict slot, the
list, and an int object for every sum above 256); packed into two ``array('q')``, the
bucket starts in order and their sums nine by nine, it takes 80.

Adding to a packed sum boxes and unboxes it, twice the time of a list's, and the newest
bucket takes nearly every add. So the newest bucket's sums are unpacked into a list
(``_hot``) by the first add to them and packed again by the next read (``to_bytes``
reads every state it stores): a state at rest in the cache is packed, one being updated
adds at list speed.

It reads like a mapping from bucket start to sums (``in``, ``[start]``, ``get``,
``items``, ``len``, iteration in start order), handing out sums as new lists: ``add``
and ``[start] =`` are the only ways to change them.

Sums are signed 64-bit integers, nano-USD up to 9.2 billion dollars in one bucket. A sum
beyond that raises ``OverflowError`` when packed (at the latest by ``to_bytes``) rather
than wrapping round, as storing it did before packing (orjson's integers are 64-bit).

>>> b = Buckets()
>>> b.add(10, [5] * N_METRICS); b.add(12, [1] * N_METRICS); b.add(10, [2] * N_METRICS)
>>> b.add(11, [3] * N_METRICS)  # late: goes in its place
>>> list(b), b[10][0], b.window_sum(10, 12)[0], 13 in b
([10, 11, 12], 7, 10, False)
>>> b.trim_before(12); b.rows()
[[12, 1, 1, 1, 1, 1, 1, 1, 1, 1]]
>>> Buckets.from_columns(b.columns()) == b == Buckets.from_rows(b.rows())
True
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from itertools import pairwise
from typing import Any

from streams.rollup import N_METRICS

_N = N_METRICS
_EXACT_BELOW = 8
"""Levels of fewer buckets grow by a copy of the exact size: ``append`` would reserve
room for three more buckets (about 250 bytes), in every level of every young series."""


class Buckets:
    __slots__ = ("_hot", "_sums", "starts")

    def __init__(self) -> None:
        self.starts = array("q")
        self._sums = array("q")
        self._hot: list[int] | None = None
        """The newest bucket's sums while being added to (``_sums`` is stale there)."""

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[int]]) -> Buckets:
        """From ``[start, *sums]`` rows (``rows()``, and states stored before
        ``columns()``), in any order, starts distinct."""
        if any(len(row) != _N + 1 for row in rows):
            raise ValueError(f"a bucket row has other than {_N + 1} values: {rows!r}")
        ordered = sorted(rows, key=lambda row: row[0])
        return cls.from_columns(
            ([row[0] for row in ordered], [value for row in ordered for value in row[1:]])
        )

    @classmethod
    def from_columns(cls, columns: Sequence[Sequence[int]]) -> Buckets:
        """From ``columns()``: the starts in order, then every bucket's sums."""
        starts, sums = columns
        if len(sums) != _N * len(starts):
            raise ValueError(f"{len(sums)} sums for {len(starts)} buckets of {_N}")
        if any(a >= b for a, b in pairwise(starts)):
            raise ValueError(f"bucket starts out of order or repeated: {starts!r}")
        packed = cls.__new__(cls)
        packed.starts = array("q", starts)
        packed._sums = array("q", sums)
        packed._hot = None
        return packed

    def _packed(self) -> array[int]:
        """The sums, with the newest bucket's packed back in."""
        if self._hot is not None:
            self._sums[-_N:] = array("q", self._hot)
            self._hot = None
        return self._sums

    def columns(self) -> list[list[int]]:
        """The starts, oldest first, and the sums, nine per bucket: the stored form."""
        return [self.starts.tolist(), self._packed().tolist()]

    def rows(self) -> list[list[int]]:
        """``[start, *sums]`` per bucket, oldest first."""
        flat = self._packed().tolist()
        return [[start, *flat[i * _N : i * _N + _N]] for i, start in enumerate(self.starts)]

    def items(self) -> list[tuple[int, list[int]]]:
        flat = self._packed().tolist()
        return [(start, flat[i * _N : i * _N + _N]) for i, start in enumerate(self.starts)]

    def _index(self, start: object) -> int:
        """Position of ``start``, or -1."""
        starts = self.starts
        n = len(starts)
        if n and starts[-1] == start:
            return n - 1
        if type(start) is not int:
            return -1
        i = bisect_left(starts, start)
        return i if i < n and starts[i] == start else -1

    def add(self, start: int, sums: Sequence[int]) -> None:
        """Add ``sums`` to the bucket at ``start`` (created when new)."""
        if len(sums) != _N:
            raise ValueError(f"a bucket has {_N} sums, not {len(sums)}")
        starts = self.starts
        if starts and starts[-1] == start:  # the newest bucket: nearly every add
            hot = self._hot
            if hot is None:
                hot = self._hot = self._sums[-_N:].tolist()
            for i in range(_N):
                hot[i] += sums[i]
        elif not starts or starts[-1] < start:
            self._packed()
            values = array("q", sums)
            if len(starts) < _EXACT_BELOW:  # a new array of the exact size
                self.starts = starts + array("q", (start,))
                self._sums = self._sums + values
            else:
                starts.append(start)
                self._sums += values
            self._hot = list(sums)
        else:
            i = self._index(start)
            if i < 0:
                self._insert(start, sums)
                return
            at = slice(i * _N, i * _N + _N)
            total = [a + b for a, b in zip(self._packed()[at], sums, strict=True)]
            self._sums[at] = array("q", total)

    def __setitem__(self, start: int, sums: Sequence[int]) -> None:
        if len(sums) != _N:
            raise ValueError(f"a bucket has {_N} sums, not {len(sums)}")
        i = self._index(start)
        if i < 0:
            self._insert(start, sums)
        else:
            self._packed()[i * _N : i * _N + _N] = array("q", sums)

    def _insert(self, start: int, sums: Sequence[int]) -> None:
        values = array("q", sums)
        self._packed()
        i = bisect_left(self.starts, start)
        self.starts.insert(i, start)
        self._sums[i * _N : i * _N] = values

    def __getitem__(self, start: int) -> list[int]:
        i = self._index(start)
        if i < 0:
            raise KeyError(start)
        return self._packed()[i * _N : i * _N + _N].tolist()

    def get(self, start: int, default: list[int] | None = None) -> list[int] | None:
        i = self._index(start)
        return default if i < 0 else self._packed()[i * _N : i * _N + _N].tolist()

    def __contains__(self, start: object) -> bool:
        return self._index(start) >= 0

    def __len__(self) -> int:
        return len(self.starts)

    def __iter__(self) -> Iterator[int]:
        return iter(self.starts)

    def trim_before(self, keep_from: int) -> None:
        """Drop the buckets starting before ``keep_from``."""
        i = bisect_left(self.starts, keep_from)
        if i:
            packed = self._packed()
            del self.starts[:i]
            del packed[: i * _N]

    def window_sum(self, start: int, end: int) -> list[int]:
        """Sums over the buckets starting at ``start <= s < end``."""
        first = bisect_left(self.starts, start)
        last = bisect_left(self.starts, end, lo=first)
        if first == last:
            return [0] * _N
        packed = self._packed()
        if last - first == 1:
            return packed[first * _N : first * _N + _N].tolist()
        return [sum(packed[first * _N + j : last * _N : _N]) for j in range(_N)]

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, Buckets):
            return self.starts == other.starts and self._packed() == other._packed()
        if isinstance(other, dict):
            return dict(self.items()) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Buckets({dict(self.items())!r})"
