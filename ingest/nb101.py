"""`wsdb ingest nasbench101 FILE`: the official NAS-Bench-101 TFRecord files.

Reads `nasbench_only108.tfrecord` (108-epoch budget) and `nasbench_full.tfrecord` (budgets
4, 12, 36, 108) without TensorFlow. Each record's payload is JSON
`[module_hash, epochs, raw_adjacency, raw_operations, base64 ModelMetrics]`; every repeat and
every evaluation point that carries an accuracy becomes a `ground_truth_results` row
(dataset 'cifar10': NB101's 40k train / 10k validation / 10k test split). The module hash is
recomputed from the cell and must equal the record's; a cell whose class the warehouse already
holds is identified without recomputing it (ingest/nb101_identity.py: the official hash is
computed at most once per class and warehouse).

A record does not say which repeat it is: runs are identified by their content and numbered
by wsdb.warehouse.ground_truth (overlapping files end as one ingest of their union). The main process
reads blocks of framed records and checks their headers, and writes to the database; worker
processes check the payload checksums, decode, check every number and recompute hashes (the
costly part), one block at a time, so memory stays bounded. Each block is committed in its
own transaction: an interrupted run leaves whole blocks, and a rerun adds only what is missing.

Bad input: a truncated or foreign file is refused before anything is written (the framing
is walked first); a damaged record (checksum, content, hash) stops the run at its block,
after the blocks before it are committed: nothing of the bad block is written, and a rerun
on the repaired file completes the ingest.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pyarrow as pa
import sqlalchemy as sa
from google.protobuf.message import DecodeError

from wsdb.warehouse.bulk import deferred_checkpoints, fill_null_integers
from wsdb.warehouse.catalog import store_architectures, store_encodings
from wsdb.base.errors import Interrupted, InvalidArchitecture, WsdbError
from wsdb.base.files import regular_input
from wsdb.base.interrupts import safe_points
from wsdb.warehouse.ground_truth import store_runs
from wsdb.base import values
from wsdb.base.progress import progress_bar
from wsdb.ingest.common import IngestError, IngestSummary, ground_truth_table
from wsdb.ingest.nb101_identity import RAW_KIND, KnownCells, identify, load_known
from wsdb.ingest.nb101_metrics import ModelMetrics
from wsdb.ingest.tfrecord import read_blocks, record_lengths, unframe
from wsdb.base.processes import process_pool
from wsdb.warehouse.schema import Architecture
from wsdb.spaces import nb101
from wsdb.spaces.canonical import CanonicalArchitecture

BENCHMARK = "nasbench101"
DATASET = "cifar10"
BLOCK_RECORDS = 30_000
# Below this size, decoding in the main process beats starting worker processes.
IN_PROCESS_BYTES = 4 << 20


def _point(epoch: float, budget: int) -> str:
    if epoch == budget:
        return "final"
    if epoch == 0:
        return "initial"
    if epoch * 2 == budget:
        return "halfway"
    return f"epoch-{epoch:g}"


# one evaluation point of a record: the columns a block hands to the main process
_EVALUATION_COLUMNS = ("position", "epoch", "evaluation_point", "train_accuracy", "validation_accuracy",
                       "test_accuracy", "training_seconds")


def _checked_columns(points: list[tuple], where) -> dict[str, np.ndarray | list]:
    """The evaluation points as columns, every number checked by the ingest rule
    (ingest/values.py) here in the worker; numbers become arrays (NULL as NaN from here on),
    so a block travels to the main process as a few buffers instead of one tuple per point."""
    columns = dict(zip(_EVALUATION_COLUMNS, map(list, zip(*points)))) if points else \
        {name: [] for name in _EVALUATION_COLUMNS}
    for name in _EVALUATION_COLUMNS[3:]:
        columns[name] = values.check_column(columns[name], values.kind_of(name), name, where)
    for name in ("position", "epoch"):
        columns[name] = np.array(columns[name], dtype=np.int64)
    return columns


def _record(path: str, first_index: int, first_offset: int, payloads: list[bytes], position: int) -> str:
    """'<file>: record N (byte offset B)', for an error message about a record of a block."""
    offset = first_offset + sum(16 + len(p) for p in payloads[:position])
    return f"{path}: record {first_index + position} (byte offset {offset})"


_known = KnownCells()  # what the warehouse knew when the ingest began (set in every worker)


def use_known(known: KnownCells) -> None:
    """Worker set-up: the warehouse's known cells, sent once per process."""
    global _known
    _known = known


