"""Memory per series and state recovery time of one worker process, on a real broker.

``spendwatch bench memory`` (or ``python -m bench.memory``), for each requested count S:
produces events that make exactly S distinct ``api_key_id`` series (plus a few dozen of
the other dimensions) to fresh topics; runs a ``spendwatch worker`` until it counted them
all and its RSS settled; compares that RSS with an idle worker's on empty topics (bytes
per series = extra RSS / every series it holds); then SIGKILLs it and times replacements
from process start until ``org=all`` and one key per series partition answer with their
full counts: first on a fresh data dir (state from the changelog topics), then on the
killed worker's own dir (RocksDB state on disk). The last line on stdout is one JSON
object; progress and a table go to stderr.

Modules: ``config`` (what to run), ``events`` (the input and the series it makes),
``rss`` (``/proc`` memory, settling, per-series arithmetic), ``footprint`` (model sizes
of the state objects), ``probes`` (HTTP reads, the consumer group), ``workers`` (start,
settle, kill, time), ``report`` and ``run``. Kafka messages, producing, topics and the
broker and worker subprocesses come from ``bench.throughput``.
"""

from bench.memory.config import MemoryConfig, parse_series
from bench.memory.run import run_memory_benchmark
from bench.throughput.config import BenchError
from bench.throughput.report import summary_line

__all__ = ["BenchError", "MemoryConfig", "parse_series", "run_memory_benchmark", "summary_line"]
