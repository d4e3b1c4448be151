"""Storing benchmark runs whose repeats the source does not number (NAS-Bench-101).

An NB101 file holds three records per (cell, epoch budget), one per training run, and nothing
in a record says which repeat it is: the official API numbers them by their position in the
file. Numbering by position breaks as soon as files overlap (one record alone, then the file
it came from, would store repeat 2's values under repeat 0 and skip the real repeat 0 as a
"duplicate"). So a run's identity is its content, and its number is derived from the set of
runs stored:

- the fingerprint of a run is the md5 of its final evaluation (the row at epoch = budget, or
  its last evaluated epoch): training seconds and train, validation and test accuracy, as
  little-endian float64 (NULL as NaN). All 454,932 published NB101 runs have distinct
  fingerprints within their cell (their accuracies alone collide 590 times);
- a run whose fingerprint is already stored for its (cell, budget) is a duplicate;
- repeats are numbered 0, 1, 2, ... in the order of their fingerprints, which is unrelated
  to accuracy (repeat 0 is not the best or worst run). When a new run sorts before stored
  ones, the stored rows of that (cell, budget) are renumbered in the same transaction.

Any overlap of files (a subset, a superset, the same records reordered, two sources such as
a TFRecord file and the Pourchot et al. pickles) therefore ends with exactly the rows a
single ingest of their union gives.
"""

from __future__ import annotations

import hashlib
import math
import struct

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from wsdb.warehouse.bulk import append_rows, arrow_rows, delete_by_keys, insert_new_rows, select_by_keys, select_table_by_keys
from wsdb.warehouse.schema import GroundTruthResult

TABLE = GroundTruthResult.__table__
_GROUP = ("architecture_id", "epoch_budget", "benchmark_arch_id")
_FINAL_VALUES = ("training_seconds", "train_accuracy", "validation_accuracy", "test_accuracy")
_FLOATS = struct.Struct("<4d")


def run_fingerprint(training_seconds, train_accuracy, validation_accuracy, test_accuracy) -> str:
    """The identity of one training run: md5 of its final evaluation's values."""
    values = (math.nan if v is None else float(v)
              for v in (training_seconds, train_accuracy, validation_accuracy, test_accuracy))
    return _fingerprint(_FLOATS.pack(*values))


def _identities(values: np.ndarray) -> list[bytes]:
    """Each run's final values (rows of an (n, 4) float64 array, NaN for NULL) as the 32 bytes
    that run_fingerprint hashes: equal exactly when the fingerprints are, and free to compare;
    the md5 is only taken where runs must be numbered."""
    packed = np.ascontiguousarray(values, dtype="<f8").tobytes()
    return [packed[k:k + _FLOATS.size] for k in range(0, len(packed), _FLOATS.size)]


def _fingerprint(identity: bytes) -> str:
    return hashlib.md5(identity).hexdigest()


def _codes(*columns: np.ndarray) -> np.ndarray:
    """One integer per distinct combination of the columns' values (NULL is a value)."""
    code = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        indices = pa.array(column, from_pandas=True).dictionary_encode().indices
        _, code = np.unique(code * (len(column) + 1) + pc.fill_null(indices, -1).to_numpy() + 1, return_inverse=True)
    return code


