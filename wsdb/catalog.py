"""Storing canonical architectures and the raw encodings that denote them."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import sqlalchemy as sa

from wsdb.bulk import arrow_rows, fill_null_integers, insert_new_rows, lookup
from wsdb.schema import FEATURE_COLUMNS, Architecture, ArchitectureEncoding
from wsdb.spaces.canonical import CanonicalArchitecture

_ARCHITECTURE_COLUMNS = ("search_space", "canonical_key", "canonical_encoding", "trainable_parameters", *FEATURE_COLUMNS)


def _architecture_rows(archs: list[CanonicalArchitecture]) -> pa.Table:
    columns = {name: [] for name in _ARCHITECTURE_COLUMNS}
    for arch in archs:
        columns["search_space"].append(arch.search_space)
        columns["canonical_key"].append(arch.canonical_key)
        columns["canonical_encoding"].append(arch.canonical_encoding)
        columns["trainable_parameters"].append(arch.trainable_parameters)
        for name in FEATURE_COLUMNS:
            columns[name].append(arch.features.get(name))
    return arrow_rows(Architecture.__table__, columns)


def architecture_ids(connection: sa.Connection, search_space: str, keys: Iterable[str]) -> dict[str, int]:
    """canonical key -> architecture id, for the keys that are stored."""
    return lookup(connection, Architecture.__table__, "canonical_key", "id", list(dict.fromkeys(keys)),
                  {"search_space": search_space})


def store_architectures(
    connection: sa.Connection,
    archs: Iterable[CanonicalArchitecture],
    encodings: Iterable[tuple[str, str, str]] = (),
) -> tuple[dict[str, int], int, int]:
    """Store classes (skipping known ones) and raw encodings (kind, text, canonical key).

    Returns (canonical key -> id for every given class, new architectures, new encodings).
    A known architecture whose parameter count was unknown gets it filled in.
    """
    unique = list({arch.canonical_key: arch for arch in archs}.values())
    if not unique:
        return {}, 0, 0
    spaces = {arch.search_space for arch in unique}
    if len(spaces) != 1:
        raise ValueError("store_architectures takes architectures of one search space per call")
    (space,) = spaces
    new_archs = insert_new_rows(connection, Architecture.__table__, _architecture_rows(unique))
    ids = architecture_ids(connection, space, (arch.canonical_key for arch in unique))
    _fill_parameter_counts(connection, unique, ids)
    encoding_rows = {(kind, text): ids[key] for kind, text, key in encodings}
    new_encodings = insert_new_rows(
        connection,
        ArchitectureEncoding.__table__,
        {
            "encoding_kind": [kind for kind, _ in encoding_rows],
            "encoding": [text for _, text in encoding_rows],
            "architecture_id": list(encoding_rows.values()),
        },
    )
    return ids, new_archs, new_encodings


def _fill_parameter_counts(connection, archs, ids) -> None:
    known = [(ids[a.canonical_key], a.trainable_parameters) for a in archs if a.trainable_parameters is not None]
    fill_null_integers(connection, Architecture.__table__, "id", "trainable_parameters", known)
