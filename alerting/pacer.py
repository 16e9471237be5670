"""Pacing per destination: Slack takes about one message per second per channel, and
PagerDuty about 120 events per minute per routing key."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from alerting.delivery import Sleep


class ChannelPacer:
    """At most one message per ``interval_s`` per channel (clock and sleep injected)."""

    def __init__(
        self,
        interval_s: float,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.interval_s = interval_s
        self.monotonic = monotonic
        self.sleep = sleep
        self._next: dict[str, float] = {}

    async def wait(self, channel: str) -> float:
        """Wait for the channel's turn; returns the seconds waited."""
        now = self.monotonic()
        turn = max(now, self._next.get(channel, now))
        self._next[channel] = turn + self.interval_s
        if turn > now:
            await self.sleep(turn - now)
        return turn - now
