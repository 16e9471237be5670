"""Kafka's default partition of many keys at once: murmur2 over numpy columns.

Series are owned by the partition Kafka's default partitioner gives their name (the
worker's reads are routed by it), and one message can name thousands of series never
seen before (a fleet of keys, one attribution series per combination). Hashing them one
at a time in Python (aiokafka's ``murmur2``) then costs more than everything else the
ingest stage does with them, so names are hashed together: padded into a matrix of
little-endian 32-bit words, mixed a column at a time with wrap-around ``uint32``
arithmetic, each row stopping at its own length. Known names come from a bounded cache.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from streams.producer import partition_for

SEED = 0x9747B28C
M = np.uint32(0x5BD1E995)
CACHE_LIMIT = 1 << 17
"""Names whose partition is remembered; a call that would pass it starts the cache again
(with that call's names, however many)."""
VECTOR_FROM = 16
"""Fewer unknown names than this are hashed one at a time."""

U32 = npt.NDArray[np.uint32]


def murmur2_many(keys: Sequence[bytes]) -> U32:
    """``aiokafka.partitioner.murmur2`` of every key (as unsigned 32-bit integers)."""
    n = len(keys)
    lengths = np.fromiter((len(k) for k in keys), dtype=np.int64, count=n)
    width = max(4, int(lengths.max(initial=0) + 3) // 4 * 4)
    padded = np.zeros((n, width), dtype=np.uint8)
    flat = np.frombuffer(b"".join(keys), dtype=np.uint8)
    rows = np.repeat(np.arange(n), lengths)
    starts = np.cumsum(lengths) - lengths
    padded[rows, np.arange(len(flat)) - np.repeat(starts, lengths)] = flat
    words: U32 = padded.view("<u4").astype(np.uint32, copy=False)
    h: U32 = np.uint32(SEED) ^ lengths.astype(np.uint32)
    whole = lengths // 4
    with np.errstate(over="ignore"):
        for column in range(width // 4):
            k = words[:, column] * M
            k ^= k >> np.uint32(24)
            k *= M
            mixed = (h * M) ^ k
            h = np.where(whole > column, mixed, h)
        tail = lengths % 4
        last = words[np.arange(n), np.minimum(whole, width // 4 - 1)]
        h = np.where(tail > 0, (h ^ last) * M, h)  # the padding bytes are zero
        h ^= h >> np.uint32(13)
        h *= M
        h ^= h >> np.uint32(15)
    return h


def partitions_of(keys: Sequence[bytes], partitions: int) -> list[int]:
    """The partition Kafka's default partitioner picks for each key."""
    hashes = murmur2_many(keys).astype(np.int64) & 0x7FFFFFFF
    chosen: list[int] = (hashes % partitions).tolist()
    return chosen


class PartitionCache:
    """Partitions of names, remembered up to ``CACHE_LIMIT`` names, the rest hashed in bulk."""

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self._known: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._known)

    def of(self, names: Sequence[str]) -> list[int]:
        known = self._known
        found = [known.get(name, -1) for name in names]
        missing = [i for i, p in enumerate(found) if p < 0]
        if not missing:
            return found
        if len(missing) < VECTOR_FROM:
            computed = [partition_for(names[i], self.partitions) for i in missing]
        else:
            computed = partitions_of([names[i].encode() for i in missing], self.partitions)
        if len(known) + len(missing) > CACHE_LIMIT:
            known.clear()
        for i, partition in zip(missing, computed, strict=True):
            found[i] = known[names[i]] = partition
        return found
