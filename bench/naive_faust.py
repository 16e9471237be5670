"""A naive Faust baseline: one usage event per Kafka message, one table update per event.

This is how a first Faust app for spend tracking usually looks: an agent iterates the
stream value by value, parses and validates each event with pydantic, prices it and adds
its cost to a changelogged table keyed by ``api_key_id``. ``bench/throughput/`` runs it
as a worker process against the single-event topic and polls ``GET /v1/progress``
(``{"events": N}``) to time it.

Run: python bench/naive_faust.py --bootstrap HOST:PORT --topic TOPIC --partitions P \\
         --app-id ID --data-dir DIR --web-port PORT [--store rocksdb://|memory://]
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import faust
import orjson
from faust.types import StreamT
from faust.web import Request, Response, View

from schemas.event import UsageEvent
from schemas.pricing import PriceBook


def create_app(
    *,
    app_id: str,
    bootstrap: str,
    topic: str,
    partitions: int,
    data_dir: Path,
    web_port: int,
    store: str = "rocksdb://",
) -> faust.App:
    app = faust.App(
        app_id,
        broker=";".join(f"kafka://{host}" for host in bootstrap.split(",")),
        store=store,
        datadir=str(data_dir),
        web_host="127.0.0.1",
        web_port=web_port,
        topic_partitions=partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        table_standby_replicas=0,
    )
    usage = app.topic(
        topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )
    spend = app.Table(
        "spend-nanos", default=int, key_type=str, value_type=int, partitions=partitions
    )
    prices = PriceBook()
    progress = {"events": 0}

    async def ingest(stream: StreamT[bytes]) -> AsyncIterator[None]:
        async for value in stream:
            event = UsageEvent.model_validate(orjson.loads(value))
            nanos, _source = prices.price_event(event)
            spend[event.api_key_id] += nanos
            progress["events"] += 1
            yield None

    app.agent(usage, name="ingest")(ingest)

    class Progress(View):
        async def get(self, request: Request) -> Response:
            return self.json(progress)

    app.page("/v1/progress")(Progress)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Naive Faust baseline worker.")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--web-port", type=int, required=True)
    parser.add_argument("--store", default="rocksdb://")
    parser.add_argument("--loglevel", default="warning")
    args = parser.parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(
        app_id=args.app_id,
        bootstrap=args.bootstrap,
        topic=args.topic,
        partitions=args.partitions,
        data_dir=args.data_dir,
        web_port=args.web_port,
        store=args.store,
    )
    app.finalize()
    faust.Worker(app, loglevel=args.loglevel, quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
