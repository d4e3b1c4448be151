"""Printing results the way sqlite-utils does: a readable table on a terminal, or --json /
--csv for scripts."""

from __future__ import annotations

import csv
import json
import sys
from enum import Enum


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def pick_format(as_json: bool, as_csv: bool) -> Format:
    if as_json and as_csv:
        from wsdb.errors import WsdbError

        raise WsdbError("choose one of --json and --csv")
    return Format.json if as_json else Format.csv if as_csv else Format.table


def json_value(value):
    """JSON for what json cannot write: exact decimals (DuckDB's HUGEINT sums) as numbers,
    times and anything else as text."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


def emit_rows(rows: list[dict], fmt: Format, title: str | None = None) -> None:
    if fmt is Format.json:
        json.dump(rows, sys.stdout, indent=2, default=json_value)
        sys.stdout.write("\n")
    elif fmt is Format.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, show_lines=False)
        for name in rows[0] if rows else []:
            table.add_column(name, overflow="fold")
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row.values()))
        Console().print(table)


def emit_record(record: dict, fmt: Format) -> None:
    """One object: JSON as is, otherwise a two-column field/value listing."""
    if fmt is Format.json:
        json.dump(record, sys.stdout, indent=2, default=json_value)
        sys.stdout.write("\n")
        return
    flat = []
    for key, value in record.items():
        if isinstance(value, dict):
            flat.extend({"field": f"{key}.{k}", "value": v} for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            flat.append({"field": key, "value": ", ".join(map(str, value))})
        else:
            flat.append({"field": key, "value": value})
    emit_rows(flat, fmt)
