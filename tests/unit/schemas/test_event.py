from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.event import UsageEvent
from schemas.json_schema import committed_schema_json, usage_event_schema_json

Make = Callable[..., dict[str, Any]]


def test_a_minimal_event_gets_defaults(make_event: Make) -> None:
    ev = UsageEvent.model_validate(make_event())
    assert ev.schema_version == 1
    assert ev.cache_read_tokens == 0
    assert ev.cost_usd is None
    assert ev.timestamp.tzinfo is UTC


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("google", "gcp.gemini"),
        ("Bedrock", "aws.bedrock"),
        ("azure", "azure.ai.openai"),
        ("openai", "openai"),
        ("anthropic", "anthropic"),
        ("mistral", "mistral_ai"),
    ],
)
def test_provider_aliases_map_to_otel_names(make_event: Make, alias: str, canonical: str) -> None:
    assert UsageEvent.model_validate(make_event(provider=alias)).provider == canonical


def test_timestamps_rfc3339_with_zone_or_epoch_ms(make_event: Make) -> None:
    a = UsageEvent.model_validate(make_event(timestamp="2026-11-29T12:00:00+02:00"))
    b = UsageEvent.model_validate(make_event(timestamp=1_796_378_400_000))
    assert a.timestamp == datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    assert b.timestamp == datetime.fromtimestamp(1_796_378_400, tz=UTC)


def _problems(make_event: Make, **fields: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        UsageEvent.model_validate(make_event(**fields))
    return {".".join(map(str, e["loc"])) or "": e["msg"] for e in info.value.errors()}


@pytest.mark.parametrize(
    ("fields", "path", "fragment"),
    [
        ({"timestamp": "2026-11-29T12:00:00"}, "timestamp", "zone"),
        ({"timestamp": 1.5}, "timestamp", "integer"),
        ({"input_tokens": -1}, "input_tokens", "greater than or equal to 0"),
        ({"input_tokens": "12"}, "input_tokens", "valid integer"),
        ({"input_tokens": True}, "input_tokens", "valid integer"),
        ({"output_tokens": 10**11}, "output_tokens", "less than or equal"),
        ({"cost_usd": "NaN"}, "cost_usd", "finite"),
        ({"cost_usd": -1}, "cost_usd", "greater than or equal to 0"),
        ({"schema_version": 2}, "schema_version", "1"),
        ({"event_id": ""}, "event_id", "at least 1"),
        ({"provider": "Open AI!"}, "provider", "gen_ai.provider.name"),
        ({"costusd": 1}, "costusd", "Extra inputs"),
        ({"api_key_id": None, "model": None}, "api_key_id", "required"),
        ({"team": "a\x00b"}, "team", "U+0000 (a control character)"),
        ({"tags": {"k": {"nested": 1}}}, "tags.k", "valid string"),
    ],
)
def test_bad_fields_name_their_path(
    make_event: Make, fields: dict[str, Any], path: str, fragment: str
) -> None:
    problems = _problems(make_event, **fields)
    assert path in problems, problems
    assert fragment in problems[path]


def test_cache_tokens_must_fit_inside_input_tokens(make_event: Make) -> None:
    problems = _problems(make_event, input_tokens=100, cache_read_tokens=80, cache_write_tokens=30)
    assert "input_tokens must include cached tokens" in next(iter(problems.values()))


def test_reported_cost_is_exact(make_event: Make) -> None:
    assert UsageEvent.model_validate(make_event(cost_usd=0.1)).cost_usd == Decimal("0.1")
    ev = UsageEvent.model_validate(make_event(cost_usd="0.000000012345"))
    assert ev.cost_usd == Decimal("0.000000012345")


labels = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=20,
)


@given(
    event_id=labels,
    key=labels,
    model=labels,
    team=st.none() | labels,
    inp=st.integers(0, 10**9),
    out=st.integers(0, 10**9),
    frac=st.floats(0, 1),
    ms=st.integers(0, 4_000_000_000_000),
    cost=st.none() | st.decimals(min_value=0, max_value=1000, places=9, allow_nan=False),
)
def test_round_trip_through_json(
    event_id: str,
    key: str,
    model: str,
    team: str | None,
    inp: int,
    out: int,
    frac: float,
    ms: int,
    cost: Decimal | None,
) -> None:
    cached = int(inp * frac)
    ev = UsageEvent(
        event_id=event_id,
        timestamp=datetime.fromtimestamp(ms / 1000, tz=UTC),
        provider="anthropic",
        model=model,
        api_key_id=key,
        input_tokens=inp,
        output_tokens=out,
        cache_read_tokens=cached,
        team=team,
        cost_usd=cost,
    )
    again = UsageEvent.model_validate_json(ev.model_dump_json())
    assert again == ev


def test_committed_json_schema_is_current() -> None:
    assert committed_schema_json() == usage_event_schema_json(), (
        "run: spendwatch schema > schemas/usage_event.schema.json"
    )
