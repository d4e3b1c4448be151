"""`wsdb ingest scores CSV --space nb101|nb201`: zero-cost / training-free scores, or any
per-architecture numbers, keyed by an encoding.

The encoding column is found by name:
  nb101: `naslib_tuple` (NASLib: 49 flattened, unpruned adjacency entries + 7 op codes,
         0 input, 1 output, 2 maxpool3x3, 3 conv1x1, 4 conv3x3), or `adjacency` + `operations`
         (JSON matrix and op list); cells are pruned before the NB101 limits are checked, as
         NASLib does (its unpruned cells can have more than 9 edges);
  nb201: `arch_str`, `arch_index`, or `naslib_tuple` (6 op codes on edges 0->1, 0->2, 0->3,
         1->2, 1->3, 2->3; 0 skip_connect, 1 none, 2 nor_conv_3x3, 3 nor_conv_1x1,
         4 avg_pool_3x3).
Every other numeric column is a metric; a `<m>_score` column paired with `<m>_time` gives
metric <m> with its elapsed seconds. A `dataset` column, or --dataset, names the dataset.
Rows keep their raw encoding: isomorphic duplicates (NASLib's NB101 file has 500 rows for
292 architectures) stay distinct rows of `zero_cost_scores` pointing at one architecture.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from wsdb.warehouse.bulk import insert_new_rows
from wsdb.warehouse.catalog import store_architectures
from wsdb.base.errors import InvalidArchitecture
from wsdb.ingest.common import IngestError, IngestSummary, parse_number, read_csv_rows
from wsdb.warehouse.schema import ZeroCostScore
from wsdb.spaces import nb101, nb201

NASLIB_NB101_OPS = {0: nb101.INPUT, 1: nb101.OUTPUT, 2: nb101.MAXPOOL3X3, 3: nb101.CONV1X1, 4: nb101.CONV3X3}
NASLIB_NB201_OPS = {0: nb201.SKIP, 1: nb201.NONE, 2: nb201.CONV3X3, 3: nb201.CONV1X1, 4: nb201.AVGPOOL3X3}
# NASLib's NB201 edge order as positions in our EDGES order ((0,1),(0,2),(1,2),(0,3),(1,3),(2,3)).
NASLIB_NB201_EDGES = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
NOT_METRICS = {"naslib_tuple", "adjacency", "operations", "arch_str", "arch_index", "dataset", "naslib_idx",
               "module_hash", "module_hash_computed"}


def _tuple(text: str, length: int) -> list[int]:
    numbers = [int(x) for x in text.strip().strip("()[]").split(",")]
    if len(numbers) != length:
        raise ValueError(f"expected {length} numbers, got {len(numbers)}")
    return numbers


def _pruned_class(matrix, ops):
    """NASLib's NB101 cells are unpruned and may exceed 9 edges before pruning (NASLib prunes
    first, and its module hashes are those of the pruned cells): prune, then validate."""
    matrix = tuple(tuple(int(v) for v in row) for row in matrix)
    return nb101.canonicalize(*nb101.prune(matrix, tuple(ops)))


def _nb101(row: dict):
    """(encoding kind, raw encoding, class)."""
    if row.get("naslib_tuple"):
        encoding = row["naslib_tuple"].strip()
        numbers = _tuple(encoding, 56)
        ops = [NASLIB_NB101_OPS[code] for code in numbers[49:]]
        return "naslib-nb101-tuple", encoding, _pruned_class([numbers[i * 7:(i + 1) * 7] for i in range(7)], ops)
    matrix, ops = nb101.parse_matrix(row["adjacency"]), nb101.parse_ops(row["operations"])
    arch = _pruned_class(matrix, ops)
    return "nb101-cell", nb101.encode(tuple(map(tuple, matrix)), tuple(ops)), arch


def _nb201(row: dict):
    if row.get("arch_str"):
        return "nb201-arch-str", row["arch_str"].strip(), nb201.canonicalize(row["arch_str"])
    if row.get("arch_index"):
        index = int(row["arch_index"])
        return "nb201-index", str(index), nb201.canonicalize(nb201.arch_str_of_index(index))
    codes = _tuple(row["naslib_tuple"], 6)
    ops_by_edge = {edge: NASLIB_NB201_OPS[code] for edge, code in zip(NASLIB_NB201_EDGES, codes)}
    return "naslib-nb201-tuple", row["naslib_tuple"].strip(), nb201.canonicalize(tuple(ops_by_edge[e] for e in nb201.EDGES))


ENCODINGS = {"nb101": (_nb101, ("naslib_tuple", "adjacency")), "nb201": (_nb201, ("arch_str", "arch_index", "naslib_tuple"))}


def _metrics(columns: list[str]) -> dict[str, tuple[str, str | None]]:
    """metric name -> (value column, elapsed-seconds column or None)."""
    metrics = {}
    for column in columns:
        if column in NOT_METRICS or column.endswith("_time") and column[:-5] + "_score" in columns:
            continue
        name = column[:-6] if column.endswith("_score") else column
        timing = name + "_time" if column.endswith("_score") and name + "_time" in columns else None
        metrics[name] = (column, timing)
    return metrics


def ingest_scores(engine: sa.Engine, path: Path, space: str, source: str, dataset: str | None = None) -> IngestSummary:
    if space not in ENCODINGS:
        raise IngestError(f"--space must be one of {', '.join(ENCODINGS)}, got {space!r}")
    decode, encoding_columns = ENCODINGS[space]
    rows = list(read_csv_rows(path, ()))
    columns = list(rows[0][1]) if rows else []
    if not any(c in columns for c in encoding_columns):
        raise IngestError(f"{path}: no encoding column for {space}; expected one of {', '.join(encoding_columns)}")
    metrics = _metrics(columns)
    summary = IngestSummary(source=f"scores {Path(path).name}", records_read=len(rows))
    archs, scores = {}, []
    for line, row in rows:
        try:
            kind, encoding, arch = decode(row)
        except (InvalidArchitecture, ValueError, KeyError, TypeError) as exc:
            raise IngestError(f"{path}: line {line}: cannot read the architecture: {exc}") from None
        row_dataset = row.get("dataset") or dataset
        if not row_dataset:
            raise IngestError(f"{path}: no dataset column: pass --dataset")
        archs.setdefault(arch.canonical_key, arch)
        for metric, (column, timing) in metrics.items():
            value = parse_number(path, line, row, column, infinite=True) if row.get(column) not in (None, "") else None
            elapsed = (parse_number(path, line, row, timing, low=0) if timing and row.get(timing) not in (None, "")
                       else None)
            scores.append((row_dataset, kind, encoding, metric, arch.canonical_key, value, elapsed))
    with engine.begin() as connection:
        ids, summary.new_architectures, _ = store_architectures(connection, archs.values())
        summary.new_results = insert_new_rows(connection, ZeroCostScore.__table__, {
            "source": [source] * len(scores),
            **{name: [s[i] for s in scores] for i, name in enumerate(("dataset", "encoding_kind", "encoding", "metric"))},
            "architecture_id": [ids[s[4]] for s in scores],
            "value": [s[5] for s in scores],
            "elapsed_seconds": [s[6] for s in scores],
        })
    summary.duplicates_skipped = len(scores) - summary.new_results
    return summary.finish()
