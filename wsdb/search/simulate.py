"""Search simulations over the ground truth a warehouse holds (Pourchot et al. 2020, sections 4.2 and 5.2).

- rs: the unique architectures of the (sub)space in random order;
- re: regularized evolution as in the NB101 reference notebook (population 50, tournament 10;
  NB101: each edge of the raw 7x7 cell flips with probability 1/7 and each operation is
  resampled with probability 1/5, NB101-invalid mutants are redrawn; NB201: one edge gets
  another operation). A mutant outside what the warehouse holds for the (sub)space gets
  accuracy 0 and costs nothing (it is not trained); isomorphic revisits are allowed.
- ws: the architectures of a named sample in decreasing order of a super-net's proxy score
  (mean over repeated evaluations), after paying the super-net's training and evaluation time.
- derived: the trajectory of a differentiable super-net (darts, gdas, pc-darts, gaea-...): one
  step per checkpoint, the architecture its θ derived then, at the super-net's cumulative
  training seconds; the run is stored under the method's name and its regret is that of the
  derived architecture itself (what the method would return if stopped there), not the best so far.

Each query costs the architecture's stand-alone training time of the drawn repeat (`random`:
a random repeat per query, like the official API; `mean`: the mean over repeats), or one unit
where the ground truth has no training time (time_unit 'queries'). After each query the regret
is the best mean test accuracy of the (sub)space minus the mean test accuracy of the
architecture with the best validation accuracy so far. Regularized evolution runs as compiled
loops (wsdb.search.evolution); NB101 mutants are mapped to classes by table (wsdb.spaces.nb101_codes).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from wsdb.warehouse import lookup
from wsdb.warehouse.bulk import append_rows, insert_new_rows
from wsdb.base.errors import WsdbError
from wsdb.search.evolution import Space
from wsdb.warehouse.schema import Architecture, SearchRun, search_traces, utcnow

ALGORITHMS = ("rs", "re", "ws", "derived")
NAMESPACE = uuid.UUID("2f9d6c1e-3b7a-4c55-9e0d-5ea2c4000006")
SPACES = ("nb101", "nb201")  # the spaces whose mutations regularized evolution knows
REPEATS = ("random", "mean")


@dataclass
class GroundTruth:
    """The (sub)space as arrays: one row per architecture, one column per repeat."""

    search_space: str
    architecture_ids: np.ndarray          # (n,)
    canonical_encodings: list[str]
    validation: np.ndarray                # (n, repeats), NaN where a repeat is missing
    seconds: np.ndarray | None            # (n, repeats) training time, None: count queries
    test_mean: np.ndarray                 # (n,) what regret is measured on
    regret_on: str = "test"               # test, or validation where test accuracies are missing
    best_test: float = field(init=False)

    def __post_init__(self):
        self.best_test = float(np.nanmax(self.test_mean))
        self._order = np.argsort(self.architecture_ids)
        self._tables: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def time_unit(self) -> str:
        return "queries" if self.seconds is None else "seconds"

    def rows_of(self, architecture_ids: np.ndarray) -> np.ndarray:
        """Row of each architecture id, -1 where the (sub)space does not hold it."""
        sorted_ids = self.architecture_ids[self._order]
        position = np.clip(np.searchsorted(sorted_ids, architecture_ids), 0, len(sorted_ids) - 1)
        return np.where(sorted_ids[position] == architecture_ids, self._order[position], -1)

    def query_tables(self, repeat: str) -> tuple[np.ndarray, np.ndarray]:
        """(validation accuracy, cost), (n, choices) each, of what one query of a row can
        return: `mean` one choice (the means over repeats), `random` one per repeat, drawn
        uniformly among those with a validation accuracy. The cost is the training time, or 1
        where time counts queries. Made once per repeat rule (`draw` and wsdb.search.evolution)."""
        if repeat not in self._tables:
            if repeat == "mean":
                validation = _nanmean(self.validation)[:, None]
                seconds = None if self.seconds is None else _nanmean(self.seconds)[:, None]
            else:
                validation, seconds = self.validation, self.seconds
            self._tables[repeat] = validation, np.ones_like(validation) if seconds is None else np.nan_to_num(seconds)
        return self._tables[repeat]

    def draw(self, rows: np.ndarray, rng: np.random.Generator, repeat: str) -> tuple[np.ndarray, np.ndarray]:
        """(validation accuracy, cost) of querying each row once."""
        validation, cost = (table[rows] for table in self.query_tables(repeat))
        pick = np.zeros(len(rows), dtype=np.int64)
        if repeat != "mean":  # the largest of random keys among the available repeats
            pick = np.where(~np.isnan(validation), rng.random(validation.shape), -1.0).argmax(axis=1)
        at = np.arange(len(rows))
        return validation[at, pick], cost[at, pick]


def load_ground_truth(connection: sa.Connection, space: str, subspace: str | None,
                      benchmark: str, dataset: str, epoch_budget: int) -> GroundTruth:
    rows = connection.execute(sa.text(
        """
        SELECT g.architecture_id, g.repeat, g.validation_accuracy, g.test_accuracy, g.training_seconds
        FROM ground_truth_results g JOIN architectures a ON a.id = g.architecture_id
        WHERE a.search_space = :space AND g.benchmark = :benchmark AND g.dataset = :dataset
          AND g.epoch_budget = :budget AND g.evaluation_point = 'final'
          AND (g.repeat >= 0 OR NOT EXISTS (  -- runs, or a published mean where there are none
               SELECT 1 FROM ground_truth_results r WHERE r.architecture_id = g.architecture_id
                  AND r.benchmark = g.benchmark AND r.dataset = g.dataset AND r.epoch_budget = g.epoch_budget
                  AND r.evaluation_point = 'final' AND r.repeat >= 0))
          AND (CAST(:subspace AS VARCHAR) IS NULL
               OR a.id IN (SELECT architecture_id FROM architecture_subspaces WHERE subspace = CAST(:subspace AS VARCHAR)))
        """), {"space": space, "benchmark": benchmark, "dataset": dataset, "budget": epoch_budget, "subspace": subspace}).all()
    if not rows:
        raise WsdbError(f"no {benchmark} {dataset} {epoch_budget}-epoch ground truth for {space}"
                        f"{'/' + subspace if subspace else ''} in this warehouse: ingest it first")
    # columns as arrays (None -> NaN): a Python loop over the 454,932 NB101 rows cost ~1 s
    arch_ids, repeat_of, *values = (np.array(column, dtype=np.float64) for column in zip(*rows))
    ids, row = np.unique(arch_ids.astype(np.int64), return_inverse=True)
    repeats, column = np.unique(repeat_of.astype(np.int64), return_inverse=True)
    validation, test, seconds = (np.full((len(ids), len(repeats)), np.nan) for _ in range(3))
    for table, value in zip((validation, test, seconds), values):
        table[row, column] = value
    encoding_of = dict(connection.execute(
        sa.select(Architecture.id, Architecture.canonical_encoding).where(Architecture.search_space == space)).all())
    encodings = [encoding_of[arch_id] for arch_id in ids.tolist()]
    # All or nothing, so that every architecture is measured alike: without a test accuracy
    # for each of them, regret is measured on validation accuracy; without a training time for
    # each, time counts queries.
    test_mean, regret_on = _nanmean(test), "test"
    if np.isnan(test_mean).any():
        test_mean, regret_on = _nanmean(validation), "validation"
    has_time = (~np.isnan(seconds)).any(axis=1).all()
    return GroundTruth(space, ids, encodings, validation,
                       seconds if has_time else None, test_mean, regret_on)


def _nanmean(values: np.ndarray) -> np.ndarray:
    counts = (~np.isnan(values)).sum(axis=1)
    sums = np.nansum(values, axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _result(gt: GroundTruth, rows: np.ndarray, validation: np.ndarray, time: np.ndarray) -> dict[str, np.ndarray]:
    """The trajectory of a run: per query its architecture, accuracies, simulated time and
    the regret of the best-by-validation architecture so far (first of equal values kept)."""
    scores = np.nan_to_num(validation, nan=-np.inf)
    previous_best = np.concatenate([[-np.inf], np.maximum.accumulate(scores)[:-1]])
    best = np.maximum.accumulate(np.where(scores > previous_best, np.arange(len(rows)), 0))
    return {"rows": rows, "validation": validation, "test": gt.test_mean[rows], "time": time,
            "regret": gt.best_test - gt.test_mean[rows[best]]}


def trajectory(gt: GroundTruth, rows: np.ndarray, rng: np.random.Generator, repeat: str,
               start_time: float = 0.0) -> dict[str, np.ndarray]:
    validation, cost = gt.draw(rows, rng, repeat)
    return _result(gt, rows, validation, start_time + np.cumsum(cost))


def random_search(gt: GroundTruth, runs: int, queries: int, rng: np.random.Generator, repeat: str) -> list[dict]:
    count = min(queries, len(gt.architecture_ids))
    return [trajectory(gt, rng.choice(len(gt.architecture_ids), count, replace=False), rng, repeat) for _ in range(runs)]


def ws_guided_search(gt: GroundTruth, order_ids: np.ndarray, runs: int, rng: np.random.Generator, repeat: str,
                     start_time: float) -> list[dict]:
    rows = gt.rows_of(order_ids)
    rows = rows[rows >= 0]
    if len(rows) == 0:
        raise WsdbError("none of the sample's architectures has ground truth in this (sub)space")
    return [trajectory(gt, rows, rng, repeat, start_time) for _ in range(runs)]


def regularized_evolution(gt: GroundTruth, runs: int, queries: int, rng: np.random.Generator, repeat: str,
                          population: int = 50, tournament: int = 10, max_steps_factor: int = 50) -> list[dict]:
    """Runs of `queries` queries each (wsdb.search.evolution); a run that cannot reach its budget in
    max_steps_factor x queries mutants ends with the queries it made."""
    validation, cost = gt.query_tables(repeat)
    space = Space(gt.search_space, gt.canonical_encodings)
    rows, values, costs, done = space.evolve(validation, cost, runs, queries, rng, population, tournament,
                                             max_steps_factor * queries)
    return [_result(gt, rows[run, :done[run]], values[run, :done[run]], np.cumsum(costs[run, :done[run]]))
            for run in range(runs)]


def ws_order(connection: sa.Connection, supernet: str | None, protocol: str | None, sample: str | None,
             supernet_seconds: float | None, evaluation_seconds: float | None, time_unit: str):
    """(super-net id, sample name, architecture ids in decreasing proxy order, start time)."""
    if not (supernet and protocol):
        raise WsdbError("--algorithm ws needs --supernet and --protocol")
    row = lookup.supernet(connection, supernet)
    supernet_id, name, recorded_seconds = row.id, row.name, row.training_seconds
    protocol = lookup.protocol(connection, protocol)
    sample = lookup.sample(connection, sample or name)
    rows = connection.execute(sa.text(
        """
        WITH newest AS (SELECT id FROM checkpoints WHERE supernet_id = :n
                        ORDER BY step DESC NULLS LAST, epoch DESC NULLS LAST, created_at DESC LIMIT 1)
        SELECT p.architecture_id, AVG(p.value) AS proxy, SUM(p.elapsed_seconds) AS elapsed
        FROM proxy_scores p JOIN newest n ON n.id = p.checkpoint_id
        WHERE p.protocol_id = :protocol
          AND p.architecture_id IN (SELECT architecture_id FROM architecture_sample_members WHERE sample_name = :sample)
        GROUP BY p.architecture_id ORDER BY proxy DESC, p.architecture_id
        """), {"n": supernet_id, "protocol": protocol, "sample": sample}).all()
    if not rows:
        raise WsdbError(f"super-net {name!r} has no {protocol} scores on sample {sample!r}")
    if time_unit == "queries":
        start = 0.0
    else:
        training = supernet_seconds if supernet_seconds is not None else recorded_seconds
        recorded_evaluation = sum(r[2] for r in rows if r[2] is not None) or None
        evaluation = evaluation_seconds if evaluation_seconds is not None else recorded_evaluation
        if training is None or evaluation is None:
            raise WsdbError(f"super-net {name!r} records no {'training' if training is None else 'evaluation'} time: "
                            "pass --supernet-seconds and --evaluation-seconds (estimates for imported super-nets)")
        start = float(training) + float(evaluation)
    return supernet_id, sample, np.array([r[0] for r in rows], dtype=np.int64), start


def derived_trajectory(connection: sa.Connection, gt: GroundTruth, supernet: str | None) -> tuple[str, str, list[dict]]:
    """(super-net id, method name, one run) of a differentiable super-net's derived architectures."""
    if supernet is None:
        raise WsdbError("--algorithm derived needs --supernet (a super-net trained with --search)")
    row = lookup.supernet(connection, supernet)
    steps = connection.execute(sa.text(
        "SELECT d.architecture_id, d.method, d.training_seconds FROM derived_architectures d JOIN checkpoints c "
        "ON c.id = d.checkpoint_id WHERE c.supernet_id = :s ORDER BY c.step, c.epoch"), {"s": row.id}).all()
    if not steps:
        raise WsdbError(f"super-net {row.name or row.id} has no derived architectures: it was not trained with --search")
    rows = gt.rows_of(np.array([s[0] for s in steps], dtype=np.int64))
    if (rows < 0).any():
        raise WsdbError(f"{int((rows < 0).sum())} derived architectures of {row.name or row.id} have no ground truth "
                        "here: ingest the space's benchmark first")
    test = gt.test_mean[rows]
    result = {"rows": rows, "time": np.array([s[2] or 0.0 for s in steps], dtype=np.float64),
              "validation": _nanmean(gt.validation[rows]), "test": test, "regret": gt.best_test - test}
    return row.id, steps[-1][1], [result]


