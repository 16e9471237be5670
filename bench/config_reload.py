"""How fast a running worker puts a changed config file in force.

Run: .venv/bin/python bench/config_reload.py --bootstrap HOST:PORT [--changes 20]
     [--poll 1.0]

Starts one ``spendwatch worker --config FILE`` on the given broker, rewrites the file
``--changes`` times once it is ready (a new key owner each time) and times each write until
``GET /v1/config`` reports the new version. Prints min/median/max in seconds and, last,
a JSON line. Each write lands just after a poll saw the previous one, so the figures
show the worst case: about one poll interval.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from streams.config_load import digest


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _config(prefix: str, poll: float, change: int) -> str:
    return (
        f"kafka: {{topic_prefix: '{prefix}', partitions: 2}}\n"
        f"reload: {{poll_interval_s: {poll}}}\n"
        f"key_owners: {{k-{change}: {{team: team-{change}}}}}\n"
    )


def _wait(check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except (urllib.error.URLError, OSError):
            found = None
        if found:
            return found
        time.sleep(0.01)
    raise TimeoutError("the worker did not answer in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--poll", type=float, default=1.0)
    args = parser.parse_args()
    token = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="reload-bench-") as tmp:
        path = Path(tmp) / "spendwatch.yaml"
        path.write_text(_config(f"rb{token}.", args.poll, 0))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        cmd = [sys.executable, "-m", "streams.cli", "worker", "--config", str(path),
               "--bootstrap", args.bootstrap, "--app-id", f"rb{token}", "--web-port", str(port),
               "--data-dir", str(Path(tmp) / "state")]  # fmt: skip
        with (Path(tmp) / "worker.log").open("wb") as log:
            worker = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/v1/config"
        try:
            _wait(lambda: _get(url.replace("/v1/config", "/readyz"))["ready"], 120)
            times = []
            for change in range(1, args.changes + 1):
                text = _config(f"rb{token}.", args.poll, change)
                started = time.monotonic()
                path.write_text(text)
                version = digest(text.encode())
                _wait(lambda v=version: _get(url)["version"] == v, 30)
                times.append(time.monotonic() - started)
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    summary = {
        "changes": len(times),
        "poll_interval_s": args.poll,
        "min_s": round(min(times), 3),
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
        "each_s": [round(t, 2) for t in times],
    }
    print(f"reload latency over {len(times)} changes: min {summary['min_s']} s, "
          f"median {summary['median_s']} s, max {summary['max_s']} s", file=sys.stderr)  # fmt: skip
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
