"""Dead-letter records: a rejected input with its reason, its source and its bytes.

Secrets never reach the dead-letter topic: wherever the original input holds a known
secret shape or a configured secret value (``streams.redact``), the record keeps the
input with that part masked, says so in ``redacted``, and ``original_b64`` then holds
the masked bytes. Everything else is kept byte for byte, so a fixed event can be
replayed exactly.

A record must fit in a Kafka message (1 MiB by default) whatever it describes, so an
original over ``MAX_ORIGINAL_BYTES`` keeps only its first ``MAX_ORIGINAL_BYTES``, with
``original_truncated`` set and the full size and SHA-256 to identify it; and at most
``MAX_ERRORS`` errors are listed (``errors_omitted`` counts the rest).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

import orjson

from schemas.decode import Rejected
from streams.redact import SECRETS

MAX_ORIGINAL_BYTES = 128 * 1024
MAX_ERRORS = 50


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
    holds them (masked and cut short as the module docstring says).
    """
    original = SECRETS.redact_bytes(rejected.original)
    kept = original[:MAX_ORIGINAL_BYTES]
    errors = rejected.errors[:MAX_ERRORS]
    record: dict[str, Any] = {
        "reason": SECRETS.redact("; ".join(e.as_text() for e in errors)),
        "errors": [
            {"path": SECRETS.redact(e.path), "problem": SECRETS.redact(e.problem)} for e in errors
        ],
        "errors_omitted": len(rejected.errors) - len(errors),
        "source": {"topic": source_topic, "partition": partition, "offset": offset},
        "batch_index": rejected.index,
        "received_at": received_at.isoformat(),
        "original_b64": base64.b64encode(kept).decode("ascii"),
        "original_size": len(original),
        "original_sha256": hashlib.sha256(original).hexdigest(),
        "original_truncated": len(kept) < len(original),
        "redacted": original != rejected.original,
    }
    try:
        record["original"] = kept.decode("utf-8")
    except UnicodeDecodeError:
        record["original"] = None
    return orjson.dumps(record)
