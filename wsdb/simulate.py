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
architecture with the best validation accuracy so far. Runs of regularized evolution are
simulated together as numpy batches; NB101 mutants are mapped to classes by the vectorized
fingerprint (wsdb.spaces.nb101_fingerprint).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from wsdb import lookup
from wsdb.bulk import append_rows, insert_new_rows
from wsdb.errors import WsdbError
from wsdb.schema import SearchRun, search_traces, utcnow
from wsdb.spaces import nb201
from wsdb.spaces.nb101_fingerprint import VERTICES, FingerprintIndex, build_pruning_table, fingerprints, prune_mask

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

    @property
    def time_unit(self) -> str:
        return "queries" if self.seconds is None else "seconds"

    def rows_of(self, architecture_ids: np.ndarray) -> np.ndarray:
        """Row of each architecture id, -1 where the (sub)space does not hold it."""
        sorted_ids = self.architecture_ids[self._order]
        position = np.clip(np.searchsorted(sorted_ids, architecture_ids), 0, len(sorted_ids) - 1)
        return np.where(sorted_ids[position] == architecture_ids, self._order[position], -1)

    def draw(self, rows: np.ndarray, rng: np.random.Generator, repeat: str) -> tuple[np.ndarray, np.ndarray]:
        """(validation accuracy, cost) of querying each row once."""
        validation = self.validation[rows]
        if repeat == "mean":
            chosen = _nanmean(validation)
            cost = np.ones(len(rows)) if self.seconds is None else np.nan_to_num(_nanmean(self.seconds[rows]))
            return chosen, cost
        available = ~np.isnan(validation)
        # a random available repeat per query: the largest of random keys among available ones
        keys = np.where(available, rng.random(validation.shape), -1.0)
        pick = keys.argmax(axis=1)
        chosen = validation[np.arange(len(rows)), pick]
        cost = np.ones(len(rows)) if self.seconds is None else np.nan_to_num(self.seconds[rows][np.arange(len(rows)), pick])
        return chosen, cost


