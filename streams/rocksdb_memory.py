"""One RocksDB memory budget for the whole worker, whatever its number of partitions.

Every table partition is its own RocksDB database, and Faust gives each its own block
cache and memtables: with three tables over N partitions a worker's RocksDB memory grew
with 3 N, about 16 MiB a database once written (96 MiB at four partitions before a single
series was cached). Here every database draws on one block cache and one write buffer
manager, sized by ``rocksdb_block_cache_mib`` and ``rocksdb_write_buffer_mib``: when the
memtables of all of them together reach the budget, RocksDB flushes the largest. (Faust's
own defaults, a 64 MiB memtable, up to 3 of them, and a 2 GiB block cache per database,
let a worker's memory grow for hours as memtables fill.)

The store is Faust's RocksDB store with these options, registered with Faust under
``STORE_URL``; ``store_url`` maps the setting's ``rocksdb://`` to it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import faust.stores
import rocksdict
from faust.stores.rocksdb import RocksDBOptions
from faust.stores.rocksdb import Store as FaustRocksDBStore

SCHEME = "rocksdb-shared"
STORE_URL = f"{SCHEME}://"
MAX_MEMTABLE_BYTES = 4 * 1024 * 1024
"""A database's memtable is flushed at this size, or sooner when the budget is full."""


@lru_cache(maxsize=4)
def shared_memory(
    block_cache_bytes: int, write_buffer_bytes: int
) -> tuple[rocksdict.Cache, rocksdict.WriteBufferManager]:
    """The process's block cache and write buffer manager for these sizes."""
    return (
        rocksdict.Cache(block_cache_bytes),
        rocksdict.WriteBufferManager(write_buffer_bytes, False),
    )


class SharedMemoryOptions(RocksDBOptions):
    """Faust's RocksDB options, with the block cache and memtable budget shared."""

    def as_options(self) -> rocksdict.Options:
        cache, write_buffers = shared_memory(
            self.block_cache_size, self.extra_options["memtable_budget"]
        )
        options: rocksdict.Options = super().as_options()  # its cache is replaced below
        options.set_write_buffer_manager(write_buffers)
        table = rocksdict.BlockBasedOptions()
        table.set_bloom_filter(self.bloom_filter_size, block_based=True)
        table.set_block_cache(cache)
        table.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
        options.set_block_based_table_factory(table)
        return options


class SharedMemoryStore(FaustRocksDBStore):
    """Faust's RocksDB store on ``SharedMemoryOptions``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rocksdb_options = SharedMemoryOptions(**(self.options or {}), use_rocksdict=True)


def options_for(block_cache_mib: int, write_buffer_mib: int) -> dict[str, int]:
    """A table's store options: the worker-wide budgets, in MiB."""
    mib = 1024 * 1024
    budget = write_buffer_mib * mib
    return {
        "write_buffer_size": min(MAX_MEMTABLE_BYTES, budget),
        "max_write_buffer_number": 2,
        "block_cache_size": block_cache_mib * mib,
        "memtable_budget": budget,
    }


def store_url(setting: str) -> str:
    """The store Faust should open for the ``store`` setting (registering the shared
    store with Faust's store registry first)."""
    faust.stores.STORES.aliases.setdefault(SCHEME, f"{__name__}:SharedMemoryStore")
    return STORE_URL if setting.startswith("rocksdb://") else setting
