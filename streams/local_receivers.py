"""Local stand-ins for Slack and PagerDuty that speak their real HTTP protocols.

Tests and the local demo point the real clients at them: slack-sdk's
``AsyncWebClient(base_url=FakeSlack.api_url)`` and incoming-webhook client, and the
PagerDuty notifier's HTTP POST to ``FakePagerDuty.events_url``. Each listens on a free
loopback port, records every request it received, keeps the state the real service
would (Slack messages by channel and ``ts``; PagerDuty incidents by ``dedup_key``), and
can be scripted to misbehave: answer 429 with ``Retry-After``, 5xx, 400, or stall past
the client's timeout, for the next N requests.

``streams/local_receivers_demo.py`` runs them standalone for a demo.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from alerting.webhook_notifier import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from streams.local_http import LocalReceiver, Misbehaviour, Received

__all__ = ["FakePagerDuty", "FakeSlack", "FakeWebhook", "LocalReceiver", "Misbehaviour", "Received"]


@dataclass(slots=True)
class SlackMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    updates: int = 0
    thread_ts: str | None = None


class FakeSlack(LocalReceiver):
    """The Slack Web API (``chat.postMessage``, ``chat.update``, ``auth.test``) under
    ``/api/`` with bearer-token auth, and incoming webhooks under ``/services/``."""

    def __init__(self, token: str = "xoxb-local-test", webhook_path: str = "T0/B0/local") -> None:
        super().__init__()
        self.token = token
        self.webhook_path = webhook_path
        self.messages: dict[tuple[str, str], SlackMessage] = {}
        self.webhook_posts: list[dict[str, Any]] = []
        self._ts = itertools.count(1)

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/services/{self.webhook_path}"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/{method}", self._api),
            web.post("/services/{path:.*}", self._webhook),
        ]

    def posted(self) -> list[SlackMessage]:
        """Top-level messages (thread replies excluded)."""
        return [m for m in self.messages.values() if m.thread_ts is None]

    def replies(self, ts: str) -> list[SlackMessage]:
        return [m for m in self.messages.values() if m.thread_ts == ts]

    def _error(self, status: int, headers: dict[str, str]) -> web.Response:
        error = "ratelimited" if status == 429 else "service_unavailable"
        return web.json_response({"ok": False, "error": error}, status=status, headers=headers)

    async def _api(self, request: web.Request) -> web.Response:
        body = await request.read()
        scripted = await self._scripted(request, body)
        if scripted is not None:
            return scripted
        reply = self._answer(request, body)
        await self._record(request, body, 200)
        return web.json_response(reply)

    def _answer(self, request: web.Request, body: bytes) -> dict[str, Any]:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return {"ok": False, "error": "invalid_auth"}
        method = request.match_info["method"]
        if method == "auth.test":
            return {"ok": True, "url": self.base_url, "team": "local", "user": "spendwatch"}
        try:
            args: dict[str, Any] = orjson.loads(body) if body else dict(request.query)
        except orjson.JSONDecodeError:
            return {"ok": False, "error": "invalid_json"}
        if not args.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not (args.get("text") or args.get("blocks")):
            return {"ok": False, "error": "no_text"}
        blocks = args.get("blocks") or []
        if len(blocks) > 50:
            return {"ok": False, "error": "invalid_blocks"}
        if method == "chat.postMessage":
            ts = f"{1_700_000_000 + next(self._ts)}.000100"
            thread = args.get("thread_ts")
            if thread is not None and (args["channel"], str(thread)) not in self.messages:
                return {"ok": False, "error": "thread_not_found"}
            self.messages[(args["channel"], ts)] = SlackMessage(
                args["channel"], ts, args.get("text", ""), blocks, thread_ts=thread
            )
            return {"ok": True, "channel": args["channel"], "ts": ts, "message": {"ts": ts}}
        if method == "chat.update":
            message = self.messages.get((args["channel"], str(args.get("ts"))))
            if message is None:
                return {"ok": False, "error": "message_not_found"}
            message.text, message.blocks = args.get("text", ""), blocks
            message.updates += 1
            return {"ok": True, "channel": message.channel, "ts": message.ts}
        return {"ok": False, "error": "unknown_method"}

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.read()
        scripted = await self._scripted(request, body)
        if scripted is not None:
            return scripted
        if request.match_info["path"] != self.webhook_path:
            await self._record(request, body, 404)
            return web.Response(status=404, text="no_service")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            await self._record(request, body, 400)
            return web.Response(status=400, text="invalid_payload")
        self.webhook_posts.append(payload)
        await self._record(request, body, 200)
        return web.Response(text="ok")


_PD_ACTIONS = {"trigger", "acknowledge", "resolve"}
_PD_SEVERITIES = {"critical", "error", "warning", "info"}


@dataclass(slots=True)
class Incident:
    dedup_key: str
    status: str
    summary: str
    severity: str
    triggers: int = 0


class FakePagerDuty(LocalReceiver):
    """The PagerDuty Events API v2 ``POST /v2/enqueue``: validates events as PagerDuty
    does (400 with ``errors``), answers 202, and keeps incidents by ``dedup_key``."""

    def __init__(self, routing_key: str = "R" * 32) -> None:
        super().__init__()
        self.routing_key = routing_key
        self.incidents: dict[str, Incident] = {}
        self.events: list[dict[str, Any]] = []

    @property
    def events_url(self) -> str:
        return f"{self.base_url}/v2/enqueue"

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v2/enqueue", self._enqueue)]

    def _error(self, status: int, headers: dict[str, str]) -> web.Response:
        return web.json_response(
            {"status": "throttled" if status == 429 else "error", "message": "scripted"},
            status=status,
            headers=headers,
        )

    async def _enqueue(self, request: web.Request) -> web.Response:
        body = await request.read()
        scripted = await self._scripted(request, body)
        if scripted is not None:
            return scripted
        try:
            event = orjson.loads(body)
        except orjson.JSONDecodeError:
            event = None
        errors = self._invalid(event)
        if errors:
            await self._record(request, body, 400)
            return web.json_response(
                {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
                status=400,
            )
        assert isinstance(event, dict)
        dedup_key = event.get("dedup_key") or hashlib.sha256(body).hexdigest()
        self._apply(event, dedup_key)
        self.events.append(event)
        await self._record(request, body, 202)
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": dedup_key},
            status=202,
        )

    def _invalid(self, event: Any) -> list[str]:
        if not isinstance(event, dict):
            return ["Event must be a JSON object"]
        errors = []
        if event.get("routing_key") != self.routing_key:
            errors.append("'routing_key' is invalid")
        action = event.get("event_action")
        if action not in _PD_ACTIONS:
            errors.append("'event_action' is invalid")
        if len(str(event.get("dedup_key", ""))) > 255:
            errors.append("'dedup_key' must be at most 255 characters")
        if action in {"acknowledge", "resolve"} and not event.get("dedup_key"):
            errors.append("'dedup_key' is required for acknowledge and resolve")
        if action == "trigger":
            payload = event.get("payload")
            if not isinstance(payload, dict):
                return [*errors, "'payload' is missing"]
            summary = payload.get("summary")
            if not summary or len(summary) > 1024:
                errors.append("'payload.summary' must be 1 to 1024 characters")
            if not payload.get("source"):
                errors.append("'payload.source' is missing")
            if payload.get("severity") not in _PD_SEVERITIES:
                errors.append("'payload.severity' is invalid")
        return errors

    def _apply(self, event: dict[str, Any], dedup_key: str) -> None:
        action = event["event_action"]
        incident = self.incidents.get(dedup_key)
        if action == "trigger":
            payload = event["payload"]
            if incident is None or incident.status == "resolved":
                incident = self.incidents[dedup_key] = Incident(
                    dedup_key, "triggered", payload["summary"], payload["severity"]
                )
            incident.triggers += 1
        elif incident is not None:
            incident.status = "resolved" if action == "resolve" else "acknowledged"


class FakeWebhook(LocalReceiver):
    """A receiver of spendwatch's signed webhook at ``/hook``; checks the HMAC signature
    (401 when it does not verify) and keeps the accepted bodies."""

    def __init__(self, secret: str = "local-webhook-secret") -> None:
        super().__init__()
        self.secret = secret
        self.accepted: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"{self.base_url}/hook"

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/hook", self._hook)]

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        scripted = await self._scripted(request, body)
        if scripted is not None:
            return scripted
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not verify(self.secret.encode(), timestamp, body, signature):
            await self._record(request, body, 401)
            return web.json_response({"error": "bad signature"}, status=401)
        self.accepted.append(orjson.loads(body))
        await self._record(request, body, 200)
        return web.json_response({"ok": True})
