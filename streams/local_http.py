"""A scriptable local HTTP server for tests and demos: a free loopback port, a record of
every request, and misbehaviour on demand (an error status with ``Retry-After``, or a
stall past the client's timeout) for the next N requests."""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web


@dataclass(frozen=True, slots=True)
class Misbehaviour:
    """What to do instead of answering normally: a status (with ``Retry-After``) or a stall."""

    status: int = 500
    retry_after: float | None = None
    stall_s: float = 0.0


@dataclass(slots=True)
class Received:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass(slots=True)
class _Script:
    plan: deque[Misbehaviour] = field(default_factory=deque)

    def take(self) -> Misbehaviour | None:
        return self.plan.popleft() if self.plan else None


class LocalReceiver:
    """An aiohttp server on a free loopback port that records what it receives."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._script = _Script()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def misbehave(
        self,
        times: int = 1,
        *,
        status: int = 500,
        retry_after: float | None = None,
        stall_s: float = 0.0,
    ) -> None:
        """The next ``times`` requests get ``status`` (or stall ``stall_s`` then answer 503)."""
        step = Misbehaviour(
            status=status if not stall_s else 503, retry_after=retry_after, stall_s=stall_s
        )
        self._script.plan.extend([step] * times)

    def misbehaving(self) -> int:
        """Scripted misbehaviours not yet used."""
        return len(self._script.plan)

    async def start(self) -> LocalReceiver:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LocalReceiver:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_until(self, condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
        """Return once ``condition()`` holds (checked after every request); TimeoutError if not."""
        async with asyncio.timeout(timeout_s), self._changed:
            await self._changed.wait_for(condition)

    async def _record(self, request: web.Request, body: bytes, status: int) -> None:
        self.received.append(Received(request.path, dict(request.headers), body, status))
        async with self._changed:
            self._changed.notify_all()

    async def _scripted(self, request: web.Request, body: bytes) -> web.Response | None:
        step = self._script.take()
        if step is None:
            return None
        if step.stall_s:
            await asyncio.sleep(step.stall_s)
        headers = {}
        if step.retry_after is not None:
            headers["Retry-After"] = f"{step.retry_after:g}"
        await self._record(request, body, step.status)
        return self._error(step.status, headers)

    def _error(self, status: int, headers: dict[str, str]) -> web.Response:
        return web.json_response({"error": f"scripted {status}"}, status=status, headers=headers)
