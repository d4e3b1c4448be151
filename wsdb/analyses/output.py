"""Printing results the way sqlite-utils does: readable on a terminal, complete when piped.

- On a terminal: an aligned table (32-hex ids shortened to 12 characters as `wsdb jobs`
  shows them, numbers rounded, a value never wrapped); a table wider than the terminal is
  printed as one block per row (field, value) instead, where long prose folds at spaces (a
  word, an id or a number is never broken); at most SHOWN_ROWS rows, with a note.
- Piped or redirected (not a terminal): tab-separated values with a header, every row, every
  value in full (ids whole, floats at full precision).
- `--json`: a JSON array (or object) on stdout; `--csv FILE` or `--csv -` (stdout); `--parquet
  FILE`.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import sys
import textwrap
from datetime import date, datetime
from decimal import Decimal

from wsdb.base.errors import WsdbError
from wsdb.base.files import atomic_output

SHOWN_ROWS = 100
_ID = re.compile(r"^[0-9a-f]{32}$")
SHORT_ID = 12


def json_value(value):
    """JSON for what json cannot write: exact decimals (DuckDB's HUGEINT sums) as numbers,
    times and anything else as text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)  # JSON has no NaN or infinity
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _rows_of(rows) -> list[dict]:
    return rows.to_pylist() if hasattr(rows, "to_pylist") else list(rows)


def _columns_of(rows, listed: list[dict]) -> list[str]:
    if hasattr(rows, "column_names"):
        return list(rows.column_names)
    return list(listed[0]) if listed else []


def emit(rows, *, as_json: bool = False, csv_file: str | None = None, parquet_file: str | None = None,
         title: str | None = None, columns: list[str] | None = None) -> None:
    """Print or write `rows` (a list of dicts or an Arrow table) in the chosen form; `columns`
    names the columns of a list that may be empty (an Arrow table knows its own)."""
    chosen = [name for name, given in (("--json", as_json), ("--csv", csv_file), ("--parquet", parquet_file)) if given]
    if len(chosen) > 1:
        raise WsdbError(f"choose one of {' and '.join(chosen)}")
    listed = None if hasattr(rows, "column_names") else _rows_of(rows)
    if parquet_file:
        _write_parquet(rows if listed is None else _arrow_table(listed, _columns_of(rows, listed) or list(columns or [])),
                       parquet_file)
        return
    listed = _rows_of(rows) if listed is None else listed
    columns = _columns_of(rows, listed) or list(columns or [])
    if csv_file:
        _write_csv(listed, columns, csv_file)
    elif as_json:
        json.dump(_json_safe(listed), sys.stdout, indent=2, default=json_value, allow_nan=False)
        sys.stdout.write("\n")
    elif sys.stdout.isatty():
        _terminal_table(listed, columns, title)
    else:
        _tsv(listed, columns)


def emit_record(record: dict, as_json: bool = False) -> None:
    """One object: JSON as is, otherwise a field/value listing (nested values flattened)."""
    if as_json:
        json.dump(_json_safe(record), sys.stdout, indent=2, default=json_value, allow_nan=False)
        sys.stdout.write("\n")
        return
    flat = []
    for key, value in record.items():
        if isinstance(value, dict):
            flat.extend({"field": f"{key}.{k}", "value": v} for k, v in value.items())
        elif isinstance(value, (list, tuple)) and not any(isinstance(v, dict) for v in value):
            flat.append({"field": key, "value": ", ".join(map(str, value))})
        else:
            flat.append({"field": key, "value": value})
    emit(flat)


def _write_csv(listed: list[dict], columns: list[str], target: str) -> None:
    if target == "-":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_plain(row.get(c)) for c in columns] for row in listed])
        return
    with atomic_output(target, "CSV") as partial, open(partial, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([[_plain(row.get(c)) for c in columns] for row in listed])
    print(f"wrote {len(listed):,} rows to {target}", file=sys.stderr)


def _arrow_table(listed: list[dict], columns: list[str]):
    """Rows as an Arrow table: nested values as JSON text, a column of mixed kinds as text."""
    import pyarrow as pa

    def flat(value):
        return json.dumps(_json_safe(value), default=json_value) if isinstance(value, (dict, list, tuple)) else value

    data = {c: [flat(row.get(c)) for row in listed] for c in columns}
    arrays = {}
    for column, values in data.items():
        try:
            arrays[column] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays[column] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.table(arrays) if arrays else pa.table({})


def _write_parquet(table, target: str) -> None:
    import pyarrow.parquet as pq

    if target == "-":
        raise WsdbError("--parquet needs a file name (Parquet is binary: use --csv - or --json for stdout)")
    with atomic_output(target, "Parquet") as partial:
        pq.write_table(table, partial)
    print(f"wrote {table.num_rows:,} rows to {target}", file=sys.stderr)


def _plain(value) -> str:
    """A value in full, for CSV and TSV."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=json_value)
    return str(value)


def _tsv(listed: list[dict], columns: list[str]) -> None:
    def cell(value) -> str:
        return _plain(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")

    sys.stdout.write("\t".join(columns) + "\n")
    for row in listed:
        sys.stdout.write("\t".join(cell(row.get(c)) for c in columns) + "\n")


def readable(value) -> str:
    """A value as a terminal shows it: ids shortened, numbers rounded."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        magnitude = abs(value)
        if magnitude >= 1e6 or (0 < magnitude < 1e-3):
            return f"{value:.3e}"
        if magnitude >= 1000:
            return f"{value:,.0f}"
        if magnitude >= 100:
            return f"{value:.1f}"
        return f"{value:.4f}"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=json_value)
    text = str(value)
    if _ID.match(text):
        return text[:SHORT_ID]
    return text.replace("\n", " ")


