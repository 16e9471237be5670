"""The results of a memory run: one entry per series count, the JSON line, the table."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.memory.events import WINDOW_S, api_key
from bench.memory.footprint import dedup_bytes_per_event, series_footprint
from bench.memory.probes import Backlog
from bench.memory.rss import Memory, bytes_per_series, mib
from bench.memory.workers import Recovery


@dataclass(frozen=True, slots=True)
class Measured:
    """Everything measured for one series count."""

    api_key_series: int
    total_series: int
    expected_series: int
    events: int
    idle: Memory
    loaded: Memory
    loaded_settled: bool
    at_counted: Memory
    """RSS the moment every event was counted, before the changelog drained."""
    recovered: Memory
    fresh: Recovery
    same: Recovery
    fresh_wait_s: float
    same_wait_s: float
    ingest_eps: float
    verified: bool
    backlog: Backlog
    changelog_drain_s: float


def entry(m: Measured) -> dict[str, Any]:
    return {
        "api_key_series": m.api_key_series,
        "total_series": m.total_series,
        "events": m.events,
        "rss_idle_mb": mib(m.idle.rss),
        "rss_loaded_mb": mib(m.loaded.rss),
        "rss_loaded_peak_mb": mib(m.loaded.peak),
        "rss_at_counted_mb": mib(m.at_counted.rss),
        "bytes_per_series": round(bytes_per_series(m.loaded.rss, m.idle.rss, m.total_series)),
        "rss_recovered_mb": mib(m.recovered.rss),
        "recovery_fresh_dir_s": round(m.fresh.seconds, 2),
        "recovery_same_dir_s": round(m.same.seconds, 2),
        "http_up_fresh_dir_s": _round(m.fresh.http_s),
        "http_up_same_dir_s": _round(m.same.http_s),
        "dead_member_wait_s": {
            "fresh_dir": round(m.fresh_wait_s, 1),
            "same_dir": round(m.same_wait_s, 1),
        },
        "ingest_eps": round(m.ingest_eps),
        "settled": m.loaded_settled,
        "changelog_drain_s": round(m.changelog_drain_s, 1),
        "changelog_records": m.backlog.changelog_records,
        "uncommitted_bucket_records": m.backlog.uncommitted_bucket_records,
        "verified": m.verified and m.total_series == m.expected_series,
    }


def marginal(results: Mapping[int, Measured]) -> dict[str, int]:
    """Extra RSS per extra series from each count to the next: fixed costs of a worker
    that has processed anything (caches, RocksDB handles, buffers) cancel out."""
    ordered = sorted(results.values(), key=lambda m: m.total_series)
    return {
        f"{a.api_key_series}-{b.api_key_series}": round(
            (b.loaded.rss - a.loaded.rss) / (b.total_series - a.total_series)
        )
        for a, b in itertools.pairwise(ordered)
        if b.total_series > a.total_series
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def estimate(events_per_key: int) -> dict[str, Any]:
    """Model bytes of one api_key_id series as the run builds it (see ``footprint``)."""
    spacing = int(WINDOW_S // 60 // events_per_key)
    minutes = [29_000_000 + 7 + k * spacing for k in range(events_per_key)]
    state = series_footprint(f"api_key_id={api_key(12_345)}", minutes)
    dedup = dedup_bytes_per_event([f"mem-{50_000 + i}-1" for i in range(1000)])
    return {
        "state_python_bytes": state.python_bytes,
        "state_stored_bytes": state.stored_bytes,
        "dedup_bytes_per_event": round(dedup),
        "model_bytes_per_series": round(
            state.python_bytes + events_per_key * (dedup + state.stored_bytes)
        ),
    }


def build_summary(
    results: Mapping[int, Measured], *, partitions: int, events_per_key: int, batch_size: int
) -> dict[str, Any]:
    return {
        "series": {str(s): entry(m) for s, m in results.items()},
        "marginal_bytes_per_series": marginal(results),
        "partitions": partitions,
        "events_per_key": events_per_key,
        "batch_size": batch_size,
        "estimate": estimate(events_per_key),
    }


def print_table(console: Console, summary: Mapping[str, Any]) -> None:
    table = Table(title="worker memory per series, and recovery", title_justify="left")
    for name in ("api keys", "series", "events", "idle MiB", "loaded MiB (peak)",
                 "bytes/series", "recovered MiB", "fresh dir s", "same dir s"):  # fmt: skip
        table.add_column(name, justify="right")
    for s, e in summary["series"].items():
        table.add_row(
            f"{int(s):,}",
            f"{e['total_series']:,}",
            f"{e['events']:,}",
            f"{e['rss_idle_mb']:.1f}",
            f"{e['rss_loaded_mb']:.1f} ({e['rss_loaded_peak_mb']:.1f})",
            f"{e['bytes_per_series']:,}",
            f"{e['rss_recovered_mb']:.1f}",
            f"{e['recovery_fresh_dir_s']:.1f}",
            f"{e['recovery_same_dir_s']:.1f}",
        )
    console.print(table)
    est = summary["estimate"]
    notes = [
        f"Model of one api_key series: state object {est['state_python_bytes']:,} B in memory, "
        f"{est['state_stored_bytes']:,} B stored per write, dedup "
        f"{est['dedup_bytes_per_event']:,} B per event: ~{est['model_bytes_per_series']:,} B.",
        *(
            f"Marginal {span} keys: {value:,} B per series."
            for span, value in summary["marginal_bytes_per_series"].items()
        ),
        "Recovery times run from process start, which waits until the killed worker left "
        "the consumer group (dead_member_wait_s).",
    ]
    console.print(" ".join(notes), highlight=False)
