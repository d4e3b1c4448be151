"""A vectorized NB101 class fingerprint for search simulations.

Regularized evolution mutates raw cells (7x7 matrices with dangling vertices) millions of
times; each mutant must be mapped to its class. The official md5 hash costs ~70 us per cell in
Python, so this module computes, for a whole batch of cells at once with numpy:
  1. validity (at most 9 edges as given, input and output connected after pruning),
  2. pruning (vertices on an input->output path, by boolean reachability),
  3. a 64-bit Weisfeiler-Lehman fingerprint of the pruned cell: initial labels from
     (out-degree, in-degree, operation) as the official hash, 7 rounds that mix each vertex's
     value with the sums of mixed in- and out-neighbour values (sums: order-free, as the
     official hash's sorted concatenations), and a sum over the kept vertices.
Isomorphic cells get equal fingerprints by construction; refinement separates classes as the
official hash does, so equal fingerprints mean one class up to 64-bit collisions, which
`FingerprintIndex` rules out among the classes it indexes (it refuses to build otherwise).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from wsdb.spaces import nb101

VERTICES = nb101.MAX_VERTICES
# op label per vertex position code: 0 conv3x3, 1 conv1x1, 2 maxpool3x3 (the official labels);
# input and output get -1 and -2 as in the official hash.
OP_CODES = {nb101.CONV3X3: 0, nb101.CONV1X1: 1, nb101.MAXPOOL3X3: 2}
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


_SHIFTS = (np.uint64(30), np.uint64(27), np.uint64(31))
_FACTORS = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: a bijective scrambling of 64-bit values (uint64 arrays wrap
    silently; the callers' errstate covers scalars)."""
    x = x.astype(np.uint64, copy=True)
    x ^= x >> _SHIFTS[0]
    x *= _FACTORS[0]
    x ^= x >> _SHIFTS[1]
    x *= _FACTORS[1]
    x ^= x >> _SHIFTS[2]
    return x


_ROWS, _COLUMNS = np.triu_indices(VERTICES, 1)        # the 21 places an edge can be
_PLACE_BITS = (1 << np.arange(len(_ROWS))).astype(np.int64)


def _reachability(matrices: np.ndarray) -> np.ndarray:
    """Kept vertices by three batched squarings of (I + A) (paths of up to 8 edges)."""
    reach = np.minimum(matrices.astype(np.uint8) + np.eye(VERTICES, dtype=np.uint8), 1)
    for _ in range(3):
        reach = np.minimum(np.matmul(reach, reach), 1)
    return (reach[:, 0, :] > 0) & (reach[:, :, -1] > 0)


@lru_cache(maxsize=1)
def _kept_table() -> np.ndarray:
    """Kept-vertex bit mask of every one of the 2^21 upper-triangular matrices (2 MiB, built
    once per process in a few seconds): pruning becomes one lookup per cell."""
    table = np.zeros(1 << len(_ROWS), dtype=np.uint8)
    chunk = 1 << 18
    for start in range(0, len(table), chunk):
        codes = np.arange(start, start + chunk, dtype=np.int64)
        matrices = np.zeros((chunk, VERTICES, VERTICES), dtype=np.uint8)
        matrices[:, _ROWS, _COLUMNS] = (codes[:, None] >> np.arange(len(_ROWS))) & 1
        table[start:start + chunk] = (_reachability(matrices) * (1 << np.arange(VERTICES))).sum(axis=1)
    return table


# Below this many cells (and while the table is not built) reachability is computed directly:
# building the table costs ~2.8 s, which a batch of an ingest block (30,000 cells, ~0.05 s
# directly) never earns back; the simulations' millions of mutants do.
TABLE_AFTER = 1 << 20


def build_pruning_table() -> None:
    """Make every later `prune_mask` a table lookup (for callers with millions of cells ahead)."""
    _kept_table()


