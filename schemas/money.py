"""Exact money: integer nano-USD from parsing to every sum.

One nano-USD is 1e-9 USD. Integer nanos keep every sum exact (Python ints never
overflow; numpy int64 holds about 9.2 billion USD) and are fine enough that pricing a
single call rounds by at most half a nano-USD, so a billion events cannot drift by a
cent. Floats never carry money in spendwatch.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

NANOS_PER_USD = 1_000_000_000
_NANO = Decimal("0.000000001")
_CENT = Decimal("0.01")

Nanos = int
"""Money in integer nano-USD."""


class MoneyError(ValueError):
    """A value that cannot be an amount of money."""


def usd_to_nanos(value: Decimal | int | float | str) -> Nanos:
    """Convert a USD amount to integer nanos, rounding half to even.

    Floats are read through their shortest repr (``0.1`` is ``Decimal("0.1")``), which
    is the literal a JSON producer wrote.

    >>> usd_to_nanos("0.0000125")
    12500
    >>> usd_to_nanos(0.1)
    100000000
    """
    if isinstance(value, bool):
        raise MoneyError("a boolean is not an amount")
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"not a decimal number: {value!r}") from exc
    if not amount.is_finite():
        raise MoneyError(f"not a finite amount: {value!r}")
    return int((amount * NANOS_PER_USD).to_integral_value(rounding=ROUND_HALF_EVEN))


def nanos_to_usd(nanos: Nanos) -> Decimal:
    """Exact USD value of integer nanos, with nine decimal places.

    >>> nanos_to_usd(12500)
    Decimal('0.000012500')
    """
    return (Decimal(nanos) / NANOS_PER_USD).quantize(_NANO)


def usd_text(nanos: Nanos) -> str:
    """Exact USD as a plain decimal string with nine places (never scientific notation).

    >>> usd_text(50)
    '0.000000050'
    """
    return format(nanos_to_usd(nanos), "f")


def nanos_to_cents(nanos: Nanos) -> Decimal:
    """USD rounded half-even to the cent, for display and invoices.

    >>> nanos_to_cents(1_234_999_999)
    Decimal('1.23')
    """
    return nanos_to_usd(nanos).quantize(_CENT, rounding=ROUND_HALF_EVEN)


def format_usd(nanos: Nanos, places: int = 2) -> str:
    """Human format: ``$1,234.56`` (more places for sub-cent amounts when asked).

    >>> format_usd(1_234_560_000_000)
    '$1,234.56'
    """
    quantum = Decimal(1).scaleb(-places)
    amount = nanos_to_usd(nanos).quantize(quantum, rounding=ROUND_HALF_EVEN)
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.{places}f}"
