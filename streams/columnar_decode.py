"""The vectorised tier: a columnar batch message checked and priced column by column.

msgspec decodes the columns into typed lists in C (types, ranges, lengths, unknown
columns); numpy checks what spans columns (cache tokens within input tokens, timestamps
inside the skew and age limits) and turns timestamps into minutes; label columns are
factorised and each *distinct* value is checked once, through the row decoder's label
cache; ``ColumnPricer`` prices all events at once. As in the batch tier
(``streams/batch_decode.py``) the checks are narrower than the pydantic model's, so
whatever passes is valid with the same values. When anything in the batch is not plainly
valid the tier answers None and the message goes through the per-item path, which gives
every event its own verdict and index.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Generic, Literal, TypeVar

import msgspec
import numpy as np
import numpy.typing as npt
from msgspec import UNSET, UnsetType

from schemas.pricing import PriceBook
from streams.batch_decode import (
    Count,
    Decimal,
    EpochMillis,
    Label,
    Latency,
    Status,
    TagKey,
    TagValue,
    UnitCount,
    UnitName,
)
from streams.column_batch import ColumnBatch, Factor, factorize
from streams.columnar_pricing import ColumnPricer
from streams.field_checks import reported_nanos
from streams.rows import COMPUTED, REPORTED, UNPRICED

Tags = Annotated[dict[TagKey, TagValue], msgspec.Meta(max_length=64)]
Units = Annotated[dict[UnitName, UnitCount], msgspec.Meta(max_length=16)]
_MAX_EVENTS = 100_000


T = TypeVar("T")


class Dictionary(msgspec.Struct, Generic[T], forbid_unknown_fields=True):
    """A dictionary-encoded column (``schemas/columnar.py``)."""

    values: list[T]
    codes: list[Annotated[int, msgspec.Meta(ge=0)]]


LabelColumn = list[Label] | Dictionary[Label]
OptionalLabels = list[Label | None] | Dictionary[Label | None]


class PlainColumns(msgspec.Struct, forbid_unknown_fields=True):
    """The columns of a plain batch; a missing column is UNSET (all absent)."""

    event_id: Annotated[list[Label], msgspec.Meta(max_length=_MAX_EVENTS)]
    timestamp: list[EpochMillis]
    provider: LabelColumn
    model: LabelColumn
    api_key_id: LabelColumn
    input_tokens: list[Count] | UnsetType = UNSET
    output_tokens: list[Count] | UnsetType = UNSET
    cache_read_tokens: list[Count] | UnsetType = UNSET
    cache_write_tokens: list[Count] | UnsetType = UNSET
    cost_usd: list[Decimal | None] | UnsetType = UNSET
    team: OptionalLabels | UnsetType = UNSET
    app: OptionalLabels | UnsetType = UNSET
    feature: OptionalLabels | UnsetType = UNSET
    environment: OptionalLabels | UnsetType = UNSET
    user_id: OptionalLabels | UnsetType = UNSET
    tags: list[Tags | None] | UnsetType = UNSET
    units: list[Units | None] | UnsetType = UNSET
    status: list[Status | None] | Dictionary[Status | None] | UnsetType = UNSET
    latency_ms: list[Latency | None] | UnsetType = UNSET


class PlainColumnBatch(msgspec.Struct, forbid_unknown_fields=True):
    columns: PlainColumns
    schema_version: Literal[1] = 1


_DECODER = msgspec.json.Decoder(PlainColumnBatch)


def all_labels(values: list[str]) -> bool:
    """``is_label`` for every value (msgspec checked type and length), in a few C passes:
    all printable (so none holds a newline), and no space next to a line boundary."""
    if not "".join(values).isprintable():
        return False
    lines = "\n".join(values)
    return not (lines[0] == " " or lines[-1] == " " or " \n" in lines or "\n " in lines)


class ColumnarDecoder:
    """Columnar batch messages to ``ColumnBatch`` (see the module docstring).

    ``known_label`` and ``provider`` are the row decoder's cached checks, so both tiers
    share one label cache and one provider-alias cache.
    """

    def __init__(
        self,
        prices: PriceBook,
        *,
        skew_us: int,
        age_us: int,
        labels: set[str],
        known_label: Callable[[Any], bool],
        provider: Callable[[Any], str | None],
    ) -> None:
        self.pricer = ColumnPricer(prices)
        self._skew_us = skew_us
        self._age_us = age_us
        self._labels = labels
        self._known_label = known_label
        self._provider = provider
        self._reported: dict[str, int] = {}

    def decode(self, raw: bytes, now_us: int) -> ColumnBatch | None:
        """The batch of a plain columnar message, or None to take the per-item path."""
        try:
            columns = _DECODER.decode(raw).columns
            return self._decode(columns, now_us)
        except (msgspec.ValidationError, msgspec.DecodeError, IndexError, OverflowError):
            return None

    def _decode(self, columns: PlainColumns, now_us: int) -> ColumnBatch | None:
        n = len(columns.event_id)
        if not n or any(
            _length(getattr(columns, name)) != n
            for name in columns.__struct_fields__
            if getattr(columns, name) is not UNSET
        ):
            return None
        if not all_labels(columns.event_id) or not self._plain_user_ids(columns.user_id):
            return None
        factors = self._label_factors(columns, n)
        if factors is None:
            return None
        tokens = tuple(self._counts(getattr(columns, name), n) for name in _TOKEN_COLUMNS)
        inp, out, cache_read, cache_write = tokens
        if np.any(cache_read + cache_write > inp):
            return None
        minute = self._minutes(columns.timestamp, now_us)
        if minute is None or not self._plain_maps(columns):
            return None
        provider, model, key, team, app, feature, environment = factors
        cost, unpriced = self.pricer.price(provider, model, minute, tokens)
        source = np.where(unpriced, UNPRICED, COMPUTED).astype(np.int8)
        reported = columns.cost_usd
        if (
            reported is not UNSET
            and reported.count(None) != n
            and not self._apply_reported(reported, cost, source)
        ):
            return None
        units = columns.units
        return ColumnBatch(
            event_id=columns.event_id,
            minute=minute,
            provider=provider,
            model=model,
            api_key_id=key,
            team=team,
            app=app,
            feature=feature,
            environment=environment,
            input_tokens=inp,
            output_tokens=out,
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
            cost_nanos=cost,
            cost_source=source,
            is_error=_errors(columns.status, n),
            units=None if units is UNSET or units.count(None) == n else units,
        )

    def _label_factors(self, columns: PlainColumns, n: int) -> list[Factor] | None:
        """Factors of provider (canonical names) and the label columns, or None if any
        value is not plainly valid."""
        provider, _ = column_factor(columns.provider, self._provider)
        if None in provider.labels:
            return None
        factors = [provider]
        for name in _LABEL_COLUMNS:
            values = getattr(columns, name)
            if values is UNSET:
                factors.append(Factor(np.zeros(n, dtype=np.intp), [None]))
                continue
            factor, distinct = column_factor(values)
            if not self._labels.issuperset(distinct) and not all(
                v is None or v in self._labels or self._known_label(v) for v in distinct
            ):
                return None
            factors.append(factor)
        return factors

    @staticmethod
    def _plain_user_ids(user_id: OptionalLabels | UnsetType) -> bool:
        if user_id is UNSET:
            return True
        values = user_id.values if isinstance(user_id, Dictionary) else user_id
        present = [v for v in values if v is not None]
        return not present or all_labels(present)

    @staticmethod
    def _counts(values: list[int] | UnsetType, n: int) -> npt.NDArray[np.int64]:
        if values is UNSET:
            return np.zeros(n, dtype=np.int64)
        return np.asarray(values, dtype=np.int64)

    def _minutes(self, stamps: list[int], now_us: int) -> npt.NDArray[np.int64] | None:
        """Event minutes, or None when a timestamp is outside the skew or age limit."""
        at_us = np.asarray(stamps, dtype=np.int64) * 1000
        if int(at_us.max()) - now_us > self._skew_us or now_us - int(at_us.min()) > self._age_us:
            return None
        minute: npt.NDArray[np.int64] = at_us // 60_000_000
        return minute

    @staticmethod
    def _plain_maps(columns: PlainColumns) -> bool:
        """Tags and units the model keeps exactly as they are: msgspec checked types,
        sizes and ranges; what is left is edge whitespace, checked per distinct string."""
        tags, units = columns.tags, columns.units
        if tags is not UNSET:
            words = {w for t in tags if t for pair in t.items() for w in pair}
            if any(w != w.strip() for w in words):
                return False
        if units is not UNSET:
            names = {name for u in units if u for name in u}
            if any(name != name.strip() for name in names):
                return False
        return True

    def _apply_reported(
        self, reported: list[str | None], cost: Any, source: npt.NDArray[np.int8]
    ) -> bool:
        """Book reported costs over computed ones; False if one is not a plain decimal."""
        cache = self._reported
        for index, value in enumerate(reported):
            if value is None:
                continue
            nanos = cache.get(value)
            if nanos is None:
                nanos = reported_nanos(value)
                if nanos is None:
                    return False
                if len(cache) >= 100_000:
                    cache.clear()
                cache[value] = nanos
            cost[index] = nanos
            source[index] = REPORTED
        return True


_TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
_LABEL_COLUMNS = ("model", "api_key_id", "team", "app", "feature", "environment")


def _length(column: list[Any] | Dictionary[Any]) -> int:
    return len(column.codes) if isinstance(column, Dictionary) else len(column)


def column_factor(
    column: list[Any] | Dictionary[Any], transform: Callable[[Any], Any] | None = None
) -> tuple[Factor, list[Any]]:
    """The factor of a plain or dictionary-encoded column, and its distinct raw values.

    Codes outside the dictionary raise ``IndexError``.
    """
    if not isinstance(column, Dictionary):
        return factorize(column, transform)
    values, distinct = factorize(column.values, transform)
    codes = np.asarray(column.codes, dtype=np.intp)
    if len(codes) and int(codes.max()) >= len(column.values):
        raise IndexError("a code outside the dictionary")
    return Factor(values.codes[codes], values.labels), distinct


def _errors(
    status: list[Status | None] | Dictionary[Status | None] | UnsetType, n: int
) -> npt.NDArray[np.bool_]:
    if status is UNSET or (
        isinstance(status, list) and status.count(None) + status.count("ok") == n
    ):
        return np.zeros(n, dtype=np.bool_)
    factor, _ = column_factor(status)
    failed = np.asarray([s is not None and s != "ok" for s in factor.labels], dtype=np.bool_)
    flags: npt.NDArray[np.bool_] = failed[factor.codes]
    return flags
