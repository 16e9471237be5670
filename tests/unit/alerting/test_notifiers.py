"""Receivers against the local Slack, PagerDuty and webhook servers, through the real
slack-sdk and aiohttp clients."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from pydantic import SecretStr

from alerting.delivery import DeliveryError, SentEntry
from alerting.pacer import ChannelPacer
from alerting.pagerduty_notifier import PagerDutyNotifier, pagerduty_event
from alerting.receiver_config import LinkConfig, PagerDutyConfig, SlackConfig, WebhookConfig
from alerting.slack_blocks import MAX_BLOCKS, MAX_SECTION_CHARS, alert_blocks
from alerting.slack_notifier import SlackNotifier
from alerting.webhook_notifier import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookNotifier, sign
from schemas.findings import Alert, AlertState, Contributor
from streams.local_receivers import FakePagerDuty, FakeSlack, FakeWebhook
from tests.unit.alerting.conftest import T0

LINKS = LinkConfig(
    dashboard_url="https://dash.example/alerts/{alert_id}",
    runbook_url="https://runbooks.example/{detector}",
)


def slack_bot(fake: FakeSlack, token: str | None = None, **config: object) -> SlackNotifier:
    slack = SlackConfig.model_validate(
        {"token": "${SLACK_TOKEN}", "api_url": fake.api_url, "channel": "#spend", **config}
    )
    pacer = ChannelPacer(0.0)
    return SlackNotifier(slack, SecretStr(token or fake.token), LINKS, pacer)


def sent(alert: Alert, ref: dict[str, str], receiver: str = "r") -> SentEntry:
    return SentEntry(receiver, alert.alert_id, alert.version, alert.state, "f", T0, ref)


async def test_slack_posts_block_kit_then_updates_the_same_message_on_resolve(
    fake_slack: FakeSlack, make_alert: Callable[..., Alert]
) -> None:
    notifier = slack_bot(fake_slack, team_channels={"search": "#search-oncall"})
    firing = make_alert()
    ref = await notifier.notify(firing, None)
    assert ref["channel"] == "#search-oncall"
    (message,) = fake_slack.posted()
    assert message.ts == ref["ts"]
    text = str(message.blocks)
    for expected in (
        "spike on team=search",
        "warning",
        "12.5 vs 1.25 usd_per_minute (10.0x)",
        "$1,234.56",
        "api_key_id=k-1",
        "https://dash.example/alerts/spike%3Ateam%3Dsearch",
        "https://runbooks.example/spike",
        "since 2026-11-29 12:00 UTC",
    ):
        assert expected in text
    resolved = make_alert(state=AlertState.RESOLVED, version=2, resolved_at=T0)
    assert await notifier.notify(resolved, sent(firing, ref)) == ref
    (message,) = fake_slack.posted()
    assert message.updates == 1
    assert "RESOLVED" in message.text and "2026-11-29 12:00 UTC → " in str(message.blocks)


async def test_slack_reminders_reply_in_the_thread_and_a_refire_posts_anew(
    fake_slack: FakeSlack, make_alert: Callable[..., Alert]
) -> None:
    notifier = slack_bot(fake_slack)
    firing = make_alert()
    ref = await notifier.notify(firing, None)
    assert await notifier.notify(firing, sent(firing, ref)) == ref
    (reply,) = fake_slack.replies(ref["ts"])
    assert reply.text.startswith("Still firing:")
    assert len(fake_slack.posted()) == 1 and fake_slack.posted()[0].updates == 0
    resolved = make_alert(state=AlertState.RESOLVED, version=2, resolved_at=T0)
    refired = make_alert(version=3)
    new_ref = await notifier.notify(refired, sent(resolved, ref))
    assert new_ref["ts"] != ref["ts"]
    assert len(fake_slack.posted()) == 2


@pytest.mark.parametrize(
    ("status", "retry_after", "retryable", "wait"),
    [
        (429, 7, True, 7.0),
        (500, None, True, None),
        (503, None, True, None),
        (400, None, False, None),
    ],
)
async def test_slack_http_failures_are_classified(
    fake_slack: FakeSlack,
    make_alert: Callable[..., Alert],
    status: int,
    retry_after: float | None,
    retryable: bool,
    wait: float | None,
) -> None:
    fake_slack.misbehave(status=status, retry_after=retry_after)
    with pytest.raises(DeliveryError) as caught:
        await slack_bot(fake_slack).notify(make_alert(), None)
    assert caught.value.retryable is retryable
    assert caught.value.retry_after == wait
    assert fake_slack.posted() == []


async def test_slack_api_errors_are_final_and_never_show_the_token(
    fake_slack: FakeSlack, make_alert: Callable[..., Alert], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "xoxb-wrong-token-123"
    with pytest.raises(DeliveryError, match="invalid_auth") as caught:
        await slack_bot(fake_slack, token=wrong).notify(make_alert(), None)
    assert caught.value.retryable is False
    assert wrong not in str(caught.value)
    assert fake_slack.token not in caplog.text


async def test_slack_timeout_is_retryable(
    fake_slack: FakeSlack, make_alert: Callable[..., Alert]
) -> None:
    fake_slack.misbehave(stall_s=2.5)
    notifier = slack_bot(fake_slack, timeout_s=1)
    with pytest.raises(DeliveryError, match="unreachable") as caught:
        await notifier.notify(make_alert(), None)
    assert caught.value.retryable is True


async def test_slack_incoming_webhook_mode(
    fake_slack: FakeSlack, make_alert: Callable[..., Alert], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = SlackConfig.model_validate({"webhook_url": "${SLACK_WEBHOOK}"})
    notifier = SlackNotifier(config, SecretStr(fake_slack.webhook_url), LINKS, ChannelPacer(0))
    await notifier.notify(make_alert(), None)
    (post,) = fake_slack.webhook_posts
    assert post["blocks"][0]["type"] == "header"
    fake_slack.misbehave(status=429, retry_after=3)
    with pytest.raises(DeliveryError) as caught:
        await notifier.notify(make_alert(), None)
    assert caught.value.retry_after == 3.0
    assert fake_slack.webhook_path not in str(caught.value)
    assert fake_slack.webhook_path not in caplog.text


def test_block_kit_limits_hold_for_huge_alerts(make_alert: Callable[..., Alert]) -> None:
    alert = make_alert(
        summary="x" * 5000,
        contributors=tuple(
            Contributor(series=f"api_key_id={'k' * 240}{i}", cost_nanos=i) for i in range(400)
        ),
    )
    blocks = alert_blocks(alert, {"runbook": "https://r"})
    assert len(blocks) <= MAX_BLOCKS
    for block in blocks:
        if "text" in block and block["type"] == "section":
            assert len(block["text"]["text"]) <= MAX_SECTION_CHARS
        for field in block.get("fields", []):
            assert len(field["text"]) <= 2000


async def test_channel_pacer_spaces_messages_per_channel() -> None:
    now = [100.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    pacer = ChannelPacer(1.0, monotonic=lambda: now[0], sleep=sleep)
    assert [await pacer.wait("#a"), await pacer.wait("#a"), await pacer.wait("#b")] == [0, 1, 0]
    now[0] += 5
    assert await pacer.wait("#a") == 0
    assert waits == [1.0]


def pagerduty(fake: FakePagerDuty, key: str | None = None) -> PagerDutyNotifier:
    config = PagerDutyConfig.model_validate(
        {"routing_key": "${PD_KEY}", "url": fake.events_url, "timeout_s": 1, "min_interval_s": 0}
    )
    return PagerDutyNotifier(config, SecretStr(key or fake.routing_key), LINKS)


async def test_pagerduty_triggers_and_resolves_one_incident(
    fake_pagerduty: FakePagerDuty, make_alert: Callable[..., Alert]
) -> None:
    notifier = pagerduty(fake_pagerduty)
    firing = make_alert(severity="critical")
    try:
        ref = await notifier.notify(firing, None)
        await notifier.notify(firing, None)
        assert ref == {"dedup_key": firing.alert_id}
        (incident,) = fake_pagerduty.incidents.values()
        assert (incident.status, incident.severity, incident.triggers) == (
            "triggered",
            "critical",
            2,
        )
        await notifier.notify(make_alert(state=AlertState.RESOLVED, version=2), None)
        assert incident.status == "resolved"
        assert [e["dedup_key"] for e in fake_pagerduty.events] == [firing.alert_id] * 3
        trigger = fake_pagerduty.events[0]
        assert trigger["payload"]["custom_details"]["impact_usd"] == "1234.560000000"
        assert trigger["links"][0]["href"].startswith("https://dash.example/")
    finally:
        await notifier.aclose()


@pytest.mark.parametrize(
    ("status", "retry_after", "retryable", "wait"),
    [
        (429, 2, True, 2.0),
        (429, None, True, None),
        (500, None, True, None),
        (502, None, True, None),
        (400, None, False, None),
    ],
)
async def test_pagerduty_failures_are_classified(
    fake_pagerduty: FakePagerDuty,
    make_alert: Callable[..., Alert],
    status: int,
    retry_after: float | None,
    retryable: bool,
    wait: float | None,
) -> None:
    notifier = pagerduty(fake_pagerduty)
    fake_pagerduty.misbehave(status=status, retry_after=retry_after)
    try:
        with pytest.raises(DeliveryError) as caught:
            await notifier.notify(make_alert(), None)
    finally:
        await notifier.aclose()
    assert (caught.value.retryable, caught.value.retry_after) == (retryable, wait)


async def test_pagerduty_400_is_final_and_hides_the_routing_key(
    fake_pagerduty: FakePagerDuty, make_alert: Callable[..., Alert]
) -> None:
    wrong = "W" * 32
    notifier = pagerduty(fake_pagerduty, key=wrong)
    try:
        with pytest.raises(DeliveryError, match=r"HTTP 400.*routing_key' is invalid") as caught:
            await notifier.notify(make_alert(), None)
    finally:
        await notifier.aclose()
    assert caught.value.retryable is False
    assert wrong not in str(caught.value)


def test_pagerduty_payload_limits(make_alert: Callable[..., Alert]) -> None:
    alert = make_alert(
        alert_id="a" * 128,
        summary="s" * 1024,
        contributors=tuple(Contributor(series="k" * 5000, cost_nanos=i) for i in range(200)),
    )
    event = pagerduty_event(alert, "R", "spendwatch", {})
    assert len(event["payload"]["summary"]) == 1024
    assert len(event["dedup_key"]) <= 255
    import orjson

    assert len(orjson.dumps(event)) <= 512 * 1024
    assert event["payload"]["custom_details"]["top_contributors"]


async def test_pagerduty_timeout_is_retryable(
    fake_pagerduty: FakePagerDuty, make_alert: Callable[..., Alert]
) -> None:
    notifier = pagerduty(fake_pagerduty)
    fake_pagerduty.misbehave(stall_s=2)
    try:
        with pytest.raises(DeliveryError, match="PagerDuty unreachable") as caught:
            await notifier.notify(make_alert(), None)
    finally:
        await notifier.aclose()
    assert caught.value.retryable


async def test_webhook_is_signed_and_verified(
    fake_webhook: FakeWebhook, make_alert: Callable[..., Alert]
) -> None:
    config = WebhookConfig.model_validate({"url": fake_webhook.url, "secret": "${HOOK}"})
    good = WebhookNotifier(config, SecretStr(fake_webhook.secret), wall_clock=lambda: 1700)
    forged = WebhookNotifier(config, SecretStr("not-the-secret"))
    try:
        await good.notify(make_alert(), None)
        with pytest.raises(DeliveryError, match="HTTP 401") as caught:
            await forged.notify(make_alert(), None)
    finally:
        await good.aclose()
        await forged.aclose()
    assert caught.value.retryable is False
    (body,) = fake_webhook.accepted
    assert body["status"] == "firing" and body["alert"]["impact_nanos"] == 1_234_560_000_000
    first = fake_webhook.received[0]
    assert first.headers[TIMESTAMP_HEADER] == "1700"
    assert first.headers[SIGNATURE_HEADER] == sign(fake_webhook.secret.encode(), "1700", first.body)
