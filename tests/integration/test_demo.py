"""``spendwatch demo``: the embedded broker, traffic, spend per team, the injected incident's
alert at the local Slack receiver, exit codes, shutdown."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

DEMO = [sys.executable, "-m", "streams.cli", "demo"]


def run_demo(*args: str, timeout: float = 300) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [*DEMO, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return done.returncode, summary, done.stderr


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] == "Z"


INCIDENT_SERIES = ("api_key_id=key-research-5", "team=research", "app=research-agent")
"""The runaway key and the series it alone drives. Its model, provider, environment,
feature and org series hold it too, so an alert on one of them is about the incident
when the incident's series are among its top contributors."""


def alert_lines(err: str) -> list[str]:
    """Every alert the demo printed as it arrived (``ALERT #channel [SEV] detector on
    SERIES: summary; top: ...; also raised on ...``)."""
    return re.findall(r"^ALERT \S+ \[\w+\] \w+ on \w+=.*$", err, re.MULTILINE)


def unrelated_alerts(err: str) -> list[str]:
    """Alerts that name none of the incident's series, as scope or as contributor: false
    alerts (a backfill's partitions landing out of step once raised some on the org,
    environment and model series, driven by keys that were spending as usual)."""
    return [line for line in alert_lines(err) if not any(s in line for s in INCIDENT_SERIES)]


def test_bounded_run_on_the_embedded_broker_counts_spend_and_alerts_on_the_incident(
    tmp_path: Path,
) -> None:
    code, summary, err = run_demo(
        "--for", "90", "--warmup", "5", "--rate", "50", "--run-dir", str(tmp_path)
    )
    assert code == 0, err
    assert "Tansu (embedded, memory-only)" in err
    assert "the injected incident produced an alert at the local Slack receiver" in err
    assert summary["alert_arrived"] is True and summary["alerts"] >= 1
    assert alert_lines(err), err  # printed as it arrived
    assert unrelated_alerts(err) == [], err
    assert 0 < summary["events_counted"] <= summary["events_sent"], err
    assert set(summary["teams"]) >= {"search", "support", "research"}
    assert all(Decimal(usd) > 0 for usd in summary["teams"].values())
    assert set(summary["pids"]) == {"broker", "worker"}
    assert all(gone(pid) for pid in summary["pids"].values())
    config = yaml.safe_load((tmp_path / "spendwatch.yaml").read_text())
    assert config["key_owners"]["key-search-1"]["team"] == "search"  # the example, reused


def test_ctrl_c_stops_every_child(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        [*DEMO, "--run-dir", str(tmp_path), "--warmup", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        config = tmp_path / "spendwatch.yaml"
        deadline = time.monotonic() + 120
        while not config.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        port = yaml.safe_load(config.read_text())["web"]["port"]
        while time.monotonic() < deadline:  # ready: the demo is sending and watching
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        demo.send_signal(signal.SIGINT)
        out, err = demo.communicate(timeout=90)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert set(summary["pids"]) == {"broker", "worker"}
    assert all(gone(pid) for pid in summary["pids"].values()), summary
    assert summary["events_counted"] > 0
    assert "Traceback" not in err


@pytest.mark.integration
def test_bounded_run_against_apache_kafka(kafka_bootstrap: str, tmp_path: Path, names: Any) -> None:
    code, summary, err = run_demo(
        "--bootstrap", kafka_bootstrap, "--app-id", names("demo"), "--for", "90",
        "--warmup", "5", "--rate", "50", "--run-dir", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    assert summary["alert_arrived"] is True
    assert unrelated_alerts(err) == [], err
    assert f"Kafka at {kafka_bootstrap}" in err
    assert summary["events_counted"] > 0, err
    assert set(summary["pids"]) == {"worker"} and gone(summary["pids"]["worker"])


def test_children_die_with_a_killed_demo(tmp_path: Path) -> None:
    err_path = tmp_path / "demo.err"
    with err_path.open("w") as err:
        demo = subprocess.Popen(
            [*DEMO, "--run-dir", str(tmp_path / "run"), "--for", "600"],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + 120
        pids: list[int] = []
        while len(pids) < 2 and time.monotonic() < deadline:
            text = err_path.read_text()
            pids = [int(p) for p in re.findall(r"^(?:broker|worker) .*?pid (\d+)", text, re.M)]
            time.sleep(0.2)
        assert len(pids) == 2, err_path.read_text()
    finally:
        demo.kill()  # SIGKILL: the demo cannot stop anything itself
        demo.wait()
    while not all(gone(pid) for pid in pids) and time.monotonic() < deadline + 60:
        time.sleep(0.2)
    assert all(gone(pid) for pid in pids)
