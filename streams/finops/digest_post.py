"""Posting the weekly digests to Slack with slack-sdk, once or on a weekly schedule.

The token is kept in a ``SecretStr`` and never printed; Slack's rate limits are honoured
by slack-sdk's ``RateLimitErrorRetryHandler`` (it waits for ``Retry-After``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from schemas.findings import Alert
from streams.finops.digest import DigestSchedule, digest_teams, team_digest
from streams.finops.inputs import FinOpsInputs
from streams.finops.ledger import Ledger


def _channels(specs: Sequence[str]) -> dict[str, str]:
    out = {}
    for spec in specs:
        team, sep, channel = spec.partition("=")
        if not sep or not team or not channel:
            raise ValueError(f"--channel {spec!r}: expected TEAM=CHANNEL, e.g. search=#search")
        out[team] = channel
    return out


@dataclass(frozen=True)
class DigestJob:
    channels: dict[str, str]
    default_channel: str | None
    teams: tuple[str, ...]
    inputs: FinOpsInputs
    base_url: str
    token: SecretStr | None
    dry_run: bool

    @classmethod
    def build(
        cls,
        channels: Sequence[str],
        default_channel: str | None,
        teams: Sequence[str],
        inputs: FinOpsInputs,
        base_url: str,
        token: str | None,
        dry_run: bool,
    ) -> DigestJob:
        if not dry_run and not token:
            raise ValueError("SPENDWATCH_SLACK_TOKEN is not set (or use --dry-run)")
        mapping = _channels(channels)
        if not dry_run and default_channel is None and not mapping:
            raise ValueError("name where digests go: --channel TEAM=CHANNEL or --default-channel")
        return cls(mapping, default_channel, tuple(teams), inputs, base_url,
                   SecretStr(token) if token else None, dry_run)  # fmt: skip

    def messages(
        self, ledger: Ledger, alerts: Sequence[Alert], at: datetime
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(channel, message) for every team that has a channel."""
        for team in self.teams or tuple(digest_teams(ledger, at)):
            channel = self.channels.get(team, self.default_channel)
            if channel is None and not self.dry_run:
                continue
            budget = self.inputs.budgets.get(f"team={team}")
            yield channel or "", team_digest(ledger, team, at, budget, alerts)

    def post(self, ledger: Ledger, alerts: Sequence[Alert], at: datetime) -> Iterator[str]:
        """Post (or print, on a dry run) each digest; yield one line per message."""
        if self.dry_run:
            for channel, message in self.messages(ledger, alerts, at):
                yield json.dumps({"channel": channel, **message})
            return
        assert self.token is not None
        client = WebClient(
            token=self.token.get_secret_value(),
            base_url=self.base_url,
            retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=3)],
        )
        for channel, message in self.messages(ledger, alerts, at):
            try:
                client.chat_postMessage(channel=channel, text=message["text"],
                                        blocks=message["blocks"])  # fmt: skip
            except SlackApiError as exc:
                error = exc.response.get("error", "unknown error")
                raise RuntimeError(f"Slack refused the digest for {channel}: {error}") from exc
            yield f"posted {message['text']!r} to {channel}"


def run_schedule(
    spec: str, job: Callable[[datetime], None], sleep: Callable[[float], None] = time.sleep
) -> None:
    """Run ``job`` at every scheduled time, forever."""
    schedule = DigestSchedule.parse(spec)
    while True:
        due = schedule.next_after(datetime.now(UTC))
        sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
        job(due)
