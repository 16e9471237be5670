"""UsageEvents built from raw provider responses: exact tokens, cache conventions, prices."""

from __future__ import annotations

import copy
import functools
import uuid
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest
from genai_prices import calc_price, extract_usage
from pydantic import BaseModel, ConfigDict

from schemas.event import UsageEvent
from schemas.money import usd_to_nanos
from schemas.pricing import CostSource, PriceBook
from schemas.provider_responses import (
    event_from_anthropic,
    event_from_bedrock_converse,
    event_from_gemini,
    event_from_openai_chat,
    event_from_openai_responses,
    event_from_response,
)

# Responses as the providers document them (values chosen so every count is distinct).

OPENAI_CHAT_CACHED: dict[str, Any] = {
    "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Paris.", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 2006,
        "completion_tokens": 300,
        "total_tokens": 2306,
        "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_f9f4fb6dbf",
}

OPENAI_CHAT_REASONING: dict[str, Any] = {
    "id": "chatcmpl-BXx0o4mini",
    "object": "chat.completion",
    "created": 1747000000,
    "model": "o4-mini-2025-04-16",
    "choices": [],
    "usage": {
        "prompt_tokens": 75,
        "completion_tokens": 1186,
        "total_tokens": 1261,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 1024, "audio_tokens": 0},
    },
}

OPENAI_RESPONSES_CACHED: dict[str, Any] = {
    "id": "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41",
    "object": "response",
    "created_at": 1741476777,
    "status": "completed",
    "model": "gpt-4.1-2025-04-14",
    "output": [
        {
            "type": "message",
            "id": "msg_67ccd3acc8d48190a77525dc6de64b4104becb25c45c1d41",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Done.", "annotations": []}],
        }
    ],
    "usage": {
        "input_tokens": 5200,
        "input_tokens_details": {"cached_tokens": 4096},
        "output_tokens": 187,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 5387,
    },
}

ANTHROPIC_CACHE_WRITE: dict[str, Any] = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-20250514",
    "content": [{"type": "text", "text": "Summary of the book..."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 21,
        "cache_creation_input_tokens": 188086,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 188086, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 393,
        "service_tier": "standard",
    },
}

