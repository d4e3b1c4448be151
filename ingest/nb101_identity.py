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

from wsdb.spaces.nb101_fingerprint import FingerprintIndex, encode_texts, fingerprints

RAW_KIND = "nb101-cell"


@dataclass
class KnownCells:
    """raw: raw cell text -> (canonical key, id); index: the stored classes by fingerprint,
    giving positions into keys and ids (None: no NB101 class stored, or not separable)."""

    raw: dict[str, tuple[str, int]] = field(default_factory=dict)
    index: FingerprintIndex | None = None
    keys: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)


def load_known(connection: sa.Connection) -> KnownCells:
    """What the warehouse knows of NB101 cells (empty for a warehouse without NB101 classes)."""
    raw = {text: (key, arch_id) for text, key, arch_id in connection.execute(sa.text(
        "SELECT e.encoding, a.canonical_key, a.id FROM architecture_encodings e "
        "JOIN architectures a ON a.id = e.architecture_id WHERE e.encoding_kind = :kind"), {"kind": RAW_KIND})}
    classes = connection.execute(sa.text(
        "SELECT id, canonical_key, canonical_encoding FROM architectures WHERE search_space = 'nb101'")).all()
    if not classes:
        return KnownCells(raw)
    try:
        index = FingerprintIndex([c[2] for c in classes], list(range(len(classes))))
    except ValueError:  # not separable by fingerprint: every new cell takes the official path
        return KnownCells(raw)
    return KnownCells(raw, index, [c[1] for c in classes], [c[0] for c in classes])


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
