"""The one lookup of each thing a user names: super-nets, samples, sub-spaces, evaluation
protocols, benchmarks, datasets, search spaces.

Each takes what a user types and returns the stored identity, or raises a WsdbError that
lists what the warehouse holds; an ambiguous name is refused (like MLflow's
`get_experiment_by_name`), never resolved by guessing. Every command, analysis parameter,
trainer and the queue go through these functions. They run on a SQLAlchemy connection or on
a DuckDB connection (analyses).
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import sqlalchemy as sa

from wsdb.base.errors import WsdbError
from wsdb.spaces.subspace_names import undefined_hint

SHOWN = 8  # known values listed in an error message
SHORTEST_ID_PREFIX = 6


def rows(connection, sql: str, params: dict | None = None) -> list[tuple]:
    """Rows of `sql` with :name parameters, on SQLAlchemy or DuckDB."""
    used = set(re.findall(r"(?<!:):(\w+)", sql))
    params = {k: v for k, v in (params or {}).items() if k in used}  # DuckDB refuses unused ones
    if isinstance(connection, sa.Connection):
        return [tuple(row) for row in connection.execute(sa.text(sql), params)]
    return connection.execute(re.sub(r"(?<!:):(\w+)", r"$\1", sql), params).fetchall()


def _known(values: list, what: str) -> str:
    if not values:
        return f"the warehouse holds no {what}"
    listed = ", ".join(str(v) for v in values[:SHOWN])
    more = f" and {len(values) - SHOWN} more" if len(values) > SHOWN else ""
    return f"known: {listed}{more}"


SUPERNET_COLUMNS = ("id", "name", "search_space", "subspace", "status", "origin", "config_json", "seed",
                    "training_seconds", "host", "started_at", "data_dir")


def supernet(connection, given: str) -> SimpleNamespace:
    """The super-net with this id, name, or unique id prefix (6+ characters): its row's
    SUPERNET_COLUMNS as attributes."""
    columns = ", ".join(SUPERNET_COLUMNS)
    found = rows(connection, f"SELECT {columns} FROM supernets WHERE id = :g", {"g": given})
    if not found:
        found = rows(connection, f"SELECT {columns} FROM supernets WHERE name = :g ORDER BY id", {"g": given})
        if len(found) > 1:
            raise WsdbError(f"{len(found)} super-nets are named {given!r}: give one of the ids "
                            f"{', '.join(r[0][:12] for r in found)}")
    if not found and len(given) >= SHORTEST_ID_PREFIX:
        found = rows(connection, f"SELECT {columns} FROM supernets WHERE id LIKE :g ORDER BY id",
                     {"g": given.replace("%", "").replace("_", "") + "%"})
        if len(found) > 1:
            raise WsdbError(f"super-net id prefix {given!r} is ambiguous: {', '.join(r[0][:12] for r in found)}")
    if not found:
        names = [name or identifier[:12] for identifier, name in
                 rows(connection, "SELECT id, name FROM supernets ORDER BY name, id")]
        raise WsdbError(f"no super-net with id or name {given!r}; {_known(names, 'super-nets')}")
    return SimpleNamespace(**dict(zip(SUPERNET_COLUMNS, found[0])))


def sample(connection, given: str) -> str:
    if rows(connection, "SELECT name FROM architecture_samples WHERE name = :g", {"g": given}):
        return given
    names = [n for (n,) in rows(connection, "SELECT name FROM architecture_samples ORDER BY name")]
    raise WsdbError(f"no architecture sample {given!r}; {_known(names, 'samples')}")


def subspace(connection, given: str, search_space: str | None = None) -> str:
    """The sub-space's stored name (matched without regard to case: `full` is FULL)."""
    found = rows(connection, "SELECT DISTINCT name FROM subspaces WHERE LOWER(name) = LOWER(:g)"
                 + (" AND search_space = :s" if search_space else ""), {"g": given, "s": search_space})
    if found:
        return found[0][0]
    hint = undefined_hint(given)
    if hint:
        raise WsdbError(hint)
    names = [f"{space}/{name}" for space, name in
             rows(connection, "SELECT search_space, name FROM subspaces ORDER BY search_space, name")
             if not search_space or space == search_space]
    where = f" of {search_space}" if search_space else ""
    raise WsdbError(f"no sub-space {given!r}{where}; {_known(names, 'sub-spaces')}")


