"""Storing canonical architectures and the raw encodings that denote them."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import sqlalchemy as sa

from wsdb.warehouse.bulk import arrow_rows, fill_null_integers, insert_new_rows, lookup
from wsdb.warehouse.db import warehouse
from wsdb.warehouse.schema import FEATURE_COLUMNS, Architecture, ArchitectureEncoding
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


def store_encodings(connection: sa.Connection, encodings: list[tuple[str, str, int]]) -> int:
    """Raw encodings (kind, text, architecture id) of stored classes; returns how many were new."""
    return insert_new_rows(connection, ArchitectureEncoding.__table__, {
        "encoding_kind": [kind for kind, _, _ in encodings], "encoding": [text for _, text, _ in encodings],
        "architecture_id": [arch_id for _, _, arch_id in encodings]})


def _fill_parameter_counts(connection, archs, ids) -> None:
    known = [(ids[a.canonical_key], a.trainable_parameters) for a in archs if a.trainable_parameters is not None]
    fill_null_integers(connection, Architecture.__table__, "id", "trainable_parameters", known)


SUMMARY = """
SELECT s.name AS search_space,
       s.num_architectures AS classes_in_space,
       (SELECT COUNT(*) FROM architectures a WHERE a.search_space = s.name) AS architectures_stored,
       (SELECT COUNT(*) FROM ground_truth_results g JOIN architectures a ON a.id = g.architecture_id
         WHERE a.search_space = s.name) AS ground_truth_rows,
       (SELECT COUNT(*) FROM supernets n WHERE n.search_space = s.name) AS supernets,
       (SELECT COUNT(*) FROM proxy_scores p JOIN architectures a ON a.id = p.architecture_id
         WHERE a.search_space = s.name) AS proxy_scores,
       s.default_benchmark || ' ' || s.default_dataset || ' ' || CAST(s.default_epoch_budget AS VARCHAR)
         || ' epochs' AS default_ground_truth
FROM search_spaces s ORDER BY s.name
"""


def summary(url: str) -> list[dict]:
    """What a warehouse holds per search space: classes, ground truth, super-nets, scores."""
    with warehouse(url, read_only=True) as engine, engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(sa.text(SUMMARY))]


def stored_facts(url: str, arch: CanonicalArchitecture, curves: bool = False) -> dict:
    """An architecture's id in a warehouse and its ground truth there: the mean per
    benchmark, dataset and budget at the final evaluation point (with `curves`, at every
    evaluation point: NB201 records 200 epochs per dataset), runs and published means kept apart."""
    with warehouse(url, read_only=True) as engine, engine.connect() as connection:
        ids = architecture_ids(connection, arch.search_space, [arch.canonical_key])
        if not ids:
            return {"architecture_id": None, "ground_truth": []}
        (arch_id,) = ids.values()
        rows = connection.execute(sa.text(
            "SELECT benchmark, dataset, epoch_budget, evaluation_point, kind, num_repeats AS averaged, num_cells, "
            "validation_accuracy, test_accuracy FROM ground_truth_mean WHERE architecture_id = :a "
            "AND (:curves OR evaluation_point = 'final') "
            "ORDER BY benchmark, dataset, epoch_budget, epoch, kind"), {"a": arch_id, "curves": curves})
        return {"architecture_id": arch_id, "ground_truth": [dict(r._mapping) for r in rows]}
