"""Which architectures a super-net trains at each step (the samplers the seeds compare).

- uniform: uniform over encodings (SPOS / Random-NAS, Yu et al. 2020), rejected until valid and
  inside the sub-space;
- random-a: uniform over canonical architectures of the (sub)space (Pourchot et al.'s baseline,
  Yu et al.'s Random-A);
- pro-rata: canonical architectures with probability proportional to the benchmark
  network's parameter count (Pourchot et al. 2020, after Luo et al. 2019);
- fairnas: per step, a group in which every position takes each operation exactly once
  (Chu et al. 2019, adapted to topologies as Yu et al. 2020), gradients summed over the group;
- AVG-k (`architectures_per_batch` = k): k draws per step, losses averaged;
- sampling_order fixed / fixed-shuffled (Zhang et al. 2020, Deeper Insights, Table 1): the cells
  of the space (or the members of a listed sub-space) in one seeded order, repeated, or in a
  new order after every pass; i.i.d. draws otherwise.

random-a and pro-rata draw from the canonical architectures the warehouse holds for the
(sub)space (`wsdb spaces populate nb101` stores all 423,624 NB101 classes). In a sub-space whose
members are listed (constructed or derived: `wsdb spaces define`), uniform draws uniformly
from those members too: there is no predicate to reject raw draws against; in a sub-space
drawn over cells (random-cells/...), uniform draws its cells, each as drawn, so a class with two
cells there comes twice as often (Zhang, Zhang, Yang 2020's SPOS: no deduplication).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from wsdb.base.errors import WsdbError
from wsdb.trainers.config import TrainingConfig


@dataclass
class CandidatePool:
    """Canonical architectures of a (sub)space: ids and canonical encodings; and the raw cells
    of a sub-space drawn over cells (None elsewhere)."""

    architecture_ids: list[int]
    encodings: list[str]
    cells: list[str] | None = None

    def __len__(self) -> int:
        return len(self.encodings)


def load_pool(connection: sa.Connection, space: str, subspace: str) -> CandidatePool:
    rows = connection.execute(
        sa.text(
            "SELECT a.id, a.canonical_encoding FROM architectures a "
            "JOIN architecture_subspaces s ON s.architecture_id = a.id "
            "WHERE a.search_space = :space AND s.subspace = :subspace ORDER BY a.id"
        ),
        {"space": space, "subspace": subspace},
    ).all()
    if not rows:
        raise WsdbError(f"the warehouse holds no {space} architectures in sub-space {subspace} "
                        f"(run `wsdb spaces populate {space}`)")
    cells = [e for (e,) in connection.execute(sa.text(
        "SELECT encoding FROM subspace_cells WHERE search_space = :space AND subspace = :subspace ORDER BY encoding"),
        {"space": space, "subspace": subspace})]
    return CandidatePool([r[0] for r in rows], [r[1] for r in rows], cells or None)


class ArchitectureSampler:
    """Draws the cells of each training step from one numpy Generator (saved on checkpoints)."""

    def __init__(self, space, config: TrainingConfig, rng: np.random.Generator, pool: CandidatePool | None = None,
                 restricted: bool = False):
        self.space, self.config, self.rng = space, config, rng
        self.restricted = restricted
        self._cells: dict[int, object] = {}
        self.pool = pool
        self.probabilities = None
        if (restricted or config.sampler in ("random-a", "pro-rata")) and pool is None:
            raise WsdbError(f"sampler {config.sampler} needs the canonical architectures of the sub-space")
        if config.sampler == "pro-rata":
            counts = np.array([space.benchmark_parameters(self._cell(i)) for i in range(len(pool))], dtype=np.float64)
            self.probabilities = counts / counts.sum()
        self.order: list[int] | None = None  # sampling_order: positions into `cycle`, and where we are
        self.position = 0
        if config.sampling_order != "random":
            self.cycle = [self._cell(i) for i in range(len(pool))] if restricted else space.all_cells()

    def order_state(self) -> dict:
        """Where a fixed order stands (checkpoints keep it with the generator: resume draws the same)."""
        return {"order": self.order, "position": self.position}

    def restore_order(self, state: dict) -> None:
        self.order, self.position = state["order"], int(state["position"])

    def _next_in_order(self):
        if self.order is None or self.position == len(self.order):
            if self.order is None or self.config.sampling_order == "fixed-shuffled":
                self.order = [int(i) for i in self.rng.permutation(len(self.cycle))]
            self.position = 0
        self.position += 1
        return self.cycle[self.order[self.position - 1]]

    def _cell(self, index: int):
        cell = self._cells.get(index)
        if cell is None:
            cell = self._cells[index] = self.space.decode(self.pool.encodings[index])
        return cell

    def _draw(self):
        if self.config.sampling_order != "random":
            return self._next_in_order()
        sampler = self.config.sampler
        if sampler == "uniform" and not self.restricted:
            return self.space.random_cell(self.rng, self.config.subspace)
        if sampler == "uniform" and self.pool.cells is not None:  # drawn cells, duplicates of a class kept
            return self.space.decode(self.pool.cells[int(self.rng.integers(len(self.pool.cells)))])
        if sampler in ("uniform", "random-a"):
            return self._cell(int(self.rng.integers(len(self.pool))))
        return self._cell(int(self.rng.choice(len(self.pool), p=self.probabilities)))

    def next_group(self) -> list:
        """The cells trained together in the next step."""
        if self.config.sampler == "fairnas":
            return self.space.fair_group(self.rng, self.config.subspace)
        return [self._draw() for _ in range(self.config.architectures_per_batch)]
