"""The demo's running phase: traffic, polling and the screen, until time is up or Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

import aiohttp
from rich.console import Console
from rich.live import Live

from streams.child_process import ChildProcess
from streams.demo_monitor import DemoStatus, WorkerWatch, send_traffic, sleep_or_stop
from streams.demo_receivers import DemoReceivers
from streams.demo_screen import alert_text, render, summary_lines

if TYPE_CHECKING:
    from streams.demo import DemoOptions

REFRESH_S = 1.0
PLAIN_EVERY_S = 5.0
SETTLE_S = 10.0


class WorkerFailed(RuntimeError):
    """The demo's worker exited or never answered."""


def wait_healthy(worker: ChildProcess, base_url: str, timeout_s: float = 120.0) -> None:
    """Wait until the worker answers ``/healthz``; raise ``WorkerFailed`` with its log."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not worker.running():
            raise WorkerFailed(
                f"the worker exited with {worker.proc.returncode}:\n{worker.log_tail()}"
            )
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise WorkerFailed(f"the worker did not answer within {timeout_s:g} s:\n{worker.log_tail()}")


DASHBOARD_PATH = "/dashboard"


def dashboard_line(base_url: str) -> str:
    """The dashboard's URL, or why there is none (the worker serves it when it is built in)."""
    url = base_url + DASHBOARD_PATH
    try:
        with urllib.request.urlopen(url, timeout=5):
            return url
    except (urllib.error.URLError, OSError):
        return f"{url} (not served by this build; spend: {base_url}/v1/top/team?window=1h)"


async def run_loop(
    options: DemoOptions,
    bootstrap: str,
    base_url: str,
    receivers: DemoReceivers,
    started: float,
) -> DemoStatus:
    """Send traffic and show progress until ``options.seconds`` pass or a signal arrives."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    status = DemoStatus(started=started)
    topic = f"{options.app_id}.usage"
    idempotent = options.bootstrap is not None  # Tansu has no idempotent producers
    traffic = asyncio.create_task(
        send_traffic(bootstrap, topic, options.rate, options.warmup_s, status, stop, idempotent)
    )
    watch = WorkerWatch(base_url, receivers, status)
    header = [
        f"broker: {bootstrap}" + ("" if options.bootstrap else " (embedded Tansu, memory-only)"),
        f"dashboard: {dashboard_line(base_url)}",
        f"alerts: {receivers.describe()}",
    ]
    deadline = None if options.seconds is None else time.monotonic() + options.seconds
    timeout = aiohttp.ClientTimeout(total=5)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http:
            if options.seconds is None:
                await _live(status, watch, http, stop, header, options.warmup_s)
            else:
                await _plain(status, watch, http, stop, deadline)
            stop.set()
            with contextlib.suppress(Exception):
                await traffic
            await _settle(watch, http)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await traffic
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if traffic.done() and not traffic.cancelled() and traffic.exception() is not None:
        print(f"traffic stopped: {traffic.exception()}", file=sys.stderr)
    return status


async def _settle(watch: WorkerWatch, http: aiohttp.ClientSession) -> None:
    """After the traffic stops: let the worker count what was sent (at most a few seconds)."""
    deadline = time.monotonic() + SETTLE_S
    _print_alerts(await watch.refresh(http))
    while watch.status.counted < watch.status.sent and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        _print_alerts(await watch.refresh(http))


def _print_alerts(alerts: list[dict[str, Any]]) -> None:
    for alert in alerts:
        text = alert_text(alert, width=None)
        print(f"ALERT {alert.get('channel', '')} {text}", file=sys.stderr)


async def _live(
    status: DemoStatus,
    watch: WorkerWatch,
    http: aiohttp.ClientSession,
    stop: asyncio.Event,
    header: list[str],
    warmup_s: float,
) -> None:
    console = Console(stderr=True)
    with Live(render(status, header, warmup_s), console=console, refresh_per_second=2) as live:
        while not stop.is_set():
            for alert in await watch.refresh(http):
                live.console.print(
                    f"[bold red]ALERT[/] {alert.get('channel', '')} {alert_text(alert)}"
                )
            live.update(render(status, header, warmup_s))
            await sleep_or_stop(stop, REFRESH_S)


async def _plain(
    status: DemoStatus,
    watch: WorkerWatch,
    http: aiohttp.ClientSession,
    stop: asyncio.Event,
    deadline: float | None,
) -> None:
    last_line = 0.0
    while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
        _print_alerts(await watch.refresh(http))
        if time.monotonic() - last_line >= PLAIN_EVERY_S:
            last_line = time.monotonic()
            for line in summary_lines(status):
                print(line, file=sys.stderr, flush=True)
        await sleep_or_stop(stop, REFRESH_S)
