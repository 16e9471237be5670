"""The ``detectors`` section of the config file: frozen pydantic models with safe defaults.

An empty section is a working configuration. Per-series overrides are keyed by series
name (``team=research``, ``api_key_id=k-1``) or by a whole dimension (``team``), and
patch the spike and unit-cost settings for those series only; budgets are monthly USD
amounts (Decimal) per series. Every validation error names its path, e.g.
``overrides.team=research.spike.ratio``.

>>> DetectorsConfig().spike.ratio
3.0
>>> DetectorsConfig.model_validate({"budgets": {"team=search": "1200.50"}}).budgets
{'team=search': Decimal('1200.50')}
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.findings import Dimension, Scope, Severity
from schemas.money import Nanos, usd_to_nanos

M = TypeVar("M", bound=BaseModel)
_FROZEN = ConfigDict(frozen=True, extra="forbid")
Usd = Decimal
DIMENSIONS: tuple[Dimension, ...] = (
    "api_key_id", "team", "app", "feature", "model", "provider", "environment", "org",
)  # fmt: skip


@lru_cache(maxsize=4096)
def nanos(usd: Decimal) -> Nanos:
    """A configured USD amount in nano-USD (cached: detectors ask on every bucket)."""
    return usd_to_nanos(usd)


class SpikeConfig(BaseModel):
    """Spend spike: observed spend over a short window against a learned expectation."""

    model_config = _FROZEN

    enabled: bool = True
    dimensions: tuple[Dimension, ...] = DIMENSIONS
    warmup_minutes: int = Field(60, ge=1)
    """Minutes of history before the detector may fire on a series."""
    windows_minutes: tuple[int, ...] = (1, 3, 5, 10, 30)
    """Windows compared with the expectation; short ones catch big spikes fast."""

    @field_validator("windows_minutes")
    @classmethod
    def _windows(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(not 1 <= w <= 32 for w in value):
            raise ValueError("windows_minutes: one or more windows of 1 to 32 minutes")
        return value

    ratio: float = Field(3.0, gt=1)
    """Observed must exceed ``ratio`` times the expectation ..."""
    still_ratio: float = Field(1.5, ge=0)
    """... and, for windows longer than one bucket, the newest bucket must still spend
    ``still_ratio`` times its expectation: a spike that is over stops being reported
    when it is over, not when it leaves the longest window (alerts resolve sooner) ..."""
    z: float = Field(6.0, gt=0)
    """... and the expectation by ``z`` robust spreads (noise floor of small series)."""
    min_impact_usd: Usd = Field(Decimal("2"), ge=0)
    """Spend above expectation over the window needed to report at all."""
    page_impact_usd: Usd = Field(Decimal("25"), ge=0)
    """Spend above expectation at which the finding pages (severity ``error``)."""
    level_half_life_minutes: float = Field(45.0, gt=0)
    profile_day_weight: float = Field(0.3, gt=0, le=1)
    """Weight of each new day in the time-of-day profile (weekdays and weekends apart)."""
    protect_weight: float = Field(0.05, ge=0, le=1)
    """Learning rate multiplier while anomalous: an incident never becomes the baseline."""
    utc_offset_hours: float = Field(0.0, ge=-12, le=14)
    """Local time of the organisation (or, as an override, of a team): the time-of-day
    profile keeps weekdays and weekends apart by local days. A fixed offset (no daylight
    saving); changing it moves what was learned by as much."""
    creep_window_minutes: int = Field(240, ge=30)
    creep_ratio: float = Field(2.0, gt=1)
    """Sustained spend above the same hours of previous days by this factor is creep."""


class UnitCostConfig(BaseModel):
    """Unit-cost drift: cost and tokens per call against their learned distribution."""

    model_config = _FROZEN

    enabled: bool = True
    dimensions: tuple[Dimension, ...] = ("api_key_id", "app", "team")
    """Not ``feature`` or ``model`` by default: their call mix shifts between apps."""
    window_minutes: int = Field(5, ge=1)
    max_window_minutes: int = Field(60, ge=1)
    """A window short of calls or of dollar impact grows up to this long."""
    min_calls: int = Field(50, ge=1)
    warmup_windows: int = Field(12, ge=1)
    ratio: float = Field(2.0, gt=1)
    """A per-call feature must grow by this factor ..."""
    z: float = Field(4.0, gt=0)
    """... and by ``z`` standard deviations of its log."""
    confirm_windows: int = Field(2, ge=1)
    """Windows in a row that must drift before it is reported."""
    half_life_windows: float = Field(288.0, gt=0)
    min_impact_usd: Usd = Field(Decimal("2"), ge=0)
    page_impact_usd: Usd = Field(Decimal("25"), ge=0)


class BurnRule(BaseModel):
    """Both the long and the short window burn above ``factor`` times the sustainable rate."""

    model_config = _FROZEN

    long_minutes: int = Field(ge=1, le=4320)
    short_minutes: int = Field(ge=1, le=4320)
    factor: float = Field(gt=0)
    severity: Severity

    @model_validator(mode="after")
    def _short_within_long(self) -> Self:
        if self.short_minutes > self.long_minutes:
            raise ValueError("short_minutes must not exceed long_minutes")
        return self


DEFAULT_BURN_RULES = (
    BurnRule(long_minutes=60, short_minutes=5, factor=14.4, severity=Severity.CRITICAL),
    BurnRule(long_minutes=360, short_minutes=30, factor=6.0, severity=Severity.ERROR),
    BurnRule(long_minutes=4320, short_minutes=360, factor=1.0, severity=Severity.WARNING),
)


class BudgetConfig(BaseModel):
    """Burn-rate rules (SRE workbook) and the month-end forecast, for series with a budget."""

    model_config = _FROZEN

    enabled: bool = True
    rules: tuple[BurnRule, ...] = DEFAULT_BURN_RULES
    forecast: bool = True
    forecast_history_minutes: int = Field(4320, ge=60)
    """Spend rate the forecast projects: the mean over this much history (or all of it)."""
    forecast_min_history_minutes: int = Field(360, ge=1)


class StaticThreshold(BaseModel):
    """Any series of ``dimension`` (or just ``value``) above ``max_usd`` in the window."""

    model_config = _FROZEN

    dimension: Dimension
    value: str | None = None
    window_minutes: int = Field(5, ge=1, le=1440)
    max_usd: Usd = Field(gt=0)
    severity: Severity = Severity.ERROR


class ApprovedModels(BaseModel):
    """A team's approved providers and models (``fnmatch`` patterns on model names)."""

    model_config = _FROZEN

    providers: tuple[str, ...] = ()
    models: tuple[str, ...] = ()


