"""Decode + validate + price throughput of the event decoder, against baselines.

Run: .venv/bin/python bench/decode_throughput.py [--events 200000]

Prints events/s of the pydantic path (validate, HTTP ingest) and of the worker's hot
path (fast item check, msgspec batch tier and the vectorised tier on columnar batches),
for single-event messages and batches of 1,000, with ratios against the pydantic path
on single events; the per-event cost of pricing through a cached price card against
genai-prices' own calc_price; and orjson parse alone as the ceiling.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from genai_prices import Usage, calc_price

from schemas.decode import EventDecoder
from schemas.pricing import PriceBook
from streams.fast_decode import RowDecoder
from streams.producer import encode_batch

MODELS = [
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("anthropic", "claude-sonnet-4-5"),
    ("gcp.gemini", "gemini-2.5-flash"),
    ("aws.bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0"),
]


def events(n: int, now: datetime) -> list[dict[str, Any]]:
    rng = random.Random(1)
    out = []
    for i in range(n):
        provider, model = MODELS[i % len(MODELS)]
        inp = rng.randrange(100, 8000)
        out.append(
            {
                "event_id": f"e-{i}",
                "timestamp": (now - timedelta(seconds=rng.randrange(3600))).isoformat(
                    timespec="milliseconds"
                ),
                "provider": provider,
                "model": model,
                "api_key_id": f"key-{i % 500}",
                "input_tokens": inp,
                "output_tokens": rng.randrange(10, 1500),
                "cache_read_tokens": inp // 2 if i % 3 == 0 else 0,
                "team": f"team-{i % 12}",
                "app": f"app-{i % 40}",
                "environment": "prod",
            }
        )
    return out


def each(fn: Callable[[Any], object], items: list[Any]) -> None:
    """Run ``fn`` over items without keeping results (kept results would bench the GC)."""
    for item in items:
        fn(item)


def rate(label: str, n: int, fn: Callable[[], object], baseline: float | None = None) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    per_s = n / elapsed
    ratio = f"  ({per_s / baseline:,.1f}x baseline)" if baseline else ""
    print(f"{label:<48} {per_s:>14,.0f} events/s  {elapsed / n * 1e6:>8.2f} µs/event{ratio}")
    return per_s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    now = datetime.now(UTC)
    evs = events(args.events, now)
    singles = [orjson.dumps(e) for e in evs]
    batches = [orjson.dumps(evs[i : i + 1000]) for i in range(0, len(evs), 1000)]
    columnar = [encode_batch(evs[i : i + 1000]) for i in range(0, len(evs), 1000)]
    decoder = EventDecoder()
    decoder.decode(batches[0], now)  # warm the price cards

    print(f"{args.events:,} events, {len(batches)} batches of 1,000\n")
    rows = RowDecoder(decoder)
    rows.decode(batches[0], now)
    now_us = (now - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    ceiling = rate(
        "orjson.loads only, batches of 1,000 (ceiling)",
        len(evs),
        lambda: each(orjson.loads, batches),
    )
    print("pydantic model (spendwatch validate, HTTP ingest, worker fallback):")
    base = rate(
        "  single-event messages",
        len(evs) // 10,
        lambda: each(lambda m: decoder.decode(m, now), singles[: len(evs) // 10]),
    )
    rate(
        "  batches of 1,000",
        len(evs),
        lambda: each(lambda b: decoder.decode(b, now), batches),
        base,
    )
    print("worker hot path (RowDecoder, same verdicts):")
    rate(
        "  single-event messages (fast item check)",
        len(evs),
        lambda: each(lambda m: rows.decode(m, now), singles),
        base,
    )
    rate(
        "  batches of 1,000, item by item",
        len(evs),
        lambda: each(lambda b: rows.decode_items(b, now, now_us), batches),
        base,
    )
    rate(
        "  batches of 1,000, msgspec batch tier",
        len(evs),
        lambda: each(lambda b: rows.decode(b, now), batches),
        base,
    )
    assert all(rows.decode(b, now).columns is not None for b in columnar[:3])
    rate(
        "  columnar batches of 1,000, vectorised tier",
        len(evs),
        lambda: each(lambda b: rows.decode(b, now), columnar),
        base,
    )
    print(f"{'':<48} (ceiling {ceiling:,.0f} events/s)\n")

    book = PriceBook()
    ts = [now - timedelta(seconds=i % 3600) for i in range(len(evs))]
    sample = evs[:2000]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = rate(
            "genai-prices calc_price per event (baseline)",
            len(sample),
            lambda: [
                calc_price(
                    Usage(
                        input_tokens=e["input_tokens"],
                        output_tokens=e["output_tokens"],
                        cache_read_tokens=e["cache_read_tokens"],
                    ),
                    e["model"],
                    provider_id={"gcp.gemini": "google", "aws.bedrock": "aws"}.get(
                        e["provider"], e["provider"]
                    ),
                    genai_request_timestamp=now,
                )
                for e in sample
            ],
        )
    rate(
        "PriceBook.price, cached price card",
        len(evs),
        lambda: [
            book.price(
                e["provider"],
                e["model"],
                t,
                e["input_tokens"],
                e["output_tokens"],
                e["cache_read_tokens"],
                0,
            )
            for e, t in zip(evs, ts, strict=True)
        ],
        baseline=base,
    )
    minutes = [(t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(minutes=1) for t in ts]

    def hot_path() -> None:
        for e, minute in zip(evs, minutes, strict=True):
            card = book.card_at_minute(e["provider"], e["model"], minute, e["input_tokens"])
            if card is not None:
                card.cost_nanos(e["input_tokens"], e["output_tokens"], e["cache_read_tokens"], 0)

    rate("worker: card_at_minute + cost_nanos", len(evs), hot_path, baseline=base)
    print(f"\ncatalogue lookups for {len(evs):,} events: {book.lookups}")


if __name__ == "__main__":
    main()
