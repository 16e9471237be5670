"""The usage event: one LLM call, as producers publish it (schema version 1).

Field names follow OpenTelemetry GenAI where one exists (``gen_ai.provider.name`` is
``provider``, ``gen_ai.usage.input_tokens`` is ``input_tokens`` ...). As in OTel and
genai-prices, ``input_tokens`` counts every input token, cache reads and cache writes
included: ``cache_read_tokens + cache_write_tokens <= input_tokens``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    model_validator,
)

from schemas.providers import normalize_provider
from schemas.text_rules import TEXT_PATTERN, plain_name, visible

SCHEMA_VERSION = 1
MAX_TOKENS = 10_000_000_000
"""More tokens than any single call can carry: a bound that rejects garbage."""
MAX_REPORTED_COST_USD = Decimal(100_000)

DIMENSIONS: tuple[str, ...] = ("api_key_id", "team", "app", "feature", "model", "environment")


_VISIBLE = AfterValidator(visible)
_PLAIN = AfterValidator(plain_name)
_TEXT_SCHEMA: dict[str, Any] = {"pattern": TEXT_PATTERN}
# Every id, label and tag follows ``schemas.text_rules``; event ids may look like anything
# but must be visible.
EventId = Annotated[
    str, Field(min_length=1, max_length=256, json_schema_extra=_TEXT_SCHEMA), _VISIBLE
]
Identifier = Annotated[
    str, Field(min_length=1, max_length=256, json_schema_extra=_TEXT_SCHEMA), _PLAIN
]
Label = Identifier
TagKey = Annotated[str, Field(max_length=128, json_schema_extra=_TEXT_SCHEMA), _PLAIN]
TagValue = Annotated[str, Field(max_length=1024, json_schema_extra=_TEXT_SCHEMA), _PLAIN]
TokenCount = Annotated[StrictInt, Field(ge=0, le=MAX_TOKENS)]


def _parse_timestamp(value: Any) -> Any:
    """Epoch milliseconds (an integer) or an RFC 3339 string with a zone."""
    if isinstance(value, bool):
        raise ValueError("timestamp must be an RFC 3339 string with a zone or epoch milliseconds")
    if isinstance(value, int):
        if not 0 <= value <= 32_503_680_000_000:  # year 3000
            raise ValueError("epoch milliseconds out of range")
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, float):
        raise ValueError("epoch milliseconds must be an integer")
    return value


def _require_zone(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp needs a zone (e.g. 'Z' or '+02:00')")
    return value.astimezone(UTC)


def _provider(value: Any) -> Any:
    return normalize_provider(value) if isinstance(value, str) else value


def _cost(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("cost_usd must be a decimal number or a decimal string")
    if isinstance(value, float):
        return repr(value)
    return value


EventTime = Annotated[datetime, BeforeValidator(_parse_timestamp), AfterValidator(_require_zone)]
ProviderName = Annotated[str, BeforeValidator(_provider)]
CostUSD = Annotated[
    Decimal,
    BeforeValidator(_cost),
    Field(ge=0, le=MAX_REPORTED_COST_USD, allow_inf_nan=False, max_digits=30),
]
UnitCount = Annotated[Decimal, Field(ge=0, le=10**12, allow_inf_nan=False, max_digits=30)]
Status = Literal["ok", "error", "timeout", "cancelled", "rate_limited", "filtered"]


class UsageEvent(BaseModel):
    """One LLM API call."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        str_strip_whitespace=True,
        title="UsageEvent",
        json_schema_extra={"$id": "https://spendwatch.dev/schemas/usage-event-v1.json"},
    )

    schema_version: Literal[1] = Field(1, description="Version of this schema; this build reads 1.")
    event_id: EventId = Field(description="Producer-made unique id; duplicates count once.")
    timestamp: EventTime = Field(
        description="Event time: RFC 3339 with a zone, or epoch milliseconds (integer)."
    )
    provider: ProviderName = Field(
        description="gen_ai.provider.name: openai, anthropic, gcp.gemini, aws.bedrock, "
        "azure.ai.openai, ... (aliases such as google or bedrock are accepted)."
    )
    model: Label = Field(description="gen_ai.request.model (or the response model).")
    api_key_id: Identifier = Field(description="Identifier or hash of the API key; never the key.")
    input_tokens: TokenCount = Field(
        0, description="All input tokens, cache reads/writes included."
    )
    output_tokens: TokenCount = Field(0, description="Output tokens, reasoning included.")
    cache_read_tokens: TokenCount = Field(0, description="Input tokens read from the prompt cache.")
    cache_write_tokens: TokenCount = Field(0, description="Input tokens written to the cache.")
    cost_usd: CostUSD | None = Field(
        None, description="Cost as reported by the producer; computed from prices when absent."
    )
    team: Label | None = None
    app: Label | None = None
    feature: Label | None = None
    environment: Label | None = None
    user_id: Identifier | None = None
    tags: dict[TagKey, TagValue] = Field(default_factory=dict, max_length=64)
    units: dict[Annotated[str, Field(min_length=1, max_length=64)], UnitCount] = Field(
        default_factory=dict,
        max_length=16,
        description='Units of value this call delivered, e.g. {"documents": 1}.',
    )
    status: Status | None = None
    latency_ms: Annotated[float, Field(ge=0, le=86_400_000, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _cache_within_input(self) -> UsageEvent:
        cached = self.cache_read_tokens + self.cache_write_tokens
        if cached > self.input_tokens:
            raise ValueError(
                f"cache_read_tokens + cache_write_tokens ({cached}) exceed input_tokens "
                f"({self.input_tokens}); input_tokens must include cached tokens"
            )
        return self

    @property
    def is_error(self) -> bool:
        return self.status is not None and self.status != "ok"


class UsageBatch(BaseModel):
    """Envelope for many events in one message (a bare JSON array is accepted too)."""

    model_config = ConfigDict(extra="forbid", title="UsageBatch")

    schema_version: Literal[1] = 1
    events: list[UsageEvent] = Field(max_length=100_000)
