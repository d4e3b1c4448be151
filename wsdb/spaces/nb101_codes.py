"""Raw NB101 cells as arrays (21-bit matrix codes, padded 7x7 matrices, op codes, parsed from
texts in bulk), and their class by table lookup.

Regularized evolution on NB101 visits millions of raw mutants. A raw cell is its strictly
upper-triangular 7x7 matrix, one bit per possible edge (bit i: the i-th place of
`np.triu_indices(7, 1)`), and the operation codes of its five intermediate vertices (0
conv3x3, 1 conv1x1, 2 maxpool3x3). Once per process (~1 s), over the 695,860 codes of at
most 9 edges, this module computes:
  - validity (input and output connected);
  - the topology: the exact isomorphism class of the pruned, unlabelled cell, by the smallest
    packed adjacency over the 120 orders of the intermediate vertices (input and output stay
    in place). The 573,494 valid codes prune to 13,839 distinct matrices, so this is cheap;
  - each intermediate vertex's position in that canonical order (pruned vertices: none), so
    that an operation assignment is a number below 243 in canonical order;
  - the automorphisms of each topology (orders that leave its canonical adjacency unchanged).
`CellClasses` places the stored classes in a (topology, assignment) table, closed under the
automorphisms: a raw cell and a stored class share an entry exactly when they are isomorphic
as labelled pruned cells (the NB101 class), with no hashing. A mutant's class is then a read
of one code entry and one table entry (`class_row`, callable from numba and Python).
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from wsdb.spaces import nb101

VERTICES = nb101.MAX_VERTICES
# op code of an intermediate vertex: 0 conv3x3, 1 conv1x1, 2 maxpool3x3 (the official hash's
# labels; input and output get -1 and -2 there)
OP_CODES = {nb101.CONV3X3: 0, nb101.CONV1X1: 1, nb101.MAXPOOL3X3: 2}
INTERMEDIATE = VERTICES - 2
_ROWS, _COLUMNS = np.triu_indices(VERTICES, 1)
PLACES = len(_ROWS)                                        # 21 bits a matrix code
ASSIGNMENTS = 3 ** INTERMEDIATE                            # 243 operation assignments
DIGITS = (np.arange(ASSIGNMENTS)[:, None] // 3 ** np.arange(INTERMEDIATE)) % 3   # assignment -> op codes
TOPOLOGY_BITS = 16                                         # code entry: topology, then 3 bits a vertex
PRUNED = 7                                                 # the position of a pruned vertex
# every order of the intermediate vertices: ORDERS[p][j] is the vertex at canonical position j
ORDERS = np.array([(0, *(v + 1 for v in order), VERTICES - 1)
                   for order in itertools.permutations(range(INTERMEDIATE))], dtype=np.int64)
_POWERS = np.array([3 ** j for j in range(INTERMEDIATE)] + [0] * (8 - INTERMEDIATE), dtype=np.int64)


def matrices_of(codes: np.ndarray) -> np.ndarray:
    """(B, 7, 7) uint8 matrices of 21-bit codes."""
    matrices = np.zeros((len(codes), VERTICES, VERTICES), dtype=np.uint8)
    matrices[:, _ROWS, _COLUMNS] = (np.asarray(codes, dtype=np.int64)[:, None] >> np.arange(PLACES)) & 1
    return matrices


def codes_of(matrices: np.ndarray) -> np.ndarray:
    """21-bit codes of (B, 7, 7) strictly upper-triangular 0/1 matrices."""
    return matrices[:, _ROWS, _COLUMNS].astype(np.int64) @ (1 << np.arange(PLACES))


def kept_vertices(codes: np.ndarray) -> np.ndarray:
    """(B, 7) bool: the vertices of each code on an input -> output path (vertex order is
    topological, so one forward and one backward sweep over the edge bits)."""
    codes = np.asarray(codes, dtype=np.int64)
    edge = {(i, j): ((codes >> place) & 1).astype(bool) for place, (i, j) in enumerate(zip(_ROWS, _COLUMNS))}
    from_input = [np.ones(len(codes), dtype=bool)]
    for j in range(1, VERTICES):
        from_input.append(np.logical_or.reduce([from_input[i] & edge[i, j] for i in range(j)]))
    to_output = [np.ones(len(codes), dtype=bool)]
    for i in range(VERTICES - 2, -1, -1):
        to_output.insert(0, np.logical_or.reduce([edge[i, j] & to_output[j - i - 1] for j in range(i + 1, VERTICES)]))
    return np.stack(from_input, axis=1) & np.stack(to_output, axis=1)


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


def _packed(matrices: np.ndarray) -> np.ndarray:
    """(B, 120) uint64: each matrix's adjacency in every order of its intermediate vertices,
    49 bits (packed in chunks: the permuted matrices take 5.9 kB a cell)."""
    packed = np.zeros((len(matrices), len(ORDERS), 8), dtype=np.uint8)
    for start in range(0, len(matrices), 4096):
        permuted = matrices[start:start + 4096, ORDERS[:, :, None], ORDERS[:, None, :]]   # (b, 120, 7, 7)
        packed[start:start + 4096, :, :7] = np.packbits(permuted.reshape(*permuted.shape[:2], -1), axis=2)
    return packed.view(np.uint64)[:, :, 0]


@lru_cache(maxsize=1)
def topologies() -> tuple[np.ndarray, np.ndarray]:
    """(code entries (2^21,) int32: -1 where invalid or over 9 edges, else the topology id in
    the low 16 bits and, from bit 16, 3 bits a vertex 1..5: its canonical position or PRUNED;
    automorphisms (topologies, 120) bool)."""
    codes = np.flatnonzero(np.bitwise_count(np.arange(1 << PLACES, dtype=np.uint32)) <= nb101.MAX_EDGES)
    kept = kept_vertices(codes)
    valid = kept[:, 0] & kept[:, -1]
    codes, kept = codes[valid], kept[valid]
    # a code's class is that of its pruned code (the edges between kept vertices)
    pruned_code = codes & ((kept[:, _ROWS] & kept[:, _COLUMNS]).astype(np.int64) @ (1 << np.arange(PLACES)))
    pruned_codes, of_pruned = np.unique(pruned_code, return_inverse=True)
    packed = _packed(matrices_of(pruned_codes))
    best = packed.argmin(axis=1)
    canonical, topology = np.unique(packed[np.arange(len(packed)), best], return_inverse=True)
    # position of vertex v (1..5) in the canonical order; pruned vertices (no edge) get PRUNED
    order = ORDERS[best][:, 1:-1] - 1                                               # position -> vertex
    position = np.argsort(order, axis=1)                                            # vertex -> position
    position = np.where(kept_vertices(pruned_codes)[:, 1:-1], position, PRUNED)
    entries = topology + (position << (TOPOLOGY_BITS + 3 * np.arange(INTERMEDIATE))).sum(axis=1)
    entry_of_code = np.full(1 << PLACES, -1, dtype=np.int32)
    entry_of_code[codes] = entries[of_pruned]
    first = np.unique(topology, return_index=True)[1]
    order_of_first = ORDERS[best[first]]
    canonical_matrices = matrices_of(pruned_codes[first])[np.arange(len(first))[:, None, None],
                                                          order_of_first[:, :, None], order_of_first[:, None, :]]
    automorphisms = _packed(canonical_matrices) == canonical[:, None]
    return entry_of_code, automorphisms


@njit(cache=True)
def class_row(entry_of_code, rows, code, assignment):
    """Row of the raw cell (code, assignment: op codes of vertices 1..5 as base-3 digits,
    vertex 1 the lowest); -1 where its class is not stored. The code must be valid."""
    entry = entry_of_code[code]
    canonical = 0
    for vertex in range(INTERMEDIATE):
        canonical += (assignment % 3) * _POWERS[(entry >> (TOPOLOGY_BITS + 3 * vertex)) & 7]
        assignment //= 3
    return rows[entry & ((1 << TOPOLOGY_BITS) - 1), canonical]


@njit(cache=True)
def _class_rows(entry_of_code, rows, codes, assignments):
    found = np.empty(len(codes), dtype=np.int64)
    for i in range(len(codes)):
        found[i] = class_row(entry_of_code, rows, codes[i], assignments[i])
    return found


def assignments_of(op_codes: np.ndarray) -> np.ndarray:
    """(B,) base-3 numbers of (B, 5) op codes, vertex 1 the lowest digit."""
    return np.asarray(op_codes, dtype=np.int64) @ (3 ** np.arange(INTERMEDIATE))


class CellClasses:
    """The row of a stored class for any valid raw cell."""

    def __init__(self, canonical_encodings: list[str]):
        self.entry_of_code, automorphisms = topologies()
        self.valid = self.entry_of_code >= 0
        matrices, op_codes = encode_canonical(canonical_encodings)
        codes = codes_of(matrices)
        if not self.valid[codes].all():
            raise ValueError("a stored canonical encoding is not a valid NB101 cell")
        entries = self.entry_of_code[codes].astype(np.int64)
        topology = entries & ((1 << TOPOLOGY_BITS) - 1)
        position = (entries[:, None] >> (TOPOLOGY_BITS + 3 * np.arange(INTERMEDIATE))) & 7
        digits = np.zeros((len(codes), 8), dtype=np.int64)                # by canonical position
        np.put_along_axis(digits, position, op_codes.astype(np.int64), axis=1)
        digits[:, PRUNED] = 0
        # every relabelling by an automorphism of the topology names the same class
        member, order = np.nonzero(automorphisms[topology])
        relabelled = np.take_along_axis(digits[member], ORDERS[order, 1:-1] - 1, axis=1) @ _POWERS[:INTERMEDIATE]
        self.rows = np.full((len(automorphisms), ASSIGNMENTS), -1, dtype=np.int64)
        targets = (topology[member], relabelled)
        self.rows[targets] = member
        if (self.rows[targets] != member).any():
            raise ValueError("two stored canonical encodings are one NB101 class")

    def lookup(self, codes: np.ndarray, op_codes: np.ndarray) -> np.ndarray:
        """Rows of valid cells (codes (B,), op codes (B, 5)); -1 where the class is not stored."""
        return _class_rows(self.entry_of_code, self.rows, np.asarray(codes, dtype=np.int64), assignments_of(op_codes))
