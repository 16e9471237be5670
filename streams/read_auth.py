"""Read tokens for a worker's HTTP API: an aiohttp middleware in front of every view.

When read tokens are configured (``SPENDWATCH_READ_TOKENS_FILE`` or
``SPENDWATCH_READ_TOKENS``, see ``streams.tokens.ReadTokens``), every path needs
``Authorization: Bearer TOKEN`` except the open ones: ``SPENDWATCH_OPEN_PATHS``, a
comma-separated list that defaults to ``/healthz,/readyz,/metrics`` (set it to an empty
string to guard those too). Guarding everything but a short open list means a view added
later is guarded from its first day. Refusals are 401 with a JSON ``error``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from streams.tokens import ReadTokens

log = logging.getLogger(__name__)

DEFAULT_OPEN_PATHS = ("/healthz", "/readyz", "/metrics")


@dataclass(frozen=True)
class ReadAccess:
    """Which tokens may read, and which paths anyone may read."""

    tokens: ReadTokens
    open_paths: frozenset[str] = frozenset(DEFAULT_OPEN_PATHS)

    @classmethod
    def from_environment(cls) -> ReadAccess:
        raw = os.environ.get("SPENDWATCH_OPEN_PATHS")
        paths = DEFAULT_OPEN_PATHS if raw is None else tuple(raw.split(","))
        open_paths = frozenset(p.strip().rstrip("/") or "/" for p in paths if p.strip())
        return cls(ReadTokens.load(), open_paths)

    def allows(self, path: str, authorization: str | None) -> bool:
        if not self.tokens.enabled:
            return True
        if (path.rstrip("/") or "/") in self.open_paths:
            return True
        return self.tokens.holder_for(authorization) is not None

    def middleware(self) -> Middleware:
        @web.middleware
        async def require_read_token(request: web.Request, handler: Handler) -> web.StreamResponse:
            if self.allows(request.path, request.headers.get("Authorization")):
                return await handler(request)
            log.info("refused %s %s: no valid read token", request.method, request.path)
            return web.json_response(
                {"error": f"{request.path} needs a read token: Authorization: Bearer TOKEN"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="spendwatch"'},
            )

        return require_read_token
