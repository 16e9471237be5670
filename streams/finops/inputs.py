"""Budgets and key owners as plain values, from command-line options or a small file.

Budgets map a series name (``team=search``, ``app=search-rerank``) to a monthly amount
in USD (a Decimal); key owners map an ``api_key_id`` to its owning team and app. The
file is YAML or JSON::

    budgets:
      team=search: 5000
      app=support-bot: "1200.50"
    key_owners:
      key-search-1: {team: search, app: search-rerank}
      key-legacy-7: {team: growth}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

BUDGET_DIMENSIONS = ("team", "app")


class InputError(ValueError):
    """A budget or key-owner input that cannot be used, with where and why."""


@dataclass(frozen=True, slots=True)
class KeyOwner:
    team: str | None = None
    app: str | None = None


@dataclass(frozen=True)
class FinOpsInputs:
    budgets: dict[str, Decimal] = field(default_factory=dict)
    """Series name (``team=search``) to monthly budget in USD."""
    key_owners: dict[str, KeyOwner] = field(default_factory=dict)


def _amount(value: Any, where: str) -> Decimal:
    if isinstance(value, bool):
        raise InputError(f"{where}: a boolean is not an amount")
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(str(value).strip().lstrip("$").replace(",", ""))
    except (InvalidOperation, ValueError) as exc:
        raise InputError(f"{where}: {value!r} is not an amount in USD") from exc
    if not amount.is_finite() or amount < 0:
        raise InputError(f"{where}: {value!r} must be a finite amount >= 0")
    return amount


def _series(name: str, where: str) -> str:
    dimension, sep, value = name.partition("=")
    if not sep or not value or dimension not in BUDGET_DIMENSIONS:
        raise InputError(f"{where}: {name!r} must be team=NAME or app=NAME")
    return f"{dimension}={value}"


def parse_budget_option(text: str) -> tuple[str, Decimal]:
    """``team=search:5000`` to ("team=search", Decimal("5000"))."""
    name, sep, amount = text.rpartition(":")
    if not sep:
        raise InputError(f"--budget {text!r}: expected SERIES:USD, e.g. team=search:5000")
    return _series(name, f"--budget {text!r}"), _amount(amount, f"--budget {text!r}")


def parse_budget_options(texts: Iterable[str]) -> dict[str, Decimal]:
    return dict(parse_budget_option(t) for t in texts)


def _owner(value: Any, where: str) -> KeyOwner:
    if isinstance(value, str):
        return KeyOwner(team=value)
    if isinstance(value, Mapping):
        unknown = set(value) - {"team", "app"}
        if unknown:
            raise InputError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        return KeyOwner(team=value.get("team"), app=value.get("app"))
    raise InputError(f"{where}: expected a team name or {{team, app}}")


def parse_inputs(data: Any, source: str) -> FinOpsInputs:
    """Budgets and key owners from a parsed YAML/JSON document."""
    if data is None:
        return FinOpsInputs()
    if not isinstance(data, Mapping):
        raise InputError(f"{source}: expected a mapping with budgets and/or key_owners")
    unknown = set(data) - {"budgets", "key_owners"}
    if unknown:
        raise InputError(f"{source}: unknown section(s) {', '.join(sorted(unknown))}")
    raw_budgets = data.get("budgets") or {}
    raw_owners = data.get("key_owners") or {}
    if not isinstance(raw_budgets, Mapping) or not isinstance(raw_owners, Mapping):
        raise InputError(f"{source}: budgets and key_owners must be mappings")
    budgets = {
        _series(str(k), f"{source}: budgets.{k}"): _amount(v, f"{source}: budgets.{k}")
        for k, v in raw_budgets.items()
    }
    owners = {str(k): _owner(v, f"{source}: key_owners.{k}") for k, v in raw_owners.items()}
    return FinOpsInputs(budgets, owners)


def load_inputs(path: Path | None, budget_options: Iterable[str] = ()) -> FinOpsInputs:
    """The file's budgets and owners, with ``--budget`` options taking precedence."""
    base = FinOpsInputs()
    if path is not None:
        try:
            text = path.read_text()
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror})") from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InputError(f"{path}: not valid YAML or JSON ({exc})") from exc
        base = parse_inputs(data, str(path))
    return FinOpsInputs({**base.budgets, **parse_budget_options(budget_options)}, base.key_owners)