def _final_rows(run: np.ndarray, epoch: np.ndarray, budget: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row of each run's final evaluation, in run order; run index of each row): the row at
    epoch = budget, else the run's last epoch (the first such row). Vectorised: an NB101 block
    has ~60,000 rows, which a loop over rows took ~0.3 s to walk."""
    _, of_row = np.unique(run, return_inverse=True)
    order = np.lexsort((-np.arange(len(run)), epoch, epoch == budget, of_row))
    last = np.append(np.flatnonzero(np.diff(of_row[order])), len(run) - 1)
    return order[last], of_row


def _columns(rows, names) -> dict[str, np.ndarray]:
    """Numpy columns of an Arrow table (NULL floats as NaN, texts as objects)."""
    return {name: rows.column(name).to_numpy(zero_copy_only=False) for name in names}


def _final_values(columns: dict[str, np.ndarray], finals: np.ndarray) -> np.ndarray:
    return np.column_stack([np.asarray(columns[c][finals], dtype=np.float64) for c in _FINAL_VALUES])


def store_runs(connection: sa.Connection, rows: pa.Table) -> int:
    """Store ground-truth rows of unnumbered runs; their `repeat` column holds a number that
    only tells the runs of this call apart (rows of one run share it). All rows must be of
    one benchmark and dataset. Returns the number of rows inserted."""
    if rows.num_rows == 0:
        return 0
    benchmarks = set(rows.column("benchmark").unique().to_pylist())
    datasets = set(rows.column("dataset").unique().to_pylist())
    if len(benchmarks) != 1 or len(datasets) != 1:
        raise ValueError("store_runs takes rows of one benchmark and dataset per call")
    scope = {"benchmark": benchmarks.pop(), "dataset": datasets.pop()}
    columns = _columns(rows, (*_GROUP, "repeat", "epoch", *_FINAL_VALUES))
    finals, run_of_row = _final_rows(columns["repeat"], columns["epoch"], columns["epoch_budget"])
    groups = list(zip(*(columns[c][finals].tolist() for c in _GROUP)))
    identities = _identities(_final_values(columns, finals))

    stored = _stored_runs(connection, scope, set(groups))
    new_in_group: dict[tuple, set[bytes]] = {}
    for group, identity in zip(groups, identities):
        if identity not in stored.get(group, {}):
            new_in_group.setdefault(group, set()).add(identity)
    numbers: dict[tuple, dict[bytes, int]] = {}  # group -> run -> repeat, where a run is new
    renumber: dict[tuple, dict[int, int]] = {}  # group -> stored repeat -> its new number
    for group, fresh in new_in_group.items():
        old = stored.get(group, {})
        order = sorted(set(old) | fresh, key=_fingerprint)
        numbers[group] = {identity: number for number, identity in enumerate(order)}
        moved = {repeat: numbers[group][identity] for identity, repeat in old.items()
                 if numbers[group][identity] != repeat}
        if moved:
            renumber[group] = moved
    if renumber:
        _renumber(connection, scope, renumber)

    number_of_run = np.array([-1 if identity in stored.get(group, {}) else numbers[group][identity]
                              for group, identity in zip(groups, identities)], dtype=np.int64)
    repeats = number_of_run[run_of_row]
    keep = np.flatnonzero(repeats >= 0)
    if len(keep) == 0:
        return 0
    selected = rows.take(pa.array(keep))
    selected = selected.set_column(selected.schema.get_field_index("repeat"), "repeat",
                                   pa.array(repeats[keep], selected.schema.field("repeat").type))
    return insert_new_rows(connection, TABLE, selected, absent=True)  # new runs: read above, none stored


def _stored_runs(connection: sa.Connection, scope: dict, groups: set[tuple]) -> dict[tuple, dict[bytes, int]]:
    """group -> {run identity: repeat} of the runs stored for these groups."""
    architecture_ids = sorted({group[0] for group in groups})
    names = (*_GROUP, "repeat", "epoch", *_FINAL_VALUES)
    found = select_table_by_keys(connection, TABLE, list(names), "architecture_id", architecture_ids, scope)
    if found.num_rows == 0:
        return {}
    columns = _columns(found, names)
    finals, _ = _final_rows(_codes(*(columns[c] for c in (*_GROUP, "repeat"))), columns["epoch"], columns["epoch_budget"])
    stored: dict[tuple, dict[bytes, int]] = {}
    keys = zip(*(columns[c][finals].tolist() for c in (*_GROUP, "repeat")))
    for (*group, repeat), identity in zip(keys, _identities(_final_values(columns, finals))):
        group = tuple(group)
        if group in groups and repeat >= 0:  # -1: a published mean, not a run
            stored.setdefault(group, {})[identity] = repeat
    return stored


def _renumber(connection: sa.Connection, scope: dict, renumber: dict[tuple, dict[int, int]]) -> None:
    """Give stored runs their new numbers: their rows are read, deleted and written back
    (an UPDATE of key columns could collide midway on both backends). Stored runs that keep
    their number stay untouched."""
    names = [c.name for c in TABLE.columns]
    at = {name: k for k, name in enumerate(names)}
    found = select_by_keys(connection, TABLE, names, "architecture_id", sorted({g[0] for g in renumber}), scope)
    moving = [row for row in found
              if row[at["repeat"]] in renumber.get(tuple(row[at[c]] for c in _GROUP), {})]
    keys = (*_GROUP, "repeat")
    delete_by_keys(connection, TABLE, arrow_rows(TABLE, {c: [row[at[c]] for row in moving] for c in keys}), scope)
    renumbered = []
    for row in moving:
        values = list(row)
        values[at["repeat"]] = renumber[tuple(row[at[c]] for c in _GROUP)][row[at["repeat"]]]
        renumbered.append(values)
    append_rows(connection, TABLE, {name: [values[at[name]] for values in renumbered] for name in names})
