"""Which class each NB101 cell of an ingest denotes, computing the official hash at most once
per class and warehouse.

The official module hash (wsdb.spaces.nb101) costs ~100 us of Python per cell; an ingest that
recomputed it for every class it reads spent most of its time there (issue: 12k records/s).
What the warehouse already holds answers for most cells, in this order:

1. the exact raw cell text (`adjacency;operations`, encoding kind `nb101-cell`), stored the
   first time a file named it, after its hash was recomputed then: a dictionary lookup;
2. a class stored without that text (by `wsdb spaces populate nb101`, or from another
   numbering of the same cell): found by the vectorised 64-bit Weisfeiler-Lehman fingerprint
   the search simulations use (wsdb.spaces.nb101_fingerprint), which gives isomorphic cells
   equal values and separates the stored classes (the index refuses to build otherwise); the
   record's module hash must then equal that class's official hash, computed when it was
   stored;
3. anything else: validated, pruned and hashed by the official algorithm, as before.

A record whose hash disagrees is always re-checked with the official algorithm before the
error is raised, so the message is the same whichever path found the class.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa

from wsdb.spaces import nb101
from wsdb.spaces.nb101_fingerprint import OP_CODES, VERTICES, encode_canonical, fingerprints

RAW_KIND = "nb101-cell"


@dataclass
class KnownCells:
    """raw: raw cell text -> (canonical key, id); classes by fingerprint (sorted) with their
    keys and ids."""

    raw: dict[str, tuple[str, int]] = field(default_factory=dict)
    fingerprints: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    keys: list[str] = field(default_factory=list)
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def load_known(connection: sa.Connection) -> KnownCells:
    """What the warehouse knows of NB101 cells (empty for a warehouse without NB101 classes)."""
    raw = {text: (key, arch_id) for text, key, arch_id in connection.execute(sa.text(
        "SELECT e.encoding, a.canonical_key, a.id FROM architecture_encodings e "
        "JOIN architectures a ON a.id = e.architecture_id WHERE e.encoding_kind = :kind"), {"kind": RAW_KIND})}
    classes = connection.execute(sa.text(
        "SELECT id, canonical_key, canonical_encoding FROM architectures WHERE search_space = 'nb101'")).all()
    if not classes:
        return KnownCells(raw)
    values, valid = fingerprints(*encode_canonical([c[2] for c in classes]))
    order = np.argsort(values, kind="stable")
    values = values[order]
    if not valid.all() or (len(values) > 1 and (np.diff(values) == 0).any()):
        return KnownCells(raw)  # not separable by fingerprint: every new cell takes the official path
    return KnownCells(raw, values, [classes[i][1] for i in order],
                      np.array([classes[i][0] for i in order], dtype=np.int64))


def encode_raw(cells: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(matrices (B, 7, 7), op codes (B, 5), well-formed (B,)) of raw cell texts
    `adjacency;operations`: a square 0/1 strictly upper-triangular matrix of at most 7
    vertices, `input` first, `output` last, known operations between. Cells that are not
    well formed go the official way, which says what is wrong with them."""
    count = len(cells)
    matrices = np.zeros((count, VERTICES, VERTICES), dtype=np.uint8)
    op_codes = np.zeros((count, VERTICES - 2), dtype=np.int8)
    ok = np.zeros(count, dtype=bool)
    by_size: dict[int, list[int]] = {}
    parts = [cell.split(";", 1) for cell in cells]
    op_lists = [p[1].split(",") if len(p) == 2 else [] for p in parts]
    for index, ops in enumerate(op_lists):
        n = len(ops)
        if 2 <= n <= VERTICES and len(parts[index][0]) == n * n and ops[0] == nb101.INPUT and ops[-1] == nb101.OUTPUT \
                and all(op in OP_CODES for op in ops[1:-1]):
            by_size.setdefault(n, []).append(index)
    for n, members in by_size.items():
        rows = np.asarray(members)
        flat = np.frombuffer("".join(parts[i][0] for i in members).encode("ascii"), dtype=np.uint8)
        bits = flat.reshape(len(members), n, n) - ord("0")
        well = ((bits <= 1).all(axis=(1, 2)) & (np.tril(bits) == 0).all(axis=(1, 2)))
        slots = np.array(list(range(n - 1)) + [VERTICES - 1])  # the output goes to the last slot
        matrices[rows[:, None, None], slots[None, :, None], slots[None, None, :]] = np.where(bits <= 1, bits, 0)
        if n > 2:
            codes = [OP_CODES[op] for i in members for op in op_lists[i][1:-1]]
            op_codes[rows, : n - 2] = np.array(codes, dtype=np.int8).reshape(len(members), n - 2)
        ok[rows] = well
    return matrices, op_codes, ok


def identify(known: KnownCells, cells: list[str]) -> dict[str, tuple[str, int, bool]]:
    """raw cell -> (canonical key, id, found by fingerprint) for the cells the warehouse knows."""
    found: dict[str, tuple[str, int, bool]] = {}
    rest = []
    for cell in cells:
        hit = known.raw.get(cell)
        if hit is None:
            rest.append(cell)
        else:
            found[cell] = (*hit, False)
    if not rest or len(known.fingerprints) == 0:
        return found
    matrices, op_codes, ok = encode_raw(rest)
    values, valid = fingerprints(matrices, op_codes)
    position = np.clip(np.searchsorted(known.fingerprints, values), 0, len(known.fingerprints) - 1)
    hit = ok & valid & (known.fingerprints[position] == values)
    for index in np.flatnonzero(hit):
        slot = position[index]
        found[rest[index]] = (known.keys[slot], int(known.ids[slot]), True)
    return found
