"""Filling the catalog with every architecture of a search space.

nb201 (6,466 classes from 15,625 cells) and ws64 (64) take about a second and are filled by
`wsdb init`; nb101 (423,624 classes) is enumerated by `wsdb spaces populate nb101`.
"""

from __future__ import annotations

import sqlalchemy as sa

from wsdb.warehouse.catalog import store_architectures
from wsdb.warehouse.db import warehouse
from wsdb.base.errors import WsdbError
from wsdb.spaces import nb101_enumeration, nb201, ws64
from wsdb.spaces.registry import get_space

FAST_SPACES = ("nb201", "ws64")


def populate(connection: sa.Connection, space: str, workers: int | None = None) -> tuple[int, int]:
    """Store every class of `space` with its encodings; returns (new classes, new encodings)."""
    if space == "ws64":
        archs = [ws64.canonicalize(label) for label in ws64.all_labels()]
        encodings = [("ws64-label", a.canonical_key, a.canonical_key) for a in archs]
        encodings += [("ws64-index", str(i), a.canonical_key) for i, a in enumerate(archs)]
    elif space == "nb201":
        archs, encodings = [], []
        for index, text in enumerate(nb201.official_index_order()):
            arch = nb201.canonicalize(text)
            archs.append(arch)
            encodings.append(("nb201-arch-str", text, arch.canonical_key))
            encodings.append(("nb201-index", str(index), arch.canonical_key))
    elif space == "nb101":
        archs, encodings = nb101_enumeration.all_classes(workers=workers), []
    else:
        raise WsdbError(f"unknown search space {space!r}; known: nb101, nb201, ws64")
    _, new_archs, new_encodings = store_architectures(connection, archs, encodings)
    return new_archs, new_encodings


def populate_spaces(url: str, spaces: list[str], workers: int | None = None) -> list[tuple[str, int, int]]:
    """Store every class of each space in one transaction per space; (space, new classes,
    new encodings) for each."""
    for space in spaces:
        get_space(space)
    done = []
    with warehouse(url) as engine:
        for space in spaces:
            with engine.begin() as connection:
                done.append((space, *populate(connection, space, workers=workers)))
    return done