def prune_mask(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(kept vertices (B, 7) bool, valid (B,) bool) for a batch of upper-triangular matrices."""
    places = matrices[:, _ROWS, _COLUMNS].astype(np.int64)
    if len(matrices) < TABLE_AFTER and _kept_table.cache_info().currsize == 0:
        kept = _reachability(matrices)
    else:
        kept_bits = _kept_table()[places @ _PLACE_BITS]
        kept = ((kept_bits[:, None] >> np.arange(VERTICES)) & 1).astype(bool)
    valid = kept[:, 0] & kept[:, -1] & (places.sum(axis=1) <= nb101.MAX_EDGES)
    return kept, valid


def fingerprints(matrices: np.ndarray, op_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fingerprint (B,) uint64, valid (B,) bool) of raw cells.

    matrices: (B, 7, 7) 0/1, strictly upper-triangular; op_codes: (B, 5) codes of the
    intermediate vertices (0 conv3x3, 1 conv1x1, 2 maxpool3x3).
    """
    kept, valid = prune_mask(matrices)
    adjacency = matrices.astype(np.uint64) * kept[:, :, None] * kept[:, None, :]
    out_degree = adjacency.sum(axis=2)
    in_degree = adjacency.sum(axis=1)
    labels = np.empty((matrices.shape[0], VERTICES), dtype=np.int64)
    labels[:, 0], labels[:, -1] = -1, -2
    labels[:, 1:-1] = op_codes
    with np.errstate(over="ignore"):
        value = _mix((out_degree * np.uint64(64) + in_degree) * np.uint64(8) + (labels + 2).astype(np.uint64))
        for _ in range(VERTICES):
            mixed_in = _mix(value)
            mixed_out = _mix(value ^ np.uint64(0xC2B2AE3D27D4EB4F))
            from_predecessors = np.einsum("buv,bu->bv", adjacency, mixed_in)
            from_successors = np.einsum("buv,bv->bu", adjacency, mixed_out)
            value = _mix(value * np.uint64(0x100000001B3) + from_predecessors * np.uint64(0x9E3779B97F4A7C15)
                         + (from_successors ^ (from_successors >> np.uint64(29))))
        value = np.where(kept, _mix(value), np.uint64(0))
        fingerprint = _mix(value.sum(axis=1) + kept.sum(axis=1).astype(np.uint64))
    return fingerprint, valid


def encode_cells(cells: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    """(matrices (B, 7, 7), op codes (B, 5)) from (matrix, ops) cells of up to 7 vertices;
    smaller cells are padded by isolated vertices placed before the output, which pruning drops."""
    matrices = np.zeros((len(cells), VERTICES, VERTICES), dtype=np.uint8)
    op_codes = np.zeros((len(cells), VERTICES - 2), dtype=np.int8)
    for index, (matrix, ops) in enumerate(cells):
        n = len(matrix)
        position = list(range(n - 1)) + [VERTICES - 1]  # the output goes to the last slot
        for i in range(n):
            for j in range(n):
                if matrix[i][j]:
                    matrices[index, position[i], position[j]] = 1
        for i in range(1, n - 1):
            op_codes[index, i - 1] = OP_CODES[ops[i]]
    return matrices, op_codes


def encode_canonical(encodings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """encode_cells for the warehouse's own canonical encodings (`rows|..;ops`), which were
    validated when stored: parsed in bulk per vertex count, without validating again."""
    matrices = np.zeros((len(encodings), VERTICES, VERTICES), dtype=np.uint8)
    op_codes = np.zeros((len(encodings), VERTICES - 2), dtype=np.int8)
    parts = [text.split(";") for text in encodings]
    by_size: dict[int, list[int]] = {}
    for index, (rows, _) in enumerate(parts):
        by_size.setdefault(rows.count("|") + 1, []).append(index)
    for n, members in by_size.items():
        flat = "".join(parts[i][0].replace("|", "") for i in members).encode("ascii")
        bits = (np.frombuffer(flat, dtype=np.uint8) == ord("1")).reshape(len(members), n, n)
        slots = np.array(list(range(n - 1)) + [VERTICES - 1])  # the output goes to the last slot
        rows = np.asarray(members)
        matrices[rows[:, None, None], slots[None, :, None], slots[None, None, :]] = bits
        if n > 2:
            names = [op for i in members for op in parts[i][1].split(",")[1:-1]]
            op_codes[rows, : n - 2] = np.array([OP_CODES[name] for name in names], dtype=np.int8).reshape(len(members), n - 2)
    return matrices, op_codes


class FingerprintIndex:
    """fingerprint -> architecture id over a set of classes, looked up with searchsorted."""

    def __init__(self, canonical_encodings: list[str], architecture_ids: list[int]):
        keys, valid = fingerprints(*encode_canonical(canonical_encodings))
        if not valid.all():
            raise ValueError("a stored canonical encoding is not a valid NB101 cell")
        order = np.argsort(keys)
        self.keys = keys[order]
        self.ids = np.asarray(architecture_ids, dtype=np.int64)[order]
        if len(self.keys) > 1 and (np.diff(self.keys) == 0).any():
            raise ValueError("fingerprint collision between two classes: cannot index them")

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Architecture ids, -1 where the fingerprint is not indexed."""
        position = np.clip(np.searchsorted(self.keys, keys), 0, len(self.keys) - 1)
        found = self.keys[position] == keys
        return np.where(found, self.ids[position], -1)
