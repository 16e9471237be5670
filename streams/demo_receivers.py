"""The demo's local Slack and PagerDuty receivers, and the one check of its outcome.

The fake Slack and PagerDuty servers (real HTTP, their real protocols) come from
``streams.local_receivers``. Until that module is part of this build, the demo runs
without them: ``start_receivers`` reports that none are running, ``slack_messages``
returns what the local Slack received (nothing), and ``demo --for`` exits 1. Wiring
them in touches only the two functions below.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any

LOCAL_RECEIVERS_MODULE = "streams.local_receivers"


@dataclass
class DemoReceivers:
    """Where the local receivers listen (None: not running) and how to stop them."""

    slack_api_url: str | None = None
    pagerduty_url: str | None = None
    handles: list[Any] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.slack_api_url is not None

    def describe(self) -> str:
        if not self.running:
            return f"not in this build ({LOCAL_RECEIVERS_MODULE} is missing): no alert can arrive"
        return f"Slack {self.slack_api_url}, PagerDuty {self.pagerduty_url}"

    def stop(self) -> None:
        for handle in reversed(self.handles):
            handle.stop()
        self.handles.clear()


def receivers_available() -> bool:
    return importlib.util.find_spec(LOCAL_RECEIVERS_MODULE) is not None


def start_receivers() -> DemoReceivers:
    """Start the local Slack and PagerDuty servers on free ports (when they are built in)."""
    return DemoReceivers()


def slack_messages(receivers: DemoReceivers) -> list[dict[str, Any]]:
    """Every message the local Slack receiver accepted so far (``channel``, ``text``, ...)."""
    return []


def alert_arrived(receivers: DemoReceivers) -> bool:
    """The demo's verdict: did the injected incident reach the local Slack receiver?"""
    return bool(slack_messages(receivers))