def protocol(connection, given: str) -> str:
    """An evaluation protocol id that the warehouse knows (listed, or used by a score)."""
    known = [p for (p,) in rows(connection, "SELECT id FROM evaluation_protocols UNION "
                                            "SELECT DISTINCT protocol_id FROM proxy_scores ORDER BY 1")]
    if given in known:
        return given
    close = [p for p in known if p.replace("-", "").replace(":", "") == given.replace("-", "").replace(":", "")]
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise WsdbError(f"no evaluation protocol {given!r}{hint}; {_known(known, 'evaluation protocols')}")


def _ground_truth_value(connection, column: str, given: str, what: str) -> str:
    known = [v for (v,) in rows(connection, f"SELECT DISTINCT {column} FROM ground_truth_results ORDER BY 1")]
    if given in known:
        return given
    raise WsdbError(f"no ground truth {what} {given!r}; {_known(known, 'ground truth')}")


def benchmark(connection, given: str) -> str:
    return _ground_truth_value(connection, "benchmark", given, "of benchmark")


def dataset(connection, given: str) -> str:
    return _ground_truth_value(connection, "dataset", given, "on dataset")


def search_space(connection, given: str) -> str:
    known = [s for (s,) in rows(connection, "SELECT name FROM search_spaces ORDER BY name")]
    if given in known:
        return given
    raise WsdbError(f"unknown search space {given!r}; {_known(known, 'search spaces')}")


def space_defaults(connection, space: str) -> dict:
    """The ground truth a space's analyses use unless told: benchmark, dataset, epoch_budget."""
    found = rows(connection, "SELECT default_benchmark, default_dataset, default_epoch_budget FROM search_spaces "
                             "WHERE name = :s", {"s": space})
    if not found:
        search_space(connection, space)
    return dict(zip(("benchmark", "dataset", "epoch_budget"), found[0]))


def ground_truth_choice(connection, space: str, benchmark_name: str | None = None, dataset_name: str | None = None,
                        epoch_budget: int | None = None) -> dict:
    """The ground truth to compare a space's architectures with: the space's own, with what
    the user named (checked) in its place."""
    chosen = space_defaults(connection, space)
    if benchmark_name is not None:
        chosen["benchmark"] = benchmark(connection, benchmark_name)
    if dataset_name is not None:
        chosen["dataset"] = dataset(connection, dataset_name)
    if epoch_budget is not None:
        chosen["epoch_budget"] = epoch_budget
    return chosen


# Parameters that name a thing, by parameter name: analyses' parameters and command options
# with these names are resolved here (a super-net name becomes its id).
def _one_of(name: str, allowed: tuple[str, ...]):
    def check(connection, value: str) -> str:
        if value not in allowed:
            raise WsdbError(f"--param {name} must be one of {', '.join(allowed)}, not {value!r}")
        return value
    return check


RESOLVERS = {
    "supernet": lambda connection, value: supernet(connection, value).id,
    "population": _one_of("population", ("classes", "cells")),
    "truth": _one_of("truth", ("validation_accuracy", "test_accuracy")),
    "sample": sample,
    "subspace": subspace,
    "protocol": protocol,
    "benchmark": benchmark,
    "dataset": dataset,
    "search_space": search_space,
}


def resolve_parameters(connection, values: dict) -> dict:
    """`values` with every naming parameter that is set replaced by the stored identity."""
    resolved = dict(values)
    for name, resolver in RESOLVERS.items():
        if resolved.get(name) is not None:
            resolved[name] = resolver(connection, str(resolved[name]))
    return resolved
