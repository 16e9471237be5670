"""PagerDuty Events API v2: one incident per alert, triggered and resolved by ``dedup_key``.

``dedup_key`` is the alert id, so a replayed trigger lands on the same incident and a
resolve closes it. Payload limits are enforced here: summary at most 1,024 characters,
``dedup_key`` 255, the whole event under 512 KB (contributors are cut first). 202 is
accepted; 429 and 5xx are retried by the retry stage, 400 never. The routing key is
never in logs or errors.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import SecretStr

from alerting.delivery import SentEntry
from alerting.http_post import JsonPoster, classify_status
from alerting.pacer import ChannelPacer
from alerting.receiver_config import NO_LINKS, LinkConfig, PagerDutyConfig
from alerting.slack_blocks import clip
from schemas.findings import Alert, AlertState, Severity
from schemas.money import format_usd, usd_text

MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
MAX_EVENT_BYTES = 512 * 1024
SEVERITY = {
    Severity.CRITICAL: "critical",
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "info",
}


def pagerduty_event(
    alert: Alert, routing_key: str, source: str, links: dict[str, str]
) -> dict[str, Any]:
    """The Events v2 body for an alert: ``trigger`` while firing, ``resolve`` after."""
    dedup_key = alert.alert_id[:MAX_DEDUP_KEY]
    if alert.state is AlertState.RESOLVED:
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key}
    details: dict[str, Any] = {
        "alert_id": alert.alert_id,
        "scope": alert.scope.name,
        "measure": alert.measure,
        "observed": alert.observed,
        "expected": alert.expected,
        "impact_usd": usd_text(alert.impact_nanos),
        "fired_at": alert.fired_at.isoformat(),
        "version": alert.version,
        "labels": alert.labels,
        "top_contributors": [
            {"series": c.series, "cost_usd": usd_text(c.cost_nanos)} for c in alert.contributors
        ],
    }
    summary = f"{alert.detector} on {alert.scope.name}: {alert.summary}"
    if alert.impact_nanos:
        summary = f"{summary} (impact {format_usd(alert.impact_nanos)})"
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {
            "summary": clip(summary, MAX_SUMMARY),
            "source": clip(source, 255),
            "severity": SEVERITY[alert.severity],
            "timestamp": alert.updated_at.isoformat(),
            "component": alert.detector,
            "group": alert.labels.get("team", alert.scope.name),
            "class": alert.measure,
            "custom_details": details,
        },
        "links": [{"href": url, "text": name.capitalize()} for name, url in sorted(links.items())],
    }
    while len(orjson.dumps(event)) > MAX_EVENT_BYTES and details["top_contributors"]:
        details["top_contributors"] = details["top_contributors"][
            : len(details["top_contributors"]) // 2
        ]
    return event


class PagerDutyNotifier:
    def __init__(
        self, config: PagerDutyConfig, routing_key: SecretStr, links: LinkConfig = NO_LINKS
    ) -> None:
        self.config = config
        self.links = links
        self._routing_key = routing_key
        self._http = JsonPoster("PagerDuty", config.timeout_s)
        self.pacer = ChannelPacer(config.min_interval_s)

    async def notify(self, alert: Alert, previous: SentEntry | None) -> dict[str, str]:
        event = pagerduty_event(
            alert,
            self._routing_key.get_secret_value(),
            self.config.source,
            self.links.render(alert),
        )
        await self.pacer.wait("events")
        status, retry_after, body = await self._http.post(str(self.config.url), orjson.dumps(event))
        if status != 202:
            error = classify_status(status, "PagerDuty", retry_after)
            if status == 400:
                error.reason += f" ({_message(body)})"
            raise error
        return {"dedup_key": event["dedup_key"]}

    async def aclose(self) -> None:
        await self._http.aclose()


def _message(body: bytes) -> str:
    """PagerDuty's own explanation of a 400 (it never echoes the routing key)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "no details"
    errors = data.get("errors") or []
    return clip("; ".join([str(data.get("message", ""))] + [str(e) for e in errors]), 300)
