"""A vectorized NB101 class fingerprint, and NB101 cell texts parsed in bulk.

The NB101 ingest meets hundreds of thousands of raw cells (7x7 matrices with dangling
vertices) and must find each one's class among those stored. The official md5 hash costs
~70 us per cell in Python, so this module computes, for a whole batch of cells at once with numpy:
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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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


def _reachability(matrices: np.ndarray) -> np.ndarray:
    """Kept vertices by three batched squarings of (I + A) (paths of up to 8 edges)."""
    reach = np.minimum(matrices.astype(np.uint8) + np.eye(VERTICES, dtype=np.uint8), 1)
    for _ in range(3):
        reach = np.minimum(np.matmul(reach, reach), 1)
    return (reach[:, 0, :] > 0) & (reach[:, :, -1] > 0)


def prune_mask(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(kept vertices (B, 7) bool, valid (B,) bool) for a batch of upper-triangular matrices."""
    kept = _reachability(matrices)
    valid = kept[:, 0] & kept[:, -1] & (matrices[:, _ROWS, _COLUMNS].sum(axis=1) <= nb101.MAX_EDGES)
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


def encode_texts(cells: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(matrices (B, 7, 7), op codes (B, 5), well formed (B,)) of cell texts `adjacency;ops`.
    The adjacency is row-major 0/1 (rows may be separated by '|', as canonical encodings are);
    well formed: square, strictly upper-triangular, at most 7 vertices, `input` first, `output`
    last, known operations between. Smaller cells are padded as in `encode_cells`.
    Parsed with Arrow's string kernels (a Python split per cell cost 1.3 s for the 151,644
    published classes): the operation lists are few (at most 364 well-formed ones), so each
    distinct one is parsed once, and the adjacency bits are read per vertex count as one buffer."""
    count = len(cells)
    matrices = np.zeros((count, VERTICES, VERTICES), dtype=np.uint8)
    op_codes = np.zeros((count, VERTICES - 2), dtype=np.int8)
    ok = np.zeros(count, dtype=bool)
    if count == 0:
        return matrices, op_codes, ok
    texts = pa.array(cells, type=pa.string())
    texts = pc.if_else(pc.match_substring(texts, ";"), texts, pa.scalar("x;x"))   # no ';': not well formed
    parts = pc.split_pattern(texts, ";", max_splits=1)
    adjacency = pc.replace_substring(pc.list_element(parts, 0), "|", "")
    op_lists = pc.list_element(parts, 1).dictionary_encode()
    vertices = np.zeros(len(op_lists.dictionary), dtype=np.int64)                 # 0: not well formed
    codes_of_list = np.zeros((len(op_lists.dictionary), VERTICES - 2), dtype=np.int8)
    for index, text in enumerate(op_lists.dictionary.to_pylist()):
        ops = text.split(",")
        n = len(ops)
        if 2 <= n <= VERTICES and ops[0] == nb101.INPUT and ops[-1] == nb101.OUTPUT \
                and all(op in OP_CODES for op in ops[1:-1]):
            vertices[index] = n
            codes_of_list[index, : n - 2] = [OP_CODES[op] for op in ops[1:-1]]
    list_index = op_lists.indices.to_numpy(zero_copy_only=False)
    n_of_cell = vertices[list_index]
    square = pc.binary_length(adjacency).to_numpy(zero_copy_only=False) == n_of_cell ** 2
    for n in range(2, VERTICES + 1):
        rows = np.flatnonzero((n_of_cell == n) & square)
        if len(rows) == 0:
            continue
        chosen = adjacency.take(pa.array(rows))
        offsets = np.frombuffer(chosen.buffers()[1], dtype=np.int32)[chosen.offset:chosen.offset + len(rows) + 1]
        flat = np.frombuffer(chosen.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
        bits = flat.reshape(len(rows), n, n) - ord("0")
        well = (bits <= 1).all(axis=(1, 2)) & (np.tril(bits) == 0).all(axis=(1, 2))
        slots = np.array(list(range(n - 1)) + [VERTICES - 1])  # the output goes to the last slot
        matrices[rows[:, None, None], slots[None, :, None], slots[None, None, :]] = np.where(bits <= 1, bits, 0)
        op_codes[rows] = codes_of_list[list_index[rows]]
        ok[rows] = well
    return matrices, op_codes, ok


def encode_canonical(encodings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """encode_cells for the warehouse's own canonical encodings (`rows|..;ops`)."""
    matrices, op_codes, ok = encode_texts(encodings)
    if not ok.all():
        raise ValueError("a stored canonical encoding is not a well-formed NB101 cell")
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
