"""Shared fixtures. Integration fixtures live in tests/integration/conftest.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from streams.local_receivers import FakePagerDuty, FakeSlack, FakeWebhook


@pytest.fixture
def make_event() -> Callable[..., dict[str, Any]]:
    """Factory of valid usage events (as JSON-ready dicts); override any field by keyword."""

    def make(**overrides: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "event_id": uuid.uuid4().hex,
            "timestamp": datetime.now(UTC).isoformat(),
            "provider": "openai",
            "model": "gpt-4o",
            "api_key_id": "key-1",
            "input_tokens": 1200,
            "output_tokens": 300,
            "team": "search",
            "app": "search-rerank",
        }
        event.update(overrides)
        return {k: v for k, v in event.items() if v is not None}

    return make


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """A local Slack Web API (and incoming webhook) on a free port."""
    async with FakeSlack() as server:
        yield server


@pytest.fixture
async def fake_pagerduty() -> AsyncIterator[FakePagerDuty]:
    """A local PagerDuty Events API v2 on a free port."""
    async with FakePagerDuty() as server:
        yield server


@pytest.fixture
async def fake_webhook() -> AsyncIterator[FakeWebhook]:
    """A local receiver of signed spendwatch webhooks on a free port."""
    async with FakeWebhook() as server:
        yield server
