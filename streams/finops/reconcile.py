"""Reconciliation with a provider's bill: what spendwatch counted against what was billed,
per day and model.

The capture rate is counted / billed: the share of billed spend that producers
instrumented. A gap is billed spend no event accounts for (the blind spot), or counted
spend the bill does not show. Billed model names often carry a version suffix
(``gpt-4o-2024-08-06``); a billed model is matched to the longest counted model of the
same provider it starts with (``gpt-4o``) when there is no exact match, else to the one
counted model of that provider with the same ``model_key`` (cloud bills name models in
words: ``Claude 3.5 Sonnet``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from schemas.money import usd_text
from streams.finops.bill_formats import BillLine
from streams.finops.ledger import Ledger, date_of
from streams.finops.showback import Period
from streams.rollup import COST

Cell = tuple[int, str, str]
"""(day, provider, model)."""
TOP = 10


def _counted(ledger: Ledger, first: int, last: int) -> dict[Cell, int]:
    out: dict[Cell, int] = {}
    for day, who, sums in ledger.rows(first, last):
        cell = (day, who[5], who[4])
        out[cell] = out.get(cell, 0) + sums[COST]
    return out


def _match(model: str, provider: str, known: dict[str, set[str]]) -> str:
    names = known.get(provider, set())
    if model in names:
        return model
    prefixes = [n for n in names if model.startswith(n + "-")]
    if prefixes:
        return max(prefixes, key=len)
    label = model_key(model)
    same = [n for n in names if model_key(n) == label]
    return same[0] if len(same) == 1 else model


_VENDOR = re.compile(r"^(?:(?:us|eu|apac|global)\.)?(?:[a-z0-9-]+\.)(?=[a-z])")
_VERSION = re.compile(r"(?:-\d{8}|-v\d+(?::\d+)?|:\d+|@\d+|-\d{3})+$")


def model_key(name: str) -> str:
    """A model name with its Bedrock vendor and region prefixes, dates and versions,
    case and punctuation set aside: ``Claude 3.5 Sonnet``, ``claude-3-5-sonnet`` and
    ``us.anthropic.claude-3-5-sonnet-20240620-v1:0`` give the same key, and so do
    ``NovaLite`` and ``amazon.nova-lite-v1:0``."""
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", "-", name.strip())
    text = _VENDOR.sub("", text.lower()) if "." in text.split("-", 1)[0] else text.lower()
    text = _VERSION.sub("", text)
    return "-".join(re.findall(r"[a-z]+|\d+", text))


def _rate(counted: int, billed: int) -> float | None:
    return round(counted / billed, 4) if billed else None


def _cell_json(cell: Cell, billed: int, counted: int) -> dict[str, Any]:
    day, provider, model = cell
    return {
        "date": date_of(day).isoformat(),
        "provider": provider,
        "model": model,
        "billed_usd": usd_text(billed),
        "counted_usd": usd_text(counted),
        "gap_usd": usd_text(billed - counted),
        "capture_rate": _rate(counted, billed),
    }


def reconcile(
    ledger: Ledger, bill: Iterable[BillLine], period: Period | None = None
) -> dict[str, Any]:
    """Compare the ledger with the bill over ``period`` (default: the bill's days)."""
    lines = list(bill)
    if period is not None:
        first, last = period.first_day(), period.last_day()
        lines = [b for b in lines if first <= b.day <= last]
    elif lines:
        first, last = min(b.day for b in lines), max(b.day for b in lines)
    else:
        first, last = 0, -1
    counted = _counted(ledger, first, last)
    known: dict[str, set[str]] = {}
    for _, provider, model in counted:
        known.setdefault(provider, set()).add(model)
    providers = {b.provider for b in lines}
    billed: dict[Cell, int] = {}
    for b in lines:
        cell = (b.day, b.provider, _match(b.model, b.provider, known))
        billed[cell] = billed.get(cell, 0) + b.cost_nanos
    counted = {c: v for c, v in counted.items() if c[1] in providers}
    cells = sorted(set(billed) | set(counted))
    rows = [_cell_json(c, billed.get(c, 0), counted.get(c, 0)) for c in cells]
    by_day: dict[int, list[int]] = {}
    by_model: dict[tuple[str, str], list[int]] = {}
    for c in cells:
        pair = [billed.get(c, 0), counted.get(c, 0)]
        for acc in (by_day.setdefault(c[0], [0, 0]), by_model.setdefault(c[1:], [0, 0])):
            acc[0] += pair[0]
            acc[1] += pair[1]
    total_billed, total_counted = sum(billed.values()), sum(counted.values())
    divergent = sorted(cells, key=lambda c: (-abs(billed.get(c, 0) - counted.get(c, 0)), c))
    return {
        "first_day": date_of(first).isoformat() if lines else None,
        "last_day": date_of(last).isoformat() if lines else None,
        "providers": sorted(providers),
        "billed_usd": usd_text(total_billed),
        "counted_usd": usd_text(total_counted),
        "gap_usd": usd_text(total_billed - total_counted),
        "capture_rate": _rate(total_counted, total_billed),
        "by_day": [
            {
                "date": date_of(d).isoformat(),
                "billed_usd": usd_text(b),
                "counted_usd": usd_text(c),
                "capture_rate": _rate(c, b),
            }
            for d, (b, c) in sorted(by_day.items())
        ],
        "by_model": [
            {
                "provider": p,
                "model": m,
                "billed_usd": usd_text(b),
                "counted_usd": usd_text(c),
                "capture_rate": _rate(c, b),
            }
            for (p, m), (b, c) in sorted(by_model.items())
        ],
        "not_instrumented": [r for r in rows if r["counted_usd"] == usd_text(0)],
        "not_billed": [r for r in rows if r["billed_usd"] == usd_text(0)],
        "top_divergences": [
            _cell_json(c, billed.get(c, 0), counted.get(c, 0)) for c in divergent[:TOP]
        ],
        "cells": rows,
    }
