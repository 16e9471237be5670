"""The demo's config file: ``spendwatch.example.yaml`` pointed at the demo's broker,
worker port, state directory and local receivers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from streams.config_load import parse_config
from streams.demo_receivers import DemoReceivers

EXAMPLE = Path(__file__).resolve().parents[1] / "spendwatch.example.yaml"
DEMO_SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-local-demo",
    "PAGERDUTY_ROUTING_KEY": "local-demo-routing-key",
}
"""What the example's ``${...}`` references resolve to in the demo: credentials for the
local fake receivers only, passed by environment as in production."""


def demo_config(
    bootstrap: str,
    app_id: str,
    web_port: int,
    data_dir: Path,
    receivers: DemoReceivers,
    example: Path = EXAMPLE,
) -> dict[str, Any]:
    """The example config (defaults when it is not there) with the demo's addresses."""
    raw: dict[str, Any] = yaml.safe_load(example.read_text()) if example.is_file() else {}
    raw["kafka"] = {
        **raw.get("kafka", {}),
        "bootstrap": bootstrap,
        "app_id": app_id,
        "topic_prefix": f"{app_id}.",
        "partitions": 4,
        "connect_retries": 3,
        "session_timeout_s": 6,
    }
    raw["storage"] = {"data_dir": str(data_dir), "store": "memory://"}
    raw["web"] = {"host": "127.0.0.1", "port": web_port}
    for receiver in raw.get("receivers", []):
        if "slack" in receiver and receivers.slack_api_url:
            receiver["slack"]["api_url"] = receivers.slack_api_url
        if "pagerduty" in receiver and receivers.pagerduty_url:
            receiver["pagerduty"]["url"] = receivers.pagerduty_url
    return raw


def write_demo_config(path: Path, raw: dict[str, Any]) -> Path:
    """Write and check the demo config (a ``ConfigError`` names any problem)."""
    text = yaml.safe_dump(raw, sort_keys=False)
    parse_config(text.encode(), str(path))
    path.write_text(text)
    return path
