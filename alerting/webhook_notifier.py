"""A generic JSON webhook, signed so the receiver can trust it.

Body: ``{"version": 1, "status": "firing"|"resolved", "alert": {...}}``. Headers:
``X-Spendwatch-Timestamp`` (unix seconds) and ``X-Spendwatch-Signature:
sha256=HEX`` where HEX is HMAC-SHA256 of ``TIMESTAMP.BODY`` under the shared secret, so a
receiver can reject forgeries and replays. Any 2xx is accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

import orjson
from pydantic import SecretStr

from alerting.delivery import SentEntry
from alerting.http_post import JsonPoster, classify_status
from alerting.receiver_config import NO_LINKS, LinkConfig, WebhookConfig
from schemas.findings import Alert

SIGNATURE_HEADER = "X-Spendwatch-Signature"
TIMESTAMP_HEADER = "X-Spendwatch-Timestamp"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value.

    >>> sign(b"k", "1", b"{}")[:14]
    'sha256=3dd49b2'
    """
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver runs (constant-time compare)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookNotifier:
    def __init__(
        self,
        config: WebhookConfig,
        secret: SecretStr,
        links: LinkConfig = NO_LINKS,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.links = links
        self._secret = secret
        self._wall_clock = wall_clock
        self._http = JsonPoster("webhook", config.timeout_s)

    async def notify(self, alert: Alert, previous: SentEntry | None) -> dict[str, str]:
        body = orjson.dumps(
            {
                "version": 1,
                "status": alert.state.value,
                "alert": alert.model_dump(mode="json"),
                "links": self.links.render(alert),
            }
        )
        timestamp = str(int(self._wall_clock()))
        headers = {
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret.get_secret_value().encode(), timestamp, body),
        }
        status, retry_after, _ = await self._http.post(str(self.config.url), body, headers)
        if not 200 <= status < 300:
            raise classify_status(status, "webhook", retry_after)
        return {"status": "accepted"}

    async def aclose(self) -> None:
        await self._http.aclose()
