"""The row: one decoded, priced event as the worker's aggregation reads it.

A row is a plain tuple, in ``ROW_FIELDS`` order::

    (event_id, minute, provider, model, api_key_id, team, app, feature, environment,
     input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
     cost_nanos, cost_source, is_error, units)

``minute`` is the event time in whole minutes since the epoch; ``cost_source`` is one of
``REPORTED``, ``COMPUTED``, ``UNPRICED``; ``units`` is a dict or None.
"""

from __future__ import annotations

from typing import Any

from schemas.pricing import CostSource

ROW_FIELDS = (
    "event_id", "minute", "provider", "model", "api_key_id", "team", "app", "feature",
    "environment", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "cost_nanos", "cost_source", "is_error", "units",
)  # fmt: skip
Row = tuple[Any, ...]
REPORTED, COMPUTED, UNPRICED = 0, 1, 2
SOURCE_CODES = {CostSource.REPORTED: REPORTED, CostSource.COMPUTED: COMPUTED,
                CostSource.UNPRICED: UNPRICED}  # fmt: skip
