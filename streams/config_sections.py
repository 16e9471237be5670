"""The seam to the config sections other packages own.

``detectors`` and ``budgets`` belong to ``detectors.config``; ``routes``, ``receivers``,
``inhibit_rules`` and ``silences`` to ``alerting.config``. Until those models are part of
this build, the sections are accepted as plain mappings and lists (their shape only).
Wiring a model in is one line in each function below, for example::

    return _validated(AlertingConfig, asdict(sections), "")

and its errors come out with their paths (``receivers[2].slack.token: ...``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from pydantic import BaseModel, ValidationError

from streams.config_errors import ConfigProblem, problems_from

DetectorsSection: TypeAlias = dict[str, Any]
"""``detectors``: defaults plus overrides per dimension and value."""

BudgetsSection: TypeAlias = list[dict[str, Any]]
"""``budgets``: monthly budgets per series."""


@dataclass(frozen=True)
class AlertingSections:
    """The four top-level sections that together make the alerting config."""

    routes: dict[str, Any]
    receivers: list[dict[str, Any]]
    inhibit_rules: list[dict[str, Any]]
    silences: list[dict[str, Any]]


def check_detectors(detectors: DetectorsSection, budgets: BudgetsSection) -> list[ConfigProblem]:
    """Problems of the detectors and budgets sections (today: their shape only)."""
    return []


def check_alerting(sections: AlertingSections) -> list[ConfigProblem]:
    """Problems of routes, receivers, inhibit rules and silences (today: their shape only)."""
    return []


def _validated(model: type[BaseModel], raw: Any, prefix: str) -> list[ConfigProblem]:
    """Validate ``raw`` with a package's model; its errors as problems under ``prefix``."""
    try:
        model.model_validate(raw)
    except ValidationError as exc:
        return problems_from(exc, prefix)
    except ValueError as exc:
        return [ConfigProblem(prefix, str(exc))]
    return []
