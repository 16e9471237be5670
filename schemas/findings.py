"""What flows between the packages after aggregation: series buckets, findings, alerts.

``streams/`` (the live worker) and the offline backtest both build ``SeriesBucket``
values and hand them to ``detectors/``; detectors return ``Finding`` values; the
``alerting/`` lifecycle turns findings into ``Alert`` values that change state (firing,
resolved) and are routed to receivers. Money is integer nano-USD throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.money import Nanos

Dimension = Literal[
    "api_key_id", "team", "app", "feature", "model", "provider", "environment", "org"
]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_BEFORE = 32
"""The most still-open buckets an open bucket carries in ``SeriesBucket.before`` (the
longest detector window, in buckets)."""


def minute_to_datetime(minute: int) -> datetime:
    """An epoch minute as an aware UTC datetime.

    >>> minute_to_datetime(60).isoformat()
    '1970-01-01T01:00:00+00:00'
    """
    return _EPOCH + timedelta(minutes=minute)


class Severity(StrEnum):
    """PagerDuty's severities, most urgent first; ``critical`` and ``error`` page."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Scope(BaseModel):
    """One series: a dimension and its value (``org`` has the value ``all``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dimension: Dimension
    value: str = Field(min_length=1, max_length=256)

    @property
    def name(self) -> str:
        """The series name used by the worker's tables and HTTP API, ``team=search``."""
        return f"{self.dimension}={self.value}"

    @classmethod
    def parse(cls, name: str) -> Scope:
        """``"team=search"`` to a scope.

        >>> Scope.parse("team=search").value
        'search'
        """
        dimension, _, value = name.partition("=")
        return cls(dimension=dimension, value=value)


SCOPES_SHARED = 16_384
"""Scopes kept for the busiest series by ``scope_named``."""


@lru_cache(maxsize=SCOPES_SHARED)
def scope_named(name: str) -> Scope:
    """The scope of a series name, one object per name among the recently used ones.

    A scope is a pydantic model (about 650 bytes with its field set); the buckets of a
    busy series and its detector state share one. Not one per series ever seen: at
    100,000 keys that held 60 MB of scopes nobody needed.

    >>> scope_named("team=search") is scope_named("team=search")
    True
    """
    return Scope.parse(name)


@dataclass(slots=True)
class SeriesBucket:
    """The sums of one series over one event-time bucket.

    Delivered in event-time order per series. While a bucket is open (``closed`` False)
    it may be delivered several times, each time with the cumulative sums so far; once
    the series' watermark has passed it, it is delivered exactly once with ``closed``
    True. Buckets with no events are not delivered: a detector treats a gap as buckets
    of zero.

    ``contributors`` maps other series (``"api_key_id=k-1"``, ``"model=gpt-4o"``,
    ``"app=search"`` ...) to their cost inside this bucket, for the largest
    contributors of each other dimension; it may be empty.

    More than one bucket of a series can be open at once: a bucket stays open until the
    series' data is past it by the allowed lateness, and the next one fills meanwhile.
    Each is delivered open, oldest first, the later ones with ``before``; those carry the
    contributors of that whole open span (``before`` and themselves), and a finding's
    ``spend_nanos`` is the span's cost, so contributors' shares stay true to the window
    the finding judged rather than to the few seconds of the newest bucket.
    """

    scope: Scope
    start_minute: int
    width_minutes: int
    cost_nanos: Nanos
    calls: int
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    errors: int = 0
    unpriced_calls: int = 0
    closed: bool = True
    contributors: dict[str, Nanos] = field(default_factory=dict)
    before: tuple[Nanos, ...] = ()
    """Open buckets only: the cost of every bucket between the series' last closed bucket
    and this one, oldest first, zero where the series had no events (at most
    ``MAX_BEFORE``). Those buckets are not closed yet either, so windows over the last few
    minutes take them from here."""

    @property
    def start(self) -> datetime:
        return minute_to_datetime(self.start_minute)

    @property
    def end(self) -> datetime:
        return minute_to_datetime(self.start_minute + self.width_minutes)


class Contributor(BaseModel):
    """A series that drove a finding, with its cost in the finding's window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    series: str
    cost_nanos: Nanos


class Finding(BaseModel):
    """One detector's verdict on one series at one point in event time.

    A detector reports a finding on every evaluation while the condition holds; the
    alert lifecycle turns a run of findings into one alert and resolves it once
    findings stop.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    detector: str = Field(min_length=1, max_length=64)
    scope: Scope
    severity: Severity
    at: datetime
    """Event time of the evaluation (the end of the bucket that triggered it)."""
    window_start: datetime
    window_end: datetime
    measure: str = Field(min_length=1, max_length=64)
    """What ``observed`` and ``expected`` measure, e.g. ``usd_per_minute``."""
    observed: float
    expected: float
    impact_nanos: Nanos
    """Spend above what was expected over the window (0 when not a spend excess)."""
    summary: str = Field(min_length=1, max_length=1024)
    contributors: tuple[Contributor, ...] = ()
    labels: dict[str, str] = Field(default_factory=dict)
    spend_nanos: Nanos = 0
    """The series' own spend in the bucket ``contributors`` were measured in (0 when
    unknown), so a contributor's share of the series is ``cost_nanos / spend_nanos``."""

    @property
    def key(self) -> tuple[str, str]:
        """Findings with the same key belong to the same alert."""
        return (self.detector, self.scope.name)


class AlertState(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Alert(BaseModel):
    """An incident on one series by one detector: opened by findings, resolved when they stop.

    ``alert_id`` is stable for the life of the alert (it names PagerDuty's ``dedup_key``
    and the Slack message to update); ``version`` grows with every change of state or
    content, so receivers and the send record can tell one notification from the next.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_id: str = Field(min_length=1, max_length=128)
    detector: str
    scope: Scope
    severity: Severity
    state: AlertState
    fired_at: datetime
    resolved_at: datetime | None = None
    updated_at: datetime
    version: int = Field(default=1, ge=1)
    measure: str
    observed: float
    expected: float
    impact_nanos: Nanos
    """The largest spend excess seen while firing."""
    summary: str
    contributors: tuple[Contributor, ...] = ()
    labels: dict[str, str] = Field(default_factory=dict)
    spend_nanos: Nanos = 0
    """The series' spend in the bucket ``contributors`` come from (0 when unknown)."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.detector, self.scope.name)
