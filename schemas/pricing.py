"""Pricing from the genai-prices catalogue, resolved once per price card and cached.

genai-prices costs about 70 µs a call. Within one (provider, model, day, tier bracket)
its price is linear in the token counts, so spendwatch asks it a handful of times to
read off the coefficients (a "price card"), then prices every event with integer
arithmetic in femto-USD, rounded once to nano-USD. A unit test checks that cards agree
with ``genai_prices.calc_price`` exactly, model by model.
"""

from __future__ import annotations

import bisect
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any

from genai_prices import Usage, data_snapshot, types

from schemas.event import UsageEvent
from schemas.money import Nanos, usd_to_nanos
from schemas.providers import pricing_provider_id

FEMTOS_PER_NANO = 1_000_000
_FEMTO = Decimal(10) ** 15


class CostSource(StrEnum):
    REPORTED = "reported"
    COMPUTED = "computed"
    UNPRICED = "unpriced"


@dataclass(frozen=True, slots=True)
class PriceCard:
    """Femto-USD per token (and per request) for one price regime."""

    request: int
    uncached_input: int
    cache_read: int
    cache_write: int
    output: int

    def cost_nanos(
        self, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int
    ) -> Nanos:
        femtos = (
            self.request
            + self.uncached_input * (input_tokens - cache_read - cache_write)
            + self.cache_read * cache_read
            + self.cache_write * cache_write
            + self.output * output_tokens
        )
        return femtos_to_nanos(femtos)


def femtos_to_nanos(femtos: int) -> Nanos:
    """Round femto-USD to nano-USD, half to even.

    >>> femtos_to_nanos(2_500_000), femtos_to_nanos(3_500_000)
    (2, 4)
    """
    quotient, remainder = divmod(femtos, FEMTOS_PER_NANO)
    twice = 2 * remainder
    if twice > FEMTOS_PER_NANO or (twice == FEMTOS_PER_NANO and quotient % 2):
        quotient += 1
    return quotient


@dataclass(frozen=True, slots=True)
class _ModelEntry:
    provider: types.Provider
    model: types.ModelInfo
    time_of_day: bool
    """Prices change within a day (off-peak pricing): cards are cached per minute."""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_Regime = tuple[tuple[int, ...], tuple[PriceCard, ...]]
_UNPRICED: _Regime = ((), ())
_BY_MINUTE: _Regime = ((-1,), ())
"""Marker: this model's prices change within the day; regimes are cached per minute."""


def _to_femtos(value: Decimal) -> int:
    scaled = value * _FEMTO
    rounded = scaled.to_integral_value(rounding=ROUND_HALF_EVEN)
    return int(rounded)


def _calc(entry: _ModelEntry, when: datetime, **usage: int) -> Decimal:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = entry.model.calc_price(
            Usage(**usage), entry.provider, genai_request_timestamp=when
        )
    return Decimal(result.total_price)


def _tier_thresholds(entry: _ModelEntry, when: datetime) -> tuple[int, ...]:
    prices = entry.model.get_prices(when)
    starts = {
        tier.start
        for value in prices.__dict__.values()
        if isinstance(value, types.TieredPrices)
        for tier in value.tiers
    }
    return tuple(sorted(starts))


def _has_time_of_day(model: types.ModelInfo) -> bool:
    if not isinstance(model.prices, list):
        return False
    return any(isinstance(p.constraint, types.TimeOfDateConstraint) for p in model.prices)


