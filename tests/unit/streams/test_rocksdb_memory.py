"""One RocksDB memory budget across every table partition of a worker."""

from __future__ import annotations

import random
import time
from pathlib import Path

import faust.stores

from streams.rocksdb_memory import (
    STORE_URL,
    SharedMemoryOptions,
    options_for,
    shared_memory,
    store_url,
)

MIB = 1024 * 1024


def test_memtables_of_all_databases_stay_within_one_budget(tmp_path: Path) -> None:
    options = SharedMemoryOptions(**options_for(2, 1), use_rocksdict=True)
    databases = [options.open(tmp_path / f"series-{p}.db") for p in range(4)]
    cache, memtables = shared_memory(2 * MIB, 1 * MIB)
    noise = random.Random(7)
    for i in range(24_000):  # 7 MiB of writes, spread over the four databases
        databases[i % 4][f"api_key_id=k-{i}".encode()] = noise.randbytes(300)
    # Each database alone may hold a 1 MiB memtable (4 MiB); the shared budget flushes
    # the largest whenever all of them together pass 1 MiB. Memtables being flushed count
    # until their background flush is done.
    settled = time.monotonic() + 10
    while memtables.get_usage() >= 1.5 * MIB and time.monotonic() < settled:
        time.sleep(0.05)
    assert 0 < memtables.get_usage() < 1.5 * MIB
    for i in range(0, 24_000, 3):
        assert len(databases[i % 4][f"api_key_id=k-{i}".encode()]) == 300
    assert 0 < cache.get_usage() <= 2 * MIB + MIB // 4
    for db in databases:
        db.close()


def test_the_rocksdb_setting_opens_the_shared_store_and_memory_stays_memory() -> None:
    assert store_url("rocksdb://") == STORE_URL
    assert store_url("memory://") == "memory://"
    assert faust.stores.by_url(STORE_URL).__name__ == "SharedMemoryStore"


def test_a_database_memtable_is_never_larger_than_the_whole_budget() -> None:
    assert options_for(32, 1)["write_buffer_size"] == 1 * MIB
    assert options_for(32, 64)["write_buffer_size"] == 4 * MIB
    assert options_for(32, 64)["memtable_budget"] == 64 * MIB
