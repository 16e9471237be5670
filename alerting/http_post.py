"""How the HTTP receivers post and read an answer: accepted, retry (and when), or never."""

from __future__ import annotations

import aiohttp

from alerting.delivery import DeliveryError


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds (the delta-seconds form; an HTTP date counts as absent).

    >>> retry_after_seconds("7"), retry_after_seconds(None)
    (7.0, None)
    """
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def classify_status(status: int, what: str, retry_after: str | None = None) -> DeliveryError:
    """The error for a refused request: 408, 429 and 5xx retry, other 4xx never do.

    >>> classify_status(429, "x", "3").retry_after, classify_status(400, "x").retryable
    (3.0, False)
    """
    retryable = status in (408, 429) or status >= 500
    return DeliveryError(
        f"{what}: HTTP {status}",
        retryable=retryable,
        retry_after=retry_after_seconds(retry_after) if status == 429 else None,
    )


class JsonPoster:
    """POSTs JSON over one pooled aiohttp session; unreachable or slow receivers become
    retryable ``DeliveryError``s named by ``what`` (never by URL, which may hold a secret)."""

    def __init__(self, what: str, timeout_s: float) -> None:
        self.what = what
        self.timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    async def post(
        self, url: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, str | None, bytes]:
        """``(status, Retry-After, body)`` of the answer."""
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.timeout_s)
            self._session = aiohttp.ClientSession(timeout=timeout)
        sent = {"Content-Type": "application/json", **(headers or {})}
        try:
            async with self._session.post(url, data=body, headers=sent) as reply:
                return reply.status, reply.headers.get("Retry-After"), await reply.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            reason = f"{self.what} unreachable: {type(exc).__name__}"
            raise DeliveryError(reason, retryable=True) from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
