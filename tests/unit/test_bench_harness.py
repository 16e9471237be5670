"""Pure helpers of the throughput harness (bench/throughput/); no broker needed."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.throughput import BenchConfig, BenchError, summary_line
from bench.throughput.data import synthetic_events
from bench.throughput.messages import BatchAssembler, batch_messages, envelope, single_message
from bench.throughput.processes import WorkerProcess, free_port
from bench.throughput.progress import (
    ProgressProbe,
    Rate,
    parse_counter,
    rate_from_samples,
    worker_timeout_s,
)
from bench.throughput.report import build_summary, scale_out_summary
from schemas.decode import EventDecoder
from schemas.event import UsageBatch, UsageEvent
from streams.producer import partition_for


def _event(i: int, key: str) -> dict[str, Any]:
    return {
        "event_id": f"e-{i}",
        "timestamp": "2026-11-29T12:00:00Z",
        "provider": "openai",
        "model": "gpt-4o",
        "api_key_id": key,
        "input_tokens": 100 + i,
    }


def test_envelope_equals_orjson_of_the_batch() -> None:
    events = [_event(i, f"k{i}") for i in range(3)]
    raw = envelope([orjson.dumps(e) for e in events])
    assert raw == orjson.dumps({"schema_version": 1, "events": events})
    assert len(UsageBatch.model_validate_json(raw).events) == 3


@pytest.mark.parametrize("columnar", [True, False])
def test_batches_keep_every_event_on_its_partition_and_respect_the_size(columnar: bool) -> None:
    events = [_event(i, f"key-{i % 37}") for i in range(5000)]
    messages = batch_messages(events, partitions=4, batch_size=100, columnar=columnar)
    seen: list[str] = []
    for message in messages:
        batch = orjson.loads(message.value)
        assert batch["schema_version"] == 1
        assert ("columns" in batch) is columnar
        items = EventDecoder().split(message.value).items
        assert 1 <= len(items) == message.events <= 100
        assert {partition_for(e["api_key_id"], 4) for e in items} == {message.partition}
        assert partition_for(message.key.decode(), 4) == message.partition
        seen += [e["event_id"] for e in items]
    assert sorted(seen) == sorted(e["event_id"] for e in events)
    assert len(seen) == len(set(seen))


def test_assembler_splits_messages_by_bytes() -> None:
    assembler = BatchAssembler(partitions=1, batch_size=1000, max_bytes=2000)
    encoded = orjson.dumps(_event(0, "k"))
    out = [m for _ in range(100) if (m := assembler.add("k", encoded)) is not None]
    out += assembler.flush()
    assert sum(m.events for m in out) == 100
    assert all(len(m.value) <= 2000 for m in out)
    assert assembler.flush() == []


def test_single_message_is_one_bare_event_on_its_partition() -> None:
    event = _event(1, "key-9")
    message = single_message(event, 8)
    assert orjson.loads(message.value) == event
    assert (message.partition, message.key, message.events) == (
        partition_for("key-9", 8),
        b"key-9",
        1,
    )


def test_parse_counter_sums_labels_and_ignores_lookalikes() -> None:
    text = "\n".join(
        [
            "# HELP spendwatch_events_total Valid usage events booked.",
            "# TYPE spendwatch_events_total counter",
            'spendwatch_events_total{cost_source="computed"} 1200.0',
            'spendwatch_events_total{cost_source="reported",x="a}b"} 34.0',
            'spendwatch_events_created{cost_source="computed"} 1.7e9',
            "spendwatch_events_total_other 5.0",
            "spendwatch_messages_total 3.0",
        ]
    )
    assert parse_counter(text, "spendwatch_events_total") == 1234.0
    assert parse_counter(text, "spendwatch_messages_total") == 3.0
    assert parse_counter(text, "spendwatch_rejected_total") is None


def test_rate_counts_from_the_first_counted_sample() -> None:
    rate = rate_from_samples([(0.0, 0), (10.0, 0), (11.0, 1000), (13.0, 5000)])
    assert (rate.events, rate.seconds, rate.lower_bound) == (4000, 2.0, False)
    assert rate.eps == 2000.0


def test_rate_carries_the_cpu_time_of_the_same_span() -> None:
    samples = [(0.0, 0), (10.0, 0), (11.0, 1000), (13.0, 5000)]
    rate = rate_from_samples(samples, [0.5, 1.0, 1.5, 2.5])
    assert rate.cpu_seconds == 1.0  # from the first counted sample to the last
    assert rate.cpu_us_per_event == 250.0
    lower = rate_from_samples([(0.0, 0), (4.0, 0), (5.0, 800)], [0.1, 0.2, 0.6])
    assert lower.cpu_seconds == pytest.approx(0.4)
    assert rate_from_samples(samples, [0.5, 1.0, None, 2.5]).cpu_us_per_event is None
    assert rate_from_samples(samples).cpu_us_per_event is None


def test_worker_cpu_time_is_read_from_the_process(tmp_path: Path) -> None:
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    worker = WorkerProcess("burn", [sys.executable, "-c", burn], tmp_path / "burn.log", 0)
    assert worker.cpu_seconds() is None  # not started
    worker = WorkerProcess("burn", [sys.executable, "-c", burn + "\ntime.sleep(30)"],
                           tmp_path / "idle.log", 0)  # fmt: skip
    worker.start()
    try:
        used = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (used is None or used < 0.25):
            used = worker.cpu_seconds()
            time.sleep(0.05)
        assert used is not None and 0.25 <= used < 30
    finally:
        worker.stop()


def test_rate_is_a_lower_bound_when_everything_came_in_one_poll() -> None:
    rate = rate_from_samples([(0.0, 0), (4.0, 0), (5.0, 800)])
    assert (rate.events, rate.seconds, rate.lower_bound) == (800, 1.0, True)
    with pytest.raises(BenchError):
        rate_from_samples([(0.0, 0), (1.0, 0)])


def test_summary_has_the_documented_fields_and_ratio() -> None:
    summary = build_summary(
        events=200_000,
        single_events=20_000,
        batch_size=1000,
        partitions=4,
        batched=Rate(200_000, 4.0),
        single_event=Rate(20_000, 10.0),
        naive_faust=Rate(20_000, 20.0),
        raw_ceiling=Rate(200_000, 1.0, lower_bound=True),
        extra={"naive_faust_store": "memory://"},
    )
    assert summary["batched_eps"] == 50_000.0
    assert summary["single_event_eps"] == 2000.0
    assert summary["naive_faust_eps"] == 1000.0
    assert summary["raw_ceiling_eps"] == 200_000.0
    assert summary["ratio"] == 50.0
    assert (summary["events"], summary["batch_size"], summary["partitions"]) == (200_000, 1000, 4)
    assert summary["lower_bounds"] == ["raw_ceiling"]
    line = summary_line(summary)
    assert "\n" not in line
    assert json.loads(line) == summary


def test_summary_ratio_is_null_without_a_naive_rate() -> None:
    summary = build_summary(
        events=1,
        single_events=1,
        batch_size=1,
        partitions=1,
        batched=Rate(1, 1.0),
        single_event=Rate(1, 1.0),
        naive_faust=Rate(0, 0.0),
        raw_ceiling=Rate(1, 1.0),
    )
    assert summary["ratio"] is None


def test_config_and_timeouts() -> None:
    assert BenchConfig(events=200_000).n_single == 20_000
    assert BenchConfig(events=5, single_events=50).n_single == 5
    assert BenchConfig(events=3).n_single == 1
    assert worker_timeout_s(200_000, 2000) == 120.0
    assert worker_timeout_s(2_000_000, 2000) == 1000.0


def test_synthetic_events_are_valid_counted_and_inside_the_worker_limits() -> None:
    now = datetime.now(UTC)
    events = list(synthetic_events(3000, seed=2))
    assert len(events) == 3000
    parsed = [UsageEvent.model_validate(e) for e in events]
    stamps = [p.timestamp for p in parsed]
    assert max(stamps) <= now
    assert min(stamps) >= now - timedelta(days=7) + timedelta(hours=1)
    assert len({p.event_id for p in parsed}) == 3000


def _serve(routes: dict[str, bytes]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = routes.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"not found")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def metrics_only() -> Iterator[str]:
    metrics = (
        b'spendwatch_events_total{cost_source="computed"} 90.0\n'
        b'spendwatch_events_total{cost_source="reported"} 10.0\n'
        b'spendwatch_rejected_total{path="timestamp"} 2.0\n'
    )
    yield from _serve({"/metrics": metrics})


@pytest.fixture
def with_progress() -> Iterator[str]:
    yield from _serve({"/v1/progress": b'{"events": 42}', "/metrics": b""})


def test_probe_falls_back_to_metrics(metrics_only: str) -> None:
    probe = ProgressProbe(metrics_only)
    assert probe.read() == (100, 2)
    assert probe.source == "/metrics"


def test_probe_prefers_the_progress_endpoint(with_progress: str) -> None:
    probe = ProgressProbe(with_progress)
    assert probe.read() == (42, 0)
    assert probe.source == "/v1/progress"


def test_probe_reads_none_while_nothing_listens() -> None:
    assert ProgressProbe(f"http://127.0.0.1:{free_port()}").read() is None


def test_scale_out_summary_reports_the_factor_over_one_worker() -> None:
    one = Rate(300_000, 2.0, cpu_seconds=1.2)
    two = Rate(300_000, 1.25, cpu_seconds=1.5)
    scale = scale_out_summary(two, one, 2)["scale_out"]
    assert scale == {
        "workers": 2,
        "eps": 240_000.0,
        "seconds": 1.25,
        "factor": 1.6,
        "cpu_us_per_event": 5.0,
    }
    assert scale_out_summary(None, one, 2) == {}
