"""Slack through slack-sdk: ``chat.postMessage`` when an alert fires, ``chat.update`` of
the same message when it changes or resolves, a reply in its thread (broadcast to the
channel) as a reminder while it keeps firing; or an incoming webhook (a new message
each time, since webhooks cannot edit).

The channel comes from the alert's ``team`` label (``team_channels``) or the default
``channel``. Messages to one channel are paced (about one per second, Slack's limit).
slack-sdk's own retry handlers are off: the retry stage owns retries, reading 429's
``Retry-After`` from the ``DeliveryError`` raised here. Errors never hold the token or
the webhook URL.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from pydantic import SecretStr
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from alerting.delivery import DeliveryError, SentEntry
from alerting.http_post import classify_status
from alerting.pacer import ChannelPacer
from alerting.receiver_config import NO_LINKS, LinkConfig, SlackConfig
from alerting.slack_blocks import alert_blocks, fallback_text
from schemas.findings import Alert, AlertState

_SDK_LOG = logging.getLogger(f"{__name__}.sdk")
_SDK_LOG.setLevel(logging.INFO)
"""slack-sdk logs request URLs at DEBUG, and an incoming-webhook URL is a secret."""


class SlackNotifier:
    def __init__(
        self,
        config: SlackConfig,
        secret: SecretStr,
        links: LinkConfig = NO_LINKS,
        pacer: ChannelPacer | None = None,
    ) -> None:
        self.config = config
        self.links = links
        self.pacer = pacer or ChannelPacer(config.min_interval_s)
        timeout = int(max(1, round(config.timeout_s)))
        self._web: AsyncWebClient | None = None
        self._hook: AsyncWebhookClient | None = None
        if config.token is not None:
            self._web = AsyncWebClient(
                token=secret.get_secret_value(),
                base_url=str(config.api_url),
                timeout=timeout,
                retry_handlers=[],
                logger=_SDK_LOG,
            )
        else:
            self._hook = AsyncWebhookClient(
                url=secret.get_secret_value(), timeout=timeout, retry_handlers=[], logger=_SDK_LOG
            )

    def channel_for(self, alert: Alert) -> str:
        team = alert.labels.get("team") or (
            alert.scope.value if alert.scope.dimension == "team" else ""
        )
        channel = self.config.team_channels.get(team) or self.config.channel
        if channel is None:
            raise DeliveryError(f"no Slack channel for team {team!r}", retryable=False)
        return channel

    async def notify(self, alert: Alert, previous: SentEntry | None) -> dict[str, str]:
        blocks = alert_blocks(alert, self.links.render(alert))
        text = fallback_text(alert)
        if self._hook is not None:
            await self.pacer.wait("webhook")
            return await self._send_webhook(self._hook, text, blocks)
        assert self._web is not None
        try:
            return await self._send_api(self._web, alert, previous, text, blocks)
        except SlackApiError as exc:
            raise self._api_error(exc) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            reason = f"Slack unreachable: {type(exc).__name__}"
            raise DeliveryError(reason, retryable=True) from None

    async def _send_api(
        self,
        web: AsyncWebClient,
        alert: Alert,
        previous: SentEntry | None,
        text: str,
        blocks: list[dict[str, Any]],
    ) -> dict[str, str]:
        """Post a new message; or, for an alert whose message is still up, update it on a
        change and reply in its thread (broadcast to the channel) for a reminder."""
        if previous is None or previous.state is AlertState.RESOLVED or "ts" not in previous.ref:
            channel = self.channel_for(alert)
            await self.pacer.wait(channel)
            reply = await web.chat_postMessage(channel=channel, text=text, blocks=blocks)
            return {"channel": str(reply.get("channel", channel)), "ts": str(reply["ts"])}
        channel, ts = previous.ref["channel"], previous.ref["ts"]
        await self.pacer.wait(channel)
        if previous.version == alert.version and previous.state is alert.state:
            await web.chat_postMessage(
                channel=channel,
                thread_ts=ts,
                reply_broadcast=True,
                text=f"Still firing: {text}",
                blocks=blocks,
            )
        else:
            await web.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        return {"channel": channel, "ts": ts}

    @staticmethod
    def _api_error(exc: SlackApiError) -> DeliveryError:
        status = int(exc.response.status_code)
        if status == 200:
            error = str(exc.response.get("error", "unknown_error"))
            transient = error in {
                "ratelimited",
                "internal_error",
                "fatal_error",
                "service_unavailable",
            }
            return DeliveryError(f"Slack API error {error}", retryable=transient)
        return classify_status(status, "Slack API", exc.response.headers.get("Retry-After"))

    @staticmethod
    async def _send_webhook(
        hook: AsyncWebhookClient, text: str, blocks: list[dict[str, object]]
    ) -> dict[str, str]:
        try:
            reply = await hook.send(text=text, blocks=blocks)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DeliveryError(
                f"Slack webhook unreachable: {type(exc).__name__}", retryable=True
            ) from None
        if reply.status_code != 200:
            raise classify_status(
                reply.status_code, "Slack webhook", reply.headers.get("Retry-After")
            )
        return {"webhook": "sent"}

    async def aclose(self) -> None:
        """slack-sdk opens a session per request; nothing to close."""
