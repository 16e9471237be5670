"""Label matchers (``team=search``, ``severity=~critical|error``) and the labels of an alert.

Routes, inhibition rules and silences all select alerts by labels, as in Prometheus
Alertmanager. An alert's labels are its own ``labels`` plus ``detector``, ``severity``,
``dimension``, ``scope`` (the series name) and the scope's dimension itself
(``team: search`` for the series ``team=search``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.findings import Alert

Op = Literal["=", "!=", "=~", "!~"]
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


class Matcher(BaseModel):
    """One condition on one label; regexes are anchored, an absent label is ``""``.

    Written as a string in config: ``"team=search"``, ``"severity=~critical|error"``.

    >>> Matcher.parse("team!=ads").matches({"team": "search"})
    True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    op: Op = "="
    value: str = ""

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            return cls._split(data)
        return data

    @model_validator(mode="after")
    def _regex_compiles(self) -> Matcher:
        if self.op in ("=~", "!~"):
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"bad regular expression {self.value!r}: {exc}") from exc
        return self

    @staticmethod
    def _split(text: str) -> dict[str, str]:
        found = _MATCHER.match(text)
        if not found:
            raise ValueError(f"not a matcher {text!r}; write NAME=VALUE, !=, =~ or !~")
        name, op, value = found.groups()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        return {"name": name, "op": op, "value": value}

    @classmethod
    def parse(cls, text: str) -> Matcher:
        return cls.model_validate(text)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value}"


def matches_all(matchers: tuple[Matcher, ...], labels: Mapping[str, str]) -> bool:
    """True when every matcher holds (so an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)


def alert_labels(alert: Alert) -> dict[str, str]:
    """Every label routing, inhibition and silences can select on.

    >>> from datetime import UTC, datetime
    >>> from schemas.findings import AlertState, Scope, Severity
    >>> now = datetime(2026, 1, 1, tzinfo=UTC)
    >>> a = Alert(alert_id="a1", detector="spike", scope=Scope.parse("team=search"),
    ...     severity=Severity.WARNING, state=AlertState.FIRING, fired_at=now, updated_at=now,
    ...     measure="usd_per_minute", observed=5.0, expected=1.0, impact_nanos=0, summary="s")
    >>> alert_labels(a)["team"], alert_labels(a)["scope"]
    ('search', 'team=search')
    """
    labels = {
        "alertname": alert.detector,
        "detector": alert.detector,
        "severity": alert.severity.value,
        "dimension": alert.scope.dimension,
        "scope": alert.scope.name,
        alert.scope.dimension: alert.scope.value,
    }
    labels.update(alert.labels)
    return labels
