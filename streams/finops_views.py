"""HTTP views of the FinOps reports and the dashboard page, on the worker's web server.

Every report is computed from one ledger merged from all workers: each worker answers
``/v1/reports/ledger?local=1`` with the ``attribution`` series it owns, and the worker
asked merges the parts, so a report is the same whichever worker serves it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from typing import TYPE_CHECKING, Any

from aiohttp import web
from faust.web import Request, Response, View

from streams.finops.budgets import budget_report, team_outlook
from streams.finops.dashboard_data import dashboard_data
from streams.finops.forecast import DEFAULT_WINDOW
from streams.finops.inputs import parse_budget_options
from streams.finops.inventory import key_inventory
from streams.finops.ledger import Ledger, day_of
from streams.finops.showback import Period, showback
from streams.rollup import ATTRIBUTION
from streams.views import _gather_local

if TYPE_CHECKING:
    from streams.app import SpendwatchApp

KEY_HISTORY_DAYS = 400
"""How far back the key inventory looks for a key's first use (the series keep 400 days)."""
FORECAST_DAYS = DEFAULT_WINDOW + 36
"""History read for budgets, forecasts and the dashboard: the fit window and this month."""
NO_ATTRIBUTION = (
    "this worker keeps no attribution series (SPENDWATCH_DIMENSIONS lacks 'attribution'), "
    "so it cannot serve FinOps reports; compute them offline with --events"
)
STATIC = {"chart.umd.min.js": "application/javascript", "dashboard.js": "application/javascript"}


def _at(request: Request) -> datetime:
    text = request.query.get("at")
    when = datetime.fromisoformat(text) if text else datetime.now(UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _day(request: Request, name: str) -> int | None:
    """An epoch day of the query (None when absent), within 100 years of the epoch."""
    text = request.query.get(name)
    if text is None:
        return None
    try:
        day = int(text)
    except ValueError:
        raise ValueError(f"{name} is an epoch day (an integer), not {text[:20]!r}") from None
    if not 0 <= day <= 36_600:
        raise ValueError(f"{name} is an epoch day between 0 and 36600, not {day}")
    return day


def _static(name: str) -> bytes:
    return (resources.files("streams.finops") / "static" / name).read_bytes()


def register_finops_views(handle: SpendwatchApp) -> None:
    app = handle.faust_app
    series = handle.series

    async def local_ledger() -> Ledger:
        return Ledger.from_states(await series.states_of(ATTRIBUTION))

    async def ledger(request: Request, first_day: int | None, last_day: int | None) -> Ledger:
        if ATTRIBUTION not in handle.settings.dimensions:
            raise web.HTTPConflict(
                text=json.dumps({"error": NO_ATTRIBUTION}), content_type="application/json"
            )
        days = {"from": first_day, "to": last_day}
        query = {name: str(day) for name, day in days.items() if day is not None}
        merged = Ledger()
        for part in await _gather_local(handle, request, "/v1/reports/ledger", query):
            merged.merge(Ledger.from_json(part))
        return merged

    async def history(request: Request, at: datetime, days: int) -> Ledger:
        today = day_of(at.date())
        return await ledger(request, today - days, today)

    @app.page("/v1/reports/ledger")
    class LedgerView(View):
        """Daily sums per attribution: ``?from=EPOCH_DAY&to=EPOCH_DAY`` (all workers)."""

        async def get(self, request: Request) -> Response:
            try:
                first, last = (_day(request, name) for name in ("from", "to"))
            except ValueError as exc:
                return self.json({"error": str(exc)}, status=400)
            if request.query.get("local"):
                return self.json((await local_ledger()).to_json(first, last))
            return self.json((await ledger(request, first, last)).to_json(first, last))

    @app.page("/v1/reports/spend")
    class Spend(View):
        """Showback: ``?period=YYYY-MM&by=team,app`` (default: this month, by team)."""

        async def get(self, request: Request) -> Response:
            try:
                period = Period.parse(request.query.get("period") or _this_month())
                previous = period.previous()
                data = await ledger(request, previous.first_day(), period.last_day())
                return self.json(showback(data, period, request.query.get("by", "team")))
            except ValueError as exc:
                return self.json({"error": str(exc)}, status=400)

    def report_page(
        path: str,
        doc: str,
        compute: Callable[[Ledger, _Query], Any],
        days: int = FORECAST_DAYS,
        **numbers: int,
    ) -> None:
        """A GET view answering ``compute`` over the merged ledger of the last ``days``."""

        async def get(self: View, request: Request) -> Response:
            try:
                query = _Query.parse(request, numbers)
            except ValueError as exc:
                return self.json({"error": str(exc)}, status=400)
            return self.json(compute(await history(request, query.at, days), query))

        view = type(
            f"Report{path.rsplit('/', 1)[-1].title()}", (View,), {"get": get, "__doc__": doc}
        )
        app.page(path)(view)

    report_page(
        "/v1/reports/budgets",
        "Month to date, burn, forecast and variance: ``?budget=team=search:5000&at=ISO``.",
        lambda ledger, q: budget_report(ledger, q.at, q.budgets),
    )
    report_page(
        "/v1/reports/forecast",
        "Daily forecast per team: ``?horizon=90``.",
        lambda ledger, q: team_outlook(ledger, q.at, q.numbers["horizon"]),
        horizon=90,
    )
    report_page(
        "/v1/reports/keys",
        "Key inventory and tools per team: ``?idle_days=7``.",
        lambda ledger, q: key_inventory(ledger, q.at, idle_days=q.numbers["idle_days"]),
        days=KEY_HISTORY_DAYS,
        idle_days=7,
    )
    report_page(
        "/v1/reports/dashboard",
        "What the dashboard draws: ``?chart_days=30&budget=team=search:5000``.",
        lambda ledger, q: dashboard_data(ledger, q.at, q.budgets, q.numbers["chart_days"]),
        chart_days=30,
    )

    @app.page("/dashboard")
    class Dashboard(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(_static("dashboard.html"), content_type="text/html")

    @app.page("/dashboard/static/{name}")
    class DashboardStatic(View):
        async def get(self, request: Request, name: str) -> Response:
            if name not in STATIC:
                return self.json({"error": f"no file {name!r}"}, status=404)
            return self.bytes(_static(name), content_type=STATIC[name])


@dataclass(frozen=True)
class _Query:
    """The common query parameters of the report views, checked."""

    at: datetime
    budgets: dict[str, Decimal]
    numbers: dict[str, int]

    @classmethod
    def parse(cls, request: Request, defaults: Mapping[str, int]) -> _Query:
        texts = [str(v) for v in request.query.getall("budget", [])]  # type: ignore[attr-defined]
        numbers = {}
        for name, default in defaults.items():
            text = request.query.get(name)
            if text is not None and (not text.isdigit() or not 0 < int(text) <= 3660):
                raise ValueError(f"{name}: {text!r} is not a whole number from 1 to 3660")
            numbers[name] = default if text is None else int(text)
        return cls(_at(request), parse_budget_options(texts), numbers)


def _this_month() -> str:
    now = datetime.now(UTC)
    return f"{now.year:04d}-{now.month:02d}"
