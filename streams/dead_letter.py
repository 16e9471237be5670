"""Dead-letter records: a rejected input with its reason, its source and its exact bytes."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import orjson

from schemas.decode import Rejected


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
    holds them exactly, so a fixed event can be replayed byte for byte.
    """
    record: dict[str, Any] = {
        "reason": rejected.reason,
        "errors": [e.as_dict() for e in rejected.errors],
        "source": {"topic": source_topic, "partition": partition, "offset": offset},
        "batch_index": rejected.index,
        "received_at": received_at.isoformat(),
        "original_b64": base64.b64encode(rejected.original).decode("ascii"),
    }
    try:
        record["original"] = rejected.original.decode("utf-8")
    except UnicodeDecodeError:
        record["original"] = None
    return orjson.dumps(record)
