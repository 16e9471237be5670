from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price

from schemas.money import usd_to_nanos
from streams.finops.estimate import EstimateError, Workload, estimate

WHEN = datetime(2026, 11, 29, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("provider", "model", "inp", "out", "rate"),
    [
        ("openai", "gpt-4o", 1200, 300, "0.3"),
        ("openai", "gpt-4o-mini", 5000, 20, "0"),
        ("anthropic", "claude-sonnet-4-5", 9000, 900, "0.85"),
        ("gcp.gemini", "gemini-2.5-flash", 700, 1200, "0.5"),
    ],
)
def test_figures_agree_with_genai_prices(
    provider: str, model: str, inp: int, out: int, rate: str
) -> None:
    work = Workload(inp, out, 50_000, Decimal(rate))
    result = estimate(provider, model, work, when=WHEN)
    cached = work.cache_read_tokens
    provider_id = "google" if provider == "gcp.gemini" else provider
    reference = Decimal(
        calc_price(
            Usage(input_tokens=inp, output_tokens=out, cache_read_tokens=cached),
            model,
            provider_id=provider_id,
            genai_request_timestamp=WHEN,
        ).total_price
    )
    assert usd_to_nanos(result["cost_per_request_usd"]) == usd_to_nanos(reference)
    assert usd_to_nanos(result["cost_per_day_usd"]) == usd_to_nanos(reference * 50_000)
    assert usd_to_nanos(result["cost_per_month_usd"]) == usd_to_nanos(reference * 50_000 * 30)


def test_comparison_and_team_budget_share() -> None:
    work = Workload(1200, 300, 50_000, Decimal("0.3"))
    result = estimate(
        "openai",
        "gpt-4o",
        work,
        ["gpt-4o-mini", "anthropic:claude-haiku-4-5"],
        ("search", Decimal(5000)),
        when=WHEN,
    )
    models = [(r["provider"], r["model"]) for r in result["comparison"]]
    assert models == [
        ("openai", "gpt-4o"),
        ("openai", "gpt-4o-mini"),
        ("anthropic", "claude-haiku-4-5"),
    ]
    assert result["comparison"][1]["vs_selected"] < 1
    month = Decimal(result["cost_per_month_usd"])
    assert result["share_of_team_budget"] == float(round(month / 5000, 4))


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"model": "no-such-model-xyz"}, "no price for openai:no-such-model-xyz"),
        ({"compare": ["openai:"]}, "expected MODEL or PROVIDER:MODEL"),
    ],
)
def test_bad_models_are_named(kwargs: dict[str, object], problem: str) -> None:
    args: dict[str, object] = {
        "provider": "openai",
        "model": "gpt-4o",
        "work": Workload(1, 1, 1),
        "when": WHEN,
        **kwargs,
    }
    with pytest.raises(EstimateError, match=problem):
        estimate(**args)  # type: ignore[arg-type]


def test_bad_workload_is_named() -> None:
    with pytest.raises(EstimateError, match="--cache-hit-rate"):
        Workload(1, 1, 1, Decimal("1.5"))
