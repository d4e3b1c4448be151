"""Sub-spaces as stored, parameterised objects: defined once, materialised, cited.

Kinds (the `kind` column of `subspaces`):
- predicate: a condition on the features (NB101 A1-A4, RES, NRES, FULL; Pourchot et al. 2020);
- construction: a published definition whose classes are computed (wsdb.spaces.constructions):
  1SHOT1-SS1..3 (Zela et al. 2020), ZHANG-ZHANG-YANG (their NB101 space), nb201 VALID;
- random: `random/<parent>/<k>/<seed>`, a uniform ceil(n/k) of the parent's n classes drawn
  with numpy's PCG64 from the seed, over the classes sorted by canonical key (so the same
  draw in every warehouse that holds the same parent) - the "randomly down-scaled" spaces of
  Zhang, Zhang, Yang 2020 (Figure 2) with wsdb's default unit, the class;
- random-cells: `random-cells/<parent>/<k>/<seed>`, the same down-scaling over the parent's raw
  cells, as Zhang, Zhang, Yang draw them (NB201 at 1/64: 245 of 15,625 cells, not 102 of 6,466
  classes): a uniform ceil(n/k) of its n cells (sorted by their encoding) from the seed, kept as
  cells (`subspace_cells`, which SPOS training then samples without deduplication) and as the
  classes they fall in. Spaces whose cells wsdb lists: nb201 (its 15,625 arch strings) and ws64;
- best: `best/<parent>/<k>/<benchmark>/<dataset>/<metric>`, the ceil(n/k) best of the parent's
  n classes that have that ground truth (final evaluation, the largest epoch budget stored,
  mean over runs), ties at the cut broken by canonical key and counted in the description
  (Zhang, Zhang, Yang 2020, Figure 5);
- membership: a list of architectures a user gave (`wsdb spaces define NAME --members FILE`).

A parent is a sub-space name or a search space name (its every class). A derived or
construction name used as a parent is defined first, in the same transaction. Every
definition is idempotent: defining a stored sub-space again changes nothing.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from wsdb.warehouse import lookup

from wsdb.base import papers
from wsdb.warehouse.bulk import insert_new_rows
from wsdb.warehouse.catalog import store_architectures
from wsdb.warehouse.db import warehouse
from wsdb.base.errors import InvalidArchitecture, WsdbError
from wsdb.base.files import regular_input
from wsdb.warehouse.schema import Subspace, SubspaceCell, SubspaceMember, utcnow
from wsdb.spaces import registry
from wsdb.spaces.subspace_names import BUILTIN, CELL_ENCODING, Builtin, Derived, builtin, parse
from wsdb.spaces.canonical import CanonicalArchitecture

# --- reading ------------------------------------------------------------------------------------


def _stored(connection, name: str, search_space: str | None = None) -> list[tuple[str, str]]:
    return lookup.rows(connection, "SELECT search_space, name FROM subspaces WHERE LOWER(name) = LOWER(:g)"
                       + (" AND search_space = :s" if search_space else "") + " ORDER BY search_space",
                       {"g": name, "s": search_space})


def _parent(connection, text: str) -> tuple[str, str, str]:
    """(search space, stored sub-space name, name as written in a derived name) of a parent:
    a search space stands for its FULL sub-space and keeps its own name in derived names."""
    spaces = [s for (s,) in lookup.rows(connection, "SELECT name FROM search_spaces")]
    if text in spaces:
        return text, "FULL", text
    found = _stored(connection, text)
    if len(found) > 1:
        raise WsdbError(f"parent {text!r} is a sub-space of {', '.join(s for s, _ in found)}: name the search space "
                        "instead (e.g. nb201 for all of it) or a sub-space of one space")
    if not found:
        if parse(text) is not None or builtin(text) is not None:
            space, name = _define(connection, text)
            return space, name, name
        raise WsdbError(f"parent {text!r} is neither a search space ({', '.join(sorted(spaces))}) nor a sub-space "
                        "of this warehouse (`wsdb spaces list`)")
    return (*found[0], found[0][1])


def kind_of(connection, space: str, name: str) -> str:
    """A stored sub-space's kind (predicate, construction, random, best, membership)."""
    found = lookup.rows(connection, "SELECT COALESCE(kind, 'predicate') FROM subspaces WHERE search_space = :sp "
                                    "AND name = :n", {"sp": space, "n": name})
    if not found:
        raise WsdbError(f"no sub-space {space}/{name} in this warehouse")
    return found[0][0]


