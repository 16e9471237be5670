"""Showback reports as a terminal table (rich), CSV, JSON or a standalone HTML page.

Amounts are exact decimal strings everywhere except the table and HTML, which round
spend to the cent for reading (the CSV and JSON keep nine places for reconciliation).
"""

from __future__ import annotations

import csv
import html
import io
import json
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

FORMATS = ("table", "csv", "json", "html")
_COLUMNS = (
    "cost_usd",
    "calls",
    "input_tokens",
    "output_tokens",
    "cost_per_call_usd",
    "share",
    "previous_cost_usd",
    "change_pct",
)


def _cents(text: str | None) -> str:
    if text is None:
        return ""
    amount = Decimal(text).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    return f"${amount:,.2f}"


def _small(text: str | None) -> str:
    return "" if text is None else f"${Decimal(text):.6f}"


def _units(line: dict[str, Any]) -> str:
    return "; ".join(f"{k}: {_small(v)}" for k, v in line["cost_per_unit_usd"].items())


def _labelled(report: dict[str, Any]) -> list[tuple[list[str], dict[str, Any]]]:
    by = report["by"]
    out = [([str(row[d]) for d in by], row) for row in report["rows"]]
    if report["unattributed"]["calls"]:
        out.append((["(unattributed)"] + [""] * (len(by) - 1), report["unattributed"]))
    out.append((["TOTAL"] + [""] * (len(by) - 1), report["total"]))
    return out


def _change(value: float | None) -> str:
    return "" if value is None else f"{value:+.1f}%"


_SUMMARY = ("(unattributed)", "TOTAL")


def _cells(labels: list[str], line: dict[str, Any]) -> list[str]:
    """The displayed cells of one line, in the order of the table's columns."""
    return [
        *labels,
        _cents(line["cost_usd"]),
        f"{line['calls']:,}",
        f"{line['input_tokens']:,}/{line['output_tokens']:,}",
        _small(line["cost_per_call_usd"]),
        _units(line),
        f"{line['share'] * 100:.1f}%",
        _change(line["change_pct"]),
    ]


def render_table(report: dict[str, Any], width: int = 160) -> str:
    table = Table(title=f"Spend {report['period']} (previous: {report['previous_period']})")
    for name in report["by"]:
        table.add_column(name)
    for name in ("spend", "calls", "tokens in/out", "per call", "per unit", "share", "change"):
        table.add_column(name, justify="right")
    for labels, line in _labelled(report):
        table.add_row(*_cells(labels, line), end_section=labels[0] in _SUMMARY)
    buffer = io.StringIO()
    Console(file=buffer, width=width, force_terminal=False, color_system=None).print(table)
    return buffer.getvalue()


def render_csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["period", *report["by"], *_COLUMNS, "units", "cost_per_unit_usd"])
    for labels, line in _labelled(report):
        writer.writerow(
            [
                report["period"],
                *labels,
                *("" if line[c] is None else line[c] for c in _COLUMNS),
                json.dumps(line["units"], sort_keys=True),
                json.dumps(line["cost_per_unit_usd"], sort_keys=True),
            ]
        )
    return buffer.getvalue()


def render_html(report: dict[str, Any]) -> str:
    head = "".join(
        f"<th>{html.escape(h)}</th>"
        for h in (
            *report["by"],
            "spend (USD)",
            "calls",
            "tokens in/out",
            "cost per call",
            "cost per unit",
            "share",
            "change",
        )
    )
    body = []
    for labels, line in _labelled(report):
        cells = _cells(labels, line)
        cls = ' class="total"' if labels[0] in _SUMMARY else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    title = html.escape(f"spendwatch: spend {report['period']}")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>"
        "body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "tr.total td{font-weight:bold}</style></head><body>"
        f"<h1>{title}</h1><p>Exact totals: {html.escape(report['total']['cost_usd'])} USD; "
        f"previous period {html.escape(report['previous_period'])}.</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        "</body></html>\n"
    )


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2) + "\n"
    if fmt == "csv":
        return render_csv(report)
    if fmt == "html":
        return render_html(report)
    if fmt == "table":
        return render_table(report)
    raise ValueError(f"--format: unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
