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
import pyarrow as pa
import sqlalchemy as sa

from wsdb.warehouse.bulk import select_table
from wsdb.spaces.nb101_codes import encode_texts
from wsdb.spaces.nb101_fingerprint import FingerprintIndex, fingerprints

RAW_KIND = "nb101-cell"


@dataclass
class KnownCells:
    """raw: raw cell text -> (canonical key, id); index: the stored classes by fingerprint,
    giving positions into keys and ids (None: no NB101 class stored, or not separable)."""

    raw: dict[str, tuple[str, int]] = field(default_factory=dict)
    index: FingerprintIndex | None = None
    keys: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)

    # Sent to every worker process: as Arrow and numpy buffers, not as ~150,000 pickled
    # tuples (the main process spent ~1 s a worker pickling and writing those).
    def __getstate__(self) -> dict:
        texts, found = list(self.raw), list(self.raw.values())
        return {"texts": pa.array(texts, pa.string()), "text_keys": pa.array([k for k, _ in found], pa.string()),
                "text_ids": np.array([i for _, i in found], dtype=np.int64), "index": self.index,
                "keys": pa.array(self.keys, pa.string()), "ids": np.array(self.ids, dtype=np.int64)}

    def __setstate__(self, state: dict) -> None:
        self.raw = dict(zip(state["texts"].to_pylist(), zip(state["text_keys"].to_pylist(), state["text_ids"].tolist())))
        self.index = state["index"]
        self.keys, self.ids = state["keys"].to_pylist(), state["ids"].tolist()


def load_known(connection: sa.Connection) -> KnownCells:
    """What the warehouse knows of NB101 cells (empty for a warehouse without NB101 classes)."""
    texts = select_table(connection, "SELECT e.encoding, a.canonical_key, a.id FROM architecture_encodings e "
                         f"JOIN architectures a ON a.id = e.architecture_id WHERE e.encoding_kind = '{RAW_KIND}'")
    raw = dict(zip(texts.column(0).to_pylist(), zip(texts.column(1).to_pylist(), texts.column(2).to_pylist())))
    classes = select_table(connection, "SELECT id, canonical_key, canonical_encoding FROM architectures "
                           "WHERE search_space = 'nb101'")
    if classes.num_rows == 0:
        return KnownCells(raw)
    try:
        index = FingerprintIndex(classes.column(2).to_pylist(), list(range(classes.num_rows)))
    except ValueError:  # not separable by fingerprint: every new cell takes the official path
        return KnownCells(raw)
    return KnownCells(raw, index, classes.column(1).to_pylist(), classes.column(0).to_pylist())


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
    if not rest or known.index is None:
        return found
    matrices, op_codes, well_formed = encode_texts(rest)
    values, valid = fingerprints(matrices, op_codes)
    positions = np.where(well_formed & valid, known.index.lookup(values), -1)
    for index in np.flatnonzero(positions >= 0):
        position = positions[index]
        found[rest[index]] = (known.keys[position], known.ids[position], True)
    return found
