"""HTTP views of a worker (Faust's web server)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faust.web import Request, Response, View

from schemas.money import nanos_to_usd

TOTAL_FIELDS = ("cost_nanos", "calls", "input_tokens", "output_tokens", "errors")

if TYPE_CHECKING:
    from streams.app import SpendwatchApp


def table_rows(table: Any) -> dict[str, dict[str, int]]:
    """This worker's per-key totals, summed over the partitions it holds."""
    out: dict[str, dict[str, int]] = {}
    for table_key, row in table.items():
        api_key_id = str(table_key).split("|", 1)[1]
        acc = out.setdefault(api_key_id, dict.fromkeys(TOTAL_FIELDS, 0))
        for f in TOTAL_FIELDS:
            acc[f] += int(row[f])
    return out


def register_views(handle: SpendwatchApp) -> None:
    app = handle.faust_app

    @app.page("/v1/spend/keys")
    class SpendByKey(View):
        """Per-key totals held by this worker: exact nanos and USD as a decimal string."""

        async def get(self, request: Request) -> Response:
            rows = table_rows(handle.spend_by_key)
            body: dict[str, Any] = {
                key: {**row, "cost_usd": str(nanos_to_usd(row["cost_nanos"]))}
                for key, row in sorted(rows.items())
            }
            return self.json({"keys": body})

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(handle.metrics.exposition(), content_type="text/plain; version=0.0.4")

    @app.page("/healthz")
    class Health(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok", "app_id": handle.settings.app_id})