class PolicyConfig(BaseModel):
    """Cost-pipeline health and policy checks."""

    model_config = _FROZEN

    enabled: bool = True
    unpriced: bool = True
    unattributed_max_usd_per_hour: Usd = Field(Decimal("5"), ge=0)
    new_key_min_usd: Usd = Field(Decimal("2"), ge=0)
    """A never-seen (or long idle) key spending this much in its first window is reported."""
    new_key_window_minutes: int = Field(60, ge=1)
    idle_key_minutes: int = Field(7 * 1440, ge=60)
    """A key silent this long counts as never seen when it spends again."""
    known_keys_warmup_minutes: int = Field(1440, ge=0)
    """Keys first seen this soon after the detectors started are not 'never seen'."""
    key_owners: dict[str, str] = Field(default_factory=dict)
    """Known keys and their owning team; listed keys are never 'never seen'."""
    approved: dict[str, ApprovedModels] = Field(default_factory=dict)
    """Per team; a team absent here may use any model."""


class SeriesOverride(BaseModel):
    """Patches of spike and unit-cost settings for some series."""

    model_config = _FROZEN

    spike: dict[str, Any] = Field(default_factory=dict)
    unit_cost: dict[str, Any] = Field(default_factory=dict)


class DetectorsConfig(BaseModel):
    """The whole ``detectors`` section."""

    model_config = _FROZEN

    spike: SpikeConfig = SpikeConfig()
    unit_cost: UnitCostConfig = UnitCostConfig()
    budget: BudgetConfig = BudgetConfig()
    policy: PolicyConfig = PolicyConfig()
    static: tuple[StaticThreshold, ...] = ()
    budgets: dict[str, Usd] = Field(default_factory=dict)
    """Monthly budget in USD per series, ``team=search`` or ``app=search-rerank``."""
    overrides: dict[str, SeriesOverride] = Field(default_factory=dict)
    idle_evict_minutes: int = Field(8 * 1440, ge=60)
    """A series state idle this long may be evicted (it is re-learned if it returns)."""

    @field_validator("budgets")
    @classmethod
    def _budget_keys(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for name, amount in value.items():
            _scope_of(name, "budgets")
            if amount <= 0:
                raise ValueError(f"budgets.{name}: must be a positive USD amount")
        return value

    @field_validator("overrides")
    @classmethod
    def _override_keys(cls, value: dict[str, SeriesOverride]) -> dict[str, SeriesOverride]:
        for name, patch in value.items():
            if name not in DIMENSIONS:
                _scope_of(name, "overrides")
            for section, model in (("spike", SpikeConfig), ("unit_cost", UnitCostConfig)):
                try:
                    model.model_validate(getattr(patch, section))
                except ValidationError as exc:
                    where = f"overrides.{name}.{section}"
                    raise ValueError(
                        "; ".join(
                            f"{where}.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                            for e in exc.errors()
                        )
                    ) from None
        return value

    def spike_for(self, scope: Scope) -> SpikeConfig:
        return _patched(self.spike, self._patches(scope, "spike"))

    def unit_cost_for(self, scope: Scope) -> UnitCostConfig:
        return _patched(self.unit_cost, self._patches(scope, "unit_cost"))

    def settings_key(self, scope: Scope) -> str:
        """What a series' spike and unit-cost settings depend on: its name where it has
        overrides of its own, else only its dimension."""
        return scope.name if scope.name in self.overrides else scope.dimension

    def budget_nanos(self, scope: Scope) -> Nanos | None:
        amount = self.budgets.get(scope.name)
        return None if amount is None else nanos(amount)

    def _patches(self, scope: Scope, section: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for key in (scope.dimension, scope.name):
            override = self.overrides.get(key)
            if override is not None:
                merged.update(getattr(override, section))
        return merged


def _patched(base: M, patch: dict[str, Any]) -> M:
    if not patch:
        return base
    return type(base).model_validate({**base.model_dump(), **patch})


def _scope_of(name: str, where: str) -> Scope:
    try:
        return Scope.parse(name)
    except ValueError:
        raise ValueError(
            f"{where}.{name}: not a series name like 'team=search' "
            f"(dimension one of {', '.join(DIMENSIONS)})"
        ) from None