def _members(connection, space: str, subspace: str) -> list[tuple[str, int]]:
    """(canonical key, architecture id) of a stored sub-space, sorted by key."""
    return lookup.rows(connection, "SELECT a.canonical_key, a.id FROM architecture_subspaces s "
                                   "JOIN architectures a ON a.id = s.architecture_id "
                                   "WHERE s.search_space = :sp AND s.subspace = :sub ORDER BY a.canonical_key",
                       {"sp": space, "sub": subspace})


# --- defining -----------------------------------------------------------------------------------


def _store(connection, space: str, name: str, kind: str, description: str, ids: list[int], *, parent=None,
           parameters=None, num_cells=None, source=None) -> tuple[str, str]:
    connection.execute(sa.insert(Subspace.__table__).values(
        search_space=space, name=name, description=description, predicate_sql=None, kind=kind, parent=parent,
        parameters_json=json.dumps(parameters, sort_keys=True) if parameters is not None else None,
        num_cells=num_cells, num_members=len(set(ids)), source=source, created_at=utcnow()))
    insert_new_rows(connection, SubspaceMember.__table__,
                    {"search_space": [space] * len(ids), "subspace": [name] * len(ids), "architecture_id": ids})
    return space, name


def _store_classes(connection, archs: list[CanonicalArchitecture]) -> list[int]:
    if not archs:
        return []
    ids, _, _ = store_architectures(connection, archs)
    return [ids[a.canonical_key] for a in archs]


def _define_builtin(connection, key: str, builtin: Builtin) -> tuple[str, str]:
    built = builtin.build()
    ids = _store_classes(connection, built.classes)
    return _store(connection, builtin.search_space, key, "construction", builtin.description, ids,
                  num_cells=built.num_cells, source=builtin.source)


def _define_random(connection, spec: Derived, space: str, parent: str, label: str) -> tuple[str, str]:
    members = _members(connection, space, parent)
    n = len(members)
    if n == 0:
        raise WsdbError(f"parent {space}/{parent} has no architectures in this warehouse: nothing to draw from")
    size = math.ceil(n / spec.k)
    chosen = sorted(np.random.Generator(np.random.PCG64(spec.seed)).choice(n, size, replace=False).tolist())
    description = (f"{size} of the {n} classes of {space}/{parent} (1/{spec.k}) drawn uniformly with seed {spec.seed}; "
                   "randomly down-scaled as Zhang, Zhang, Yang 2020 (Figure 2)")
    return _store(connection, space, spec.name(label), "random", description, [members[i][1] for i in chosen],
                  parent=parent, parameters={"k": spec.k, "seed": spec.seed, "parent_classes": n, "generator": "PCG64"},
                  source=papers.ZHANG_ZHANG_YANG_2020.citation())


