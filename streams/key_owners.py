"""Key owners from the config file: events that name no team or app get their key's owner.

Applied to a message's combination sums (after dedup and lateness, before the fan-out
to series), so the row and the columnar paths share it. The map is swapped whole on a
config reload, so a message is attributed with one consistent version of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from operator import add
from typing import Any

from streams.config_file import KeyOwner
from streams.rollup import UNATTRIBUTED, MessageTotals


class KeyOwnerMap:
    """api_key_id -> (team, app), applied where an event left them out.

    >>> owners = KeyOwnerMap({"k-7": KeyOwner(team="research")})
    >>> totals = MessageTotals(combos={(1, "k-7", "unattributed", "bot") + ("x",) * 4: [5]})
    >>> list(owners.attribute_totals(totals).combos)[0][1:4]
    ('k-7', 'research', 'bot')
    """

    def __init__(self, owners: Mapping[str, KeyOwner] | None = None) -> None:
        self._owners = {key: (o.team, o.app) for key, o in (owners or {}).items()}

    def __len__(self) -> int:
        return len(self._owners)

    def attribute_totals(self, totals: MessageTotals) -> MessageTotals:
        """``attribute`` after summing: combinations of an owned key booked under
        ``unattributed`` team or app move to the owner's (merged with any already there)."""
        owners = self._owners
        if not owners or not any(combo[1] in owners for combo in totals.combos):
            return totals
        combos: dict[Any, list[int]] = {}
        units: dict[Any, dict[str, Any]] = {}
        for combo, sums in totals.combos.items():
            owner = owners.get(combo[1])
            target = combo
            if owner is not None:
                team = owner[0] if combo[2] == UNATTRIBUTED and owner[0] else combo[2]
                app = owner[1] if combo[3] == UNATTRIBUTED and owner[1] else combo[3]
                target = (combo[0], combo[1], team, app, *combo[4:])
            current = combos.get(target)
            combos[target] = list(sums) if current is None else list(map(add, current, sums))
            for unit, amount in (totals.units.get(combo) or {}).items():
                acc = units.setdefault(target, {})
                acc[unit] = acc.get(unit, 0) + amount
        return replace(totals, combos=combos, units=units)
