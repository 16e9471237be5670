"""One benchmark run: topics, inputs, then each measurement in turn, and the cleanup.

The measurements run one after the other so they never share the CPU. Every worker
process is stopped, the local broker (if this run started one) too, and this run's
topics on a given broker are deleted; the run's directory goes away on success, and
after a failure only its logs stay.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.throughput.ceiling import raw_ceiling
from bench.throughput.config import BenchConfig, BenchError
from bench.throughput.data import delete_run_topics, ensure_topics, produce_inputs, synthetic_events
from bench.throughput.messages import Message
from bench.throughput.processes import (
    NAIVE_FAUST,
    SPENDWATCH_WORKER,
    WorkerProcess,
    local_broker,
    sigterm_as_interrupt,
    worker_process,
)
from bench.throughput.progress import Rate, measure_worker, worker_timeout_s
from bench.throughput.report import (
    bench_console,
    build_summary,
    print_table,
    scale_out_summary,
)
from bench.throughput.scale_out import measure_group, send_messages, wait_group_settled


@dataclass
class _Run:
    token: str
    workdir: Path
    bootstrap: str
    cfg: BenchConfig
    say: Callable[[str], None]
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def batched_prefix(self) -> str:
        return f"{self.token}.batched."

    @property
    def single_prefix(self) -> str:
        return f"{self.token}.single."

    def spendwatch(self, label: str, prefix: str) -> WorkerProcess:
        return self._worker(label, SPENDWATCH_WORKER, topic_prefix=prefix)

    def naive(self, label: str, topic: str) -> WorkerProcess:
        return self._worker(label, NAIVE_FAUST, topic=topic, store=self.cfg.naive_store)

    def _worker(self, label: str, program: Sequence[str], **options: object) -> WorkerProcess:
        return worker_process(
            label,
            program,
            self.workdir,
            bootstrap=self.bootstrap,
            app_id=f"{self.token}-{label}",
            partitions=self.cfg.partitions,
            **options,
        )

    def scale_out(self, stack: contextlib.ExitStack, messages: list[Message], n: int) -> Rate:
        """The batched input again, counted by ``scale_out_workers`` workers in one group."""
        workers_n = self.cfg.scale_out_workers
        prefix = f"{self.token}.scale."
        asyncio.run(ensure_topics(self.bootstrap, [prefix], self.cfg.partitions))
        workers = [
            worker_process(
                f"scale-{i + 1}",
                SPENDWATCH_WORKER,
                self.workdir,
                bootstrap=self.bootstrap,
                app_id=f"{self.token}-scale",
                partitions=self.cfg.partitions,
                topic_prefix=prefix,
            )
            for i in range(workers_n)
        ]
        for worker in workers:
            stack.callback(worker.stop)
            worker.start()
        self.say(f"scale-out: {workers_n} workers joining one consumer group ...")
        wait_group_settled(workers, self.say)
        sender = threading.Thread(
            target=lambda: asyncio.run(send_messages(self.bootstrap, f"{prefix}usage", messages)),
            daemon=True,
        )
        rate = measure_group(workers, n, worker_timeout_s(n, 2000), sender.start, self.say)
        sender.join()
        for worker in workers:
            worker.stop()
        self.say(
            f"scale-out: {workers_n} workers, {rate.events:,} events in {rate.seconds:.2f}s = "
            f"[bold]{rate.eps:,.0f}[/] events/s"
        )
        return rate

    def measure(
        self, stack: contextlib.ExitStack, worker: WorkerProcess, target: int, per_s: float
    ) -> Rate:
        stack.callback(worker.stop)
        self.say(f"{worker.label}: starting a worker process, waiting for {target:,} events")
        rate, source, rejected = measure_worker(
            worker, target, worker_timeout_s(target, per_s), self.say
        )
        self.sources[worker.label] = source
        if rejected:
            self.say(f"[yellow]{worker.label}: {rejected} inputs rejected[/]")
        cpu = rate.cpu_us_per_event
        self.say(
            f"{worker.label}: {rate.events:,} events in {rate.seconds:.2f}s = "
            f"[bold]{rate.eps:,.0f}[/] events/s (progress from {source})"
            + (f"; worker CPU {cpu:.2f} µs/event" if cpu is not None else "")
        )
        worker.stop()
        return rate


def run_benchmark(cfg: BenchConfig, console: Console | None = None) -> dict[str, Any]:
    """Run every measurement; return the summary (see ``build_summary``)."""
    if cfg.events < 1 or cfg.partitions < 1 or cfg.batch_size < 1:
        raise BenchError("events, partitions and batch size must be at least 1")
    console, say = bench_console(console)

    token = f"bench{uuid.uuid4().hex[:10]}"
    workdir = Path(tempfile.mkdtemp(prefix=f"spendwatch-{token}-"))
    ok = False
    try:
        with sigterm_as_interrupt(), contextlib.ExitStack() as stack:
            bootstrap = cfg.bootstrap or stack.enter_context(local_broker(workdir / "kafka", say))
            run = _Run(token, workdir, bootstrap, cfg, say)
            summary = _measure_all(run, stack)
            if cfg.bootstrap:
                with contextlib.suppress(Exception):
                    deleted = asyncio.run(delete_run_topics(bootstrap, token))
                    say(f"deleted {len(deleted)} topics of this run")
        print_table(console, summary)
        ok = True
        return summary
    finally:
        if cfg.keep_dir:
            say(f"logs and state kept in {workdir}")
        elif ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            _drop_state(workdir)
            say(f"logs kept in {workdir}")


def _drop_state(workdir: Path) -> None:
    """After a failure keep the worker and broker logs; drop Kafka data and table state."""
    for child in workdir.iterdir():
        if child.name == "kafka":
            shutil.rmtree(child / "data", ignore_errors=True)
        elif child.is_dir():
            shutil.rmtree(child, ignore_errors=True)


def _measure_all(run: _Run, stack: contextlib.ExitStack) -> dict[str, Any]:
    cfg, say = run.cfg, run.say
    n, n_single = cfg.events, cfg.n_single
    say(f"broker {run.bootstrap}; topics {run.token}.*; {cfg.partitions} partitions")
    asyncio.run(
        ensure_topics(run.bootstrap, [run.batched_prefix, run.single_prefix], cfg.partitions)
    )
    batched_topic = f"{run.batched_prefix}usage"
    single_topic = f"{run.single_prefix}usage"

    kept: list[Message] = []
    form = "columnar batches" if cfg.columnar else '{"events": [...]} batches'
    say(f"producing {n:,} events in {form} of {cfg.batch_size} and {n_single:,} single ...")
    produced = asyncio.run(
        produce_inputs(
            run.bootstrap,
            batched_topic=batched_topic,
            single_topic=single_topic,
            events=synthetic_events(n, seed=cfg.seed),
            single_events=n_single,
            partitions=cfg.partitions,
            batch_size=cfg.batch_size,
            columnar=cfg.columnar,
            keep=kept,
        )
    )
    say(
        f"produced {produced.events:,} events in {produced.messages:,} messages and "
        f"{produced.single_events:,} single-event messages in {produced.seconds:.1f}s"
    )

    say("raw ceiling: aiokafka + orjson.loads + sum(input_tokens), in process ...")
    ceiling = asyncio.run(
        raw_ceiling(run.bootstrap, batched_topic, cfg.partitions, n, produced.input_tokens)
    )
    say(f"raw ceiling: [bold]{ceiling.eps:,.0f}[/] events/s")

    batched = run.measure(stack, run.spendwatch("batched", run.batched_prefix), n, 2000)
    single = run.measure(stack, run.spendwatch("single", run.single_prefix), n_single, 200)
    naive = run.measure(stack, run.naive("naive-faust", single_topic), n_single, 200)
    scale = run.scale_out(stack, kept, n) if cfg.scale_out_workers > 1 else None
    kept.clear()

    return build_summary(
        events=n,
        single_events=n_single,
        batch_size=cfg.batch_size,
        partitions=cfg.partitions,
        batched=batched,
        single_event=single,
        naive_faust=naive,
        raw_ceiling=ceiling,
        extra={
            "batched_messages": produced.messages,
            "naive_faust_store": cfg.naive_store,
            "batch_format": "columns" if cfg.columnar else "events",
            "progress_source": run.sources,
            "produce_seconds": round(produced.seconds, 2),
            **scale_out_summary(scale, batched, cfg.scale_out_workers),
        },
    )