def decode_block(path: str, first_index: int, first_offset: int, data: bytes, lengths: list[int]) -> dict:
    """Check the checksums of one block of records from `read_blocks` and decode it (runs in
    a worker process).

    Returns the block's cells the warehouse did not know (raw encoding -> canonical
    architecture), those it knew (raw encoding -> (key, id, found by fingerprint)) with the
    parameter counts the records give, its records' (module hash, budget), and its evaluation
    points as checked columns (_EVALUATION_COLUMNS: record position in block, epoch, point,
    train, validation, test accuracy, training seconds; NULL as NaN).
    """
    cells: dict[str, CanonicalArchitecture] = {}
    records: list[tuple[str, int]] = []
    raws: list[str] = []
    first_seen: dict[str, tuple[int, int | None]] = {}  # raw -> (first position, parameters)
    points: list[tuple] = []  # one per evaluation point, in _EVALUATION_COLUMNS order

    payloads = unframe(path, first_index, first_offset, data, lengths)

    def record(position: int) -> str:  # a record, named only when it is bad
        return _record(path, first_index, first_offset, payloads, position)

    for position, payload in enumerate(payloads):
        try:
            module_hash, budget, raw_adjacency, raw_operations, raw_metrics = json.loads(payload)
            metrics = ModelMetrics.FromString(base64.b64decode(raw_metrics, validate=True))
            if not (isinstance(module_hash, str) and isinstance(budget, int) and isinstance(raw_adjacency, str)
                    and isinstance(raw_operations, str)):
                raise TypeError
        except (ValueError, TypeError, AttributeError, binascii.Error, DecodeError):
            raise IngestError(
                f"{record(position)} is not a NAS-Bench-101 record "
                "(expected JSON [module_hash, epochs, adjacency, operations, base64 metrics])"
            ) from None
        raw = f"{raw_adjacency};{raw_operations}"
        if raw not in first_seen:
            parameters = metrics.trainable_parameters if metrics.HasField("trainable_parameters") else None
            if values.problem(parameters, "count"):
                values.check(parameters, "count", record(position), "trainable_parameters")
            first_seen[raw] = (position, parameters or None)
        raws.append(raw)
        records.append((module_hash, budget))
        for evaluation in metrics.evaluation_data:
            accuracies = [
                evaluation.train_accuracy if evaluation.HasField("train_accuracy") else None,
                evaluation.validation_accuracy if evaluation.HasField("validation_accuracy") else None,
                evaluation.test_accuracy if evaluation.HasField("test_accuracy") else None,
            ]
            if accuracies == [None, None, None]:
                continue  # e.g. the epoch-0 entry of the published records: no measurement
            epoch = evaluation.current_epoch
            points.append((position, int(epoch), _point(epoch, budget), *accuracies,
                           evaluation.training_time if evaluation.HasField("training_time") else None))
    evaluations = _checked_columns(points, lambda row: f"{record(points[row][0])}, epoch {points[row][1]}")
    known = identify(_known, list(first_seen))
    for raw, (position, parameters) in first_seen.items():
        if raw not in known:
            cells[raw] = _canonical(raw, parameters, lambda: record(position))
    for position, (raw, (module_hash, _)) in enumerate(zip(raws, records)):
        key = known[raw][0] if raw in known else cells[raw].canonical_key
        if key != module_hash:
            recomputed = _canonical(raw, None, lambda: record(position)).canonical_key  # the official algorithm says
            raise IngestError(f"{record(position)}: module hash {module_hash} does not match its cell "
                              f"(recomputed {recomputed})")
    return {"cells": cells, "known": known, "parameters": {raw: first_seen[raw][1] for raw in known},
            "records": records, "evaluations": evaluations}


def _canonical(raw: str, parameters: int | None, where) -> CanonicalArchitecture:
    """The official way: validate, prune, hash (wsdb.spaces.nb101); `where()` names the record."""
    raw_adjacency, raw_operations = raw.split(";", 1)
    ops = raw_operations.split(",")
    n = len(ops)
    if len(raw_adjacency) != n * n or set(raw_adjacency) - {"0", "1"}:
        raise IngestError(f"{where()}: adjacency {raw_adjacency!r} is not a {n}x{n} 0/1 matrix")
    matrix = [[int(raw_adjacency[i * n + j]) for j in range(n)] for i in range(n)]
    try:
        return nb101.canonicalize(matrix, ops, parameters)
    except InvalidArchitecture as exc:
        raise IngestError(f"{where()}: invalid cell: {exc}") from None


