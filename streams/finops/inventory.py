"""Key inventory: the AI tools in use (providers and models per team, with spend) and every
``api_key_id`` seen, with its owner, first and last use, spend and flags.

The owner of a key is the configured one (``key_owners``) when there is one, else the
team its events name. Flags: ``unattributed`` (no owner known at all), ``idle`` (no call
for ``idle_days``), ``new`` (first call within the last 7 days), ``owner_mismatch`` (the
events name a team other than the configured owner, or several teams).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.money import usd_text
from streams.finops.inputs import KeyOwner
from streams.finops.ledger import Ledger, date_of, day_of
from streams.finops.showback import Period
from streams.rollup import CALLS, COST, UNATTRIBUTED

NEW_DAYS = 7
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class _Key:
    teams: set[str] = field(default_factory=set)
    apps: set[str] = field(default_factory=set)
    models: set[str] = field(default_factory=set)
    first_day: int = 10**9
    last_day: int = -(10**9)
    mtd_nanos: int = 0
    mtd_calls: int = 0
    total_nanos: int = 0


def _keys(ledger: Ledger, first_mtd: int, today: int) -> dict[str, _Key]:
    keys: dict[str, _Key] = {}
    for day, who, sums in ledger.rows(-(10**9), today):
        key, team, app, _, model, provider, _ = who
        k = keys.setdefault(key, _Key())
        k.teams.add(team)
        k.apps.add(app)
        k.models.add(f"{provider}:{model}")
        k.first_day = min(k.first_day, day)
        k.last_day = max(k.last_day, day)
        k.total_nanos += sums[COST]
        if day >= first_mtd:
            k.mtd_nanos += sums[COST]
            k.mtd_calls += sums[CALLS]
    return keys


def _flags(
    k: _Key, owner: KeyOwner | None, last_seen: datetime, at: datetime, idle_days: int
) -> list[str]:
    named = k.teams - {UNATTRIBUTED}
    flags = []
    if (owner is None or owner.team is None) and not named:
        flags.append("unattributed")
    if at - last_seen >= timedelta(days=idle_days):
        flags.append(f"idle {(at - last_seen).days}d")
    if day_of(at.date()) - k.first_day < NEW_DAYS:
        flags.append("new this week")
    if (owner is not None and owner.team is not None and named - {owner.team}) or len(named) > 1:
        flags.append("owner mismatch")
    return flags


def key_inventory(
    ledger: Ledger,
    at: datetime,
    owners: Mapping[str, KeyOwner] | None = None,
    idle_days: int = 7,
) -> dict[str, Any]:
    owners = owners or {}
    today = day_of(at.date())
    first_mtd = Period.of_day(today).first_day()
    keys = _keys(ledger, first_mtd, today)
    rows = []
    for key in sorted(keys, key=lambda k: (-keys[k].mtd_nanos, k)):
        k = keys[key]
        owner = owners.get(key)
        named = sorted(k.teams - {UNATTRIBUTED})
        last_minute = ledger.last_minute.get(key)
        last_seen = (
            _EPOCH + timedelta(minutes=last_minute)
            if last_minute is not None and last_minute >= 0
            else datetime.combine(date_of(k.last_day), datetime.max.time(), UTC)
        )
        rows.append(
            {
                "api_key_id": key,
                "owner_team": owner.team if owner and owner.team else (named[0] if named else None),
                "owner_app": owner.app if owner and owner.app else None,
                "owner_source": "config" if owner and owner.team else ("events" if named else None),
                "teams_seen": named,
                "apps_seen": sorted(k.apps - {UNATTRIBUTED}),
                "models": sorted(k.models),
                "first_seen": date_of(k.first_day).isoformat(),
                "last_seen": last_seen.isoformat(timespec="minutes"),
                "spend_mtd_usd": usd_text(k.mtd_nanos),
                "calls_mtd": k.mtd_calls,
                "spend_total_usd": usd_text(k.total_nanos),
                "flags": _flags(k, owner, last_seen, at, idle_days),
            }
        )
    for key in sorted(set(owners) - set(keys)):
        rows.append(
            {
                "api_key_id": key,
                "owner_team": owners[key].team,
                "owner_app": owners[key].app,
                "owner_source": "config",
                "flags": ["never seen"],
            }
        )
    return {"at": at.isoformat(), "keys": rows, "tools": tools_by_team(ledger, first_mtd, today)}


def tools_by_team(ledger: Ledger, first_day: int, last_day: int) -> dict[str, Any]:
    """Per team: each provider and model used since ``first_day``, with spend and keys."""
    teams: dict[str, dict[tuple[str, str], list[Any]]] = {}
    for _, who, sums in ledger.rows(first_day, last_day):
        key, team, _, _, model, provider, _ = who
        entry = teams.setdefault(team, {}).setdefault((provider, model), [0, 0, set()])
        entry[0] += sums[COST]
        entry[1] += sums[CALLS]
        entry[2].add(key)
    return {
        team: [
            {
                "provider": p,
                "model": m,
                "spend_usd": usd_text(v[0]),
                "calls": v[1],
                "keys": len(v[2]),
            }
            for (p, m), v in sorted(models.items(), key=lambda kv: -kv[1][0])
        ]
        for team, models in sorted(teams.items())
    }
