"""NAS-Bench-101 cells: validation, pruning, the official module hash and a canonical form.

A cell is a DAG of at most 7 vertices and 9 edges given as a strictly upper-triangular
adjacency matrix and one operation per vertex (vertex 0 'input', the last 'output').
Everything here works on plain tuples of ints and strings; `validate` is the one boundary
that turns user input into that form.

Identity is the official module hash (google-research/nasbench `graph_util.hash_module`),
computed on the pruned cell. The canonical encoding orders the vertices topologically,
breaking ties by the vertex hashes of that same computation, so isomorphic cells give the
same matrix and ops without trying all vertex permutations.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

from wsdb.base.errors import InvalidArchitecture
from wsdb.spaces.canonical import CanonicalArchitecture

SEARCH_SPACE = "nb101"
INPUT = "input"
OUTPUT = "output"
CONV3X3 = "conv3x3-bn-relu"
CONV1X1 = "conv1x1-bn-relu"
MAXPOOL3X3 = "maxpool3x3"
OPERATIONS = (CONV3X3, CONV1X1, MAXPOOL3X3)
MAX_VERTICES = 7
MAX_EDGES = 9

# The integer labels of the official hash; they are part of the hashed text.
_HASH_LABELS = {INPUT: -1, OUTPUT: -2, CONV3X3: 0, CONV1X1: 1, MAXPOOL3X3: 2}
_OP_ALIASES = {
    "conv3x3": CONV3X3,
    "conv1x1": CONV1X1,
    "maxpool": MAXPOOL3X3,
    "maxpool3x3-bn-relu": MAXPOOL3X3,
}

Matrix = tuple[tuple[int, ...], ...]
Ops = tuple[str, ...]

# Sub-spaces of Pourchot et al. 2020 (to share or not to share), as predicates on the features.
# The SQL twin of this table lives in the migration that creates `architecture_subspaces`;
# tests check that both agree.
SUBSPACES = {
    "FULL": "every cell of NAS-Bench-101",
    "A1": "exactly 1 intermediate vertex feeds the output (input->output edge free)",
    "A2": "exactly 2 intermediate vertices feed the output (input->output edge free)",
    "A3": "exactly 3 intermediate vertices feed the output (input->output edge free)",
    "A4": "exactly 4 intermediate vertices feed the output (input->output edge free)",
    "RES": "cells with an input->output (residual) edge",
    "NRES": "cells without an input->output edge",
}


# --- parsing and validation: the boundary -------------------------------------------------


def parse_matrix(text: str) -> list[list[int]]:
    """Read an adjacency matrix written as JSON (`[[0,1],[0,0]]`) or as rows joined by
    '|' (`01|00`)."""
    text = text.strip()
    try:
        if text.startswith("["):
            rows = json.loads(text)
        else:
            rows = [[int(ch) for ch in row.strip()] for row in text.split("|")]
    except (ValueError, json.JSONDecodeError):
        raise InvalidArchitecture(
            f"cannot read matrix {text!r}: expected JSON like [[0,1],[0,0]] or rows like 01|00"
        ) from None
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise InvalidArchitecture(f"matrix {text!r} is not a list of rows")
    return rows


def parse_ops(text: str) -> list[str]:
    """Read operations written as JSON (`["input", ...]`) or comma-separated."""
    text = text.strip()
    if text.startswith("["):
        try:
            ops = json.loads(text)
        except json.JSONDecodeError:
            raise InvalidArchitecture(f"cannot read ops {text!r}: invalid JSON") from None
    else:
        ops = [op.strip() for op in text.split(",")]
    if not isinstance(ops, list):
        raise InvalidArchitecture(f"ops {text!r} is not a list of operations")
    return [_OP_ALIASES.get(op, op) if isinstance(op, str) else op for op in ops]


def validate(matrix, ops) -> tuple[Matrix, Ops]:
    """Check a raw (unpruned) cell against the NB101 rules and return it as tuples.

    Limits are checked on the cell as given, like the official API does.
    """
    try:
        rows = tuple(tuple(row) for row in matrix)
    except TypeError:
        raise InvalidArchitecture(f"matrix {matrix!r} is not a list of rows") from None
    problem = _matrix_problem(rows)
    if problem:
        raise InvalidArchitecture(problem)
    n = len(rows)
    if len(ops) != n:
        raise InvalidArchitecture(f"{len(ops)} ops given for a {n}-vertex matrix")
    if ops[0] != INPUT or ops[-1] != OUTPUT:
        raise InvalidArchitecture(f"the first op must be 'input' and the last 'output', got {ops[0]!r} and {ops[-1]!r}")
    for op in ops[1:-1]:
        if op not in OPERATIONS:
            raise InvalidArchitecture(f"unknown NB101 op {op!r}; expected one of {', '.join(OPERATIONS)}")
    return tuple(tuple(int(v) for v in row) for row in rows), tuple(ops)


# A benchmark file holds few distinct matrices (2,490 among the 151,644 published cells), so
# the matrix-only work below is cached: validation, pruning and adjacency lists.


@lru_cache(maxsize=65536)
def _matrix_problem(rows: tuple) -> str | None:
    n = len(rows)
    if not 2 <= n <= MAX_VERTICES:
        return f"NB101 cells have 2 to {MAX_VERTICES} vertices, got {n}"
    for i, row in enumerate(rows):
        if len(row) != n:
            return f"matrix is not square: row {i} has {len(row)} entries, expected {n}"
        for j, value in enumerate(row):
            if value not in (0, 1):
                return f"matrix entry [{i}][{j}] is {value!r}, expected 0 or 1"
            if value and j <= i:
                return f"matrix is not strictly upper-triangular: entry [{i}][{j}] is 1"
    edges = sum(sum(row) for row in rows)
    if edges > MAX_EDGES:
        return f"NB101 cells have at most {MAX_EDGES} edges, got {edges}"
    return None


# --- graph functions on validated cells ---------------------------------------------------


@lru_cache(maxsize=65536)
def _kept_vertices(matrix: Matrix) -> tuple[int, ...]:
    n = len(matrix)
    from_input = {0}
    for v in range(n):  # upper-triangular: index order is a topological order
        if v in from_input:
            from_input.update(w for w in range(v + 1, n) if matrix[v][w])
    to_output = {n - 1}
    for v in range(n - 1, -1, -1):
        if any(matrix[v][w] for w in to_output):
            to_output.add(v)
    return tuple(sorted(from_input & to_output))


def prune(matrix: Matrix, ops: Ops) -> tuple[Matrix, Ops]:
    """Keep the vertices on some input->output path (official ModelSpec pruning)."""
    n = len(matrix)
    keep = _kept_vertices(matrix)
    if 0 not in keep or n - 1 not in keep:
        raise InvalidArchitecture("input and output are not connected")
    if len(keep) == n:
        return matrix, ops
    return tuple(tuple(matrix[i][j] for j in keep) for i in keep), tuple(ops[i] for i in keep)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=65536)
def _adjacency(matrix: Matrix) -> tuple[tuple[tuple[int, ...], ...], tuple[tuple[int, ...], ...]]:
    n = len(matrix)
    preds = tuple(tuple(u for u in range(n) if matrix[u][v]) for v in range(n))
    succs = tuple(tuple(w for w in range(n) if matrix[v][w]) for v in range(n))
    return preds, succs


@lru_cache(maxsize=None)
def _initial_hash(out_degree: int, in_degree: int, label: int) -> str:
    # str() of a tuple of plain ints: numpy scalars would print differently and change the hash.
    return _md5(str((out_degree, in_degree, label)))


def vertex_hashes(matrix: Matrix, ops: Ops) -> list[str]:
    """Per-vertex hashes after the official number of refinement rounds (one per vertex).

    Written for speed (it runs for every cell an ingest reads): md5 is called inline and
    the adjacency lists come from the per-matrix cache.
    """
    preds, succs = _adjacency(matrix)
    hashes = [_initial_hash(len(s), len(p), _HASH_LABELS[op]) for p, s, op in zip(preds, succs, ops)]
    md5, join = hashlib.md5, "".join
    for _ in range(len(matrix)):
        hashes = [
            md5(
                (join(sorted([hashes[u] for u in p])) + "|" + join(sorted([hashes[w] for w in s])) + "|" + h).encode()
            ).hexdigest()
            for p, s, h in zip(preds, succs, hashes)
        ]
    return hashes


def module_hash(matrix: Matrix, ops: Ops) -> str:
    """The official NB101 module hash of a pruned cell (the key of the official data)."""
    return _md5(str(sorted(vertex_hashes(matrix, ops))))


def canonical_order(matrix: Matrix, hashes: list[str]) -> list[int]:
    """A topological order that picks, among ready vertices, the smallest vertex hash.

    Vertices with equal hashes are alike to refinement, yet where they sit relative to the
    vertices already placed can differ (two symmetric branches: after the first branch's
    head, its own child must come before the other branch's). So each such tie is tried and
    the order giving the smallest relabelled matrix wins; the result is the same for every
    numbering of the cell. Ties are rare and small (at most 5 intermediate vertices).
    """
    n = len(matrix)
    best: tuple | None = None

    def extend(order: list[int], missing_preds: list[int], ready: list[int]) -> None:
        nonlocal best
        if not ready:
            key = tuple(tuple(matrix[i][j] for j in order) for i in order)
            if best is None or key < best[0]:
                best = (key, order)
            return
        lowest = min(hashes[v] for v in ready)
        for v in sorted(v for v in ready if hashes[v] == lowest):
            missing = list(missing_preds)
            still_ready = [u for u in ready if u != v]
            for w in range(n):
                if matrix[v][w]:
                    missing[w] -= 1
                    if missing[w] == 0:
                        still_ready.append(w)
            extend(order + [v], missing, still_ready)

    extend([], [sum(matrix[u][v] for u in range(n)) for v in range(n)], [0])
    return best[1]


def encode(matrix: Matrix, ops: Ops) -> str:
    """Text form `rows joined by '|';ops joined by ','` (the layout of the shared data)."""
    return "|".join("".join(map(str, row)) for row in matrix) + ";" + ",".join(ops)


def decode(text: str) -> tuple[Matrix, Ops]:
    """Inverse of `encode`, validated."""
    if ";" not in text:
        raise InvalidArchitecture(f"NB101 encoding {text!r} lacks the ';' between matrix and ops")
    matrix_text, ops_text = text.split(";", 1)
    return validate(parse_matrix(matrix_text), parse_ops(ops_text))


def features(matrix: Matrix, ops: Ops) -> dict:
    """Derived properties of a pruned cell (column names of the `architectures` table)."""
    n = len(matrix)
    depth = [0] * n  # longest path from the input, in edges
    for v in range(1, n):
        depth[v] = max((depth[u] + 1 for u in range(v) if matrix[u][v]), default=0)
    return {
        "num_vertices": n,
        "num_edges": sum(map(sum, matrix)),
        "num_output_inputs": sum(matrix[v][n - 1] for v in range(1, n - 1)),
        "has_input_output_edge": bool(matrix[0][n - 1]),
        "depth": depth[n - 1],
        "num_conv3x3": ops.count(CONV3X3),
        "num_conv1x1": ops.count(CONV1X1),
        "num_maxpool3x3": ops.count(MAXPOOL3X3),
    }


def subspaces(feature_values: dict) -> tuple[str, ...]:
    names = ["FULL"]
    k = feature_values["num_output_inputs"]
    if 1 <= k <= 4:
        names.append(f"A{k}")
    names.append("RES" if feature_values["has_input_output_edge"] else "NRES")
    return tuple(names)


def canonicalize(matrix, ops, trainable_parameters: int | None = None) -> CanonicalArchitecture:
    """Raw cell (any vertex order, possibly with dangling vertices) -> its class."""
    matrix, ops = prune(*validate(matrix, ops))
    return canonicalize_pruned(matrix, ops, vertex_hashes(matrix, ops), trainable_parameters)


def canonicalize_pruned(
    matrix: Matrix, ops: Ops, hashes: list[str], trainable_parameters: int | None = None
) -> CanonicalArchitecture:
    """The class of a validated, pruned cell whose `vertex_hashes` are already known."""
    order = canonical_order(matrix, hashes)
    canon_matrix = tuple(tuple(matrix[i][j] for j in order) for i in order)
    canon_ops = tuple(ops[i] for i in order)
    feats = features(canon_matrix, canon_ops)
    return CanonicalArchitecture(
        search_space=SEARCH_SPACE,
        canonical_key=_md5(str(sorted(hashes))),
        canonical_encoding=encode(canon_matrix, canon_ops),
        features=feats,
        subspaces=subspaces(feats),
        trainable_parameters=trainable_parameters,
    )