ANTHROPIC_CACHE_READ: dict[str, Any] = {
    **ANTHROPIC_CACHE_WRITE,
    "id": "msg_01Q2wcachehit",
    "usage": {
        "input_tokens": 50,
        "cache_creation_input_tokens": 248,
        "cache_read_input_tokens": 188086,
        "cache_creation": {"ephemeral_5m_input_tokens": 248, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 512,
        "service_tier": "standard",
    },
}

GEMINI_CACHED_THINKING: dict[str, Any] = {
    "candidates": [
        {
            "content": {"parts": [{"text": "The answer is 42."}], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 12040,
        "candidatesTokenCount": 310,
        "totalTokenCount": 13350,
        "cachedContentTokenCount": 11960,
        "thoughtsTokenCount": 1000,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 12040}],
        "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 11960}],
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "mAitaLmkHPPlz7IPvtfUqQ4",
}

GEMINI_TOOL_USE_VERTEX: dict[str, Any] = {
    "candidates": [],
    "usageMetadata": {
        "promptTokenCount": 800,
        "candidatesTokenCount": 95,
        "toolUsePromptTokenCount": 200,
        "totalTokenCount": 1095,
    },
    "modelVersion": "gemini-2.5-flash",
    "createTime": "2025-07-01T09:30:00.123456Z",
    "responseId": "vertex-resp-1",
}

BEDROCK_CONVERSE_CACHED: dict[str, Any] = {
    "ResponseMetadata": {
        "RequestId": "5d4f8a59-3c2e-4b1a-9e57-0f1d2c3b4a59",
        "HTTPStatusCode": 200,
        "HTTPHeaders": {
            "date": "Tue, 03 Jun 2025 10:15:42 GMT",
            "content-type": "application/json",
            "x-amzn-requestid": "5d4f8a59-3c2e-4b1a-9e57-0f1d2c3b4a59",
        },
        "RetryAttempts": 0,
    },
    "output": {"message": {"role": "assistant", "content": [{"text": "Hello!"}]}},
    "stopReason": "end_turn",
    "usage": {
        "inputTokens": 12,
        "outputTokens": 310,
        "totalTokens": 4930,
        "cacheReadInputTokens": 4096,
        "cacheWriteInputTokens": 512,
    },
    "metrics": {"latencyMs": 2311},
}
BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-20250514-v1:0"

Tokens = tuple[int, int, int, int]


def tokens(event: UsageEvent) -> Tokens:
    return (
        event.input_tokens,
        event.output_tokens,
        event.cache_read_tokens,
        event.cache_write_tokens,
    )


# (builder, response, expected input/output/cache-read/cache-write, model, provider, id)
CASES: list[tuple[Callable[..., UsageEvent], dict[str, Any], Tokens, str, str, str]] = [
    (
        event_from_openai_chat,
        OPENAI_CHAT_CACHED,
        (2006, 300, 1920, 0),
        "gpt-4o-2024-08-06",
        "openai",
        "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
    ),
    (
        event_from_openai_chat,
        OPENAI_CHAT_REASONING,
        (75, 1186, 0, 0),  # reasoning tokens are inside completion_tokens: not added again
        "o4-mini-2025-04-16",
        "openai",
        "chatcmpl-BXx0o4mini",
    ),
    (
        event_from_openai_responses,
        OPENAI_RESPONSES_CACHED,
        (5200, 187, 4096, 0),
        "gpt-4.1-2025-04-14",
        "openai",
        "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41",
    ),
    (
        event_from_anthropic,
        ANTHROPIC_CACHE_WRITE,
        (21 + 188086, 393, 0, 188086),  # Anthropic's input_tokens excludes the cache
        "claude-sonnet-4-20250514",
        "anthropic",
        "msg_01XFDUDYJgAACzvnptvVoYEL",
    ),
    (
        event_from_anthropic,
        ANTHROPIC_CACHE_READ,
        (50 + 248 + 188086, 512, 188086, 248),
        "claude-sonnet-4-20250514",
        "anthropic",
        "msg_01Q2wcachehit",
    ),
    (
        event_from_gemini,
        GEMINI_CACHED_THINKING,
        (12040, 310 + 1000, 11960, 0),  # promptTokenCount includes the cached content
        "gemini-2.5-flash",
        "gcp.gemini",
        "mAitaLmkHPPlz7IPvtfUqQ4",
    ),
    (
        event_from_gemini,
        GEMINI_TOOL_USE_VERTEX,
        (800 + 200, 95, 0, 0),  # tool-use prompt tokens are billed as input
        "gemini-2.5-flash",
        "gcp.gemini",
        "vertex-resp-1",
    ),
]
CASE_IDS = [
    "chat-cached",
    "chat-reasoning",
    "responses",
    "anthropic-write",
    "anthropic-read",
    "gemini",
    "gemini-tool-use",
]


@pytest.mark.parametrize(
    ("build", "response", "expected", "model", "provider", "rid"), CASES, ids=CASE_IDS
)
def test_helpers_count_tokens_exactly(
    build: Callable[..., UsageEvent],
    response: dict[str, Any],
    expected: Tokens,
    model: str,
    provider: str,
    rid: str,
) -> None:
    event = build(response, api_key_id="key-1")
    assert tokens(event) == expected
    assert (event.model, event.provider, event.event_id) == (model, provider, rid)
    assert event.cache_read_tokens + event.cache_write_tokens <= event.input_tokens
    assert UsageEvent.model_validate(event.model_dump()) == event  # round-trips validation


def test_bedrock_converse_adds_cache_back_into_input() -> None:
    event = event_from_bedrock_converse(
        BEDROCK_CONVERSE_CACHED, api_key_id="key-1", model=BEDROCK_MODEL
    )
    assert tokens(event) == (12 + 4096 + 512, 310, 4096, 512)
    usage = BEDROCK_CONVERSE_CACHED["usage"]
    assert event.input_tokens + event.output_tokens == usage["totalTokens"]
    assert (event.provider, event.model) == ("aws.bedrock", BEDROCK_MODEL)
    assert event.event_id == "5d4f8a59-3c2e-4b1a-9e57-0f1d2c3b4a59"
    assert event.timestamp == datetime(2025, 6, 3, 10, 15, 42, tzinfo=UTC)
    assert event.latency_ms == 2311


def test_timestamps_come_from_the_response() -> None:
    chat = event_from_openai_chat(OPENAI_CHAT_CACHED, api_key_id="k")
    assert chat.timestamp == datetime.fromtimestamp(1741570283, tz=UTC)
    responses = event_from_openai_responses(OPENAI_RESPONSES_CACHED, api_key_id="k")
    assert responses.timestamp == datetime.fromtimestamp(1741476777, tz=UTC)
    vertex = event_from_gemini(GEMINI_TOOL_USE_VERTEX, api_key_id="k")
    assert vertex.timestamp == datetime(2025, 7, 1, 9, 30, 0, 123456, tzinfo=UTC)


def test_defaults_without_id_or_time_are_a_uuid_and_now() -> None:
    response = {k: v for k, v in GEMINI_CACHED_THINKING.items() if k != "responseId"}
    before = datetime.now(UTC)
    event = event_from_gemini(response, api_key_id="k")
    assert uuid.UUID(hex=event.event_id).version == 4
    assert before <= event.timestamp <= datetime.now(UTC)
    anthropic = event_from_anthropic(ANTHROPIC_CACHE_WRITE, api_key_id="k")
    assert before <= anthropic.timestamp <= datetime.now(UTC)  # Messages carry no time


def test_explicit_id_time_model_and_attribution_win() -> None:
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    event = event_from_openai_chat(
        OPENAI_CHAT_CACHED,
        api_key_id="key-9",
        event_id="evt-1",
        timestamp=when,
        provider="azure",
        model="gpt-4o",
        team="search",
        app="rerank",
        feature="summaries",
        environment="prod",
        user_id="u-7",
        tags={"region": "eu"},
        units={"documents": 3},
        status="ok",
        latency_ms=812.5,
    )
    assert (event.event_id, event.timestamp, event.provider) == ("evt-1", when, "azure.ai.openai")
    assert (event.model, event.api_key_id) == ("gpt-4o", "key-9")
    assert (event.team, event.app, event.feature, event.environment) == (
        "search",
        "rerank",
        "summaries",
        "prod",
    )
    assert event.user_id == "u-7"
    assert event.tags == {"region": "eu"}
    assert event.units == {"documents": Decimal(3)}
    assert (event.status, event.latency_ms) == ("ok", 812.5)


def test_unknown_attribution_is_rejected() -> None:
    with pytest.raises(TypeError, match="colour"):
        event_from_openai_chat(OPENAI_CHAT_CACHED, api_key_id="k", colour="blue")  # type: ignore[call-arg]


# --- prices: the event must cost what genai-prices charges for the raw response ---------


def genai_prices_nanos(
    response: dict[str, Any], provider_id: str, flavor: str, when: datetime
) -> int:
    """genai-prices' own reading of the raw response, priced by ``calc_price``."""
    extracted = extract_usage(response, provider_id=provider_id, api_flavor=flavor)
    model_ref = response.get("model") or response.get("modelVersion") or BEDROCK_MODEL
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        price = calc_price(
            extracted.usage, model_ref, provider_id=provider_id, genai_request_timestamp=when
        )
    return int((price.total_price * 10**9).to_integral_value(rounding=ROUND_HALF_EVEN))


def book_nanos(event: UsageEvent) -> int:
    nanos, source = PriceBook().price_event(event)
    assert source is CostSource.COMPUTED
    return nanos


PRICED = [
    (event_from_openai_chat, OPENAI_CHAT_CACHED, "openai", "chat", {}),
    (event_from_openai_chat, OPENAI_CHAT_REASONING, "openai", "chat", {}),
    (event_from_openai_responses, OPENAI_RESPONSES_CACHED, "openai", "responses", {}),
    (event_from_anthropic, ANTHROPIC_CACHE_WRITE, "anthropic", "default", {}),
    (event_from_anthropic, ANTHROPIC_CACHE_READ, "anthropic", "default", {}),
    (event_from_gemini, GEMINI_CACHED_THINKING, "google", "default", {}),
    (event_from_gemini, GEMINI_TOOL_USE_VERTEX, "google", "default", {}),
    (
        event_from_bedrock_converse,
        BEDROCK_CONVERSE_CACHED,
        "aws",
        "default",
        {"model": BEDROCK_MODEL},
    ),
]


@pytest.mark.parametrize(
    ("build", "response", "provider_id", "flavor", "extra"), PRICED, ids=[*CASE_IDS, "bedrock"]
)
def test_event_prices_like_genai_prices_on_the_raw_usage(
    build: Callable[..., UsageEvent],
    response: dict[str, Any],
    provider_id: str,
    flavor: str,
    extra: dict[str, Any],
) -> None:
    event = build(response, api_key_id="k", **extra)
    assert book_nanos(event) == genai_prices_nanos(response, provider_id, flavor, event.timestamp)


def test_prices_by_hand_cached_tokens_at_their_own_rates() -> None:
    # gpt-4o: $2.50 input, $1.25 cached input, $10 output per MTok:
    # (2006 - 1920) * 2.5 + 1920 * 1.25 + 300 * 10 = 5615 micro-USD.
    chat = event_from_openai_chat(OPENAI_CHAT_CACHED, api_key_id="k")
    assert book_nanos(chat) == usd_to_nanos(Decimal("0.005615"))
    # claude-sonnet-4: $3 input, $3.75 cache write, $15 output per MTok:
    # 21 * 3 + 188086 * 3.75 + 393 * 15 = 711280.5 micro-USD.
    claude = event_from_anthropic(ANTHROPIC_CACHE_WRITE, api_key_id="k")
    assert book_nanos(claude) == usd_to_nanos(Decimal("0.7112805"))


def test_one_hour_cache_writes_are_counted_but_priced_at_the_base_write_rate() -> None:
    """Known gap: UsageEvent has no 1-hour cache-write field, so PriceBook charges the
    5-minute write rate ($3.75 vs $6 per MTok on claude-sonnet-4) and genai-prices more."""
    response = copy.deepcopy(ANTHROPIC_CACHE_WRITE)
    response["usage"]["cache_creation"] = {
        "ephemeral_5m_input_tokens": 0,
        "ephemeral_1h_input_tokens": 188086,
    }
    event = event_from_anthropic(response, api_key_id="k")
    assert tokens(event) == (21 + 188086, 393, 0, 188086)
    reference = genai_prices_nanos(response, "anthropic", "default", event.timestamp)
    assert reference - book_nanos(event) == usd_to_nanos(
        Decimal("188086") * Decimal("2.25") / 10**6
    )


# --- the generic entry point -------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "provider", "flavor", "specific", "extra"),
    [
        (
            OPENAI_CHAT_CACHED,
            "openai",
            "default",
            event_from_openai_chat,
            {},
        ),  # no 'default' in genai-prices
        (OPENAI_CHAT_CACHED, "openai", "chat", event_from_openai_chat, {}),
        (OPENAI_RESPONSES_CACHED, "openai", "responses", event_from_openai_responses, {}),
        (OPENAI_CHAT_CACHED, "azure.ai.openai", "default", event_from_openai_chat, {}),
        (ANTHROPIC_CACHE_READ, "anthropic", "default", event_from_anthropic, {}),
        (ANTHROPIC_CACHE_READ, "aws.bedrock", "anthropic", event_from_anthropic, {}),
        (GEMINI_CACHED_THINKING, "google", "default", event_from_gemini, {}),
        (GEMINI_CACHED_THINKING, "gcp.vertex_ai", "default", event_from_gemini, {}),
        (
            BEDROCK_CONVERSE_CACHED,
            "bedrock",
            "default",
            event_from_bedrock_converse,
            {"model": BEDROCK_MODEL},
        ),
        (
            BEDROCK_CONVERSE_CACHED,
            "aws.bedrock",
            "converse",
            event_from_bedrock_converse,
            {"model": BEDROCK_MODEL},
        ),
        (OPENAI_CHAT_CACHED, "vllm", "default", event_from_openai_chat, {}),  # not in genai-prices
        (ANTHROPIC_CACHE_WRITE, "my-proxy", "messages", event_from_anthropic, {}),
    ],
)
def test_event_from_response_agrees_with_the_specific_helper(
    response: dict[str, Any],
    provider: str,
    flavor: str,
    specific: Callable[..., UsageEvent],
    extra: dict[str, Any],
) -> None:
    when = datetime(2025, 6, 1, tzinfo=UTC)
    generic = event_from_response(
        response, provider=provider, api_key_id="k", api_flavor=flavor, timestamp=when, **extra
    )
    expected = specific(response, api_key_id="k", provider=provider, timestamp=when, **extra)
    assert generic == expected


def test_event_from_response_rejects_an_unknown_flavor() -> None:
    with pytest.raises(ValueError, match="api_flavor 'telepathy'"):
        event_from_response(
            OPENAI_CHAT_CACHED, provider="openai", api_key_id="k", api_flavor="telepathy"
        )


def test_unknown_models_still_make_events() -> None:
    response = copy.deepcopy(OPENAI_CHAT_CACHED)
    response["model"] = "gpt-7-preview-2031-01-01"
    event = event_from_openai_chat(response, api_key_id="k")
    assert tokens(event) == (2006, 300, 1920, 0)
    assert (
        PriceBook().price("openai", event.model, event.timestamp, 1, 1, 0, 0)[1]
        is CostSource.UNPRICED
    )


# --- inputs: SDK objects, snake-case Gemini, missing usage --------------------------------


class SdkObject(BaseModel):
    """Stands in for an SDK response model (openai / anthropic types are pydantic models)."""

    model_config = ConfigDict(extra="allow")


def test_sdk_objects_are_read_through_model_dump() -> None:
    event = event_from_anthropic(SdkObject(**ANTHROPIC_CACHE_READ), api_key_id="k")
    assert tokens(event) == (50 + 248 + 188086, 512, 188086, 248)


def test_snake_case_gemini_from_the_google_genai_sdk() -> None:
    response = {
        "usage_metadata": {
            "prompt_token_count": 12040,
            "candidates_token_count": 310,
            "cached_content_token_count": 11960,
            "thoughts_token_count": 1000,
        },
        "model_version": "gemini-2.5-flash",
        "response_id": "snake-1",
    }
    event = event_from_gemini(response, api_key_id="k")
    assert tokens(event) == (12040, 1310, 11960, 0)
    assert event.event_id == "snake-1"


def test_bedrock_needs_the_model_id() -> None:
    with pytest.raises(ValueError, match="names no model"):
        event_from_response(BEDROCK_CONVERSE_CACHED, provider="aws.bedrock", api_key_id="k")


def test_a_response_object_of_the_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="model_dump"):
        event_from_openai_chat("not a response", api_key_id="k")


