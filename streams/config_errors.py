"""Config problems that name the path and the problem: ``kafka.partitions: ...``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem at one path of the config file."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '(top level)'}: {self.message}"


class ConfigError(ValueError):
    """A config file that cannot be used; ``problems`` lists every problem found."""

    def __init__(self, source: str, problems: Sequence[ConfigProblem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s)\n{lines}")


def dotted(loc: Iterable[int | str], prefix: str = "") -> str:
    """A pydantic location as a path: ``("receivers", 2, "token")`` to ``receivers[2].token``.

    >>> dotted(("detectors", "overrides", 2, "threshold"))
    'detectors.overrides[2].threshold'
    >>> dotted((0, "x"), "budgets")
    'budgets[0].x'
    """
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def problems_from(exc: ValidationError, prefix: str = "") -> list[ConfigProblem]:
    """Every error of a pydantic validation, with its path; never the offending value."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        message = _MESSAGES.get(error["type"], error["msg"])
        message = message.removeprefix("Value error, ")
        problems.append(ConfigProblem(dotted(error["loc"], prefix), message))
    return problems