class PriceBook:
    """Resolves and caches genai-prices lookups; prices events in well under a microsecond."""

    def __init__(self) -> None:
        self._snapshot = data_snapshot.get_snapshot()
        self._models: dict[tuple[str, str], _ModelEntry | None] = {}
        self._regimes: dict[tuple[Any, ...], _Regime] = {}
        self.lookups = 0
        """How many times the catalogue itself was asked (for metrics and benchmarks)."""

    def model_entry(self, provider: str, model: str) -> _ModelEntry | None:
        key = (provider, model)
        try:
            return self._models[key]
        except KeyError:
            pass
        self.lookups += 1
        entry: _ModelEntry | None
        try:
            found_provider, found_model = self._snapshot.find_provider_model(
                model, None, pricing_provider_id(provider), None
            )
            entry = _ModelEntry(found_provider, found_model, _has_time_of_day(found_model))
        except (LookupError, ValueError):
            entry = None
        self._models[key] = entry
        return entry

    def is_priced(self, provider: str, model: str) -> bool:
        return self.model_entry(provider, model) is not None

    def card(
        self, provider: str, model: str, when: datetime, input_tokens: int = 0
    ) -> PriceCard | None:
        """The price card in force for this call, or None when the model has no price."""
        minute = (when - _EPOCH) // timedelta(minutes=1)
        return self.card_at_minute(provider, model, minute, input_tokens)

    def card_at_minute(
        self, provider: str, model: str, minute: int, input_tokens: int = 0
    ) -> PriceCard | None:
        """``card`` for a call in epoch minute ``minute`` (the worker's hot path)."""
        thresholds, cards = self.regime_at_minute(provider, model, minute)
        if len(cards) == 1:
            return cards[0]
        if not cards:
            return None
        return cards[bisect.bisect_left(thresholds, input_tokens)]

    def regime_at_minute(
        self, provider: str, model: str, minute: int
    ) -> tuple[tuple[int, ...], tuple[PriceCard, ...]]:
        """The tier thresholds and cards in force in epoch minute ``minute``.

        No card: the model has no price. One card: every call pays it. Otherwise a call
        with ``input_tokens`` pays ``cards[bisect_left(thresholds, input_tokens)]``. The
        answer holds for the whole UTC day unless ``prices_change_within_day``.
        """
        day_key = (provider, model, _EPOCH_ORDINAL + minute // 1440)
        regime = self._regimes.get(day_key)
        if regime is None:
            regime = self._resolve_day(day_key, _EPOCH + timedelta(minutes=minute))
        if regime is _BY_MINUTE:
            minute_key = (*day_key, minute % 1440)
            regime = self._regimes.get(minute_key) or self._resolve_minute(
                minute_key, _EPOCH + timedelta(minutes=minute)
            )
        return regime

    def prices_change_within_day(self, provider: str, model: str) -> bool:
        """True for models with time-of-day (off-peak) prices."""
        entry = self.model_entry(provider, model)
        return entry is not None and entry.time_of_day

    def _resolve_day(self, day_key: tuple[Any, ...], when: datetime) -> _Regime:
        entry = self.model_entry(day_key[0], day_key[1])
        if entry is None:
            regime = _UNPRICED
        elif entry.time_of_day:
            regime = _BY_MINUTE
        else:
            regime = self._build_regime(entry, when)
        self._regimes[day_key] = regime
        return regime

    def _resolve_minute(self, minute_key: tuple[Any, ...], when: datetime) -> _Regime:
        entry = self.model_entry(minute_key[0], minute_key[1])
        assert entry is not None
        regime = self._build_regime(entry, when)
        self._regimes[minute_key] = regime
        return regime

    def _build_regime(self, entry: _ModelEntry, when: datetime) -> _Regime:
        probe_at = when.replace(second=30, microsecond=0)
        thresholds = _tier_thresholds(entry, probe_at)
        base_inputs = (0, *(start + 1 for start in thresholds))
        cards = tuple(self._probe(entry, probe_at, base) for base in base_inputs)
        self.lookups += 5 * len(cards)
        return thresholds, cards

    @staticmethod
    def _probe(entry: _ModelEntry, when: datetime, base_input: int) -> PriceCard:
        """Read the linear coefficients off the catalogue around ``base_input`` tokens."""
        base = _calc(entry, when, input_tokens=base_input + 2)
        uncached = _calc(entry, when, input_tokens=base_input + 3) - base
        cache_read = _calc(entry, when, input_tokens=base_input + 2, cache_read_tokens=1) - base
        cache_write = _calc(entry, when, input_tokens=base_input + 2, cache_write_tokens=1) - base
        output = _calc(entry, when, input_tokens=base_input + 2, output_tokens=1) - base
        request = base - uncached * (base_input + 2)
        return PriceCard(
            request=_to_femtos(request),
            uncached_input=_to_femtos(uncached),
            cache_read=_to_femtos(uncached + cache_read),
            cache_write=_to_femtos(uncached + cache_write),
            output=_to_femtos(output),
        )

    def price_event(self, event: UsageEvent) -> tuple[Nanos, CostSource]:
        """Cost of one validated event (see ``price``)."""
        return self.price(
            event.provider,
            event.model,
            event.timestamp,
            event.input_tokens,
            event.output_tokens,
            event.cache_read_tokens,
            event.cache_write_tokens,
            event.cost_usd,
        )

    def price(
        self,
        provider: str,
        model: str,
        when: datetime,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int,
        cache_write_tokens: int,
        reported_usd: Decimal | None = None,
    ) -> tuple[Nanos, CostSource]:
        """Cost of one call: the reported cost when given, else computed, else unpriced (0)."""
        if reported_usd is not None:
            return usd_to_nanos(reported_usd), CostSource.REPORTED
        card = self.card(provider, model, when, input_tokens)
        if card is None:
            return 0, CostSource.UNPRICED
        return (
            card.cost_nanos(input_tokens, output_tokens, cache_read_tokens, cache_write_tokens),
            CostSource.COMPUTED,
        )
