"""``spendwatch demo``: the whole service on one machine with Python alone.

Starts, as child processes, an embedded Kafka-compatible broker (Tansu, memory-only;
``--bootstrap`` uses a running Kafka instead) and a worker configured from
``spendwatch.example.yaml``; starts the local Slack and PagerDuty receivers; sends
synthetic traffic with a runaway-loop incident after a warm-up; and shows events/s,
spend per team and alerts live. Ctrl-C stops every child in order. ``--for SECONDS``
runs without the screen and exits 0 only if an alert reached the local Slack receiver.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

EXIT_NO_ALERT = 1
EXIT_FAILED = 2


@dataclass(frozen=True)
class DemoOptions:
    bootstrap: str | None
    seconds: float | None
    warmup_s: float
    rate: float
    web_port: int | None
    app_id: str
    run_dir: Path | None


def demo(
    bootstrap: Annotated[
        str | None,
        typer.Option("--bootstrap", "-b", help="Use this Kafka (HOST:PORT) instead of Tansu."),
    ] = None,
    seconds: Annotated[
        float | None,
        typer.Option(
            "--for",
            min=1,
            help="Run this long without the live screen; exit 0 only if an alert arrived.",
        ),
    ] = None,
    warmup: Annotated[float, typer.Option(min=0, help="Seconds before the incident.")] = 60.0,
    rate: Annotated[float, typer.Option(min=1, help="Calls per second, whole org.")] = 100.0,
    web_port: Annotated[
        int | None, typer.Option(help="Worker HTTP port (default 6066, else a free one).")
    ] = None,
    app_id: Annotated[str, typer.Option(help="App id and topic prefix.")] = "spendwatch-demo",
    run_dir: Annotated[
        Path | None, typer.Option(help="Logs and config here (default: a new temp dir).")
    ] = None,
) -> None:
    """Run the whole service locally: broker, worker, receivers, traffic with an incident."""
    options = DemoOptions(bootstrap, seconds, warmup, rate, web_port, app_id, run_dir)
    raise typer.Exit(run_demo(options))


def _free_port(preferred: int | None = None) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred or 0))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run_demo(options: DemoOptions) -> int:
    """Run the demo; returns the exit status. Every child is stopped before returning."""
    from streams.demo_broker import BrokerError
    from streams.demo_loop import WorkerFailed
    from streams.demo_monitor import INCIDENT_KEY
    from streams.demo_receivers import alert_arrived, start_receivers

    started = time.monotonic()
    run_dir = options.run_dir or Path(tempfile.mkdtemp(prefix="spendwatch-demo-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    children: dict[str, int] = {}
    try:
        with ExitStack() as stack:
            bootstrap = _broker(options, run_dir, stack, children)
            tansu = options.bootstrap is None  # no idempotent producers there
            receivers = start_receivers(bootstrap, f"{options.app_id}.", run_dir, not tansu)
            stack.callback(receivers.stop)
            _say(f"alerts   local receivers: {receivers.describe()}")
            base_url = _worker(options, run_dir, bootstrap, receivers, stack, children)
            status = _run_traffic(options, bootstrap, base_url, receivers, started)
            verdict = alert_arrived(receivers, INCIDENT_KEY)
    except KeyboardInterrupt:
        _say("stopped before the traffic started; every child process has been stopped")
        print(json.dumps({"interrupted": True, "pids": children, "run_dir": str(run_dir)}))
        return 130
    except (BrokerError, WorkerFailed) as exc:
        _say(f"demo: {exc}")
        return EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous)
    return _report(status, verdict, children, run_dir, options)


def _broker(options: DemoOptions, run_dir: Path, stack: ExitStack, children: dict[str, int]) -> str:
    """The bootstrap address: ``--bootstrap``, or an embedded Tansu started here."""
    from streams.demo_broker import start_tansu

    if options.bootstrap is not None:
        _say(f"broker   Kafka at {options.bootstrap}")
        return options.bootstrap
    port = _free_port()
    broker = start_tansu(run_dir, port)
    stack.callback(broker.stop, 10)
    children["broker"] = broker.pid
    bootstrap = f"127.0.0.1:{port}"
    _say(f"broker   Tansu (embedded, memory-only) at {bootstrap}, pid {broker.pid}")
    return bootstrap


def _worker(
    options: DemoOptions,
    run_dir: Path,
    bootstrap: str,
    receivers: Any,
    stack: ExitStack,
    children: dict[str, int],
) -> str:
    """Start the worker on the demo config; returns its base URL once it answers."""
    from streams.child_process import ChildProcess, child_env
    from streams.demo_config import DEMO_SECRETS, demo_config, write_demo_config
    from streams.demo_loop import dashboard_line, wait_healthy

    web_port = _free_port(options.web_port or 6066)
    raw = demo_config(bootstrap, options.app_id, web_port, run_dir / "state", receivers)
    config_path = write_demo_config(run_dir / "spendwatch.yaml", raw)
    argv = [sys.executable, "-m", "streams.cli", "worker", "--config", str(config_path)]
    env = child_env(**DEMO_SECRETS)
    worker = ChildProcess("worker", argv, run_dir / "worker.log", env)
    stack.callback(worker.stop, 30)
    children["worker"] = worker.pid
    base_url = f"http://127.0.0.1:{web_port}"
    _say(f"worker   pid {worker.pid}, config {config_path}, log {worker.log_path}")
    wait_healthy(worker, base_url)
    _say(f"web      dashboard {dashboard_line(base_url)}; config {base_url}/v1/config")
    return base_url


def _run_traffic(
    options: DemoOptions, bootstrap: str, base_url: str, receivers: Any, started: float
) -> Any:
    import asyncio

    from streams.demo_loop import run_loop

    return asyncio.run(run_loop(options, bootstrap, base_url, receivers, started))


def _report(
    status: Any, verdict: bool, children: dict[str, int], run_dir: Path, options: DemoOptions
) -> int:
    from streams.demo_screen import summary_lines

    for line in summary_lines(status):
        _say(line)
    if verdict:
        _say("result   the injected incident produced an alert at the local Slack receiver")
    else:
        _say("result   no alert reached the local Slack receiver")
    summary = {
        "events_sent": status.sent,
        "events_counted": status.counted,
        "teams": {team: usd for team, usd, _ in status.teams},
        "first_counted_s": status.first_counted_s,
        "alerts": len(status.alerts),
        "alert_arrived": verdict,
        "pids": children,
        "run_dir": str(run_dir),
    }
    print(json.dumps(summary), flush=True)
    if options.seconds is None:
        return 0
    return 0 if verdict else EXIT_NO_ALERT


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
