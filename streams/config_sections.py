"""The config sections other packages own, validated by their models.

``detectors`` and ``budgets`` belong to ``detectors.config`` (a budget entry is
``{series: team=search, monthly_usd: 5000}``, merged into the detectors' ``budgets``);
``routes``, ``receivers``, ``inhibit_rules`` and ``silences`` to ``alerting.config``.
Their errors come out with their paths (``receivers[2].slack.token: ...``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, TypeAlias

from pydantic import BaseModel, ValidationError

from alerting.config import AlertingConfig
from detectors.config import DetectorsConfig
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


def merged_detectors(detectors: DetectorsSection, budgets: BudgetsSection) -> dict[str, Any]:
    """The detectors section with the top-level budgets merged into its ``budgets``."""
    merged = dict(detectors.get("budgets") or {})
    for entry in budgets:
        merged[str(entry["series"])] = entry["monthly_usd"]
    return {**detectors, "budgets": merged}


def detectors_config(detectors: DetectorsSection, budgets: BudgetsSection) -> DetectorsConfig:
    """The ``DetectorsConfig`` a worker runs with (call ``check_detectors`` first)."""
    return DetectorsConfig.model_validate(merged_detectors(detectors, budgets))


def check_detectors(detectors: DetectorsSection, budgets: BudgetsSection) -> list[ConfigProblem]:
    """Problems of the detectors and budgets sections."""
    problems = [
        ConfigProblem(f"budgets[{i}]", "a budget is {series: DIMENSION=VALUE, monthly_usd: N}")
        for i, entry in enumerate(budgets)
        if not isinstance(entry, dict) or set(entry) != {"series", "monthly_usd"}
    ]
    if problems:
        return problems
    return _validated(DetectorsConfig, merged_detectors(detectors, budgets), "detectors")


def check_alerting(sections: AlertingSections) -> list[ConfigProblem]:
    """Problems of routes, receivers, inhibit rules and silences."""
    return _validated(AlertingConfig, asdict(sections), "")


def _validated(model: type[BaseModel], raw: Any, prefix: str) -> list[ConfigProblem]:
    """Validate ``raw`` with a package's model; its errors as problems under ``prefix``."""
    try:
        model.model_validate(raw)
    except ValidationError as exc:
        return problems_from(exc, prefix)
    except ValueError as exc:
        return [ConfigProblem(prefix, str(exc))]
    return []
