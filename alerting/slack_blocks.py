"""The Block Kit message for an alert, within Slack's limits.

Header (title), a section of fields (severity, observed vs expected, dollar impact,
window), the summary, top contributors, and dashboard / runbook buttons. Limits are
enforced here, not left to Slack: at most 50 blocks, 3,000 characters per section
text, 2,000 per field, 10 fields, 150 per header and button text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.findings import Alert, AlertState
from schemas.money import format_usd

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_FIELD_CHARS = 2000
MAX_FIELDS = 10
MAX_HEADER_CHARS = 150
MAX_CONTRIBUTORS = 10
_ICON = {"critical": ":rotating_light:", "error": ":red_circle:", "warning": ":warning:"}


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, an ellipsis marking a cut.

    >>> clip("abcdef", 4)
    'abc…'
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


def title(alert: Alert) -> str:
    state = "RESOLVED" if alert.state is AlertState.RESOLVED else alert.severity.value.upper()
    return f"[{state}] {alert.detector} on {alert.scope.name}"


def fallback_text(alert: Alert) -> str:
    """The plain ``text`` of the message (notifications, screen readers)."""
    return clip(f"{title(alert)}: {alert.summary}", MAX_SECTION_CHARS)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _ratio(alert: Alert) -> str:
    if alert.expected > 0:
        return f" ({alert.observed / alert.expected:.1f}x)"
    return ""


def alert_blocks(alert: Alert, links: dict[str, str]) -> list[dict[str, Any]]:
    """Block Kit blocks for one alert (firing or resolved)."""
    resolved = alert.state is AlertState.RESOLVED
    icon = ":white_check_mark:" if resolved else _ICON.get(alert.severity.value, ":bell:")
    end = alert.resolved_at if resolved and alert.resolved_at else alert.updated_at
    fields = [
        f"*Severity*\n{alert.severity.value}",
        f"*Observed vs expected*\n{alert.observed:,.4g} vs {alert.expected:,.4g} "
        f"{alert.measure}{_ratio(alert)}",
        f"*Dollar impact*\n{format_usd(alert.impact_nanos)}",
        f"*Window*\n{_when(alert.fired_at)} → {_when(end)}"
        if resolved
        else f"*Window*\nsince {_when(alert.fired_at)}",
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": clip(f"{title(alert)}", MAX_HEADER_CHARS)},
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": clip(f, MAX_FIELD_CHARS)} for f in fields[:MAX_FIELDS]
            ],
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": clip(f"{icon} {alert.summary}", MAX_SECTION_CHARS)},
        },
    ]
    if alert.contributors:
        lines = [
            f"• `{c.series}` {format_usd(c.cost_nanos)}"
            for c in alert.contributors[:MAX_CONTRIBUTORS]
        ]
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": clip("*Top contributors*\n" + "\n".join(lines), MAX_SECTION_CHARS),
                },
            }
        )
    if links:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": name.capitalize()},
                        "url": url,
                        "action_id": f"open_{name}",
                    }
                    for name, url in sorted(links.items())
                ],
            }
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": clip(f"alert `{alert.alert_id}` v{alert.version}", 2000)}
            ],
        }
    )
    return blocks[:MAX_BLOCKS]
