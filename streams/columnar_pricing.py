"""``ColumnPricer``: price a whole column of events with integer numpy arithmetic.

The price card (``schemas.pricing.PriceCard``) of an event depends on its provider,
model, day (or minute, for off-peak prices) and, for tiered prices, its input tokens.
The pricer looks the regime up once per distinct (provider, model, day) of a message,
gives every event the index of its card in a table of coefficients, and computes
femto-USD for all events at once, then rounds half to even to nano-USD exactly as
``PriceCard.cost_nanos`` does. The arithmetic runs in int64 only when a bound on the
message's largest coefficient and token counts proves it cannot overflow; otherwise it
runs on Python integers (an object array), still exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from schemas.pricing import FEMTOS_PER_NANO, PriceBook, PriceCard
from streams.column_batch import Factor, Ints

_INT64_SAFE = 2**63 - 1
Tier = tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]]
"""Tier thresholds (input tokens) and the coefficient-table row of each tier's card."""

_UNPRICED_CARD = 0
"""Row 0 of the coefficient table: the zero card of events with no price."""


class ColumnPricer:
    """Prices columns of events from a ``PriceBook`` (see the module docstring)."""

    def __init__(self, prices: PriceBook) -> None:
        self.prices = prices
        self._index: dict[PriceCard, int] = {}
        self._table: npt.NDArray[np.int64] | npt.NDArray[np.object_] = np.zeros((1, 5), np.int64)
        self._largest = 0
        """The largest absolute coefficient in the table."""
        self._days: dict[tuple[str, str, int], Tier | None] = {}

    def price(
        self,
        provider: Factor,
        model: Factor,
        minute: npt.NDArray[np.int64],
        tokens: tuple[npt.NDArray[np.int64], ...],
    ) -> tuple[Ints, npt.NDArray[np.bool_]]:
        """Nano-USD per event and which events have no price (cost 0).

        ``tokens`` is (input, output, cache_read, cache_write).
        """
        inp, out, cache_read, cache_write = tokens
        card = self._cards(provider, model, minute, inp)
        coefficients = self._table[card]
        bound = self._largest * (int(inp.max()) + int(out.max()) + 1)
        if bound > _INT64_SAFE or self._table.dtype == object:
            coefficients = coefficients.astype(object)
            inp, out = inp.astype(object), out.astype(object)
            cache_read, cache_write = cache_read.astype(object), cache_write.astype(object)
        femtos = (
            coefficients[:, 0]
            + coefficients[:, 1] * (inp - cache_read - cache_write)
            + coefficients[:, 2] * cache_read
            + coefficients[:, 3] * cache_write
            + coefficients[:, 4] * out
        )
        nanos, remainder = femtos // FEMTOS_PER_NANO, femtos % FEMTOS_PER_NANO
        twice = 2 * remainder
        round_up = (twice > FEMTOS_PER_NANO) | ((twice == FEMTOS_PER_NANO) & (nanos % 2 == 1))
        nanos = nanos + round_up.astype(bool)
        fits = nanos.dtype != object or (
            len(nanos) and min(nanos) >= -_INT64_SAFE and max(nanos) <= _INT64_SAFE
        )
        if nanos.dtype == object and fits:
            nanos = nanos.astype(np.int64)
        return nanos, card == _UNPRICED_CARD

    def _cards(
        self,
        provider: Factor,
        model: Factor,
        minute: npt.NDArray[np.int64],
        inp: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.intp]:
        """Each event's row in the coefficient table."""
        if len(self._index) >= 100_000 or len(self._days) >= 100_000:
            self._index.clear()
            self._days.clear()
            self._table = self._table[:1]
            self._largest = 0
        day = minute // 1440
        first_day = int(day.min())
        days = int(day.max()) - first_day + 1
        pair = provider.codes * len(model.labels) + model.codes
        key = pair * days + (day - first_day)
        _, firsts, inverse = np.unique(key, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        plain = np.zeros(len(firsts), dtype=np.intp)
        tiered: list[tuple[int, Tier]] = []
        by_minute: list[tuple[int, str, str]] = []
        for group, row in enumerate(firsts.tolist()):
            name = provider.labels[provider.codes[row]]
            model_name = model.labels[model.codes[row]]
            at = int(minute[row])
            tier = self._day_tier(name, model_name, at)
            if tier is None:
                by_minute.append((group, name, model_name))
            elif len(tier[1]) == 1:
                plain[group] = tier[1][0]
            else:
                tiered.append((group, tier))
        card = plain[inverse]
        for group, tier in tiered:
            rows = np.flatnonzero(inverse == group)
            card[rows] = _pick(tier, inp[rows])
        for group, name, model_name in by_minute:
            rows = np.flatnonzero(inverse == group)
            for at in np.unique(minute[rows]).tolist():
                chosen = rows[minute[rows] == at]
                card[chosen] = _pick(self._tier(name, model_name, at), inp[chosen])
        return card

    def _day_tier(self, provider: str, model: str, minute: int) -> Tier | None:
        """The tier of a (provider, model, day), or None when prices change within it."""
        key = (provider, model, minute // 1440)
        if key in self._days:
            return self._days[key]
        within_day = self.prices.prices_change_within_day(provider, model)
        tier = None if within_day else self._tier(provider, model, minute)
        self._days[key] = tier
        return tier

    def _tier(self, provider: str, model: str, minute: int) -> Tier:
        thresholds, cards = self.prices.regime_at_minute(provider, model, minute)
        rows = [self._card_row(c) for c in cards] or [_UNPRICED_CARD]
        return np.asarray(thresholds, dtype=np.int64), np.asarray(rows, dtype=np.intp)

    def _card_row(self, card: PriceCard) -> int:
        row = self._index.get(card)
        if row is not None:
            return row
        values = [card.request, card.uncached_input, card.cache_read, card.cache_write, card.output]
        self._largest = max(self._largest, *(abs(v) for v in values))
        table: Any = self._table
        if self._largest > _INT64_SAFE:
            table = table.astype(object)
        self._table = np.vstack([table, np.asarray([values], dtype=table.dtype)])
        row = self._index[card] = len(self._table) - 1
        return row


def _pick(tier: Tier, input_tokens: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """Table rows for calls of ``input_tokens``: ``bisect_left`` on the thresholds."""
    thresholds, rows = tier
    if len(rows) == 1:
        return np.full(len(input_tokens), rows[0], dtype=np.intp)
    picked: npt.NDArray[np.intp] = rows[np.searchsorted(thresholds, input_tokens)]
    return picked
