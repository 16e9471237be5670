"""In-process cost of each ingest stage per event: the row path against the columnar path.

Run: .venv/bin/python -m bench.ingest_stages [--events 200000] [--repeat 5]

The same synthetic traffic as ``spendwatch bench throughput`` (reported costs, units,
error statuses, many keys and models), grouped per partition into messages of 1,000
events, once as ``{"events": [...]}`` envelopes (the row path: msgspec batch tier, then a
loop per event) and once as columnar batches (the vectorised path). Each stage the
ingest agent runs per message is timed on its own: decode + validate + price, dedup
(filter and the message's dedup record), lateness + sums per combination, fan-out to
series + partial records. Stages are timed in CPU time of this process (not wall-clock
time), the two paths run in turns in the same process, and each stage keeps its best of
``--repeat`` runs, so a machine shared with other work shifts both alike, and little.
The last line is JSON.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from datetime import UTC, datetime
from typing import Any

from bench.throughput.data import synthetic_events
from bench.throughput.messages import Message, batch_messages
from streams.columnar_rollup import sum_columns
from streams.dedup import PartitionDedup
from streams.fast_decode import RowDecoder
from streams.rollup import MessageTotals, fan_out, partial_records, sum_rows

STAGES = ("decode", "dedup", "sum", "fan_out")
PARTITIONS = 4


def run_path(
    messages: list[Message], decoder: RowDecoder, now: datetime, columnar: bool
) -> tuple[dict[str, float], int]:
    """Seconds spent in each stage over all messages, and events counted."""
    spent = dict.fromkeys(STAGES, 0.0)
    dedups = {p: PartitionDedup(p, 60) for p in range(PARTITIONS)}
    counted = 0
    clock = time.process_time  # CPU time: what other work on the machine takes is not counted
    for offset, message in enumerate(messages):
        dedup = dedups[message.partition]
        t0 = clock()
        decoded = decoder.decode(message.value, now)
        t1 = clock()
        totals: MessageTotals
        watermark = dedup.watermark_before(offset)
        batch = decoded.columns
        if columnar:
            assert batch is not None, "a message fell back to the per-item path"
            verdict = dedup.filter_ids(batch.event_id, offset)
            first_seen, message_max = verdict.first_seen, batch.max_minute
            t2 = clock()
            totals = sum_columns(batch, verdict.kept, watermark, 10)
        else:
            filtered = dedup.filter(decoded.rows, offset)
            first_seen = filtered.first_seen
            message_max = max((row[1] for row in decoded.rows), default=-1)
            t2 = clock()
            totals = sum_rows(filtered.rows, watermark, 10)
        t3 = clock()
        partial_records(fan_out(totals), message.partition, offset, PARTITIONS)
        t4 = clock()
        dedup.remember(offset, message_max, first_seen)
        t5 = clock()
        counted += sum(sums[1] for sums in totals.combos.values())
        times = (t1 - t0, t2 - t1 + t5 - t4, t3 - t2, t4 - t3)
        for stage, seconds in zip(STAGES, times, strict=True):
            spent[stage] += seconds
    return spent, counted


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    events = list(synthetic_events(args.events))
    now = datetime.now(UTC)
    paths = {
        "row": batch_messages(events, PARTITIONS, columnar=False),
        "columnar": batch_messages(events, PARTITIONS, columnar=True),
    }
    decoders = {"row": RowDecoder(), "columnar": RowDecoder()}
    for name, messages in paths.items():  # warm the price cards and label caches
        counted = run_path(messages, decoders[name], now, name == "columnar")[1]
        assert counted == len(events), (name, counted)
    per_event: dict[str, dict[str, float]] = {name: {} for name in paths}
    best: dict[str, dict[str, float]] = {name: {} for name in paths}
    for _ in range(args.repeat):
        for name, messages in paths.items():
            gc.collect()
            spent, _ = run_path(messages, decoders[name], now, name == "columnar")
            for stage, seconds in spent.items():
                best[name][stage] = min(best[name].get(stage, seconds), seconds)
    n = len(events)
    print(f"{n:,} events in messages of 1,000, best of {args.repeat} (CPU µs per event)\n")
    print(f"{'stage':<44}{'row path':>10}{'columnar':>10}{'ratio':>8}")
    for stage in (*STAGES, "total"):
        row = sum(best["row"].values()) if stage == "total" else best["row"][stage]
        col = sum(best["columnar"].values()) if stage == "total" else best["columnar"][stage]
        per_event["row"][stage] = row / n * 1e6
        per_event["columnar"][stage] = col / n * 1e6
        label = {
            "decode": "decode + validate + price",
            "dedup": "dedup (event ids) + dedup record",
            "sum": "lateness + sums per combination",
            "fan_out": "fan-out to series + partial records",
            "total": "total",
        }[stage]
        print(
            f"{label:<44}{per_event['row'][stage]:>10.3f}{per_event['columnar'][stage]:>10.3f}"
            f"{row / col:>7.1f}x"
        )
    sizes = {name: sum(len(m.value) for m in messages) / n for name, messages in paths.items()}
    print(f"\nbytes per event: row {sizes['row']:.0f}, columnar {sizes['columnar']:.0f}")
    summary: dict[str, Any] = {
        "events": n,
        "us_per_event": {k: {s: round(v, 3) for s, v in d.items()} for k, d in per_event.items()},
        "bytes_per_event": {k: round(v, 1) for k, v in sizes.items()},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
