"""Worker rows (``streams.rows.Row``) for tests: one priced event, defaults filled in."""

from __future__ import annotations

from streams.rows import COMPUTED, Row


def row(
    minute: int,
    key: str = "k1",
    team: str | None = "search",
    cost: int = 100,
    model: str = "gpt-4o",
    units: dict[str, int] | None = None,
    source: int = COMPUTED,
) -> Row:
    return (
        f"e{minute}{key}{cost}",
        minute,
        "openai",
        model,
        key,
        team,
        "app-1",
        None,
        "prod",
        10,
        5,
        0,
        0,
        cost,
        source,
        False,
        units,
    )
