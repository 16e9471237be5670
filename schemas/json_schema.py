"""The committed JSON Schema of usage events, generated from the pydantic models."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from schemas.columnar import UsageColumns
from schemas.event import UsageBatch, UsageEvent

SCHEMA_FILE = "usage_event.schema.json"


def usage_event_schema() -> dict[str, Any]:
    """One event, with the batch envelopes (events and columns) under ``$defs`` for
    producers that batch."""
    schema = UsageEvent.model_json_schema(mode="validation")
    batch = UsageBatch.model_json_schema(mode="validation")
    columns = UsageColumns.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    defs = schema.setdefault("$defs", {})
    defs["UsageEvent"] = {k: v for k, v in schema.items() if k not in ("$defs", "$schema", "$id")}
    defs["UsageBatch"] = {k: v for k, v in batch.items() if k != "$defs"}
    defs.update(columns.pop("$defs", {}))
    defs["UsageColumns"] = columns
    return schema


def usage_event_schema_json() -> str:
    return json.dumps(usage_event_schema(), indent=2, sort_keys=True) + "\n"


def committed_schema_json() -> str:
    return resources.files("schemas").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
