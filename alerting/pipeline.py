"""Assembly: a notifier per receiver, and each receiver's stages in Alertmanager's order
(mute by inhibitor, mute by silencer, correlate, dedup, retry, record-sent)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from alerting.correlate_stage import CorrelateStage
from alerting.correlation import correlated_fingerprint
from alerting.dedup_stage import DedupStage
from alerting.delivery import Clock, Notifier, Pipeline, SendRecord, Sleep, Stage
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
    the clock, the sleep, the backoff and (when given) the correlation stage."""

    inhibitor: Inhibitor
    silences: SilenceBook
    record: SendRecord
    clock: Clock
    sleep: Sleep = asyncio.sleep
    backoff: Backoff = DEFAULT_BACKOFF
    correlate: CorrelateStage | None = None

    def pipeline(self, notifier: Notifier) -> Pipeline:
        """A receiver's stages in order around its notifier."""
        stages: list[Stage] = [
            InhibitStage(self.inhibitor),
            SilenceStage(self.silences, self.clock),
        ]
        if self.correlate is not None:
            stages.append(self.correlate)
        fingerprint = correlated_fingerprint
        stages += [
            DedupStage(self.record, self.clock, fingerprint),
            RetryStage(notifier, self.record, self.clock, self.sleep, self.backoff),
            RecordSentStage(self.record, self.clock, fingerprint),
        ]
        return Pipeline(stages)
