"""Routing config: the route tree, inhibition rules and silences (Alertmanager semantics).

Frozen pydantic models; validation errors carry the field path (``routes.routes.0.
receiver``). Every section defaults to empty, so a config without alerting is valid and
routes nothing. Durations are written ``30s``, ``5m``, ``4h``, ``1d`` (or seconds).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

from alerting.matchers import Matcher, matches_all
from alerting.receiver_config import ReceiverConfig

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: Any) -> Any:
    """``"1h30m"`` to a timedelta; numbers are seconds; other values pass to pydantic.

    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith(("P", "-P")):
        return text  # ISO 8601, as pydantic writes a timedelta
    if not text or _DURATION.sub("", text):
        raise ValueError(f"not a duration {value!r}; write e.g. 30s, 5m, 4h, 1h30m")
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(text)))


def format_duration(value: timedelta) -> str:
    """The short form ``parse_duration`` reads back.

    >>> format_duration(timedelta(seconds=5400)), format_duration(timedelta(0))
    ('1h30m', '0s')
    """
    millis = round(value.total_seconds() * 1000)
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    if millis:
        parts.append(f"{millis}ms")
    return "".join(parts) or "0s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]


class _Frozen(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, hide_input_in_errors=True
    )


class RouteConfig(_Frozen):
    """A node of the route tree. Unset ``receiver``, ``group_by`` and timings inherit from
    the parent; the root's defaults are Alertmanager's (30 s, 5 min, 4 h)."""

    receiver: str | None = None
    matchers: tuple[Matcher, ...] = ()
    continue_: bool = Field(False, alias="continue")
    group_by: tuple[str, ...] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    routes: tuple[RouteConfig, ...] = ()


class InhibitRuleConfig(_Frozen):
    """A firing alert matching ``source_match`` mutes alerts matching ``target_match``
    that agree with it on every ``equal`` label."""

    source_match: tuple[Matcher, ...] = Field(min_length=1)
    target_match: tuple[Matcher, ...] = Field(min_length=1)
    equal: tuple[str, ...] = ()


class SilenceConfig(_Frozen):
    """Mutes matching alerts from ``starts_at`` until ``ends_at``."""

    id: str = Field(min_length=1, max_length=128)
    matchers: tuple[Matcher, ...] = Field(min_length=1)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    comment: str = Field(min_length=1, max_length=1024)
    created_by: str = Field(min_length=1, max_length=128)

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def mutes(self, labels: dict[str, str], now: datetime) -> bool:
        return self.active(now) and matches_all(self.matchers, labels)


SPEND_FAMILY: tuple[str, ...] = (
    "spend_spike",
    "static_threshold",
    "spend_creep",
    "unit_cost_drift",
)
"""Detectors that see the same incident when one key runs away: more spend, at a
higher unit cost. On one series the first listed explains the others."""


class CorrelationConfig(_Frozen):
    """One page per incident: an alert explained by a firing alert of the same detector
    family on a narrower series that accounts for at least ``min_share`` of its spend
    (or by an earlier detector of the family on the same series) is not sent on its
    own, but named in the explaining alert's notification. A detector in no family is
    a family of its own."""

    enabled: bool = True
    min_share: float = Field(0.5, gt=0, le=1)
    families: dict[str, tuple[str, ...]] = Field(default_factory=lambda: {"spend": SPEND_FAMILY})

    @model_validator(mode="after")
    def _one_family_each(self) -> Self:
        seen: dict[str, str] = {}
        for family, detectors in self.families.items():
            if not detectors:
                raise ValueError(f"families.{family}: name at least one detector")
            for detector in detectors:
                if detector in seen:
                    raise ValueError(
                        f"families.{family}: {detector!r} is already in family {seen[detector]!r}"
                    )
                seen[detector] = family
        return self

    def family(self, detector: str) -> tuple[str, int]:
        """The detector's family and its place there (its own family, 0, when unlisted)."""
        for family, detectors in self.families.items():
            if detector in detectors:
                return family, detectors.index(detector)
        return f"detector:{detector}", 0


class AlertingConfig(_Frozen):
    """The ``routes``, ``receivers``, ``inhibit_rules``, ``silences`` and ``correlation``
    sections."""

    routes: RouteConfig = RouteConfig()
    receivers: tuple[ReceiverConfig, ...] = ()
    inhibit_rules: tuple[InhibitRuleConfig, ...] = ()
    silences: tuple[SilenceConfig, ...] = ()
    correlation: CorrelationConfig = CorrelationConfig()

    @model_validator(mode="after")
    def _names_resolve(self) -> Self:
        names = [r.name for r in self.receivers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"receivers: duplicate names {dupes}")
        for path, route in _walk(self.routes, "routes"):
            if route.receiver is not None and route.receiver not in names:
                raise ValueError(f"{path}.receiver: no receiver named {route.receiver!r}")
        ids = [s.id for s in self.silences]
        if len(set(ids)) != len(ids):
            raise ValueError("silences: duplicate ids")
        return self

    def receiver(self, name: str) -> ReceiverConfig:
        for receiver in self.receivers:
            if receiver.name == name:
                return receiver
        raise KeyError(name)


def _walk(route: RouteConfig, path: str) -> list[tuple[str, RouteConfig]]:
    found = [(path, route)]
    for index, child in enumerate(route.routes):
        found.extend(_walk(child, f"{path}.routes[{index}]"))
    return found