def store_runs(connection: sa.Connection, gt: GroundTruth, algorithm: str, results: list[dict], config: dict,
               seed: int, subspace: str | None, supernet_id: str | None = None, protocol_id: str | None = None,
               sample_name: str | None = None, time_unit: str | None = None) -> tuple[int, int]:
    """Insert runs (ids derived from the configuration, seed and run number: a rerun adds
    nothing) and their traces in bulk; returns (new runs, trace rows written)."""
    config = {**config, "regret_on": gt.regret_on}
    key = json.dumps({"algorithm": algorithm, "space": gt.search_space, "subspace": subspace, "supernet": supernet_id,
                      "protocol": protocol_id, "sample": sample_name, "seed": seed, **config}, sort_keys=True)
    ids = [uuid.uuid5(NAMESPACE, f"{key}/{run}").hex for run in range(len(results))]
    existing = {r for (r,) in connection.execute(
        sa.select(SearchRun.__table__.c.id).where(SearchRun.__table__.c.id.in_(ids)))}
    fresh = [(run_id, result) for run_id, result in zip(ids, results) if run_id not in existing]
    if not fresh:
        return 0, 0
    now = utcnow()
    insert_new_rows(connection, SearchRun.__table__, {
        "id": [r for r, _ in fresh], "algorithm": [algorithm] * len(fresh), "search_space": [gt.search_space] * len(fresh),
        "subspace": [subspace] * len(fresh), "supernet_id": [supernet_id] * len(fresh),
        "protocol_id": [protocol_id] * len(fresh), "sample_name": [sample_name] * len(fresh),
        "config_json": [json.dumps(config, sort_keys=True)] * len(fresh), "seed": [seed] * len(fresh),
        "architectures_searched": [len(gt.architecture_ids)] * len(fresh),
        "best_test_accuracy": [gt.best_test] * len(fresh), "queries": [len(r["rows"]) for _, r in fresh],
        "time_unit": [time_unit or gt.time_unit] * len(fresh), "created_at": [now] * len(fresh),
    })
    # one Arrow chunk per run over the runs' own arrays (no concatenated copies: 5 million rows)
    lengths = [len(r["rows"]) for _, r in fresh]
    run_ids = pa.array([r for r, _ in fresh])

    def column(values, type_=None) -> pa.ChunkedArray:
        return pa.chunked_array([pa.array(v, type=type_, from_pandas=True) for v in values], type=type_)

    traces = pa.table({
        "run_id": pa.chunked_array([pa.DictionaryArray.from_arrays(np.full(n, i, dtype=np.int32), run_ids)
                                    for i, n in enumerate(lengths)]),
        "step": column((np.arange(1, n + 1, dtype=np.int32) for n in lengths), pa.int32()),
        "architecture_id": column((gt.architecture_ids[r["rows"]].astype(np.int32) for _, r in fresh), pa.int32()),
        "simulated_time": column((r["time"] for _, r in fresh), pa.float64()),
        "validation_accuracy": column((r["validation"] for _, r in fresh), pa.float64()),
        "test_accuracy": column((r["test"] for _, r in fresh), pa.float64()),
        "regret": column((r["regret"] for _, r in fresh), pa.float64()),
    })
    return len(fresh), append_rows(connection, search_traces, traces)


