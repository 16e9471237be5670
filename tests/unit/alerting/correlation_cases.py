"""One runaway key's incident as firing alerts on its key, app, team, org and model, for
the correlation tests."""

from __future__ import annotations

from datetime import timedelta

from schemas.findings import Alert, AlertState, Contributor
from tests.unit.alerting.conftest import build_alert

USD = 1_000_000_000


def spike(scope: str, spend_usd: int = 0, detector: str = "spend_spike", **costs: int) -> Alert:
    """A firing alert on ``scope`` whose bucket spent ``spend_usd``, with contributors
    given as ``series=usd`` keywords (``k`` for ``api_key_id``)."""
    contributors = tuple(
        Contributor(series=name.replace("__", "="), cost_nanos=usd * USD)
        for name, usd in sorted(costs.items(), key=lambda kv: -kv[1])
    )
    return build_alert(
        alert_id=f"{detector}:{scope}",
        detector=detector,
        scope=scope,
        severity="error",
        spend_nanos=spend_usd * USD,
        contributors=contributors,
        labels={"team": "agents"},
    )


KEY = spike("api_key_id=k-1", 100, team__agents=100, app__runaway=100)


APP = spike("app=runaway", 100, **{"api_key_id__k-1": 100})


TEAM = spike("team=agents", 110, **{"api_key_id__k-1": 100, "app__runaway": 100})


ORG = spike("org=all", 130, **{"api_key_id__k-1": 100, "team__agents": 110})


MODEL = spike("model=gpt-4o", 120, **{"api_key_id__k-1": 100, "app__runaway": 100})


RUNAWAY = [KEY, APP, TEAM, ORG, MODEL]


def resolved(alert: Alert, after: timedelta = timedelta(minutes=10)) -> Alert:
    """The alert's resolving version, ``after`` it fired (as ``AlertLifecycle.tick`` sets)."""
    ended = alert.fired_at + after
    return alert.model_copy(
        update={
            "state": AlertState.RESOLVED,
            "resolved_at": ended,
            "updated_at": ended,
            "version": alert.version + 1,
        }
    )
