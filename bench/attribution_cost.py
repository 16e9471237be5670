"""What the ``attribution`` dimension costs the worker's ingest path, in process.

Decodes 50,000 synthetic events in 1,000-event messages once, then times, interleaved and
best of five, the per-message work that depends on the dimensions (``sum_rows``,
``fan_out``, ``partial_records``) with and without ``attribution``, next to the decode
itself. Prints a table and one JSON line::

    .venv/bin/python bench/attribution_cost.py
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.decode import DecodeLimits, EventDecoder
from schemas.pricing import PriceBook
from streams.fast_decode import RowDecoder
from streams.producer import encode_batch
from streams.rollup import ATTRIBUTION, DIMENSIONS, fan_out, partial_records, sum_rows
from streams.synthetic import TrafficGenerator
from streams.synthetic_org import TrafficProfile

ROUNDS = 5


def main() -> None:
    now = datetime.now(UTC)
    profile = TrafficProfile(seed=1, calls_per_second=20)
    gen = TrafficGenerator(profile, start=now - timedelta(hours=3))
    events = gen.events_between(0, 7200)[:50_000]
    decoder = RowDecoder(EventDecoder(PriceBook(), DecodeLimits()))
    messages = [encode_batch(events[i : i + 1000]) for i in range(0, len(events), 1000)]
    rows = [decoder.decode(m, now).rows for m in messages]
    without = tuple(d for d in DIMENSIONS if d != ATTRIBUTION)

    def aggregate(dimensions: tuple[str, ...]) -> tuple[float, int]:
        began, series = time.perf_counter(), 0
        for batch in rows:
            partials = fan_out(sum_rows(batch, -1, 10), dimensions)
            partial_records(partials, 0, 1, 4)
            series += len(partials.buckets)
        return time.perf_counter() - began, series

    def decode() -> tuple[float, int]:
        began = time.perf_counter()
        for message in messages:
            decoder.decode(message, now)
        return time.perf_counter() - began, 0

    runs: dict[str, list[tuple[float, int]]] = {"without": [], "with": [], "decode": []}
    for _ in range(ROUNDS):
        runs["without"].append(aggregate(without))
        runs["with"].append(aggregate(DIMENSIONS))
        runs["decode"].append(decode())
    n = sum(len(batch) for batch in rows)
    out: dict[str, Any] = {"events": n, "messages": len(messages)}
    for name, results in runs.items():
        out[f"{name}_us_per_event"] = round(min(r[0] for r in results) / n * 1e6, 3)
        out[f"{name}_series_per_message"] = round(results[0][1] / len(messages), 1)
    print(f"decode+price: {out['decode_us_per_event']} us/event; aggregate without attribution "
          f"{out['without_us_per_event']} us/event ({out['without_series_per_message']} series "
          f"per message), with {out['with_us_per_event']} us/event "
          f"({out['with_series_per_message']} series per message)")  # fmt: skip
    print(json.dumps(out))


if __name__ == "__main__":
    main()
