"""Hand-made usage traffic for integration tests: calls spread over one minute."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any


def minute_of_calls(
    make_event: Callable[..., dict[str, Any]],
    key: str,
    at: datetime,
    calls: int,
    usd: str,
    **fields: Any,
) -> list[dict[str, Any]]:
    """``calls`` events of key ``key`` (team ``agents``, app ``app-<key>``) from ``at`` on."""
    return [
        make_event(
            api_key_id=key,
            team="agents",
            app=f"app-{key}",
            timestamp=(at + timedelta(seconds=i * 60 // calls)).isoformat(),
            cost_usd=usd,
            **fields,
        )
        for i in range(calls)
    ]
