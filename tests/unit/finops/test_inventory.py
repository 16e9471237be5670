from __future__ import annotations

from datetime import UTC, datetime

from streams.finops.inputs import KeyOwner
from streams.finops.inventory import key_inventory
from streams.finops.ledger import Ledger, day_of
from streams.rollup import N_METRICS

AT = datetime(2026, 11, 20, 12, tzinfo=UTC)
TODAY = day_of(AT.date())


def _sums(cost: int) -> list[int]:
    return [cost, 1] + [0] * (N_METRICS - 2)


def test_flags_owner_and_spend() -> None:
    ledger = Ledger()
    ledger.add_day(TODAY - 30, ("k-old", "search", "a", "f", "gpt-4o", "openai", "prod"), _sums(5))
    ledger.add_day(TODAY - 12, ("k-old", "search", "a", "f", "gpt-4o", "openai", "prod"), _sums(7))
    ledger.add_day(
        TODAY - 1,
        (
            "k-new",
            "unattributed",
            "unattributed",
            "unattributed",
            "gpt-4o",
            "openai",
            "unattributed",
        ),
        _sums(11),
    )
    ledger.add_day(
        TODAY, ("k-moved", "growth", "b", "f", "claude-haiku-4-5", "anthropic", "prod"), _sums(13)
    )
    ledger.add_day(
        TODAY - 40, ("k-moved", "growth", "b", "f", "gpt-4o", "openai", "prod"), _sums(1)
    )
    owners = {"k-moved": KeyOwner(team="search"), "k-ghost": KeyOwner(team="legal")}
    data = key_inventory(ledger, AT, owners, idle_days=7)
    keys = {k["api_key_id"]: k for k in data["keys"]}
    assert keys["k-old"]["flags"] == ["idle 11d"]  # last seen at the end of that day
    assert keys["k-old"]["spend_mtd_usd"] == "0.000000007"
    assert keys["k-old"]["owner_source"] == "events"
    assert keys["k-new"]["flags"] == ["unattributed", "new this week"]
    assert keys["k-moved"]["flags"] == ["owner mismatch"]
    assert keys["k-moved"]["owner_team"] == "search"
    assert keys["k-moved"]["models"] == ["anthropic:claude-haiku-4-5", "openai:gpt-4o"]
    assert keys["k-ghost"]["flags"] == ["never seen"]
    assert data["tools"]["growth"] == [
        {
            "provider": "anthropic",
            "model": "claude-haiku-4-5",
            "spend_usd": "0.000000013",
            "calls": 1,
            "keys": 1,
        }
    ]


def test_inventory_on_synthetic_traffic(events_lines: list[bytes]) -> None:
    data = key_inventory(Ledger.from_jsonl(events_lines), datetime(2026, 11, 1, 3, tzinfo=UTC))
    teams = {k["owner_team"] for k in data["keys"]}
    assert {"search", "support", "platform"} <= teams
    assert all("new this week" in k["flags"] for k in data["keys"])
