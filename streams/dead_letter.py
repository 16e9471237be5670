"""Dead-letter records: a rejected input with its reason, its source and its exact bytes.

Secrets never reach the dead-letter topic: wherever the original input holds a known
secret shape or a configured secret value (``streams.redact``), the record keeps the
input with that part masked, says so in ``redacted``, and ``original_b64`` then holds
the masked bytes. Everything else is kept byte for byte, so a fixed event can be
replayed exactly.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import orjson

from schemas.decode import Rejected
from streams.redact import SECRETS


def dead_letter_record(
    rejected: Rejected,
    *,
    source_topic: str,
    partition: int | None,
    offset: int | None,
    received_at: datetime,
) -> bytes:
    """JSON value of one dead-letter message.

    ``original`` holds the bytes as text when they are UTF-8, ``original_b64`` always
    holds them (with any secret masked, see the module docstring).
    """
    original = SECRETS.redact_bytes(rejected.original)
    record: dict[str, Any] = {
        "reason": SECRETS.redact(rejected.reason),
        "errors": [
            {"path": SECRETS.redact(e.path), "problem": SECRETS.redact(e.problem)}
            for e in rejected.errors
        ],
        "source": {"topic": source_topic, "partition": partition, "offset": offset},
        "batch_index": rejected.index,
        "received_at": received_at.isoformat(),
        "original_b64": base64.b64encode(original).decode("ascii"),
        "redacted": original != rejected.original,
    }
    try:
        record["original"] = original.decode("utf-8")
    except UnicodeDecodeError:
        record["original"] = None
    return orjson.dumps(record)
