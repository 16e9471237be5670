"""Price cards must agree with genai-prices exactly, for every model in its catalogue."""

from __future__ import annotations

import random
import warnings
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from genai_prices import Usage, data_snapshot

from schemas.pricing import CostSource, PriceBook
from schemas.providers import pricing_provider_id

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def reference_nanos(provider_id: str, model_id: str, when: datetime, **usage: int) -> int:
    snapshot = data_snapshot.get_snapshot()
    provider, model = snapshot.find_provider_model(model_id, None, provider_id, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        total = model.calc_price(Usage(**usage), provider, genai_request_timestamp=when).total_price
    return int((Decimal(total) * 10**9).to_integral_value(rounding=ROUND_HALF_EVEN))


def catalogue() -> list[tuple[str, str]]:
    pairs = []
    for provider in data_snapshot.get_snapshot().providers:
        pairs.extend((provider.id, model.id) for model in provider.models)
    return pairs


def random_usage(rng: random.Random) -> dict[str, int]:
    inp = rng.choice([0, 1, 999, 128_000, 200_001, 1_000_000, rng.randrange(0, 2_000_000)])
    cache_read = rng.randrange(0, inp + 1) if rng.random() < 0.5 else 0
    cache_write = rng.randrange(0, inp - cache_read + 1) if rng.random() < 0.3 else 0
    out = rng.choice([0, 1, rng.randrange(0, 100_000)])
    return {
        "input_tokens": inp,
        "output_tokens": out,
        "cache_read_tokens": cache_read,
        "cache_write_tokens": cache_write,
    }


def test_cards_match_genai_prices_for_the_whole_catalogue() -> None:
    book = PriceBook()
    rng = random.Random(7)
    mismatches = []
    checked = 0
    for provider_id, model_id in catalogue():
        for _ in range(3):
            usage = random_usage(rng)
            when = NOW - timedelta(days=rng.randrange(0, 700), minutes=rng.randrange(0, 1440))
            try:
                expected = reference_nanos(provider_id, model_id, when, **usage)
            except (ValueError, LookupError):
                continue  # genai-prices itself cannot price this usage (e.g. no input price)
            card = book.card(provider_id, model_id, when, usage["input_tokens"])
            got = (
                None
                if card is None
                else card.cost_nanos(
                    usage["input_tokens"],
                    usage["output_tokens"],
                    usage["cache_read_tokens"],
                    usage["cache_write_tokens"],
                )
            )
            checked += 1
            if got != expected:
                mismatches.append((provider_id, model_id, when.isoformat(), usage, got, expected))
    assert checked > 3000
    assert mismatches == []


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "gpt-4o"),
        ("anthropic", "claude-sonnet-4-5"),
        ("gcp.gemini", "gemini-2.5-pro"),
        ("aws.bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0"),
        ("azure.ai.openai", "gpt-4o"),
    ],
)
def test_our_provider_names_price_like_genai_prices_ids(provider: str, model: str) -> None:
    book = PriceBook()
    nanos, source = book.price(provider, model, NOW, 300_000, 500, 1000, 200)
    assert source is CostSource.COMPUTED
    assert nanos == reference_nanos(
        pricing_provider_id(provider),
        model,
        NOW,
        input_tokens=300_000,
        output_tokens=500,
        cache_read_tokens=1000,
        cache_write_tokens=200,
    )


def test_tiered_prices_switch_at_the_threshold() -> None:
    book = PriceBook()
    below, _ = book.price("gcp.gemini", "gemini-2.5-pro", NOW, 200_000, 0, 0, 0)
    above, _ = book.price("gcp.gemini", "gemini-2.5-pro", NOW, 200_001, 0, 0, 0)
    assert above * 200_000 * 2 > below * 200_001 * 3  # the tier rate is over 1.5x


def test_off_peak_prices_follow_the_time_of_day() -> None:
    book = PriceBook()
    day = datetime(2025, 3, 1, tzinfo=UTC)
    for minute in range(0, 1440, 30):
        when = day + timedelta(minutes=minute)
        got, _ = book.price("deepseek", "deepseek-chat", when, 10_000, 1_000, 0, 0)
        assert got == reference_nanos(
            "deepseek", "deepseek-chat", when, input_tokens=10_000, output_tokens=1_000
        ), when


def test_reported_cost_wins_and_unknown_models_are_unpriced_not_free() -> None:
    book = PriceBook()
    assert book.price("openai", "gpt-4o", NOW, 10, 10, 0, 0, Decimal("0.25")) == (
        250_000_000,
        CostSource.REPORTED,
    )
    assert book.price("openai", "no-such-model-xyz", NOW, 10, 10, 0, 0) == (0, CostSource.UNPRICED)
    assert not book.is_priced("openai", "no-such-model-xyz")


def test_the_catalogue_is_asked_once_per_price_regime() -> None:
    book = PriceBook()
    for i in range(1000):
        book.price("openai", "gpt-4o", NOW + timedelta(seconds=i), 100 + i, 10, 0, 0)
    assert book.lookups <= 6


def test_card_at_minute_equals_card_at_datetime() -> None:
    book = PriceBook()
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for provider, model in [
        ("openai", "gpt-4o"),
        ("deepseek", "deepseek-chat"),
        ("gcp.gemini", "gemini-2.5-pro"),
        ("openai", "unknown-x"),
    ]:
        for minute in (29_000_000, 29_000_000 + 990, 29_400_123):
            when = epoch + timedelta(minutes=minute, seconds=42)
            for tokens in (10, 250_000):
                assert book.card_at_minute(provider, model, minute, tokens) == book.card(
                    provider, model, when, tokens
                )
