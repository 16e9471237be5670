"""FinOps reports from two live workers fed with synthetic traffic: they match the offline
computation over the same events exactly, whichever worker answers."""

from __future__ import annotations

import asyncio
import functools
import json
import time
import urllib.error
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.finops.inventory import key_inventory
from streams.finops.ledger import Ledger
from streams.finops.showback import Period, showback
from streams.settings import WorkerSettings
from streams.topics import ensure_topics
from tests.support.finops_traffic import recent_events, usage_messages
from tests.support.ground_truth import produce
from tests.support.worker_process import WorkerProcess

PARTITIONS = 4


async def _wait(
    read: Callable[[], object], want: object, seconds: float, what: str, explain: Callable[[], str]
) -> None:
    deadline = time.monotonic() + seconds
    while (got := read()) != want:
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}: {got}, not {want}\n{explain()}")
        await asyncio.sleep(0.5)


def _held(workers: tuple[WorkerProcess, ...], period: str) -> str:
    """What each worker holds itself of ``period`` (calls), then their logs."""
    held: list[object] = []
    for worker in workers:
        try:
            ledger = Ledger.from_json(worker.get("/v1/reports/ledger?local=1"))
            held.append(showback(ledger, Period.parse(period), ["team"])["total"]["calls"])
        except OSError as exc:
            held.append(exc)
    return f"held by each worker: {held}\n" + "\n".join(w.log_tail() for w in workers)


def _report_calls(worker: WorkerProcess, period: str) -> int:
    try:
        return int(worker.get(f"/v1/reports/spend?period={period}&by=team")["total"]["calls"])
    except OSError:
        return -1


async def test_reports_from_two_workers_match_the_offline_computation(
    kafka_bootstrap: str, names: Callable[[str], str], spawn_worker: Callable[..., WorkerProcess]
) -> None:
    prefix, app_id = names("sw") + ".", names("app")
    await ensure_topics(
        WorkerSettings(bootstrap=kafka_bootstrap, topic_prefix=prefix, partitions=PARTITIONS)
    )
    events = recent_events()
    await produce(kafka_bootstrap, prefix + "usage", usage_messages(events, PARTITIONS))
    first = spawn_worker(app_id=app_id, topic_prefix=prefix, partitions=PARTITIONS)
    second = spawn_worker(app_id=app_id, topic_prefix=prefix, partitions=PARTITIONS)

    offline = Ledger.from_jsonl([orjson.dumps(e) for e in events])
    months = sorted({e["timestamp"][:7] for e in events})
    want = {m: showback(offline, Period.parse(m), ["team", "app"]) for m in months}
    total = {m: want[m]["total"]["calls"] + 0 for m in months}
    for m in months:
        explain = functools.partial(_held, (first, second), m)
        await _wait(lambda m=m: _report_calls(second, m), total[m], 300, f"{m} calls", explain)

    for worker in (first, second):
        for m in months:
            got = worker.get(f"/v1/reports/spend?period={m}&by=team,app")
            assert got == json.loads(json.dumps(want[m]))
    assert want[months[-1]]["unattributed"]["calls"] > 0
    held = [Ledger.from_json(w.get("/v1/reports/ledger?local=1")) for w in (first, second)]
    calls = [showback(h, Period.parse(months[-1]), ["team"])["total"]["calls"] for h in held]
    assert sum(calls) == total[months[-1]]  # each worker holds its own partitions' share
    assert "error" in _get_error(first, "/v1/reports/ledger?from=x")

    # The tools are month to date: ask at the last event of the busiest month, so a run in
    # the first minutes of a month still sees them, and compare with the offline inventory.
    busiest = max(months, key=lambda m: total[m])
    at = max(e["timestamp"] for e in events if e["timestamp"].startswith(busiest))
    keys = first.get(f"/v1/reports/keys?at={urllib.parse.quote(at)}")
    assert {k["api_key_id"] for k in keys["keys"]} == {e["api_key_id"] for e in events}
    assert keys["tools"] == key_inventory(offline, datetime.fromisoformat(at))["tools"]
    assert {"search", "support", "platform"} <= set(keys["tools"])

    budgets = second.get("/v1/reports/budgets?budget=team=search:100")
    search = budgets["series"]["team=search"]
    assert search["budget_usd"] == "100"
    assert search["status"] in ("ok", "at risk", "over")
    outlook = first.get("/v1/reports/forecast?horizon=30")
    assert len(outlook["teams"]["search"]["daily"]) == 30
    assert "error" in _get_error(first, "/v1/reports/forecast?horizon=lots")

    runner = CliRunner()
    now = datetime.now(UTC).strftime("%Y-%m")
    result = runner.invoke(app, ["report", "--worker", first.url, "--period", now,
                                 "--by", "team,app", "--format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads(json.dumps(want[now]))
    result = runner.invoke(app, ["keys", "--worker", second.url, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["keys"]) == len(keys["keys"])
    result = runner.invoke(app, ["budgets", "--worker", first.url, "--budget",
                                 "team=search:100", "--format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["budgets"]["series"]["team=search"]["budget_usd"] == "100"
    result = runner.invoke(app, ["digest", "--worker", first.url, "--dry-run"])
    assert result.exit_code == 0, result.output
    digests = [json.loads(line) for line in result.stdout.splitlines()]
    assert {d["blocks"][0]["text"]["text"] for d in digests} >= {"AI spend: search"}


def _get_error(worker: WorkerProcess, path: str) -> dict[str, Any]:
    try:
        worker.get(path)
    except urllib.error.HTTPError as exc:
        assert exc.code == 400
        return dict(json.loads(exc.read()))
    return {}


async def test_a_worker_without_attribution_series_says_why_it_cannot_report(
    names: Callable[[str], str],
    spawn_worker: Callable[..., WorkerProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dimensions = '["api_key_id","team","app","feature","model","provider","environment","org"]'
    monkeypatch.setenv("SPENDWATCH_DIMENSIONS", dimensions)
    worker = spawn_worker(app_id=names("app"), topic_prefix=names("sw") + ".", partitions=1)
    with pytest.raises(urllib.error.HTTPError) as raised:
        worker.get("/v1/reports/spend?period=2026-11")
    assert raised.value.code == 409
    assert "lacks 'attribution'" in json.loads(raised.value.read())["error"]
