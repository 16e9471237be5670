"""Key owners from the config file: rows that name no team or app get their key's owner.

The map is swapped whole on a config reload, so a message is attributed with one
consistent version of it. Rows keep the ``ROW_FIELDS`` order of ``streams.fast_decode``.
"""

from __future__ import annotations

from collections.abc import Mapping

from streams.config_file import KeyOwner
from streams.fast_decode import ROW_FIELDS, Row

_KEY, _TEAM, _APP = (ROW_FIELDS.index(name) for name in ("api_key_id", "team", "app"))


class KeyOwnerMap:
    """api_key_id -> (team, app), applied where an event left them out.

    >>> owners = KeyOwnerMap({"k-7": KeyOwner(team="research")})
    >>> row = ("e1", 1, "openai", "gpt-4o", "k-7", None, "bot") + (0,) * 10
    >>> owners.attribute([row])[0][4:7]
    ('k-7', 'research', 'bot')
    """

    def __init__(self, owners: Mapping[str, KeyOwner] | None = None) -> None:
        self._owners = {key: (o.team, o.app) for key, o in (owners or {}).items()}

    def __len__(self) -> int:
        return len(self._owners)

    def attribute(self, rows: list[Row]) -> list[Row]:
        """The rows with owners filled in; the same list when no key has an owner."""
        owners = self._owners
        if not owners:
            return rows
        out = rows
        for index, row in enumerate(rows):
            owner = owners.get(row[_KEY])
            if owner is None or (row[_TEAM] is not None and row[_APP] is not None):
                continue
            if out is rows:
                out = list(rows)
            team, app = row[_TEAM] or owner[0], row[_APP] or owner[1]
            out[index] = (*row[:_TEAM], team, app, *row[_APP + 1 :])
        return out