def _define_random_cells(connection, spec: Derived, space: str, parent: str, label: str) -> tuple[str, str]:
    if space not in CELL_ENCODING:
        raise WsdbError(f"random-cells draws raw cells, which wsdb lists for {', '.join(CELL_ENCODING)}; {space} "
                        f"stores classes only: use random/{spec.parent}/{spec.k}/{spec.seed}")
    cells = lookup.rows(connection, "SELECT e.encoding, e.architecture_id FROM architecture_encodings e "
                                    "JOIN architecture_subspaces s ON s.architecture_id = e.architecture_id "
                                    "WHERE e.encoding_kind = :kind AND s.search_space = :sp AND s.subspace = :sub "
                                    "ORDER BY e.encoding", {"kind": CELL_ENCODING[space], "sp": space, "sub": parent})
    n = len(cells)
    if n == 0:
        raise WsdbError(f"parent {space}/{parent} has no cells in this warehouse (`wsdb spaces populate {space}`)")
    size = math.ceil(n / spec.k)
    chosen = sorted(np.random.Generator(np.random.PCG64(spec.seed)).choice(n, size, replace=False).tolist())
    members = sorted({cells[i][1] for i in chosen})
    name = spec.name(label)
    description = (f"{size} of the {n} cells of {space}/{parent} (1/{spec.k}) drawn uniformly with seed {spec.seed}, "
                   f"{len(members)} classes; randomly down-scaled over cells as Zhang, Zhang, Yang 2020 (Figure 2)")
    stored = _store(connection, space, name, "random-cells", description, members, parent=parent, num_cells=size,
                    parameters={"k": spec.k, "seed": spec.seed, "parent_cells": n, "generator": "PCG64",
                                "unit": "cells"},
                    source=papers.ZHANG_ZHANG_YANG_2020.citation())
    insert_new_rows(connection, SubspaceCell.__table__, {
        "search_space": [space] * size, "subspace": [name] * size, "encoding": [cells[i][0] for i in chosen]})
    return stored


def _define_best(connection, spec: Derived, space: str, parent: str, label: str) -> tuple[str, str]:
    benchmark = lookup.benchmark(connection, spec.benchmark)
    dataset = lookup.dataset(connection, spec.dataset)
    budgets = lookup.rows(connection, "SELECT MAX(g.epoch_budget) FROM ground_truth_results g JOIN architectures a "
                                      "ON a.id = g.architecture_id WHERE a.search_space = :s AND g.benchmark = :b "
                                      "AND g.dataset = :d", {"s": space, "b": benchmark, "d": dataset})
    budget = budgets[0][0]
    if budget is None:
        raise WsdbError(f"the warehouse holds no {benchmark} ground truth on {dataset} for {space}: "
                        f"cannot rank {space}/{parent} by it")
    ranked = lookup.rows(connection, f"""
        SELECT a.id, f.{spec.metric} FROM architecture_subspaces s
        JOIN architectures a ON a.id = s.architecture_id
        JOIN ground_truth_final f ON f.architecture_id = a.id AND f.benchmark = :b AND f.dataset = :d
             AND f.epoch_budget = :e
        WHERE s.search_space = :sp AND s.subspace = :sub AND f.{spec.metric} IS NOT NULL
        ORDER BY f.{spec.metric} DESC, a.canonical_key""",
                         {"b": benchmark, "d": dataset, "e": budget, "sp": space, "sub": parent})
    parent_size = len(_members(connection, space, parent))
    n = len(ranked)
    if n == 0:
        raise WsdbError(f"no architecture of {space}/{parent} has {benchmark} {dataset} {spec.metric}: nothing to rank")
    size = math.ceil(n / spec.k)
    cut = ranked[size - 1][1]
    tied_out = sum(1 for _, value in ranked[size:] if value == cut)
    tied_in = sum(1 for _, value in ranked[:size] if value == cut)
    ties = (f"; {tied_in + tied_out} classes tie at the cut {spec.metric} = {cut:.6g}, {tied_in} kept by canonical key"
            if tied_out else "")
    missing = f"; {parent_size - n} of the parent's {parent_size} classes lack this ground truth" if n < parent_size else ""
    description = (f"the {size} best of {n} classes of {space}/{parent} (1/{spec.k}) by {benchmark} {dataset} "
                   f"{spec.metric} at {budget} epochs{ties}{missing}; Zhang, Zhang, Yang 2020 (Figure 5)")
    return _store(connection, space, spec.name(label), "best", description, [i for i, _ in ranked[:size]],
                  parent=parent, source=papers.ZHANG_ZHANG_YANG_2020.citation(),
                  parameters={"k": spec.k, "benchmark": benchmark, "dataset": dataset, "metric": spec.metric,
                              "epoch_budget": budget, "ranked_classes": n, "parent_classes": parent_size, "cut_value": cut,
                              "tied_at_cut": tied_in + tied_out if tied_out else 0})