def terminal_width() -> int:
    return shutil.get_terminal_size((int(os.environ.get("COLUMNS", 100)), 24)).columns


def _header_lines(name: str, width: int) -> list[str]:
    """A column name folded at its underscores into lines of at most `width` (a word longer
    than that stands alone)."""
    lines: list[str] = []
    for word in name.split("_"):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += "_" + word
        else:
            lines.append(word)
    return lines


def _json_columns(columns: list[str], shown: list[dict]) -> dict[str, list[str]]:
    """Columns whose cells are JSON objects (configurations), abbreviated for a terminal to the
    keys whose values differ between the rows shown (a pipe gets them whole)."""
    out = {}
    for column in columns:
        parsed = []
        for row in shown:
            value = row.get(column)
            try:
                parsed.append(json.loads(value) if isinstance(value, str) and value.startswith("{") else None)
            except json.JSONDecodeError:
                parsed.append(None)
        if not parsed or any(p is None for p in parsed) or not all(isinstance(p, dict) for p in parsed):
            continue
        keys = sorted({k for p in parsed for k in p})
        differing = [k for k in keys if len({json.dumps(p.get(k), sort_keys=True) for p in parsed}) > 1]
        out[column] = [", ".join(f"{k}={readable(p.get(k))}" for k in differing)
                       or f"({len(p)} keys, the same in every row: --json shows them)" for p in parsed]
    return out


def _fitted_widths(columns: list[str], cells: list[list[str]], numeric: list[bool], room: int) -> list[int] | None:
    """Column widths that fit `room`: names fold at underscores, long text cells wrap (never
    below 16 characters or the longest word of the name); None when even that is too wide."""
    floors = [max(len(word) for word in c.split("_")) for c in columns]
    widths = [max([floors[k]] + [len(r[k]) for r in cells]) for k in range(len(columns))]
    spare = room - 2 * max(len(columns) - 1, 0)
    while sum(widths) > spare:
        shrinkable = [k for k in range(len(columns)) if not numeric[k] and widths[k] > max(16, floors[k])]
        if not shrinkable:
            return None
        widest = max(shrinkable, key=lambda k: widths[k])  # one character at a time: the widest give way evenly
        widths[widest] -= 1
    return widths


def _terminal_table(listed: list[dict], columns: list[str], title: str | None) -> None:
    shown = listed[:SHOWN_ROWS]
    abbreviated = _json_columns(columns, shown)
    cells = [[abbreviated[c][i] if c in abbreviated else readable(row.get(c)) for c in columns]
             for i, row in enumerate(shown)]
    numeric = [all(isinstance(row.get(c), (int, float, Decimal)) and not isinstance(row.get(c), bool)
                   for row in shown if row.get(c) is not None) for c in columns]
    out = sys.stdout
    if title:  # its first sentence, when that fits
        first = re.split(r"(?<!\bal)\. (?=[A-Z])", title)[0].rstrip(".")  # "et al. 2020" is no sentence end
        if len(first) <= terminal_width():
            out.write(f"{first}\n")
    widths = _fitted_widths(columns, cells, numeric, terminal_width()) if columns else None
    if widths is not None:
        def lines_of(values: list[str], wrap: bool) -> list[str]:
            folded = [textwrap.wrap(v, w, break_on_hyphens=False) or [""] if wrap and len(v) > w else [v]
                      for v, w in zip(values, widths)]
            height = max(len(f) for f in folded)
            return ["  ".join((f[i] if i < len(f) else "").rjust(w) if right else (f[i] if i < len(f) else "").ljust(w)
                              for f, w, right in zip(folded, widths, numeric)).rstrip() for i in range(height)]

        headers = [_header_lines(c, w) for c, w in zip(columns, widths)]
        depth = max(len(h) for h in headers)
        for i in range(depth):  # names bottom-aligned over their columns
            out.write("  ".join((h[i - depth + len(h)] if i >= depth - len(h) else "").rjust(w) if right else
                                (h[i - depth + len(h)] if i >= depth - len(h) else "").ljust(w)
                                for h, w, right in zip(headers, widths, numeric)).rstrip() + "\n")
        out.write("  ".join("-" * w for w in widths) + "\n")
        for row in cells:
            for text in lines_of(row, wrap=True):
                out.write(text + "\n")
    else:  # too wide for the terminal: one block per row; long prose folds at spaces, nothing is cut
        label = max(len(c) for c in columns) if columns else 0
        room = max(terminal_width() - label - 2, 20)
        for number, row in enumerate(cells, start=1):
            out.write(f"-- row {number} " + "-" * max(0, min(terminal_width(), 60) - 9 - len(str(number))) + "\n")
            for column, value in zip(columns, row):
                lines = textwrap.wrap(value, room, break_long_words=False, break_on_hyphens=False) or [""]
                out.write(f"{column.ljust(label)}  {lines[0]}\n")
                for more in lines[1:]:
                    out.write(f"{' ' * label}  {more}\n")
    if len(shown) < len(listed):
        print(f"({len(listed):,} rows, {len(shown)} shown: --csv, --parquet or --json write them all, and so "
              "does a pipe)", file=sys.stderr)