def run(url: str, space: str, algorithm: str, subspace: str | None = None, runs: int = 100, queries: int = 10_000,
        repeat: str = "random", seed: int = 0, supernet: str | None = None, protocol: str | None = None,
        sample: str | None = None, supernet_seconds: float | None = None, evaluation_seconds: float | None = None,
        benchmark: str | None = None, dataset: str | None = None, epoch_budget: int | None = None) -> dict:
    """Simulate `runs` searches on the ground truth the warehouse holds and store them (a rerun
    of the same settings and seed adds nothing); returns what was done, for the command line."""
    from wsdb.warehouse.db import warehouse

    if algorithm not in ALGORITHMS:
        raise WsdbError(f"--algorithm must be one of {', '.join(ALGORITHMS)}")
    if space not in SPACES and algorithm != "derived":
        raise WsdbError(f"--space must be one of {', '.join(SPACES)}")
    if repeat not in REPEATS:
        raise WsdbError(f"--repeat must be one of {', '.join(REPEATS)}")
    rng = np.random.default_rng(seed)
    with warehouse(url) as engine:
        with engine.connect() as connection:
            truth = lookup.ground_truth_choice(connection, space, benchmark, dataset, epoch_budget)
            if algorithm == "derived" and subspace is None and supernet is not None:
                # regret within the sub-space the super-net searched (NAS-Bench-1Shot1's spaces)
                searched = lookup.supernet(connection, supernet).subspace
                subspace = None if searched in (None, "FULL") else searched
            if subspace is not None:
                subspace = lookup.subspace(connection, subspace, space)
            config = {"queries": queries, "repeat": repeat, **truth}
            gt = load_ground_truth(connection, space, subspace, truth["benchmark"], truth["dataset"],
                                   truth["epoch_budget"])
            supernet_id = sample_name = time_unit = None
            if algorithm == "derived":
                time_unit = "seconds"  # the super-net's own training time
                supernet_id, algorithm, results = derived_trajectory(connection, gt, supernet)
                config["checkpoints"] = len(results[0]["rows"])
            if algorithm == "ws":
                supernet_id, sample_name, order, start = ws_order(
                    connection, supernet, protocol, sample, supernet_seconds, evaluation_seconds, gt.time_unit)
                protocol = lookup.protocol(connection, protocol)
                config["start_time"] = start
        if algorithm == "rs":
            results = random_search(gt, runs, queries, rng, repeat)
        elif algorithm == "re":
            results = regularized_evolution(gt, runs, queries, rng, repeat)
        elif algorithm == "ws":
            results = ws_guided_search(gt, order, runs, rng, repeat, config["start_time"])
        with engine.begin() as connection:
            new_runs, rows = store_runs(connection, gt, algorithm, results, config, seed, subspace,
                                        supernet_id, protocol if algorithm == "ws" else None, sample_name, time_unit)
    return {"algorithm": algorithm, "search_space": space, "subspace": subspace, "runs": len(results),
            "new_runs": new_runs, "trace_rows": rows, "architectures": len(gt.architecture_ids),
            "regret_on": gt.regret_on, "best": gt.best_test,
            "final_mean_regret": float(np.mean([r["regret"][-1] for r in results])), "time_unit": time_unit or gt.time_unit}
