"""What every ingester shares: its error type, its summary line, its row builders and CSV reading."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from wsdb.base.errors import BadFile
from wsdb.base.files import regular_input


class IngestError(BadFile):
    """Bad input: names the file and the record; nothing of the bad batch was written."""


@dataclass
class IngestSummary:
    source: str
    records_read: int = 0
    new_architectures: int = 0
    new_results: int = 0
    duplicates_skipped: int = 0
    started: float = field(default_factory=time.perf_counter)
    seconds: float = 0.0

    def finish(self) -> "IngestSummary":
        self.seconds = time.perf_counter() - self.started
        return self

    def line(self) -> str:
        return (
            f"{self.source}: {self.records_read:,} records read, {self.new_architectures:,} new architectures, "
            f"{self.new_results:,} new results, {self.duplicates_skipped:,} duplicates skipped, "
            f"{self.seconds:.1f} s"
        )

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "records_read": self.records_read,
            "new_architectures": self.new_architectures,
            "new_results": self.new_results,
            "duplicates_skipped": self.duplicates_skipped,
            "seconds": round(self.seconds, 3),
        }


GROUND_TRUTH_COLUMNS = (
    "architecture_id", "benchmark", "dataset", "epoch_budget", "benchmark_arch_id", "repeat", "epoch",
    "evaluation_point", "train_accuracy", "train_loss", "validation_accuracy", "validation_loss",
    "validation_accuracy_std", "test_accuracy", "test_loss", "training_seconds", "source",
)


def ground_truth_table(columns: dict, where: Callable[[int], str], checked: bool = False, **constant):
    """ground_truth_results rows from columns (all of one length); `constant` columns apply
    to every row and the columns given by neither are NULL. Every number is checked by the
    ingest rule (ingest/values.py); `where(row)` names a row's file and record in the error.
    `checked`: the columns were checked already (the NB101 workers do it) and are numpy or
    Arrow arrays, NaN standing for NULL. Columnar on purpose: the NB101 ingest builds ~1M
    rows, where a dict per row cost seconds."""
    import pyarrow as pa

    from wsdb.warehouse.bulk import arrow_type
    from wsdb.base import values
    from wsdb.warehouse.schema import GroundTruthResult

    length = len(next(iter(columns.values()))) if columns else 0
    arrays = {}
    for name in GROUND_TRUTH_COLUMNS:
        kind = values.kind_of(name)
        if kind is not None and name in columns and not checked:
            values.check_column(columns[name], kind, name, where)
        elif kind is not None and name in constant and length:
            values.check(constant[name], kind, where(0), name)
        column_type = arrow_type(GroundTruthResult.__table__.c[name])
        if name in columns:
            arrays[name] = pa.array(columns[name], type=column_type, from_pandas=checked)
        elif name in constant:
            arrays[name] = pa.array([constant[name]] * length, type=column_type)
        else:
            arrays[name] = pa.nulls(length, type=column_type)
    return pa.table(arrays)


def ground_truth_rows(rows: list[dict], **constant):
    """ground_truth_table from one dict per row (for the smaller ingesters); each row names
    its file and record under the key "where"."""
    names = {name for row in rows for name in row} - {"where"}
    return ground_truth_table({name: [row.get(name) for row in rows] for name in names},
                              lambda i: rows[i]["where"], **constant)


def number_occurrences(keys, counts: dict | None = None) -> list[int]:
    """0, 1, 2, ... for each key in order of appearance (repeats of a result, repeated
    evaluations); pass `counts` to continue numbering across batches."""
    counts = {} if counts is None else counts
    numbers = []
    for key in keys:
        number = counts.get(key, 0)
        numbers.append(number)
        counts[key] = number + 1
    return numbers


def read_csv_rows(path, required: tuple[str, ...], text: str | None = None):
    """Yield (line number, row dict) of a CSV file with a header, '#' comment lines skipped.

    A missing file or column, a file without rows, or a row with more fields than the header
    is a clear error naming the file (and line).
    """
    import csv
    import io

    if text is None:
        path = regular_input(path)
        try:
            text = Path(path).read_text()
        except UnicodeDecodeError:
            raise IngestError(f"{path}: not a text CSV file") from None
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if not line.startswith("#")]
    if not lines:
        raise IngestError(f"{path}: empty file")
    if len(lines) == 1:
        raise IngestError(f"{path}: only a header, no rows")
    reader = csv.DictReader(io.StringIO("\n".join(line for _, line in lines)))
    try:
        fieldnames = reader.fieldnames or []
    except csv.Error as exc:
        raise IngestError(f"{path}: line {lines[0][0]}: not a CSV header ({exc})") from None
    missing = [c for c in required if c not in fieldnames]
    if missing:
        raise IngestError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(fieldnames)}")
    rows = iter(reader)
    for number, _ in lines[1:]:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            raise IngestError(f"{path}: line {number}: not CSV ({exc})") from None
        if None in row:
            raise IngestError(f"{path}: line {number}: {len(fieldnames) + len(row[None])} fields, the header has "
                              f"{len(fieldnames)}")
        yield number, row


def parse_number(path, line: int, row: dict, column: str, kind=float, low=None, high=None, infinite=False):
    """A numeric CSV field, range-checked and finite (or, with `infinite`, at least not NaN:
    training-free scores); errors name the file, line and column."""
    text = row.get(column)
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise IngestError(f"{path}: line {line}: column {column} is {text!r}, not a number") from None
    if math.isnan(value) or not (infinite or math.isfinite(value)):
        wanted = "a number (NaN is refused)" if infinite else "a finite number"
        raise IngestError(f"{path}: line {line}: column {column} is {text!r}, not {wanted}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise IngestError(f"{path}: line {line}: column {column} = {value} is outside [{low}, {high}]")
    return value
