"""A local Slack Web API on a free port: ``chat.postMessage`` as Slack speaks it.

It checks the bearer token, Block Kit's limits (50 blocks, 3,000 characters of section
text) and answers like Slack (``{"ok": true, "ts": ...}``; ``invalid_auth``,
``invalid_blocks``; HTTP 429 with ``Retry-After`` for the first ``rate_limit_first`` calls).
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeSlack:
    token: str
    rate_limit_first: int = 0
    posted: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    calls: int = 0
    base_url: str = ""


def _check_blocks(blocks: Any) -> str | None:
    if not isinstance(blocks, list) or not 0 < len(blocks) <= 50:
        return "invalid_blocks"
    for block in blocks:
        text = block.get("text", {}).get("text", "") if isinstance(block, dict) else None
        if text is None or (block.get("type") == "section" and len(text) > 3000):
            return "invalid_blocks"
    return None


def _handler(state: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            state.calls += 1
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path != "/api/chat.postMessage":
                self._answer(404, {"ok": False, "error": "unknown_method"}, {})
                return
            if state.calls <= state.rate_limit_first:
                self._answer(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
                return
            if self.headers.get("Authorization") != f"Bearer {state.token}":
                state.refused.append("invalid_auth")
                self._answer(200, {"ok": False, "error": "invalid_auth"}, {})
                return
            if self.headers.get("Content-Type", "").startswith("application/json"):
                body = json.loads(raw)
            else:
                body = dict(urllib.parse.parse_qsl(raw.decode()))
                if "blocks" in body:
                    body["blocks"] = json.loads(body["blocks"])
            error = _check_blocks(body.get("blocks")) if "blocks" in body else None
            if not body.get("channel") or error:
                state.refused.append(error or "channel_not_found")
                self._answer(200, {"ok": False, "error": error or "channel_not_found"}, {})
                return
            state.posted.append(body)
            ts = f"1700000000.{len(state.posted):06d}"
            message = {"text": body.get("text", ""), "ts": ts}
            self._answer(
                200, {"ok": True, "channel": body["channel"], "ts": ts, "message": message}, {}
            )

    return Handler


@contextmanager
def fake_slack(token: str, rate_limit_first: int = 0) -> Iterator[FakeSlack]:
    state = FakeSlack(token=token, rate_limit_first=rate_limit_first)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/api/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
