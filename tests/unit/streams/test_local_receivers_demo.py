"""The demo's routing config reaches the local servers through the real notifiers."""

from __future__ import annotations

from pathlib import Path

from alerting.config import AlertingConfig
from alerting.matchers import alert_labels
from alerting.pipeline import build_notifier
from alerting.routing import Router
from alerting.secrets import find_inline_secrets
from streams.local_receivers import FakePagerDuty, FakeSlack, FakeWebhook
from streams.local_receivers_demo import local_alerting_config
from tests.unit.alerting.conftest import build_alert


async def test_the_demo_config_delivers_to_every_local_server(
    fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty, fake_webhook: FakeWebhook, tmp_path: Path
) -> None:
    raw = local_alerting_config(fake_slack, fake_pagerduty, fake_webhook, tmp_path / "secrets")
    assert find_inline_secrets(raw) == []
    assert (tmp_path / "secrets" / "slack-token").stat().st_mode & 0o077 == 0
    config = AlertingConfig.model_validate(raw)
    page = build_alert(severity="critical")
    routed = [m.receiver for m in Router(config.routes).match(alert_labels(page))]
    assert routed == ["pagerduty", "webhook", "slack"]
    for receiver in config.receivers:
        notifier = build_notifier(receiver, environ={})
        try:
            await notifier.notify(page, None)
        finally:
            await notifier.aclose()
    assert len(fake_slack.posted()) == 1
    assert list(fake_pagerduty.incidents) == [page.alert_id]
    assert len(fake_webhook.accepted) == 1
