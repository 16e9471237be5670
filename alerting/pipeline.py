"""Assembly: a notifier per receiver, and each receiver's stages in Alertmanager's order
(mute by inhibitor, mute by silencer, dedup, retry, record-sent)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from alerting.dedup_stage import DedupStage
from alerting.delivery import Clock, Notifier, Pipeline, SendRecord, Sleep
from alerting.inhibit_stage import Inhibitor, InhibitStage
from alerting.pagerduty_notifier import PagerDutyNotifier
from alerting.receiver_config import ReceiverConfig
from alerting.record_sent_stage import RecordSentStage
from alerting.retry_stage import DEFAULT_BACKOFF, Backoff, RetryStage
from alerting.silence_stage import SilenceBook, SilenceStage
from alerting.slack_notifier import SlackNotifier
from alerting.webhook_notifier import WebhookNotifier


def build_notifier(receiver: ReceiverConfig, environ: Mapping[str, str] | None = None) -> Notifier:
    """The notifier for a receiver, its secret read now (errors name the reference only)."""
    if receiver.slack is not None:
        ref = receiver.slack.token or receiver.slack.webhook_url
        assert ref is not None
        return SlackNotifier(receiver.slack, ref.resolve(environ), receiver.links)
    if receiver.pagerduty is not None:
        key = receiver.pagerduty.routing_key.resolve(environ)
        return PagerDutyNotifier(receiver.pagerduty, key, receiver.links)
    assert receiver.webhook is not None
    secret = receiver.webhook.secret.resolve(environ)
    return WebhookNotifier(receiver.webhook, secret, receiver.links)


@dataclass(frozen=True, slots=True)
class StageKit:
    """What every receiver's stages share: the inhibitor, the silences, the send record,
    the clock, the sleep and the backoff."""

    inhibitor: Inhibitor
    silences: SilenceBook
    record: SendRecord
    clock: Clock
    sleep: Sleep = asyncio.sleep
    backoff: Backoff = DEFAULT_BACKOFF

    def pipeline(self, notifier: Notifier) -> Pipeline:
        """A receiver's stages in order around its notifier."""
        return Pipeline(
            [
                InhibitStage(self.inhibitor),
                SilenceStage(self.silences, self.clock),
                DedupStage(self.record, self.clock),
                RetryStage(notifier, self.record, self.clock, self.sleep, self.backoff),
                RecordSentStage(self.record, self.clock),
            ]
        )