def _define(connection, name: str) -> tuple[str, str]:
    """Define a construction or derived sub-space by its name (parents first)."""
    found = _stored(connection, name)
    if found:
        return found[0]
    named = builtin(name)
    if named is not None:
        return _define_builtin(connection, *named)
    spec = parse(name)
    if spec is None:
        raise WsdbError(f"no sub-space {name!r}: a new name needs --space and --members FILE; built in: "
                        f"{', '.join(BUILTIN)}; derived: random/<parent>/<k>/<seed>, "
                        "best/<parent>/<k>/<benchmark>/<dataset>/<metric>")
    space, parent, label = _parent(connection, spec.parent)
    found = _stored(connection, spec.name(label), space)
    if found:
        return found[0]
    define = {"random": _define_random, "random-cells": _define_random_cells, "best": _define_best}[spec.kind]
    return define(connection, spec, space, parent, label)


def _read_members(path: Path, space: str) -> list[CanonicalArchitecture]:
    """One architecture per line (nb101: `rows|..;ops`, nb201: arch string or index, ws64:
    label); blank lines and lines starting with # are skipped."""
    kinds = {"nb101": ("nb101-cell",), "nb201": ("nb201-index", "nb201-arch-str"), "ws64": ("ws64-label",)}[space]
    try:
        lines = regular_input(path, "member list").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise WsdbError(f"{path}: cannot read the member list ({error})") from None
    archs = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        kind = kinds[0] if len(kinds) == 1 or text.isdigit() else kinds[1]
        try:
            archs.append(registry.canonicalize(kind, text))
        except InvalidArchitecture as error:
            raise WsdbError(f"{path}:{number}: {error}") from None
    if not archs:
        raise WsdbError(f"{path}: no architectures listed")
    return archs


def define(url: str, name: str, space: str | None = None, members_file: Path | None = None,
           description: str | None = None) -> dict:
    """Define and materialise a sub-space in one transaction; returns its summary and whether
    it was new. Named ones (built in, random/..., best/...) need nothing else; a new name
    needs `space` and `members_file`."""
    with warehouse(url) as engine, engine.begin() as connection:
        existed = _stored(connection, name, space)
        if members_file is not None:
            if space is None:
                raise WsdbError("--members needs --space (nb101, nb201 or ws64)")
            lookup.search_space(connection, space)
            if parse(name) is not None or builtin(name) is not None or "/" in name:
                raise WsdbError(f"sub-space name {name!r} is reserved or has a '/': choose another for a member list")
            if existed:
                raise WsdbError(f"sub-space {space}/{existed[0][1]} exists: choose another name "
                                "(a stored sub-space is never redefined)")
            archs = _read_members(members_file, space)
            ids = _store_classes(connection, archs)
            stored = _store(connection, space, name, "membership", description or f"architectures listed in {members_file.name}",
                            ids, source=str(members_file.resolve()), num_cells=len(archs))
        else:
            if space is not None or description is not None:
                raise WsdbError("--space and --description go with --members (built-in and derived sub-spaces "
                                "know their space and describe themselves)")
            stored = _define(connection, name)
        record = _summary(connection, *stored)
        warnings = _coverage_warnings(connection, *stored)
    return {**record, "new": not existed, "warnings": warnings}


def _coverage_warnings(connection, space: str, name: str) -> list[str]:
    """What a derived sub-space rests on when it is less than its name promises: a best 1/K
    ranked on ground truth that only part of the parent has is the best of that part."""
    (kind, parent, parameters), = lookup.rows(connection, "SELECT kind, parent, parameters_json FROM subspaces "
                                                         "WHERE search_space = :sp AND name = :n", {"sp": space, "n": name})
    if kind != "best" or not parameters:
        return []
    parameters = json.loads(parameters)
    ranked, parent_size = parameters["ranked_classes"], len(_members(connection, space, parent))
    if ranked >= parent_size:
        return []
    return [f"{space}/{name}: only {ranked:,} of the {parent_size:,} classes of {space}/{parent} have "
            f"{parameters['benchmark']} {parameters['dataset']} {parameters['metric']}; this is the best 1/{parameters['k']} "
            f"of those {ranked:,}, not of {parent}: ingest the whole benchmark for the sub-space of Zhang, Zhang, Yang 2020"]


