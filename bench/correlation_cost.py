"""Correlation cost: one group flush through the correlate stage while many alerts fire.

Run: .venv/bin/python bench/correlation_cost.py [--teams 50] [--flushes 20]

Each team has a runaway key with 60% of everything it touches: its spike and unit-cost
drift, and spikes on its app, team, model, provider, environment and feature, eight
alerts a team. Every flush hands one team's eight alerts to the stage with all the
others firing; only the key's spike goes on. The last stdout line is JSON with the number of
firing alerts, ``median_ms`` and ``p95_ms`` per flush.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import UTC, datetime, timedelta

from alerting.correlate_stage import CorrelateStage
from alerting.correlation import Correlator
from alerting.delivery import Delivery, MemorySendRecord
from alerting.routing import RouteMatch
from schemas.findings import Alert, AlertState, Contributor, Scope, Severity

USD = 1_000_000_000
NOW = datetime(2026, 11, 29, tzinfo=UTC)
ROUTE = RouteMatch("root", "pd", ("team",), timedelta(0), timedelta(minutes=5), timedelta(hours=4))


def alert(
    scope: str,
    spend_usd: int,
    team: str,
    costs: dict[str, int],
    detector: str = "spend_spike",
) -> Alert:
    return Alert(
        alert_id=f"{detector}:{scope}",
        detector=detector,
        scope=Scope.parse(scope),
        severity=Severity.ERROR,
        state=AlertState.FIRING,
        fired_at=NOW,
        updated_at=NOW,
        measure="usd_per_window",
        observed=10.0,
        expected=1.0,
        impact_nanos=9 * USD,
        summary=f"{scope}: spend 10x",
        labels={"team": team},
        spend_nanos=spend_usd * USD,
        contributors=tuple(
            Contributor(series=s.replace("__", "="), cost_nanos=c * USD) for s, c in costs.items()
        ),
    )


def team_alerts(t: int) -> list[Alert]:
    """A runaway key of team ``t`` with 60% of everything it touches: its spike and
    unit-cost drift, and spikes on its app, team, model, provider, environment, feature."""
    team, key = f"t{t}", f"api_key_id__k{t}"
    broad = [f"app=a{t}", f"team={team}", f"model=m{t}", f"provider=p{t}"]
    broad += [f"environment=e{t}", f"feature=f{t}"]
    return [
        alert(f"api_key_id=k{t}", 60, team, {f"team__{team}": 60}),
        alert(f"api_key_id=k{t}", 60, team, {f"team__{team}": 60}, "unit_cost_drift"),
        *(alert(scope, 100, team, {key: 60}) for scope in broad),
    ]


async def measure(teams: int, flushes: int) -> list[float]:
    firing = [a for t in range(teams) for a in team_alerts(t)]
    stage = CorrelateStage(Correlator(), lambda: firing, MemorySendRecord(), lambda a: {"pd"})
    took = []
    for i in range(flushes):
        batch = team_alerts(i % teams)
        started = time.perf_counter()
        kept = await stage(Delivery("pd", ROUTE, "g", NOW), batch)
        took.append((time.perf_counter() - started) * 1000)
        assert [a.alert_id for a in kept] == [f"spend_spike:api_key_id=k{i % teams}"]
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument("--flushes", type=int, default=20)
    args = parser.parse_args()
    took = asyncio.run(measure(args.teams, args.flushes))
    firing = args.teams * len(team_alerts(0))
    median = statistics.median(took)
    p95 = statistics.quantiles(took, n=20)[-1] if len(took) > 1 else took[0]
    print(f"{firing} firing alerts: {median:.2f} ms median, {p95:.2f} ms p95 per flush")
    print(json.dumps({"firing": firing, "median_ms": round(median, 3), "p95_ms": round(p95, 3)}))


if __name__ == "__main__":
    main()
