"""The malformed-input corpus in ``tests/corpus/``: its cases and a verdict checker.

Each case is one message body with the verdict every entry point must reach (see the
comment at the top of ``manifest.toml``). The checker compares a decoder's rejections
with a case's expected ones: same positions, and for each the field path and a fragment
of the problem.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
"""The time every corpus timestamp is judged at."""
CORPUS_KEY = "corpus-key"
COST_PER_VALID_EVENT = Decimal("0.001")


@dataclass(frozen=True)
class Expected:
    at: int | None
    """Batch index, or None when the whole message is refused."""
    path: str
    problem: str


@dataclass(frozen=True)
class Case:
    file: str
    why: str
    valid: int
    rejected: tuple[Expected, ...]
    http: int
    pad_to_bytes: int = 0
    kafka: bool = True

    @property
    def body(self) -> bytes:
        raw = (CORPUS / self.file).read_bytes()
        return raw + b" " * max(0, self.pad_to_bytes - len(raw))

    def check(self, rejected: Iterable[tuple[int | None, Iterable[tuple[str, str]]]]) -> list[str]:
        """What differs between these rejections, as (index, [(path, problem)]), and the case's."""
        got = [(index, list(errors)) for index, errors in rejected]
        wrong: list[str] = []
        if [g[0] for g in got] != [e.at for e in self.rejected]:
            wrong.append(
                f"rejected at {[g[0] for g in got]}, expected {[e.at for e in self.rejected]}"
            )
            return wrong
        for (index, errors), want in zip(got, self.rejected, strict=True):
            if not any(path == want.path and want.problem in problem for path, problem in errors):
                wrong.append(f"at {index}: {errors} lacks {want.path!r}: ...{want.problem}...")
        return wrong


def load_cases() -> list[Case]:
    manifest = tomllib.loads((CORPUS / "manifest.toml").read_text(encoding="utf-8"))
    cases = []
    for raw in manifest["case"]:
        expected = tuple(
            Expected(None if r["at"] == "message" else int(r["at"]), r["path"], r["problem"])
            for r in raw.pop("rejected")
        )
        cases.append(Case(rejected=expected, **raw))
    return cases


def case_id(case: Any) -> str:
    return str(case.file).rsplit(".", 1)[0]
