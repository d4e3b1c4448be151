"""Regularized evolution (Real et al. 2019) over the ground truth of a (sub)space, compiled.

Runs are independent loops of about 2.3 mutants per query: 11 million mutants for 500 runs of
10,000 queries on NB101. Advancing all runs together as numpy batches cost ~1 ms of call
overhead per step (500 x 10,000 in 80 s on 2 cores); the loop below, compiled by numba, costs a
few hundred nanoseconds per mutant. numpy's Generator is passed in, so a seed reproduces a run.

Genomes are int64:
- NB101: bits 0-20 the raw 7x7 matrix (wsdb.spaces.nb101_codes), bits 21 up the operations
  of the five intermediate vertices in base 3 (vertex 1 the lowest digit; codes as in
  nb101_fingerprint). As in the NB101 reference notebook (mutation rate 1), a mutant flips each
  of the 21 possible edges with probability 1/7 and changes each operation with probability
  1/5 to one of the two others, redrawn from the parent until valid. Validity depends on the
  edges alone, so the edges are redrawn until valid and the operations drawn once: the same
  distribution. The 21 flips are three independent 7-bit masks and the five changes one of
  243 joint changes, each drawn with one uniform number from an alias table (Walker).
- NB201: the cell's position in nb201.all_ops() (its six operation indices in base 5); a
  mutant gives one uniformly chosen edge another operation.
Uniform integers below n are int(u * n) of a 53-bit uniform u (off uniform by < n / 2^53; numba's
Generator.integers costs ~50 ns a call, eight times more). A genome's row in the ground
truth comes from tables (-1: not held). Queries follow
wsdb.search.simulate: a held architecture costs its drawn repeat's time and counts as a query; one
that is not held has fitness 0, costs nothing and is not recorded.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from wsdb.spaces import nb201
from wsdb.spaces.nb101_codes import (ASSIGNMENTS, DIGITS, PLACES, VERTICES, CellClasses, assignments_of, class_row,
                                    matrices_of)

NB101, NB201 = 101, 201


class Tables(NamedTuple):
    """What the compiled loop reads (arrays of the other space are empty)."""

    valid: np.ndarray            # NB101: code -> valid
    entry_of_code: np.ndarray    # NB101: code -> topology and canonical positions (nb101_codes)
    class_rows: np.ndarray       # NB101: (topology, assignment) -> row
    flip: tuple                  # NB101: alias table of a 7-bit flip mask
    change: tuple                # NB101: alias table of a joint operation change
    changed: np.ndarray          # NB101: (assignment, change) -> assignment
    row_of_code: np.ndarray      # NB201: genome -> row

_CODE_MASK = (1 << PLACES) - 1


class Space:
    """The tables regularized evolution needs for one space and ground truth."""

    def __init__(self, search_space: str, canonical_encodings: list[str]):
        if search_space == "nb101":
            classes = CellClasses(canonical_encodings)
            bits = np.bitwise_count(np.arange(1 << VERTICES, dtype=np.uint8))
            flip = (1 / VERTICES) ** bits * (1 - 1 / VERTICES) ** (VERTICES - bits)
            change = np.where(DIGITS == 0, 4 / 5, 1 / 10).prod(axis=1)
            # changed[ops, change]: digit-wise addition modulo 3 of two assignments
            changed = assignments_of((DIGITS[:, None, :] + DIGITS[None, :, :]) % 3)
            self.kind = NB101
            self.tables = Tables(classes.valid, classes.entry_of_code, classes.rows, alias_table(flip),
                                 alias_table(change), changed, np.zeros(0, dtype=np.int64))
        else:
            class_rows = {nb201.parse_arch_str(text): row for row, text in enumerate(canonical_encodings)}
            row_of_code = np.full(len(nb201.OPERATIONS) ** len(nb201.EDGES), -1, dtype=np.int64)
            for genome, ops in enumerate(nb201.all_ops()):
                representative = nb201.parse_arch_str(nb201.canonicalize(ops).canonical_encoding)
                if representative in class_rows:
                    row_of_code[genome] = class_rows[representative]
            self.kind = NB201
            no_alias = alias_table(np.ones(1))
            self.tables = Tables(np.zeros(0, dtype=np.bool_), np.zeros(0, dtype=np.int32), np.zeros((0, 0), dtype=np.int64),
                                 no_alias, no_alias, np.zeros((0, 0), dtype=np.int64), row_of_code)

    def random(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(genomes, rows) of `count` random valid architectures."""
        return _batch(self.kind, self.tables, np.zeros(count, dtype=np.int64), rng, False)

    def mutate(self, parents: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(genomes, rows) of one mutant of each parent."""
        return _batch(self.kind, self.tables, np.asarray(parents, dtype=np.int64), rng, True)

    def evolve(self, validation: np.ndarray, cost: np.ndarray, runs: int, queries: int, rng: np.random.Generator,
               population: int, tournament: int, max_steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Trace arrays (rows, validation, cost: (runs, queries)) and the queries each run made.
        validation, cost: (architectures, repeats); a query draws one of the row's repeats that
        has a validation accuracy (not NaN), uniformly."""
        rows = np.full((runs, queries), -1, dtype=np.int64)
        values = np.zeros((runs, queries))
        costs = np.zeros((runs, queries))
        done = np.zeros(runs, dtype=np.int64)
        _evolve(self.kind, self.tables, np.ascontiguousarray(validation, dtype=np.float64),
                np.ascontiguousarray(cost, dtype=np.float64), rng, population, tournament, max_steps,
                rows, values, costs, done)
        return rows, values, costs, done


def nb201_operations(genomes: np.ndarray) -> np.ndarray:
    """(B, 6) operation indices of NB201 genomes (positions in nb201.all_ops())."""
    places = len(nb201.OPERATIONS) ** np.arange(len(nb201.EDGES))[::-1]
    return (np.asarray(genomes)[:, None] // places) % len(nb201.OPERATIONS)


def nb101_cells(genomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(matrices (B, 7, 7), op codes (B, 5)) of NB101 genomes."""
    genomes = np.asarray(genomes, dtype=np.int64)
    return matrices_of(genomes & _CODE_MASK), DIGITS[genomes >> PLACES].astype(np.int8)


def alias_table(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(acceptance (K,), alias (K,)) of Walker's alias method (Vose's construction) for a
    distribution over 0..K-1."""
    count = len(probabilities)
    scaled = np.asarray(probabilities, dtype=np.float64) * count / np.sum(probabilities)
    acceptance, alias = np.ones(count), np.arange(count)
    small = [i for i in range(count) if scaled[i] < 1.0]
    large = [i for i in range(count) if scaled[i] >= 1.0]
    while small and large:
        low, high = small.pop(), large.pop()
        acceptance[low], alias[low] = scaled[low], high
        scaled[high] -= 1.0 - scaled[low]
        (small if scaled[high] < 1.0 else large).append(high)
    return acceptance, alias


@njit(cache=True)
def _below(rng, n):
    return int(rng.random() * n)


@njit(cache=True)
def _categorical(table, rng):
    acceptance, alias = table
    u = rng.random() * len(acceptance)
    index = int(u)
    return index if u - index < acceptance[index] else alias[index]


@njit(cache=True)
def _row(kind, tables, genome):
    if kind == NB201:
        return tables.row_of_code[genome]
    return class_row(tables.entry_of_code, tables.class_rows, genome & _CODE_MASK, genome >> PLACES)


@njit(cache=True)
def _random(kind, tables, rng):
    if kind == NB201:
        return _below(rng, len(tables.row_of_code))
    code = _below(rng, 1 << PLACES)
    while not tables.valid[code]:
        code = _below(rng, 1 << PLACES)
    return code | (_below(rng, ASSIGNMENTS) << PLACES)


@njit(cache=True)
def _mutant(kind, tables, parent, rng):
    if kind == NB201:
        place = 5 ** _below(rng, 6)
        old = (parent // place) % 5
        return parent + ((old + 1 + _below(rng, 4)) % 5 - old) * place
    code, flip = parent & _CODE_MASK, tables.flip
    while True:
        mask = _categorical(flip, rng) | (_categorical(flip, rng) << 7) | (_categorical(flip, rng) << 14)
        if tables.valid[code ^ mask]:
            break
    return (code ^ mask) | (tables.changed[parent >> PLACES, _categorical(tables.change, rng)] << PLACES)


@njit(cache=True)
def _batch(kind, tables, parents, rng, mutate):
    genomes = np.empty(len(parents), dtype=np.int64)
    rows = np.empty(len(parents), dtype=np.int64)
    for i in range(len(parents)):
        genomes[i] = _mutant(kind, tables, parents[i], rng) if mutate else _random(kind, tables, rng)
        rows[i] = _row(kind, tables, genomes[i])
    return genomes, rows


@njit(cache=True)
def _query(row, run, validation, cost, rng, rows, values, costs, done):
    """Fitness of an architecture; a held one is queried (one repeat drawn) and recorded."""
    if row < 0 or done[run] >= rows.shape[1]:  # not held, or the run's budget is spent
        return 0.0
    available = 0
    for r in range(validation.shape[1]):
        available += not np.isnan(validation[row, r])
    nth, pick = (_below(rng, available) if available > 1 else 0), 0  # none available: repeat 0, NaN
    for r in range(validation.shape[1]):
        if not np.isnan(validation[row, r]):
            if nth == 0:
                pick = r
                break
            nth -= 1
    value = validation[row, pick]
    rows[run, done[run]], values[run, done[run]], costs[run, done[run]] = row, value, cost[row, pick]
    done[run] += 1
    return 0.0 if np.isnan(value) else value


@njit(cache=True)
def _evolve(kind, tables, validation, cost, rng, population, tournament, max_steps, rows, values, costs, done):
    queries = rows.shape[1]
    genomes = np.empty(population, dtype=np.int64)
    fitness = np.empty(population)
    order = np.arange(population)
    for run in range(rows.shape[0]):
        for slot in range(population):
            genomes[slot] = _random(kind, tables, rng)
            fitness[slot] = _query(_row(kind, tables, genomes[slot]), run, validation, cost, rng, rows, values, costs, done)
        oldest = 0
        for _ in range(max_steps):
            if done[run] >= queries:
                break
            # a uniform sample of `tournament` members (partial Fisher-Yates); the fittest,
            # the first drawn among equals, is the parent
            parent = -1
            for j in range(tournament):
                k = j + _below(rng, population - j)
                order[j], order[k] = order[k], order[j]
                if parent < 0 or fitness[order[j]] > fitness[parent]:
                    parent = order[j]
            genomes[oldest] = _mutant(kind, tables, genomes[parent], rng)
            fitness[oldest] = _query(_row(kind, tables, genomes[oldest]), run, validation, cost, rng,
                                     rows, values, costs, done)
            oldest = (oldest + 1) % population
