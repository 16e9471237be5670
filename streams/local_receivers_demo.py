"""The local Slack, PagerDuty and webhook servers for a demo, with a routing config.

``python -m streams.local_receivers_demo --config-out DIR/alerting.yaml`` starts the
three servers of ``streams/local_receivers.py`` on free ports, prints their URLs, and
writes a routing config for ``spendwatch notifier --config DIR/alerting.yaml`` whose
(fake) secrets live in files under ``DIR/secrets/``. Ctrl-C stops them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path
from typing import Any

import yaml

from streams.local_receivers import FakePagerDuty, FakeSlack, FakeWebhook

PAGES = "severity=~critical|error"


def local_alerting_config(
    slack: FakeSlack, pagerduty: FakePagerDuty, hook: FakeWebhook, secrets_dir: Path
) -> dict[str, Any]:
    """A routing config that sends every alert to the local Slack (``#spend-alerts``),
    pages (critical, error) to the local PagerDuty and posts everything to the local
    webhook, with group_wait 0s; the fake secrets go to files in ``secrets_dir``."""
    secrets_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, value in (
        ("slack-token", slack.token),
        ("pagerduty-key", pagerduty.routing_key),
        ("webhook-secret", hook.secret),
    ):
        path = secrets_dir / name
        path.write_text(value + "\n", encoding="utf-8")
        path.chmod(0o600)
        files[name] = f"file:{path.resolve()}"
    return {
        "routes": {
            "receiver": "slack",
            "group_by": ["team"],
            "group_wait": "0s",
            "group_interval": "1m",
            "routes": [
                {
                    "matchers": ["severity=~critical|error"],
                    "receiver": "pagerduty",
                    "continue": True,
                },
                {"receiver": "webhook", "continue": True},
                {"receiver": "slack"},
            ],
        },
        "receivers": [
            {
                "name": "slack",
                "slack": {
                    "token": files["slack-token"],
                    "api_url": slack.api_url,
                    "channel": "#spend-alerts",
                },
            },
            {
                "name": "pagerduty",
                "pagerduty": {"routing_key": files["pagerduty-key"], "url": pagerduty.events_url},
            },
            {"name": "webhook", "webhook": {"url": hook.url, "secret": files["webhook-secret"]}},
        ],
    }


async def _serve_forever(config_out: Path | None) -> None:
    slack, pagerduty, hook = FakeSlack(), FakePagerDuty(), FakeWebhook()
    for server in (slack, pagerduty, hook):
        await server.start()
    print(f"slack api_url     {slack.api_url}", flush=True)
    print(f"slack webhook_url {slack.webhook_url}", flush=True)
    print(f"pagerduty url     {pagerduty.events_url}", flush=True)
    print(f"webhook url       {hook.url}", flush=True)
    if config_out is not None:
        config = local_alerting_config(slack, pagerduty, hook, config_out.parent / "secrets")
        await asyncio.to_thread(
            config_out.write_text, yaml.safe_dump(config, sort_keys=False), encoding="utf-8"
        )
        print(f"routing config    {config_out}  (spendwatch notifier --config {config_out})")
    try:
        await asyncio.Event().wait()
    finally:
        for server in (slack, pagerduty, hook):
            await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Local Slack, PagerDuty and webhook servers.")
    parser.add_argument("--config-out", type=Path, help="Write a routing config for them here.")
    arguments = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(arguments.config_out))
