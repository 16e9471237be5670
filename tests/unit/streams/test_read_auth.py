"""Read tokens in front of a real aiohttp server: guarded views, open health paths."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from streams.read_auth import ReadAccess
from streams.tokens import ReadTokens

PATHS = ("/v1/spend/keys", "/v1/top/team", "/v1/alerts", "/healthz", "/readyz", "/metrics")


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"path": request.path})


async def serve(access: ReadAccess) -> TestServer:
    app = web.Application(middlewares=[access.middleware()])
    for path in PATHS:
        app.router.add_get(path, ok)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


@pytest.fixture
async def guarded() -> AsyncIterator[str]:
    server = await serve(ReadAccess(ReadTokens.parse("grafana read-token-1")))
    try:
        yield str(server.make_url(""))
    finally:
        await server.close()


async def status(base: str, path: str, token: str | None = None) -> tuple[int, dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.get(base + path, headers=headers) as resp:
        return resp.status, await resp.json()


@pytest.mark.parametrize("path", ["/v1/spend/keys", "/v1/top/team", "/v1/alerts"])
async def test_views_need_a_read_token(guarded: str, path: str) -> None:
    code, body = await status(guarded, path)
    assert code == 401
    assert body["error"] == f"{path} needs a read token: Authorization: Bearer TOKEN"
    assert (await status(guarded, path, "wrong-token"))[0] == 401
    assert await status(guarded, path, "read-token-1") == (200, {"path": path})


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
async def test_health_and_metrics_stay_open_by_default(guarded: str, path: str) -> None:
    assert await status(guarded, path) == (200, {"path": path})


async def test_open_paths_are_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPENDWATCH_READ_TOKENS", "grafana=read-token-1")
    monkeypatch.setenv("SPENDWATCH_OPEN_PATHS", "/healthz/")
    access = ReadAccess.from_environment()
    assert access.open_paths == {"/healthz"}
    server = await serve(access)
    base = str(server.make_url(""))
    try:
        assert (await status(base, "/healthz"))[0] == 200
        assert (await status(base, "/metrics"))[0] == 401
        assert (await status(base, "/metrics", "read-token-1"))[0] == 200
    finally:
        await server.close()


def test_without_read_tokens_everything_is_open() -> None:
    access = ReadAccess(ReadTokens({}))
    assert all(access.allows(path, None) for path in PATHS)
