from __future__ import annotations

import orjson

from streams.producer import partition_for
from streams.rollup import CALLS, COST, LATE, UNATTRIBUTED, fan_out, partial_records, sum_rows
from streams.rows import UNPRICED
from tests.support.rows import row


def test_rows_sum_per_combination_and_fan_out_to_every_dimension() -> None:
    rows = [row(100), row(100, cost=50), row(101, key="k2", team=None, model="x", source=UNPRICED)]
    totals = sum_rows(rows, watermark=-1, lateness_minutes=10)
    assert len(totals.combos) == 2
    assert totals.watermark == 101
    partials = fan_out(totals)
    assert partials.buckets["api_key_id=k1"][100][:2] == [150, 2]
    assert partials.buckets["team=search"] == {100: [150, 2, 20, 10, 0, 0, 0, 0, 0]}
    assert partials.buckets[f"team={UNATTRIBUTED}"][101][8] == 1  # one unpriced call
    assert partials.buckets[f"feature={UNATTRIBUTED}"][100][CALLS] == 2
    assert partials.buckets["org=all"][100][COST] + partials.buckets["org=all"][101][COST] == 250
    assert set(partials.buckets) >= {
        "model=gpt-4o",
        "model=x",
        "provider=openai",
        "environment=prod",
        "app=app-1",
    }


def test_late_rows_land_in_the_current_bucket_and_are_counted() -> None:
    rows = [row(200), row(195), row(185, cost=7)]
    totals = sum_rows(rows, watermark=-1, lateness_minutes=10)
    assert totals.late == 1
    org = fan_out(totals).buckets["org=all"]
    assert org[195][COST] == 100  # within lateness: its own bucket
    assert org[200][COST] == 107
    assert org[200][LATE] == 1


def test_watermark_carries_across_messages() -> None:
    totals = sum_rows([row(50)], watermark=100, lateness_minutes=10)
    assert totals.late == 1
    assert totals.watermark == 100


def test_units_sum_per_series() -> None:
    totals = sum_rows([row(1, units={"documents": 2}), row(1, units={"documents": 3})], -1, 10)
    assert fan_out(totals).units["team=search"] == {1: {"documents": 5}}


def test_partial_records_go_to_the_owning_partition_with_their_source_tag() -> None:
    partials = fan_out(sum_rows([row(1), row(1, key="k2")], -1, 10))
    records = partial_records(
        partials, source_partition=3, source_offset=77, partitions=4, source_minute=9, committed=70
    )
    seen = set()
    for partition, value in records.items():
        record = orjson.loads(value)
        assert (record["p"], record["o"], record["w"], record["k"]) == (3, 77, 9, 70)
        for name in record["s"]:
            assert partition_for(name, 4) == partition
            seen.add(name)
    assert seen == set(partials.buckets)


def test_buckets_of_several_minutes_start_on_whole_multiples() -> None:
    totals = sum_rows([row(100), row(104), row(105)], -1, 10, bucket_minutes=5)
    org = fan_out(totals).buckets["org=all"]
    assert sorted(org) == [100, 105]
    assert org[100][CALLS] == 2


def test_bucket_size_must_divide_an_hour() -> None:
    import pytest
    from pydantic import ValidationError

    from streams.settings import WorkerSettings

    assert WorkerSettings(bucket_minutes=15).bucket_minutes == 15
    with pytest.raises(ValidationError, match="must divide 60"):
        WorkerSettings(bucket_minutes=7)


def test_each_series_names_its_largest_contributors_of_other_dimensions() -> None:
    rows = [row(1, key=f"k{i}", cost=100 * (i + 1)) for i in range(20)]
    rows.append(row(1, key="k0", cost=1, model="gpt-4o-mini"))
    partials = fan_out(sum_rows(rows, -1, 10))
    team = partials.contributors["team=search"][1]
    keys = {part: cost for part, cost in team.items() if part.startswith("api_key_id=")}
    assert keys == {f"api_key_id=k{i}": 100 * (i + 1) for i in range(15, 20)}
    assert team["model=gpt-4o"] == sum(100 * (i + 1) for i in range(20))
    assert team["model=gpt-4o-mini"] == 1
    assert "team=search" not in team
    own_key = partials.contributors["api_key_id=k0"][1]
    assert "api_key_id=k0" not in own_key
    assert own_key["model=gpt-4o-mini"] == 1


def test_contributors_travel_with_the_partial_records() -> None:
    partials = fan_out(sum_rows([row(1), row(1, key="k2", cost=7)], -1, 10))
    records = partial_records(partials, source_partition=0, source_offset=1, partitions=1)
    record = orjson.loads(records[0])
    assert record["c"]["org=all"] == [[1, {"api_key_id=k1": 100, "api_key_id=k2": 7,
                                           "model=gpt-4o": 107, "app=app-1": 107,
                                           "team=search": 107}]]  # fmt: skip
