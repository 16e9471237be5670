"""Receiver configs: where notifications go (Slack, PagerDuty, a signed webhook).

Each receiver has a unique name and exactly one integration. Secrets are
``SecretRef`` values (``${ENV}`` or ``file:PATH``), never inline.
"""

from __future__ import annotations

from typing import Self
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from alerting.secrets import SecretRef
from schemas.findings import Alert

_PLACEHOLDERS = ("alert_id", "detector", "scope", "dimension", "value")

SLACK_API_URL = "https://slack.com/api/"
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class LinkConfig(_Frozen):
    """Links put on every notification; ``{alert_id}``, ``{detector}``, ``{scope}``,
    ``{dimension}`` and ``{value}`` are filled in from the alert."""

    dashboard_url: str | None = None
    runbook_url: str | None = None

    def render(self, alert: Alert) -> dict[str, str]:
        """``{"dashboard": url, "runbook": url}`` for the links that are set."""
        values = {
            "alert_id": quote(alert.alert_id, safe=""),
            "detector": quote(alert.detector, safe=""),
            "scope": quote(alert.scope.name, safe=""),
            "dimension": alert.scope.dimension,
            "value": quote(alert.scope.value, safe=""),
        }
        links = {"dashboard": self.dashboard_url, "runbook": self.runbook_url}
        return {k: v.format_map(values) for k, v in links.items() if v}

    @field_validator("dashboard_url", "runbook_url")
    @classmethod
    def _placeholders_known(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                value.format_map(dict.fromkeys(_PLACEHOLDERS, ""))
            except (KeyError, ValueError, IndexError) as exc:
                raise ValueError(f"unknown placeholder {exc} in {value!r}") from None
        return value


NO_LINKS = LinkConfig()


class SlackConfig(_Frozen):
    """Slack via a bot token (``chat.postMessage``, updated on resolve) or an incoming
    webhook (a new message on resolve). ``team_channels`` picks the channel by the
    alert's ``team`` label; ``channel`` is the fallback."""

    token: SecretRef | None = None
    webhook_url: SecretRef | None = None
    channel: str | None = None
    team_channels: dict[str, str] = Field(default_factory=dict)
    api_url: HttpUrl = HttpUrl(SLACK_API_URL)
    min_interval_s: float = Field(1.0, ge=0, description="Pause between messages per channel")
    timeout_s: float = Field(10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _one_mode(self) -> Self:
        if (self.token is None) == (self.webhook_url is None):
            raise ValueError("set exactly one of token (bot) or webhook_url (incoming webhook)")
        if self.token is not None and not (self.channel or self.team_channels):
            raise ValueError("a bot token needs a channel or team_channels")
        return self


class PagerDutyConfig(_Frozen):
    """PagerDuty Events API v2; one incident per alert (``dedup_key`` = alert id)."""

    routing_key: SecretRef
    url: HttpUrl = HttpUrl(PAGERDUTY_EVENTS_URL)
    source: str = Field("spendwatch", min_length=1, max_length=255)
    min_interval_s: float = Field(0.5, ge=0, description="Pause between events (120/min)")
    timeout_s: float = Field(10.0, gt=0, le=300)


class WebhookConfig(_Frozen):
    """A JSON POST signed with HMAC-SHA256 over ``TIMESTAMP.BODY``."""

    url: HttpUrl
    secret: SecretRef
    timeout_s: float = Field(10.0, gt=0, le=300)


class ReceiverConfig(_Frozen):
    """A named destination with exactly one integration."""

    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")
    slack: SlackConfig | None = None
    pagerduty: PagerDutyConfig | None = None
    webhook: WebhookConfig | None = None
    links: LinkConfig = LinkConfig()

    @model_validator(mode="after")
    def _one_integration(self) -> Self:
        given = [k for k in ("slack", "pagerduty", "webhook") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"receiver {self.name!r} needs exactly one of slack, pagerduty or webhook"
                f" (got {', '.join(given) or 'none'})"
            )
        return self

    @property
    def kind(self) -> str:
        if self.slack is not None:
            return "slack"
        return "pagerduty" if self.pagerduty is not None else "webhook"
