"""Event minutes of plainly valid timestamps, for the decoder's fast path.

A timestamp is an RFC 3339 string (``Z`` or a numeric offset, up to six fractional
digits) or integer epoch milliseconds; anything else, or one further in the future or
the past than the limits allow, gets None and the event takes the model's path, which
says why. The epoch second of a string's first 19 characters and zone is cached, so the
usual message (thousands of events in a few seconds) parses each second once.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_EPOCH_MS = 32_503_680_000_000
_RFC3339 = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}):([0-5][0-9])(?:\.([0-9]{1,6}))?"
    r"(Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)


class EventMinutes:
    """Epoch minute of an event's ``timestamp``, inside ``skew_us`` ahead of and
    ``age_us`` behind the message's "now"."""

    def __init__(self, skew_us: int, age_us: int) -> None:
        self._skew_us = skew_us
        self._age_us = age_us
        self._seconds: dict[str, int] = {}
        """Epoch second by a timestamp's first 19 chars plus its zone."""

    def minute(self, value: Any, now_us: int) -> int | None:
        """Event minute when the timestamp is plainly valid and inside the limits."""
        if type(value) is int:
            if not 0 <= value <= _MAX_EPOCH_MS:
                return None
            at_us = value * 1000
        elif type(value) is str:
            size = len(value)
            if size < 20:
                return None
            zone_at = size - 1 if value[-1] == "Z" else size - 6
            head = value[:19] + value[zone_at:]
            second = self._seconds.get(head)
            if second is None:
                second = self._first_second(value, head)
                if second is None:
                    return None
            if zone_at == 19:
                at_us = second * 1_000_000
            else:
                fraction = value[20:zone_at]
                if value[19] != "." or not 0 < len(fraction) <= 6 or not fraction.isdecimal():
                    return None
                if not fraction.isascii():
                    return None
                at_us = second * 1_000_000 + int(fraction.ljust(6, "0"))
        else:
            return None
        if at_us - now_us > self._skew_us or now_us - at_us > self._age_us:
            return None
        return at_us // 60_000_000

    def _first_second(self, value: str, head: str) -> int | None:
        """Epoch second of a timestamp string's first 19 chars and zone, checked in full."""
        if _RFC3339.fullmatch(value) is None:
            return None
        try:
            when = datetime.fromisoformat(head)
        except ValueError:
            return None
        second = (when - _EPOCH) // timedelta(seconds=1)
        if len(self._seconds) >= 200_000:
            self._seconds.clear()
        self._seconds[head] = second
        return second
