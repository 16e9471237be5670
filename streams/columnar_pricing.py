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
        if len(self._index) >= 100_000:
            self._index.clear()
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
        special: list[tuple[int, str, str]] = []
        for group, row in enumerate(firsts.tolist()):
            name = provider.labels[provider.codes[row]]
            model_name = model.labels[model.codes[row]]
            if self.prices.prices_change_within_day(name, model_name):
                special.append((group, name, model_name))
                continue
            thresholds, cards = self.prices.regime_at_minute(name, model_name, int(minute[row]))
            if len(cards) <= 1:
                plain[group] = self._card_row(cards[0]) if cards else _UNPRICED_CARD
            else:
                special.append((group, name, model_name))
        card = plain[inverse]
        for group, name, model_name in special:
            rows = np.flatnonzero(inverse == group)
            for at in np.unique(minute[rows]).tolist():
                thresholds, cards = self.prices.regime_at_minute(name, model_name, at)
                chosen = rows[minute[rows] == at]
                if not cards:
                    card[chosen] = _UNPRICED_CARD
                    continue
                table_rows = np.asarray([self._card_row(c) for c in cards], dtype=np.intp)
                tier = np.searchsorted(np.asarray(thresholds, dtype=np.int64), inp[chosen])
                card[chosen] = table_rows[tier]
        return card

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
