"""Pure helpers of the memory benchmark (bench/memory/); no broker needed."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from bench.memory import BenchError, MemoryConfig, parse_series, summary_line
from bench.memory.events import (
    SeriesTally,
    api_key,
    memory_events,
    sentinel_keys,
    series_name,
)
from bench.memory.footprint import dedup_bytes_per_event, deep_sizeof, series_footprint
from bench.memory.probes import Backlog
from bench.memory.report import Measured, build_summary
from bench.memory.rss import MIB, Memory, Settling, bytes_per_series, mib, parse_status, read_memory
from bench.memory.workers import Recovery
from bench.throughput.messages import batch_messages
from schemas.decode import EventDecoder
from schemas.pricing import PriceBook
from streams.fast_decode import RowDecoder
from streams.producer import partition_for
from streams.rollup import fan_out, sum_rows
from streams.rows import UNPRICED
from streams.settings import WorkerSettings

STATUS = """Name:\tpython
Umask:\t0022
State:\tS (sleeping)
VmPeak:\t  712340 kB
VmSize:\t  650000 kB
VmHWM:\t   90512 kB
VmRSS:\t   84236 kB
RssAnon:\t   60000 kB
Threads:\t4
"""


def test_rss_and_peak_come_from_the_status_text_in_bytes() -> None:
    assert parse_status(STATUS) == Memory(rss=84236 * 1024, peak=90512 * 1024)
    assert parse_status("VmRSS:\t 10 kB\n") == Memory(10240, 10240)


@pytest.mark.parametrize("text", ["Name:\tkthreadd\n", "VmRSS:\t12 MB\n", "VmRSS:\t-\n"])
def test_a_status_without_a_usable_rss_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_status(text)


def test_this_process_has_resident_memory() -> None:
    memory = read_memory(os.getpid())
    assert 0 < memory.rss <= memory.peak


def test_bytes_per_series_is_the_extra_rss_over_every_series() -> None:
    idle, loaded = 80 * MIB, 80 * MIB + 100_023 * 4000
    assert bytes_per_series(loaded, idle, 100_023) == 4000.0
    assert mib(84236 * 1024) == 82.3
    with pytest.raises(ValueError):
        bytes_per_series(loaded, idle, 0)


def test_rss_settles_only_after_a_full_still_window() -> None:
    settling = Settling(window_s=3.0, tolerance=MIB)
    assert not settling.add(0.0, 100 * MIB, 5)
    assert not settling.add(2.0, 100 * MIB, 5)
    assert settling.add(3.0, 100 * MIB + 1000, 5)
    assert settling.last == 100 * MIB + 1000


def test_rss_growth_or_a_flush_restarts_the_window() -> None:
    settling = Settling(window_s=3.0, tolerance=MIB)
    for t in range(4):
        settling.add(float(t), (100 + 2 * t) * MIB, 5)  # still growing
    assert not settling.add(4.0, 106 * MIB, 5)
    assert not settling.add(6.0, 106 * MIB, 6)  # a flush happened
    assert not settling.add(8.0, 106 * MIB, 6)
    assert settling.add(9.5, 106 * MIB, 6)


def test_events_make_exactly_s_key_series_and_few_others() -> None:
    events = list(memory_events(1000, 2))
    assert len(events) == 2000
    assert len({e["event_id"] for e in events}) == 2000
    assert len({e["api_key_id"] for e in events}) == 1000
    tally = SeriesTally(WorkerSettings().dimensions)
    assert list(tally.observe(events)) == events
    per_dimension = tally.per_dimension()
    assert per_dimension["api_key_id"] == 1000
    assert per_dimension["org"] == 1
    assert tally.total == 1000 + 23 + per_dimension["attribution"]
    assert tally.events == 2000
    # A tiny run still has exactly S keys; the other dimensions only shrink.
    small = SeriesTally(WorkerSettings().dimensions)
    for _ in small.observe(memory_events(3, 1)):
        pass
    assert small.per_dimension()["api_key_id"] == 3
    assert small.total <= 3 + 23 + small.per_dimension()["attribution"]


def test_events_are_in_time_order_inside_the_worker_limits() -> None:
    now = datetime.now(UTC)
    events = list(memory_events(500, 3))
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    oldest = datetime.fromtimestamp(stamps[0] / 1000, UTC)
    newest = datetime.fromtimestamp(stamps[-1] / 1000, UTC)
    assert now - timedelta(hours=1) <= oldest < newest <= now
    # A key's events are spread over the window: they land in different minutes.
    minutes = {e["timestamp"] // 60_000 for e in events if e["api_key_id"] == api_key(7)}
    assert len(minutes) == 3


def test_the_worker_decodes_prices_and_fans_out_to_the_tallied_series() -> None:
    settings = WorkerSettings()
    decoder = RowDecoder(EventDecoder(PriceBook(), settings.decode_limits()))
    tally = SeriesTally(settings.dimensions)
    events = list(tally.observe(memory_events(300, 2)))
    names: set[str] = set()
    counted = 0
    for message in batch_messages(events, partitions=4, batch_size=1000):
        decoded = decoder.decode(message.value, datetime.now(UTC))
        assert decoded.rejected == []
        rows = decoded.all_rows()
        assert all(row[14] != UNPRICED for row in rows)
        counted += len(rows)
        partials = fan_out(sum_rows(rows, -1, settings.lateness_minutes))
        names |= set(partials.buckets)
    assert counted == 600
    assert len(names) == tally.total
    assert {n for n in names if n.startswith("api_key_id=")} == {
        series_name("api_key_id", api_key(i)) for i in range(300)
    }


def test_sentinels_are_the_last_keys_of_each_series_partition() -> None:
    sentinels = sentinel_keys(10_000, 4)
    assert sorted(sentinels) == [0, 1, 2, 3]
    for partition, key in sentinels.items():
        assert partition_for(series_name("api_key_id", key), 4) == partition
        later = range(int(key.rsplit("-", 1)[1]) + 1, 10_000)
        assert all(
            partition_for(series_name("api_key_id", api_key(i)), 4) != partition for i in later
        )
    assert len(sentinel_keys(1, 4)) == 1


def test_series_counts_parse() -> None:
    assert parse_series("10000,100000") == (10_000, 100_000)
    assert parse_series(" 10k, 1_000 ,10000,") == (10_000, 1000)
    assert parse_series("2m") == (2_000_000,)
    for bad in ("", "ten", "0", "-5"):
        with pytest.raises(ValueError):
            parse_series(bad)
    with pytest.raises(BenchError):
        MemoryConfig(series=()).check()
    MemoryConfig().check()


def test_deep_size_counts_shared_objects_once_and_skips_small_ints() -> None:
    text = "x" * 100
    assert deep_sizeof([text, text]) == deep_sizeof([None, None]) + deep_sizeof(text)
    assert deep_sizeof(7) == 0
    assert deep_sizeof(10**6) > 0


def test_footprint_model_of_a_key_series() -> None:
    one = series_footprint("api_key_id=k", [29_000_000])
    two = series_footprint("api_key_id=k", [29_000_000, 29_000_025])
    assert 1000 < one.python_bytes < two.python_bytes < 10_000
    assert 100 < one.stored_bytes < two.stored_bytes < 1000
    per_event = dedup_bytes_per_event([f"mem-{i}-1" for i in range(1000)])
    assert 50 < per_event < 500


def _measured(series: int, total: int, loaded_mib: float) -> Measured:
    idle = Memory(int(80 * MIB), int(80 * MIB))
    return Measured(
        api_key_series=series,
        total_series=total,
        expected_series=total,
        events=2 * series,
        idle=idle,
        loaded=Memory(int(loaded_mib * MIB), int(loaded_mib * MIB) + 5),
        loaded_settled=True,
        at_counted=Memory(int(loaded_mib * MIB) - 9, int(loaded_mib * MIB)),
        recovered=Memory(int(90 * MIB), int(95 * MIB)),
        fresh=Recovery(12.345, 1.0),
        same=Recovery(3.21, None),
        fresh_wait_s=59.9,
        same_wait_s=58.0,
        ingest_eps=12345.6,
        verified=True,
        backlog=Backlog(100, 7),
        changelog_drain_s=4.2,
    )


def test_summary_has_the_documented_fields_and_a_marginal_slope() -> None:
    results = {
        10_000: _measured(10_000, 10_023, 120.0),
        100_000: _measured(100_000, 100_023, 480.0),
    }
    summary = build_summary(results, partitions=4, events_per_key=2, batch_size=1000)
    small = summary["series"]["10000"]
    for key in ("total_series", "rss_idle_mb", "rss_loaded_mb", "bytes_per_series",
                "recovery_fresh_dir_s", "recovery_same_dir_s"):  # fmt: skip
        assert key in small
    assert small["bytes_per_series"] == round(40 * MIB / 10_023)
    assert (small["recovery_fresh_dir_s"], small["recovery_same_dir_s"]) == (12.35, 3.21)
    assert summary["partitions"] == 4
    assert summary["marginal_bytes_per_series"] == {"10000-100000": round(360 * MIB / 90_000)}
    line = summary_line(summary)
    assert "\n" not in line
    assert json.loads(line) == orjson.loads(orjson.dumps(summary))