NO_USAGE: list[tuple[Callable[..., UsageEvent], dict[str, Any], str]] = [
    (event_from_openai_chat, {"id": "chatcmpl-1", "model": "gpt-4o"}, "'usage' is missing"),
    (event_from_openai_chat, {"id": "chatcmpl-2", "model": "gpt-4o", "usage": None}, "'usage'"),
    (event_from_openai_responses, {"id": "resp_1", "model": "gpt-4.1"}, "'usage' is missing"),
    (event_from_anthropic, {"id": "msg_1", "model": "claude-sonnet-4-0"}, "'usage' is missing"),
    (event_from_gemini, {"modelVersion": "gemini-2.5-flash"}, "'usageMetadata' is missing"),
    (
        functools.partial(event_from_bedrock_converse, model=BEDROCK_MODEL),
        {"output": {}, "stopReason": "end_turn"},
        "'usage' is missing",
    ),
]


@pytest.mark.parametrize(
    ("build", "response", "message"),
    NO_USAGE,
    ids=["chat", "chat-null", "responses", "anthropic", "gemini", "bedrock"],
)
def test_a_response_without_usage_is_a_clear_error(
    build: Callable[..., UsageEvent], response: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=f"has no usage: {message}"):
        build(response, api_key_id="k")


def test_a_required_count_missing_from_usage_is_named() -> None:
    response = {"id": "chatcmpl-3", "model": "gpt-4o", "usage": {"prompt_tokens": 10}}
    with pytest.raises(ValueError, match=r"usage\.completion_tokens"):
        event_from_openai_chat(response, api_key_id="k")


def test_cache_larger_than_input_fails_event_validation() -> None:
    # An OpenAI-compatible proxy misreporting cached_tokens > prompt_tokens is rejected.
    response = copy.deepcopy(OPENAI_CHAT_CACHED)
    response["usage"]["prompt_tokens_details"]["cached_tokens"] = 5000
    with pytest.raises(ValueError, match="exceed input_tokens"):
        event_from_openai_chat(response, api_key_id="k")


def test_generic_defaults_now_within_a_minute() -> None:
    response = {k: v for k, v in ANTHROPIC_CACHE_WRITE.items() if k != "id"}
    event = event_from_response(response, provider="anthropic", api_key_id="k")
    assert datetime.now(UTC) - event.timestamp < timedelta(minutes=1)
    assert len(event.event_id) == 32
