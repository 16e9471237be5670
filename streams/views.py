"""HTTP views of a worker (Faust's web server).

Series reads are routed by Faust to the worker that owns the series; dimension-wide
reads (top-N, per-key totals) ask every worker for its share and merge the answers,
passing on the caller's ``Authorization`` header. With read tokens configured every
view but the open ones needs one (``streams.read_auth``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from faust.web import Request, Response, View
from faust.web.drivers.aiohttp import Web as AiohttpWeb

from streams.metrics import METRICS_PATH
from streams.read_auth import ReadAccess
from streams.spend_queries import merge_top, minute_of, top_series, totals_json, window_sums

if TYPE_CHECKING:
    from streams.app import SpendwatchApp


def _now_minute(request: Request) -> int:
    at = request.query.get("at")
    when = datetime.fromisoformat(at) if at else datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return minute_of(when)


async def _gather_local(
    handle: SpendwatchApp, request: Request, path: str, query: dict[str, str]
) -> list[Any]:
    """Ask every worker that owns series partitions (this one included) for ``path``."""
    auth = request.headers.get("Authorization")
    headers = {"Authorization": auth} if auth else {}
    app = handle.faust_app
    try:
        hosts = list(app.router.table_metadata("series"))
    except (KeyError, AttributeError):
        hosts = []
    own = str(app.conf.canonical_url).rstrip("/")
    urls = {str(h).rstrip("/") for h in hosts} | {own}
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=10), headers=headers
    ) as http:

        async def fetch(base: str) -> Any:
            async with http.get(base + path, params={**query, "local": "1"}) as resp:
                resp.raise_for_status()
                return await resp.json()

        return list(await asyncio.gather(*(fetch(u) for u in sorted(urls))))


def _changed_at(alert: dict[str, Any]) -> tuple[str, int]:
    return (alert["updated_at"], alert["version"])


def register_views(handle: SpendwatchApp, access: ReadAccess | None = None) -> None:
    app = handle.faust_app
    access = access or ReadAccess.from_environment()
    if access.tokens.enabled:
        web = app.web
        if not isinstance(web, AiohttpWeb):
            raise TypeError(f"read tokens need Faust's aiohttp web driver, not {type(web)}")
        web.web_app.middlewares.append(access.middleware())
    series = handle.series
    series_table = series.series_table

    @app.page("/v1/series/{name}")
    class Series(View):
        """Spend of one series over a window: ``?window=5m|1h|24h|7d|mtd|all&at=ISO``."""

        @app.table_route(table=series_table, match_info="name")  # type: ignore[arg-type]
        async def get(self, request: Request, name: str) -> Response:
            state = series.series(name)
            if state is None:
                return self.json({"error": f"no series {name!r}"}, status=404)
            window = request.query.get("window", "1h")
            try:
                sums = window_sums(state, window, _now_minute(request))  # 400 on a bad window
            except ValueError as exc:
                return self.json({"error": str(exc)}, status=400)
            now = _now_minute(request)
            recent = state.contributors_between(now - 4, now + 1)
            top = sorted(recent.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
            return self.json(
                {
                    "series": name,
                    "window": window,
                    **totals_json(sums),
                    "contributors_5m": [{"series": s, "cost_nanos": c} for s, c in top],
                }
            )

    @app.page("/v1/top/{dimension}")
    class Top(View):
        """Top series of a dimension by spend: ``?window=1h&limit=10``."""

        async def get(self, request: Request, dimension: str) -> Response:
            window = request.query.get("window", "1h")
            limit = int(request.query.get("limit", "10"))
            now_minute = _now_minute(request)
            try:
                states = await series.states_of(dimension)
                local = top_series(states, dimension, window, now_minute, limit)
            except ValueError as exc:
                return self.json({"error": str(exc)}, status=400)
            if request.query.get("local"):
                return self.json({"series": local})
            query = {"window": window, "limit": str(limit), "at": request.query.get("at", "")}
            parts = await _gather_local(handle, request, f"/v1/top/{dimension}", query)
            merged = merge_top((p["series"] for p in parts), limit)
            return self.json({"dimension": dimension, "window": window, "series": merged})

    @app.page("/v1/spend/keys")
    class SpendByKey(View):
        """Every api_key_id's totals over all kept days, exact (nanos and USD string)."""

        async def get(self, request: Request) -> Response:
            local = {
                name.split("=", 1)[1]: totals_json(state.total())
                for name, state in await series.states_of("api_key_id")
            }
            if request.query.get("local"):
                return self.json({"keys": local})
            parts = await _gather_local(handle, request, "/v1/spend/keys", {})
            merged: dict[str, Any] = {}
            for part in parts:
                merged.update(part["keys"])
            return self.json({"keys": dict(sorted(merged.items()))})

    @app.page("/v1/alerts")
    class Alerts(View):
        """Firing alerts and the most recent changes (``?limit=50``), from every worker."""

        async def get(self, request: Request) -> Response:
            limit = int(request.query.get("limit", "50"))
            detection = series.detection
            if request.query.get("local"):
                if detection is None:
                    return self.json({"active": [], "recent": []})
                return self.json(
                    {
                        "active": [a.model_dump(mode="json") for a in detection.active.values()],
                        "recent": [a.model_dump(mode="json") for a in detection.recent][-limit:],
                    }
                )
            parts = await _gather_local(handle, request, "/v1/alerts", {"limit": str(limit)})
            active = [a for p in parts for a in p["active"]]
            recent = sorted((a for p in parts for a in p["recent"]), key=_changed_at)
            return self.json({"active": sorted(active, key=_changed_at), "recent": recent[-limit:]})

    @app.page("/v1/progress")
    class Progress(View):
        async def get(self, request: Request) -> Response:
            return self.json({"events": handle.metrics.tally.events})

    @app.page(METRICS_PATH)
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            monitor = handle.faust_app.monitor
            ends = dict(monitor.tp_end_offsets or {})
            reads = dict(monitor.tp_read_offsets or {})
            handle.metrics.set_lag(
                {
                    (tp.topic, tp.partition): max(0, end - reads.get(tp, 0))
                    for tp, end in ends.items()
                }
            )
            body = handle.metrics.exposition()
            return self.bytes(body, content_type="text/plain; version=0.0.4")

    @app.page("/healthz")
    class Health(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok", "app_id": handle.settings.app_id})

    @app.page("/readyz")
    class Ready(View):
        """200 once partitions are assigned and tables recovered; 503 before, with why."""

        async def get(self, request: Request) -> Response:
            body = readiness(handle)
            return self.json(body, status=200 if body["ready"] else 503)

    @app.page("/v1/config")
    class Config(View):
        """The config in force (secrets masked), its version, and the last rejected change."""

        async def get(self, request: Request) -> Response:
            settings = handle.settings.model_dump(mode="json")
            return self.json({**handle.live.as_json(), "settings": settings})


def readiness(handle: SpendwatchApp) -> dict[str, Any]:
    """Whether this worker serves complete answers: assigned, recovered, not rebalancing."""
    app = handle.faust_app
    try:
        assigned = len(app.consumer.assignment())
    except (AttributeError, RuntimeError):
        assigned = 0
    recovered = app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]
    rebalancing = bool(app.rebalancing)
    return {
        "ready": assigned > 0 and recovered and not rebalancing,
        "assigned_partitions": assigned,
        "tables_recovered": recovered,
        "rebalancing": rebalancing,
    }
