"""Bulk murmur2 partitions agree with Kafka's default partitioner, key by key."""

from __future__ import annotations

import orjson
from aiokafka.partitioner import murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.key_partitions import CACHE_LIMIT, VECTOR_FROM, PartitionCache, murmur2_many
from streams.producer import partition_for
from streams.rollup import fan_out, partial_records, sum_rows
from tests.support.rows import row


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=70), min_size=1, max_size=60))
def test_murmur2_of_many_keys_is_murmur2_of_each(keys: list[bytes]) -> None:
    assert murmur2_many(keys).tolist() == [murmur2(key) & 0xFFFFFFFF for key in keys]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.text(max_size=40), min_size=1, max_size=3 * VECTOR_FROM),
    st.integers(min_value=1, max_value=64),
)
def test_cached_partitions_match_the_producers_for_known_and_new_names(
    names: list[str], partitions: int
) -> None:
    cache = PartitionCache(partitions)
    expected = [partition_for(name, partitions) for name in names]
    assert cache.of(names) == expected  # all new: hashed in bulk or one by one
    assert cache.of(names[::-1]) == expected[::-1]  # all known: from the cache


def test_the_cache_starts_again_past_its_limit_and_stays_right() -> None:
    cache = PartitionCache(7)
    names = [f"api_key_id=key-{i}" for i in range(CACHE_LIMIT + 10)]
    assert cache.of(names[:CACHE_LIMIT]) == [partition_for(n, 7) for n in names[:CACHE_LIMIT]]
    assert cache.of(names[CACHE_LIMIT:]) == [partition_for(n, 7) for n in names[CACHE_LIMIT:]]
    assert len(cache) == 10


def test_a_message_with_thousands_of_new_series_routes_each_to_its_owner() -> None:
    rows = [row(1, key=f"fleet-{i}") for i in range(3 * VECTOR_FROM + 500)]
    partials = fan_out(sum_rows(rows, -1, 10))
    records = partial_records(partials, source_partition=0, source_offset=1, partitions=6)
    routed = {name: p for p, value in records.items() for name in _names(value)}
    assert routed == {name: partition_for(name, 6) for name in partials.buckets}


def _names(value: bytes) -> list[str]:
    return list(orjson.loads(value)["s"])