def load_ground_truth(connection: sa.Connection, space: str, subspace: str | None,
                      benchmark: str, dataset: str, epoch_budget: int) -> GroundTruth:
    rows = connection.execute(sa.text(
        """
        SELECT a.id, a.canonical_encoding, g.repeat, g.validation_accuracy, g.test_accuracy, g.training_seconds
        FROM ground_truth_results g JOIN architectures a ON a.id = g.architecture_id
        WHERE a.search_space = :space AND g.benchmark = :benchmark AND g.dataset = :dataset
          AND g.epoch_budget = :budget AND g.evaluation_point = 'final'
          AND (g.repeat >= 0 OR NOT EXISTS (  -- runs, or a published mean where there are none
               SELECT 1 FROM ground_truth_results r WHERE r.architecture_id = g.architecture_id
                  AND r.benchmark = g.benchmark AND r.dataset = g.dataset AND r.epoch_budget = g.epoch_budget
                  AND r.evaluation_point = 'final' AND r.repeat >= 0))
          AND (CAST(:subspace AS VARCHAR) IS NULL
               OR a.id IN (SELECT architecture_id FROM architecture_subspaces WHERE subspace = CAST(:subspace AS VARCHAR)))
        ORDER BY a.id, g.repeat
        """), {"space": space, "benchmark": benchmark, "dataset": dataset, "budget": epoch_budget, "subspace": subspace}).all()
    if not rows:
        raise WsdbError(f"no {benchmark} {dataset} {epoch_budget}-epoch ground truth for {space}"
                        f"{'/' + subspace if subspace else ''} in this warehouse: ingest it first")
    ids = sorted({r[0] for r in rows})
    row_of = {arch_id: i for i, arch_id in enumerate(ids)}
    repeats = sorted({r[2] for r in rows})
    column_of = {rep: j for j, rep in enumerate(repeats)}
    validation = np.full((len(ids), len(repeats)), np.nan)
    test = np.full((len(ids), len(repeats)), np.nan)
    seconds = np.full((len(ids), len(repeats)), np.nan)
    encodings = [""] * len(ids)
    for arch_id, encoding, rep, val, tst, sec in rows:
        i, j = row_of[arch_id], column_of[rep]
        encodings[i] = encoding
        validation[i, j] = np.nan if val is None else val
        test[i, j] = np.nan if tst is None else tst
        seconds[i, j] = np.nan if sec is None else sec
    # All or nothing, so that every architecture is measured alike: without a test accuracy
    # for each of them, regret is measured on validation accuracy; without a training time for
    # each, time counts queries.
    test_mean, regret_on = _nanmean(test), "test"
    if np.isnan(test_mean).any():
        test_mean, regret_on = _nanmean(validation), "validation"
    has_time = (~np.isnan(seconds)).any(axis=1).all()
    return GroundTruth(space, np.asarray(ids, dtype=np.int64), encodings, validation,
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
    return [trajectory(gt, rng.permutation(len(gt.architecture_ids))[:count], rng, repeat) for _ in range(runs)]


def ws_guided_search(gt: GroundTruth, order_ids: np.ndarray, runs: int, rng: np.random.Generator, repeat: str,
                     start_time: float) -> list[dict]:
    rows = gt.rows_of(order_ids)
    rows = rows[rows >= 0]
    if len(rows) == 0:
        raise WsdbError("none of the sample's architectures has ground truth in this (sub)space")
    return [trajectory(gt, rows, rng, repeat, start_time) for _ in range(runs)]


# --- regularized evolution ---------------------------------------------------------------
# Genotypes are arrays with a leading axis: NB101 a pair (matrices (..., 7, 7), op codes
# (..., 5)), NB201 op indices (..., 6). `mutate` and `random` return the genotypes with the
# row each one denotes (-1: not held), so every candidate is fingerprinted once.


TRIES = 4  # candidates proposed at once per cell (see _draw_until_valid)


class _NB101Genotypes:
    def __init__(self, gt: GroundTruth):
        build_pruning_table()  # millions of mutants ahead: pruning by table lookup from here on
        self.index = FingerprintIndex(gt.canonical_encodings, list(range(len(gt.architecture_ids))))
        self.upper = np.triu(np.ones((VERTICES, VERTICES), dtype=bool), 1)

    def _draw_until_valid(self, count, rng, propose):
        # Validity needs only the cheap reachability pass; the fingerprint is computed once,
        # for the whole batch, when every cell is valid. Each pass proposes TRIES candidates
        # per cell still missing and keeps the first valid one: the same distribution as
        # proposing one at a time until valid, in a few passes instead of ~7 tiny ones.
        matrices = np.zeros((count, VERTICES, VERTICES), dtype=np.uint8)
        ops = np.zeros((count, VERTICES - 2), dtype=np.int8)
        todo = np.arange(count)
        while len(todo):
            candidates, candidate_ops = propose(np.repeat(todo, TRIES))
            valid = prune_mask(candidates)[1].reshape(len(todo), TRIES)
            found = valid.any(axis=1)
            chosen = (np.arange(len(todo)) * TRIES + valid.argmax(axis=1))[found]
            matrices[todo[found]], ops[todo[found]] = candidates[chosen], candidate_ops[chosen]
            todo = todo[~found]
        keys, _ = fingerprints(matrices, ops)
        return (matrices, ops), self.index.lookup(keys)

    def random(self, count: int, rng):
        return self._draw_until_valid(count, rng, lambda todo: (
            ((rng.random((len(todo), VERTICES, VERTICES)) < 0.5) & self.upper).astype(np.uint8),
            rng.integers(0, 3, (len(todo), VERTICES - 2))))

    def mutate(self, parents, rng):
        parent_matrices, parent_ops = parents

        def propose(todo):
            flips = (rng.random((len(todo), VERTICES, VERTICES)) < 1 / VERTICES) & self.upper
            resample = rng.random((len(todo), VERTICES - 2)) < 1 / (VERTICES - 2)
            other = (parent_ops[todo] + rng.integers(1, 3, (len(todo), VERTICES - 2))) % 3  # a different op
            return parent_matrices[todo] ^ flips, np.where(resample, other, parent_ops[todo])

        return self._draw_until_valid(len(parent_matrices), rng, propose)

    @staticmethod
    def stack(population):
        return np.stack([m for m, _ in population]), np.stack([o for _, o in population])

    @staticmethod
    def pick(stacked, slots):
        runs = np.arange(len(slots))
        return stacked[0][slots, runs], stacked[1][slots, runs]

    @staticmethod
    def replace(stacked, slot, values):
        stacked[0][slot], stacked[1][slot] = values


class _NB201Genotypes:
    """NB201 cells as operation indices; rows through the official index order."""

    def __init__(self, gt: GroundTruth):
        class_rows = {nb201.parse_arch_str(text): row for row, text in enumerate(gt.canonical_encodings)}
        codes = np.full(len(nb201.OPERATIONS) ** len(nb201.EDGES), -1, dtype=np.int64)
        for ops in nb201.all_ops():
            representative = nb201.parse_arch_str(nb201.canonicalize(ops).canonical_encoding)
            if representative in class_rows:
                codes[self._code(np.array([[nb201.OPERATIONS.index(o) for o in ops]]))[0]] = class_rows[representative]
        self.row_of_code = codes

    @staticmethod
    def _code(ops: np.ndarray) -> np.ndarray:
        return (ops * (len(nb201.OPERATIONS) ** np.arange(len(nb201.EDGES)))).sum(axis=-1)

    def random(self, count: int, rng):
        genotypes = rng.integers(0, len(nb201.OPERATIONS), (count, len(nb201.EDGES)))
        return genotypes, self.row_of_code[self._code(genotypes)]

    def mutate(self, parents, rng):
        children = parents.copy()
        runs = np.arange(len(children))
        edge = rng.integers(0, len(nb201.EDGES), len(children))
        children[runs, edge] = (children[runs, edge] + rng.integers(1, len(nb201.OPERATIONS), len(children))) % len(
            nb201.OPERATIONS)
        return children, self.row_of_code[self._code(children)]

    @staticmethod
    def stack(population):
        return np.stack(population)

    @staticmethod
    def pick(stacked, slots):
        return stacked[slots, np.arange(len(slots))]

    @staticmethod
    def replace(stacked, slot, values):
        stacked[slot] = values


def regularized_evolution(gt: GroundTruth, runs: int, queries: int, rng: np.random.Generator, repeat: str,
                          population: int = 50, tournament: int = 10, max_steps_factor: int = 50) -> list[dict]:
    """All runs advance together; a run stops counting once it has `queries` queries."""
    genotypes = _NB101Genotypes(gt) if gt.search_space == "nb101" else _NB201Genotypes(gt)
    done = np.zeros(runs, dtype=np.int64)
    trace_rows = np.full((runs, queries), -1, dtype=np.int64)
    trace_validation = np.zeros((runs, queries))
    trace_cost = np.zeros((runs, queries))

    def evaluate(rows, active) -> np.ndarray:
        """Fitness of the candidates; the held ones are queried (and cost time)."""
        values = np.zeros(runs)
        held = np.flatnonzero((rows >= 0) & active & (done < queries))
        if len(held):
            validation, cost = gt.draw(rows[held], rng, repeat)
            values[held] = np.nan_to_num(validation)
            trace_rows[held, done[held]] = rows[held]
            trace_validation[held, done[held]] = validation
            trace_cost[held, done[held]] = cost
            done[held] += 1
        return values

    everyone = np.ones(runs, dtype=bool)
    members, fitness = [], np.zeros((population, runs))
    for slot in range(population):
        genotype, rows = genotypes.random(runs, rng)
        members.append(genotype)
        fitness[slot] = evaluate(rows, everyone)
    stacked = genotypes.stack(members)
    oldest, every_run = 0, np.arange(runs)
    for _ in range(max_steps_factor * queries):
        active = done < queries
        if not active.any():
            break
        sampled = np.argsort(rng.random((runs, population)), axis=1)[:, :tournament]
        parent_slot = sampled[every_run, fitness[sampled, every_run[:, None]].argmax(axis=1)]
        children, rows = genotypes.mutate(genotypes.pick(stacked, parent_slot), rng)
        fitness[oldest] = evaluate(rows, active)
        genotypes.replace(stacked, oldest, children)
        oldest = (oldest + 1) % population
    return [_result(gt, trace_rows[run, :done[run]], trace_validation[run, :done[run]],
                    np.cumsum(trace_cost[run, :done[run]])) for run in range(runs)]


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
    lengths = [len(r["rows"]) for _, r in fresh]
    traces = pa.table({
        "run_id": pa.array(np.repeat([r for r, _ in fresh], lengths).astype(str)),
        "step": pa.array(np.concatenate([np.arange(1, n + 1) for n in lengths]).astype(np.int32)),
        "architecture_id": pa.array(gt.architecture_ids[np.concatenate([r["rows"] for _, r in fresh])].astype(np.int32)),
        "simulated_time": pa.array(np.concatenate([r["time"] for _, r in fresh])),
        "validation_accuracy": pa.array(np.concatenate([r["validation"] for _, r in fresh]), from_pandas=True),
        "test_accuracy": pa.array(np.concatenate([r["test"] for _, r in fresh]), from_pandas=True),
        "regret": pa.array(np.concatenate([r["regret"] for _, r in fresh])),
    })
    return len(fresh), append_rows(connection, search_traces, traces)


def run(url: str, space: str, algorithm: str, subspace: str | None = None, runs: int = 100, queries: int = 10_000,
        repeat: str = "random", seed: int = 0, supernet: str | None = None, protocol: str | None = None,
        sample: str | None = None, supernet_seconds: float | None = None, evaluation_seconds: float | None = None,
        benchmark: str | None = None, dataset: str | None = None, epoch_budget: int | None = None) -> dict:
    """Simulate `runs` searches on the ground truth the warehouse holds and store them (a rerun
    of the same settings and seed adds nothing); returns what was done, for the command line."""
    from wsdb.db import warehouse

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