class _InProcess:
    """The executor interface, run in the calling process (small files, workers=1)."""

    def submit(self, fn, *args) -> Future:
        future = Future()
        future.set_result(fn(*args))  # bad input raises here, before later blocks are read
        return future

    def shutdown(self, cancel_futures=False):
        pass


def ingest_nb101(engine: sa.Engine, path: Path, workers: int | None = None, show_progress: bool = True,
                 block_records: int = BLOCK_RECORDS) -> IngestSummary:
    path = regular_input(path)
    if workers is not None and workers < 1:
        raise IngestError(f"workers must be at least 1, got {workers}")
    if block_records < 1:
        raise IngestError(f"records per batch must be at least 1, got {block_records}")
    lengths = record_lengths(path)
    if len(lengths) == 0:
        raise IngestError(f"{path}: empty file: no NAS-Bench-101 records")
    summary = IngestSummary(source=f"nasbench101 {path.name}")
    workers = workers or os.cpu_count() or 1
    small = path.stat().st_size <= IN_PROCESS_BYTES
    with engine.connect() as connection:
        known = load_known(connection)
    if workers == 1 or small:
        use_known(known)
        executor = _InProcess()
    else:
        executor = process_pool(workers, use_known, (known,))
    pending = []
    try:
        with (deferred_checkpoints(engine), progress_bar(path.stat().st_size, "B", "nasbench101", show_progress) as bar,
              safe_points() as interrupt):
            try:
                for first, offset, data, sizes in read_blocks(path, block_records, lengths):
                    interrupt.check()  # Ctrl-C between batches, never inside a DuckDB write
                    pending.append(executor.submit(decode_block, str(path), first, offset, data, sizes))
                    bar.update(len(data))
                    if len(pending) > workers:  # bounded: at most workers+1 blocks in flight
                        _store_block(engine, pending.pop(0).result(), summary, path)
            except WsdbError:
                # Bad input further on: keep every block before it, in order, then report.
                while pending:
                    try:
                        block = pending.pop(0).result()
                    except WsdbError:
                        break
                    _store_block(engine, block, summary, path)
                raise
            while pending:
                interrupt.check()
                _store_block(engine, pending.pop(0).result(), summary, path)
    except KeyboardInterrupt:
        raise Interrupted(f"{path}: the {summary.records_read:,} records of the batches committed before it are kept "
                          f"({summary.new_results:,} new results); the same command again goes on from there") from None
    finally:
        executor.shutdown(cancel_futures=True)
    return summary.finish()


def _store_block(engine: sa.Engine, block: dict, summary: IngestSummary, path: Path) -> None:
    evaluations = block["evaluations"]
    records = block["records"]
    positions = evaluations["position"]
    with engine.begin() as connection:
        ids, new_archs, _ = store_architectures(
            connection,
            block["cells"].values(),
            [(RAW_KIND, raw, arch.canonical_key) for raw, arch in block["cells"].items()],
        )
        known = block["known"]
        ids.update({key: arch_id for key, arch_id, _ in known.values()})
        # a cell found by fingerprint: its text now names its class (the next ingest's lookup)
        store_encodings(connection, [(RAW_KIND, raw, arch_id) for raw, (_, arch_id, by_print) in known.items()
                                     if by_print])
        fill_null_integers(connection, Architecture.__table__, "id", "trainable_parameters",
                           [(known[raw][1], n) for raw, n in block["parameters"].items() if n is not None])
        keys = [key for key, _ in records]
        rows = ground_truth_table(
            {
                "architecture_id": np.array([ids[key] for key in keys], dtype=np.int64)[positions],
                "epoch_budget": np.array([budget for _, budget in records], dtype=np.int64)[positions],
                "benchmark_arch_id": pa.array(keys).take(pa.array(positions)),
                "repeat": positions,  # tells the runs apart; store_runs numbers them
                **{name: evaluations[name] for name in _EVALUATION_COLUMNS[1:]},
            },
            lambda row: str(path),  # the workers checked every number; only the constants are left
            checked=True,
            benchmark=BENCHMARK,
            dataset=DATASET,
            source=path.name,
        )
        new_results = store_runs(connection, rows)
    summary.records_read += len(records)
    summary.new_architectures += new_archs
    summary.new_results += new_results
    summary.duplicates_skipped += len(positions) - new_results
