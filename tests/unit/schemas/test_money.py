from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.money import MoneyError, format_usd, nanos_to_cents, nanos_to_usd, usd_to_nanos


@pytest.mark.parametrize(
    ("value", "nanos"),
    [
        ("0", 0),
        ("0.000000001", 1),
        ("0.0000000005", 0),  # half to even
        ("0.0000000015", 2),
        (0.1, 100_000_000),
        (12, 12_000_000_000),
        (Decimal("1234.567890123"), 1_234_567_890_123),
    ],
)
def test_usd_to_nanos(value: object, nanos: int) -> None:
    assert usd_to_nanos(value) == nanos  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "abc", True, float("inf")])
def test_usd_to_nanos_rejects_non_amounts(bad: object) -> None:
    with pytest.raises(MoneyError):
        usd_to_nanos(bad)  # type: ignore[arg-type]


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_nanos_round_trip_exactly(nanos: int) -> None:
    assert usd_to_nanos(nanos_to_usd(nanos)) == nanos


@given(st.lists(st.integers(min_value=0, max_value=10**12), max_size=50))
def test_sum_of_usd_equals_usd_of_sum(values: list[int]) -> None:
    assert sum((nanos_to_usd(v) for v in values), Decimal(0)) == nanos_to_usd(sum(values))


def test_cents_and_format() -> None:
    assert nanos_to_cents(1_234_999_999) == Decimal("1.23")
    assert nanos_to_cents(1_235_000_000) == Decimal("1.24")
    assert format_usd(1_234_560_000_000) == "$1,234.56"
    assert format_usd(-15_000_000) == "-$0.02"
    assert format_usd(12_345, places=6) == "$0.000012"
