"""Launch-gate estimates: what a planned workload costs at today's prices.

A request has ``input_tokens`` (cache reads included, as in OpenTelemetry and
genai-prices) and ``output_tokens``; ``cache_hit_rate`` is the expected share of input
tokens read from the prompt cache. Cost per request is computed from the PriceBook's
card in femto-USD and multiplied out before rounding once to nano-USD, so per day and per
month are exact multiples, not sums of rounded figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from schemas.money import usd_text
from schemas.pricing import PriceBook, femtos_to_nanos
from schemas.providers import normalize_provider

DAYS_PER_MONTH = 30


class EstimateError(ValueError):
    """An estimate that cannot be made, naming the option at fault."""


@dataclass(frozen=True, slots=True)
class Workload:
    input_tokens: int
    output_tokens: int
    requests_per_day: int
    cache_hit_rate: Decimal = Decimal(0)
    days_per_month: int = DAYS_PER_MONTH

    def __post_init__(self) -> None:
        if self.input_tokens < 0 or self.output_tokens < 0:
            raise EstimateError("--input-tokens and --output-tokens must be >= 0")
        if self.requests_per_day < 0:
            raise EstimateError("--requests-per-day must be >= 0")
        if not 0 <= self.cache_hit_rate <= 1:
            raise EstimateError("--cache-hit-rate must be between 0 and 1")

    @property
    def cache_read_tokens(self) -> int:
        exact = Decimal(self.input_tokens) * self.cache_hit_rate
        return int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))


def parse_model(text: str, default_provider: str) -> tuple[str, str]:
    """``gpt-4o`` or ``openai:gpt-4o`` to (provider, model)."""
    provider, sep, model = text.partition(":")
    if not sep:
        return normalize_provider(default_provider), text
    if not provider or not model:
        raise EstimateError(f"--compare-model {text!r}: expected MODEL or PROVIDER:MODEL")
    return normalize_provider(provider), model


def estimate_one(
    prices: PriceBook, provider: str, model: str, work: Workload, when: datetime
) -> dict[str, Any]:
    card = prices.card(provider, model, when, work.input_tokens)
    if card is None:
        raise EstimateError(f"--model: no price for {provider}:{model} in the price catalogue")
    cached = work.cache_read_tokens
    femtos = (
        card.request
        + card.uncached_input * (work.input_tokens - cached)
        + card.cache_read * cached
        + card.output * work.output_tokens
    )
    per_request = femtos_to_nanos(femtos)
    per_day = femtos_to_nanos(femtos * work.requests_per_day)
    per_month = femtos_to_nanos(femtos * work.requests_per_day * work.days_per_month)
    return {
        "provider": provider,
        "model": model,
        "cost_per_request_usd": usd_text(per_request),
        "cost_per_day_usd": usd_text(per_day),
        "cost_per_month_usd": usd_text(per_month),
        "cost_per_month_nanos": per_month,
    }


def estimate(
    provider: str,
    model: str,
    work: Workload,
    compare: Sequence[str] = (),
    team_budget: tuple[str, Decimal] | None = None,
    prices: PriceBook | None = None,
    when: datetime | None = None,
) -> dict[str, Any]:
    """The estimate for ``model``, a comparison across ``compare`` models, budget share."""
    prices = prices or PriceBook()
    when = when or datetime.now(UTC)
    provider = normalize_provider(provider)
    main = estimate_one(prices, provider, model, work, when)
    rows = [main]
    for text in compare:
        other_provider, other_model = parse_model(text, provider)
        rows.append(estimate_one(prices, other_provider, other_model, work, when))
    base = main["cost_per_month_nanos"]
    for row in rows:
        row["vs_selected"] = round(row["cost_per_month_nanos"] / base, 4) if base else None
    result: dict[str, Any] = {
        **{k: v for k, v in main.items() if k != "cost_per_month_nanos"},
        "input_tokens": work.input_tokens,
        "output_tokens": work.output_tokens,
        "cache_read_tokens": work.cache_read_tokens,
        "requests_per_day": work.requests_per_day,
        "days_per_month": work.days_per_month,
        "priced_at": when.isoformat(),
        "comparison": [{k: v for k, v in r.items() if k != "cost_per_month_nanos"} for r in rows],
    }
    if team_budget is not None:
        team, budget = team_budget
        month = Decimal(main["cost_per_month_usd"])
        result["team"] = team
        result["team_budget_usd"] = format(budget, "f")
        result["share_of_team_budget"] = float(round(month / budget, 4)) if budget else None
    return result
