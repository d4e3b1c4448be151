"""The one rule every ingester applies to the numbers it reads.

Files from publications mix percentages and fractions, and a damaged or hostile file can
hold anything (5000 %, NaN, a negative time). Every value is checked before it is stored,
by the kind of quantity its column holds:

  accuracy    a finite fraction in [0, 1] (sources in percent are divided by 100 first)
  loss        finite, >= 0
  seconds     finite, >= 0
  count       an integer >= 0 (parameter counts)
  score       any number but NaN (training-free scores have the metric's own scale, and
              -inf is a real value of some: NASWOT's log-determinant of a singular kernel is
              -inf for 603 rows of the published NB201 table and 3 of NASLib's file)

NULL (absent) is allowed everywhere. A bad value stops the ingest with one line naming the
file, the record and the field; nothing of its batch is written.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from wsdb.base.errors import BadFile

RANGES = {
    "accuracy": (0.0, 1.0, "a fraction in [0, 1] (accuracies are stored as fractions)"),
    "loss": (0.0, math.inf, "a finite number >= 0"),
    "seconds": (0.0, math.inf, "a finite number of seconds >= 0"),
    "count": (0.0, math.inf, "a whole number >= 0"),
    "score": (-math.inf, math.inf, "a number (NaN is refused)"),
}


def kind_of(column: str) -> str | None:
    """The quantity a warehouse column holds, from its name (None: not a checked number)."""
    if column.endswith("_accuracy") or column == "validation_accuracy_std":
        return "accuracy"
    if column.endswith("_loss"):
        return "loss"
    if column.endswith("_seconds"):
        return "seconds"
    if column == "trainable_parameters":
        return "count"
    return None


def problem(value, kind: str) -> str | None:
    """Why `value` is not a valid `kind`, or None."""
    if value is None:
        return None
    low, high, wanted = RANGES[kind]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return wanted
    if math.isnan(number) or (kind != "score" and not math.isfinite(number)) or number < low or number > high:
        return wanted
    if kind == "count" and number != int(number):
        return wanted
    return None


def check(value, kind: str, where: str, field: str):
    """`value` if valid, else a BadFile error '<where>: <field> = <value> is not <wanted>'."""
    reason = problem(value, kind)
    if reason is not None:
        raise BadFile(f"{where}: {field} = {value!r} is not {reason}")
    return value


def check_column(values, kind: str, field: str, where: Callable[[int], str]) -> np.ndarray:
    """Check a whole column at numpy speed; the error names the first bad row via `where`.
    Returns the column as float64, NaN for None."""
    values = list(values)
    null = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    try:
        array = np.array([0.0 if v is None else v for v in values], dtype=np.float64)
    except (TypeError, ValueError):  # something that is not a number: find it one by one
        for row, value in enumerate(values):
            check(value, kind, where(row), field)
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    low, high, _ = RANGES[kind]
    with np.errstate(invalid="ignore"):
        valid = (~np.isnan(array) if kind == "score" else np.isfinite(array)) & (array >= low) & (array <= high)
        if kind == "count":
            valid &= array == np.floor(array)
    bad = ~null & ~valid
    if bad.any():
        row = int(np.argmax(bad))
        check(values[row], kind, where(row), field)
    array[null] = np.nan
    return array
