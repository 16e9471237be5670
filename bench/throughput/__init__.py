"""Consumption throughput per worker process, side by side on one Kafka broker.

``spendwatch bench throughput`` (or ``python -m bench.throughput``) pre-produces
synthetic usage events to fresh topics, then times, one after the other so they never
share the CPU:

* ``raw_ceiling``: an in-process aiokafka consumer that only ``orjson.loads`` the batched
  messages and sums ``input_tokens`` (what any Python consumer of this topic pays);
* ``batched``: a ``spendwatch worker`` process on messages of ``batch_size`` events;
* ``single_event``: a ``spendwatch worker`` process on messages of one event each;
* ``naive_faust``: ``bench/naive_faust.py``, a one-event-per-message Faust app with one
  pydantic validation and one table update per event, on the same single-event topic.

Only consumption is timed: a worker's rate is counted from the first event it reports
(``GET /v1/progress`` when the worker serves it, else ``spendwatch_events_total`` on
``GET /metrics``) to the moment it reports all of them. The last line on stdout is one
JSON object with the rates; progress and a table go to stderr.

Modules: ``config`` (what to run, ``BenchError``), ``messages`` (events as Kafka
messages), ``data`` (synthetic events, topics, producing), ``processes`` (worker and
broker subprocesses), ``progress`` (polling a worker, rates), ``ceiling`` (the raw
aiokafka consumer), ``report`` (summary, JSON line, table) and ``run`` (the run itself).
"""

from bench.throughput.config import BenchConfig, BenchError
from bench.throughput.report import summary_line
from bench.throughput.run import run_benchmark

__all__ = ["BenchConfig", "BenchError", "run_benchmark", "summary_line"]