# --- listing ------------------------------------------------------------------------------------

SUMMARY_COLUMNS = ("search_space", "name", "kind", "members", "cells", "parent", "description")


def _summary(connection, space: str, name: str) -> dict:
    (row,) = lookup.rows(connection, """
        SELECT s.search_space, s.name, s.kind,
               COALESCE(s.num_members, (SELECT COUNT(*) FROM architecture_subspaces m
                                        WHERE m.search_space = s.search_space AND m.subspace = s.name)),
               s.num_cells, s.parent, s.description
        FROM subspaces s WHERE s.search_space = :sp AND s.name = :n""", {"sp": space, "n": name})
    return dict(zip(SUMMARY_COLUMNS, row))


def listing(url: str | None) -> list[dict]:
    """Every sub-space a warehouse holds (or, with no warehouse, the predicates wsdb defines),
    then the built-in constructions not materialised there."""
    if url is None:
        stored = registry.listing()
    else:
        with warehouse(url, read_only=True) as engine, engine.connect() as connection:
            stored = [_summary(connection, space, name) for space, name in lookup.rows(
                connection, "SELECT search_space, name FROM subspaces ORDER BY search_space, "
                            "CASE kind WHEN 'predicate' THEN 0 WHEN 'construction' THEN 1 ELSE 2 END, name")]
    names = {(r["search_space"], r["name"]) for r in stored}
    missing = [{"search_space": b.search_space, "name": key, "kind": "construction", "members": None, "cells": None,
                "parent": None, "description": f"not materialised: `wsdb spaces define {key}`; {b.description}"}
               for key, b in BUILTIN.items() if (b.search_space, key) not in names]
    return stored + missing


def show(url: str, name: str) -> dict:
    """One sub-space: its definition, parameters, provenance and counts."""
    with warehouse(url, read_only=True) as engine, engine.connect() as connection:
        found = _stored(connection, name)
        if len(found) > 1:
            raise WsdbError(f"{name!r} names a sub-space of {', '.join(s for s, _ in found)}: "
                            f"give one as SPACE/NAME, e.g. {found[0][0]}/{found[0][1]}")
        if not found and "/" in name:
            space, _, rest = name.partition("/")
            found = _stored(connection, rest, space)
        if not found:
            lookup.subspace(connection, name)  # raises, saying how to define it
        space, stored = found[0]
        record = _summary(connection, space, stored)
        (extra,) = lookup.rows(connection, "SELECT predicate_sql, parameters_json, source, created_at FROM subspaces "
                                           "WHERE search_space = :sp AND name = :n", {"sp": space, "n": stored})
        defaults = lookup.space_defaults(connection, space)
        (with_truth,) = lookup.rows(connection, """
            SELECT COUNT(DISTINCT f.architecture_id) FROM architecture_subspaces s JOIN ground_truth_final f
              ON f.architecture_id = s.architecture_id AND f.benchmark = :b AND f.dataset = :d AND f.epoch_budget = :e
            WHERE s.search_space = :sp AND s.subspace = :n""",
                                     {**{"b": defaults["benchmark"], "d": defaults["dataset"],
                                         "e": defaults["epoch_budget"]}, "sp": space, "n": stored})
    predicate, parameters, source, created_at = extra
    record.update({
        "predicate_sql": predicate,
        "parameters": json.loads(parameters) if parameters else None,
        "source": source,
        "created_at": created_at,
        "members_with_default_ground_truth": with_truth[0],
        "default_ground_truth": f"{defaults['benchmark']} {defaults['dataset']} {defaults['epoch_budget']} epochs",
    })
    return record
