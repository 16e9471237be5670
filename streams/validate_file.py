"""``spendwatch validate``: check a JSON Lines file the way the worker would."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO

import orjson

from schemas.decode import EventDecoder


def validate_lines(
    lines: Iterable[bytes], out: IO[bytes], decoder: EventDecoder | None = None
) -> int:
    """Write one verdict per non-blank line; return how many lines were invalid."""
    decoder = decoder or EventDecoder()
    invalid = 0
    for number, line in enumerate(lines, start=1):
        raw = line.rstrip(b"\r\n")
        if not raw.strip():
            continue
        decoded = decoder.decode(raw, datetime.now(UTC))
        verdict: dict[str, object] = {"line": number}
        if decoded.rejected or len(decoded.events) != 1:
            invalid += 1
            errors = [e.as_dict() for r in decoded.rejected for e in r.errors]
            if not errors:
                errors = [{"path": "", "problem": "a line must hold exactly one event"}]
            verdict.update(valid=False, errors=errors)
        else:
            verdict.update(valid=True, event=decoded.events[0].normalized())
        out.write(orjson.dumps(verdict) + b"\n")
    return invalid
