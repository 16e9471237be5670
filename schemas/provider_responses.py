"""Build a :class:`UsageEvent` from a raw provider response (parsed JSON or an SDK object).

Token counts are read with genai-prices' own usage extractors (the ``extractors`` of its
provider catalogue), so spendwatch counts cached tokens exactly as the catalogue it
prices with. genai-prices' ``Usage`` follows the same convention as ``UsageEvent``:
``input_tokens`` is the total input, cache reads and writes included (see its README,
"Cached input tokens"). Where a provider reports uncached input only (Anthropic,
Bedrock Converse), the genai-prices extractor adds the cache counts back into
``input_tokens``; each helper below documents its provider's convention.

The extractors are called directly rather than through ``genai_prices.extract_usage``:
that function also looks the response's model up in the price catalogue and raises
``LookupError`` for a model it does not know (a new or fine-tuned model). Spend on such
a model must still become an event (``PriceBook`` reports it as unpriced).

Usage kinds without a ``UsageEvent`` field are dropped. Three of them have their own
genai-prices rates, so ``PriceBook`` prices those calls differently from genai-prices:
Anthropic 1-hour cache writes (``cache_creation.ephemeral_1h_input_tokens``, counted
here as ordinary ``cache_write_tokens``), audio or image tokens, and web searches.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypedDict, Unpack

from genai_prices import data_snapshot, types

from schemas.event import Status, UsageEvent
from schemas.providers import normalize_provider, pricing_provider_id
from schemas.response_fields import (
    as_mapping,
    camelize,
    get_path,
    is_number,
    require_usage,
    response_id,
    response_time,
    whole_tokens,
)

__all__ = [
    "Attribution",
    "event_from_anthropic",
    "event_from_bedrock_converse",
    "event_from_gemini",
    "event_from_openai_chat",
    "event_from_openai_responses",
    "event_from_response",
]


class Attribution(TypedDict, total=False):
    """Optional ``UsageEvent`` fields the caller supplies (they are not in the response)."""

    team: str
    app: str
    feature: str
    environment: str
    user_id: str
    tags: Mapping[str, str]
    units: Mapping[str, Decimal | int | str]
    status: Status
    latency_ms: float
    cost_usd: Decimal | str | None


_ATTRIBUTION_KEYS = Attribution.__optional_keys__
_TOKEN_KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")

# (label for messages, genai-prices provider id, its api_flavor) of each response format.
_Format = tuple[str, str, str]
_OPENAI_CHAT: _Format = ("OpenAI chat completion", "openai", "chat")
_OPENAI_RESPONSES: _Format = ("OpenAI Responses API response", "openai", "responses")
_ANTHROPIC: _Format = ("Anthropic message", "anthropic", "default")
_GEMINI: _Format = ("Gemini generateContent response", "google", "default")
_BEDROCK_CONVERSE: _Format = ("Bedrock Converse response", "aws", "default")

_FALLBACK_BY_PROVIDER: dict[str, _Format] = {
    "anthropic": _ANTHROPIC,
    "gcp.gemini": _GEMINI,
    "gcp.vertex_ai": _GEMINI,
    "gcp.gen_ai": _GEMINI,
    "aws.bedrock": _BEDROCK_CONVERSE,
}
_FALLBACK_BY_FLAVOR: dict[str, _Format] = {
    "default": _OPENAI_CHAT,
    "chat": _OPENAI_CHAT,
    "responses": _OPENAI_RESPONSES,
    "anthropic": _ANTHROPIC,
    "messages": _ANTHROPIC,
    "gemini": _GEMINI,
    "converse": _BEDROCK_CONVERSE,
}


def event_from_openai_chat(
    response: object,
    *,
    api_key_id: str,
    event_id: str | None = None,
    timestamp: datetime | None = None,
    provider: str = "openai",
    model: str | None = None,
    **attribution: Unpack[Attribution],
) -> UsageEvent:
    """Event from an OpenAI Chat Completions response (or an OpenAI-compatible one).

    ``usage.prompt_tokens`` already includes ``prompt_tokens_details.cached_tokens``, so
    it becomes ``input_tokens`` unchanged and ``cached_tokens`` becomes
    ``cache_read_tokens``. ``completion_tokens`` includes reasoning tokens and becomes
    ``output_tokens``. The model is ``response["model"]``, the id ``"chatcmpl-..."``, the
    time ``created`` (epoch seconds). Pass ``provider="azure.ai.openai"`` (or another)
    for a compatible API; the response is still read as OpenAI chat.
    """
    data = as_mapping(response)
    return _build(data, _OPENAI_CHAT, provider, model, api_key_id, event_id, timestamp, attribution)


def event_from_openai_responses(
    response: object,
    *,
    api_key_id: str,
    event_id: str | None = None,
    timestamp: datetime | None = None,
    provider: str = "openai",
    model: str | None = None,
    **attribution: Unpack[Attribution],
) -> UsageEvent:
    """Event from an OpenAI Responses API response (``"resp_..."``, ``created_at``).

    ``usage.input_tokens`` already includes ``input_tokens_details.cached_tokens``: it is
    taken unchanged, ``cached_tokens`` becomes ``cache_read_tokens``, and
    ``usage.output_tokens`` (reasoning included) becomes ``output_tokens``.
    """
    data = as_mapping(response)
    fmt = _OPENAI_RESPONSES
    return _build(data, fmt, provider, model, api_key_id, event_id, timestamp, attribution)


def event_from_anthropic(
    response: object,
    *,
    api_key_id: str,
    event_id: str | None = None,
    timestamp: datetime | None = None,
    provider: str = "anthropic",
    model: str | None = None,
    **attribution: Unpack[Attribution],
) -> UsageEvent:
    """Event from an Anthropic Messages response (``"msg_..."``).

    Converted: Anthropic's ``usage.input_tokens`` counts only the uncached input, so
    ``input_tokens = input_tokens + cache_read_input_tokens + cache_creation_input_tokens``
    (genai-prices' Anthropic extractor maps all three to ``input_tokens``).
    ``cache_read_input_tokens`` becomes ``cache_read_tokens`` and
    ``cache_creation_input_tokens`` (5-minute and 1-hour writes alike) becomes
    ``cache_write_tokens``. Messages carry no time: the event time defaults to now.
    """
    data = as_mapping(response)
    return _build(data, _ANTHROPIC, provider, model, api_key_id, event_id, timestamp, attribution)


def event_from_gemini(
    response: object,
    *,
    api_key_id: str,
    event_id: str | None = None,
    timestamp: datetime | None = None,
    provider: str = "gcp.gemini",
    model: str | None = None,
    **attribution: Unpack[Attribution],
) -> UsageEvent:
    """Event from a Gemini ``generateContent`` response (Gemini API or Vertex AI).

    ``usageMetadata.promptTokenCount`` already includes ``cachedContentTokenCount``
    (which becomes ``cache_read_tokens``). As in genai-prices, ``input_tokens`` is
    ``promptTokenCount + toolUsePromptTokenCount`` and ``output_tokens`` is
    ``candidatesTokenCount + thoughtsTokenCount`` (Gemini reports thinking tokens
    separately). Gemini reports no cache writes. The model is ``modelVersion``, the id
    ``responseId``, the time Vertex's ``createTime``. Snake-case dicts from the
    google-genai SDK (``usage_metadata``) are accepted too.
    """
    data = as_mapping(response)
    if "usageMetadata" not in data and "usage_metadata" in data:
        data = camelize(data)
    return _build(data, _GEMINI, provider, model, api_key_id, event_id, timestamp, attribution)


def event_from_bedrock_converse(
    response: object,
    *,
    api_key_id: str,
    model: str,
    event_id: str | None = None,
    timestamp: datetime | None = None,
    provider: str = "aws.bedrock",
    **attribution: Unpack[Attribution],
) -> UsageEvent:
    """Event from a Bedrock Converse response; ``model`` is the model id you called.

    Converted: Bedrock's ``usage.inputTokens`` excludes the cache, like Anthropic's
    (its ``totalTokens`` is input + output + cache reads + cache writes), so
    ``input_tokens = inputTokens + cacheReadInputTokens + cacheWriteInputTokens``, as
    genai-prices' AWS extractor sums them. The id defaults to
    ``ResponseMetadata.RequestId``, the time to the HTTP ``date`` header and
    ``latency_ms`` to ``metrics.latencyMs``.
    """
    data = as_mapping(response)
    fmt = _BEDROCK_CONVERSE
    return _build(data, fmt, provider, model, api_key_id, event_id, timestamp, attribution)


def event_from_response(
    response: object,
    *,
    provider: str,
    api_key_id: str,
    api_flavor: str = "default",
    model: str | None = None,
    event_id: str | None = None,
    timestamp: datetime | None = None,
    **attribution: Unpack[Attribution],
) -> UsageEvent:
    """Event from any response genai-prices can read, else from a known format.

    genai-prices' extractor for ``(provider, api_flavor)`` reads the usage when it has
    one; ``"default"`` means ``"chat"`` for providers without a default flavor
    (genai-prices' OpenAI and Azure flavors are chat, responses, ...). Otherwise the
    format is chosen by provider (anthropic, gcp.*, aws.bedrock) for ``"default"``, or by
    flavor: ``chat``, ``responses``, ``anthropic``/``messages``, ``gemini``, ``converse``.
    """
    data = as_mapping(response)
    canonical = normalize_provider(provider)
    fmt = _genai_prices_format(canonical, api_flavor)
    if fmt is None and api_flavor == "default":
        fmt = _FALLBACK_BY_PROVIDER.get(canonical)
    if fmt is None:
        fmt = _FALLBACK_BY_FLAVOR.get(api_flavor)
    if fmt is None:
        known = ", ".join(sorted(_FALLBACK_BY_FLAVOR))
        raise ValueError(
            f"cannot read {canonical} responses of api_flavor {api_flavor!r}: genai-prices has "
            f"no such extractor and spendwatch knows the flavors {known}"
        )
    if fmt[1] == "google" and "usageMetadata" not in data and "usage_metadata" in data:
        data = camelize(data)
    return _build(data, fmt, canonical, model, api_key_id, event_id, timestamp, attribution)


def _genai_prices_format(provider: str, api_flavor: str) -> _Format | None:
    try:
        found = _genai_provider(pricing_provider_id(provider))
    except LookupError:
        return None
    flavors = {extractor.api_flavor for extractor in found.extractors or ()}
    if api_flavor not in flavors and api_flavor == "default" and "chat" in flavors:
        api_flavor = "chat"
    if api_flavor not in flavors:
        return None
    return (f"{found.name} response (api_flavor {api_flavor!r})", found.id, api_flavor)


def _build(
    data: Mapping[str, Any],
    fmt: _Format,
    provider: str,
    model: str | None,
    api_key_id: str,
    event_id: str | None,
    timestamp: datetime | None,
    attribution: Attribution,
) -> UsageEvent:
    unknown = set(attribution) - _ATTRIBUTION_KEYS
    if unknown:
        raise TypeError(f"unexpected attribution fields: {', '.join(sorted(unknown))}")
    label, genai_provider, flavor = fmt
    extractor = _extractor(genai_provider, flavor)
    require_usage(data, extractor.root, label)
    try:
        model_ref, usage = extractor.extract(data)
        counts = {key: whole_tokens(key, getattr(usage, key)) for key in _TOKEN_KEYS}
    except ValueError as exc:
        raise ValueError(f"{label}: unreadable usage: {exc}") from exc
    model = model or model_ref
    if not model:
        raise ValueError(f"{label} names no model (no {extractor.model_path!r}): pass model=")
    fields: dict[str, Any] = dict(attribution)
    latency = get_path(data, "metrics", "latencyMs")
    if "latency_ms" not in fields and is_number(latency):
        fields["latency_ms"] = latency
    return UsageEvent(
        event_id=event_id or response_id(data) or uuid.uuid4().hex,
        timestamp=timestamp or response_time(data) or datetime.now(UTC),
        provider=provider,
        model=model,
        api_key_id=api_key_id,
        **counts,
        **fields,
    )


def _genai_provider(provider_id: str) -> types.Provider:
    return data_snapshot.get_snapshot().find_provider(None, provider_id, None)


def _extractor(provider_id: str, flavor: str) -> types.UsageExtractor:
    found = _genai_provider(provider_id)
    return next(e for e in found.extractors or () if e.api_flavor == flavor)
