"""Freed heap memory goes back to the system when the worker trims."""

from __future__ import annotations

import os

from streams.memory_trim import MemoryTrim


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_trimming_returns_the_freed_pages_of_a_fragmented_heap() -> None:
    trim = MemoryTrim.for_this_libc()
    assert trim.malloc_trim is not None  # glibc, as on every supported Linux image
    trim.trim()
    base = rss()
    blobs = [bytes(4096) for _ in range(50_000)]  # 200 MB outside Python's small-object pool
    kept = blobs[::64]  # one in 64 stays: the heap cannot shrink from its top
    del blobs
    before = rss()
    assert before - base > 100 * 2**20
    assert trim.trim()
    assert rss() - base < (before - base) / 4
    assert len(kept) == 782


def test_without_malloc_trim_it_does_nothing() -> None:
    assert MemoryTrim(None).trim() is False
