"""What training needs to know about each search space: its super-net, how to decode a
stored canonical encoding into the cell the super-net runs, how to draw encodings
uniformly (SPOS / Random-NAS) and FairNAS groups, and the benchmark network's size.

NB101 cells always run in their canonical form (pruned, canonical vertex order), so every
isomorphism class uses one path of the super-net whichever encoding was drawn: uniform
sampling over encodings changes how often a class is trained, not which weights it uses.
NB201 and ws64 run the drawn encoding as it is (NB201 trains isomorphic cells separately,
like the benchmark). DARTS genotypes run as drawn too (a node's two inputs in either order
are the same sum); the space is never enumerated, so draws come from its sampler.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from torch import nn

from wsdb.base.errors import InvalidArchitecture, WsdbError
from wsdb.spaces import darts as darts_space
from wsdb.spaces import nb101 as nb101_space
from wsdb.spaces import nb201 as nb201_space
from wsdb.spaces import one_shot1 as one_shot1_space
from wsdb.spaces import ws64 as ws64_space
from wsdb.trainers import darts, nb101, nb201, one_shot1, ws64
from wsdb.trainers.config import TrainingConfig
from wsdb.trainers.differentiable import EdgeDecisions
from wsdb.trainers.layers import BatchNormSettings
from wsdb.trainers.sharing import GroupedSupernet


def batch_norm_settings(config: TrainingConfig) -> BatchNormSettings:
    return BatchNormSettings(config.bn_momentum, config.bn_eps, config.bn_affine, config.bn_track_running_stats)


def theta_rows(theta, operations) -> list[tuple[int, str, float]]:
    """(row, operation, weight) of every θ row: the warehouse's architecture_weights rows."""
    return [(edge, op, float(row[o])) for edge, row in enumerate(theta.tolist()) for o, op in enumerate(operations)]


class EdgeChoiceSearch:
    """What a differentiable search needs of a space whose θ rows are its edges (nb201, ws64,
    darts): β only under pc-darts (edge normalisation over the edges into each node), and the
    warehouse rows of θ and β."""

    def edge_decisions(self, config: TrainingConfig) -> EdgeDecisions | None:
        return (self.num_edges, self.edges_into_nodes()) if config.search == "pc-darts" else None

    def search_rows(self, theta, beta) -> tuple[list, list]:
        """(edge, operation, weight) rows of θ and (edge, weight) rows of β."""
        return theta_rows(theta, self.operations), [] if beta is None else list(enumerate(beta.tolist()))


@dataclass(frozen=True)
class NB101Training:
    name = "nb101"
    upper_triangle = [(i, j) for i in range(7) for j in range(i + 1, 7)]

    def build_supernet(self, config: TrainingConfig, num_classes: int) -> nn.Module:
        macro = nb101.Macro(config.initial_channels, 3, config.cells_per_stack, num_classes, batch_norm_settings(config))
        return nb101.NB101Supernet(macro, config.slicing, config.single_kernel, config.super_kernel)

    def decode(self, encoding: str):
        return nb101_space.decode(encoding)

    def _raw_topology(self, rng: np.random.Generator) -> list[list[int]]:
        while True:
            bits = rng.integers(0, 2, len(self.upper_triangle))
            if bits.sum() <= nb101_space.MAX_EDGES:
                matrix = [[0] * 7 for _ in range(7)]
                for (i, j), bit in zip(self.upper_triangle, bits):
                    matrix[i][j] = int(bit)
                return matrix

    def _canonical(self, matrix, ops, subspace: str):
        try:
            arch = nb101_space.canonicalize(matrix, ops)
        except InvalidArchitecture:
            return None
        return nb101_space.decode(arch.canonical_encoding) if subspace in arch.subspaces else None

    def random_cell(self, rng: np.random.Generator, subspace: str):
        """Uniform over valid encodings of the sub-space (nasbench's random_spec, rejected
        until valid), as the canonical cell."""
        while True:
            ops = ["input", *(nb101_space.OPERATIONS[k] for k in rng.integers(0, 3, 5)), "output"]
            cell = self._canonical(self._raw_topology(rng), ops, subspace)
            if cell is not None:
                return cell

    def fair_group(self, rng: np.random.Generator, subspace: str) -> list:
        """FairNAS adapted to a topology space (Yu et al. 2020): one valid topology, then three
        cells in which every vertex takes each operation exactly once."""
        while True:
            matrix = self._raw_topology(rng)
            orders = [rng.permutation(3) for _ in range(5)]
            cells = [
                self._canonical(matrix, ["input", *(nb101_space.OPERATIONS[order[k]] for order in orders), "output"], subspace)
                for k in range(3)
            ]
            if all(cell is not None for cell in cells):
                return cells

    def benchmark_parameters(self, cell) -> int:
        return nb101.parameter_count(cell)


@dataclass(frozen=True)
class EdgeSpaceTraining(EdgeChoiceSearch):
    """Spaces whose cells are one operation per edge (nb201, ws64)."""

    name: str
    operations: tuple
    num_edges: int

    def build_supernet(self, config: TrainingConfig, num_classes: int) -> nn.Module:
        bn = batch_norm_settings(config)
        k = config.partial_channels if config.search == "pc-darts" else 1
        if self.name == "nb201":
            return nb201.NB201Supernet(nb201.Macro(config.initial_channels, config.cells_per_stack, num_classes, bn), k,
                                       config.sharing, config.wsbn, config.super_kernel)
        macro = ws64.Macro(48, config.initial_channels, config.cells_per_stack, num_classes, config.node_merge, bn)
        how = ws64.Sharing(k, config.sharing, config.wsbn, config.super_kernel)
        if config.prefix_sharing is not None:
            return ws64.WS64PrefixSupernet(macro, config.prefix_sharing, how)
        if config.groups:
            return GroupedSupernet(lambda: ws64.WS64Supernet(macro, how), config.groups, ws64.label)
        return ws64.WS64Supernet(macro, how)

    def canonical(self, cell):
        """The canonical architecture of a cell given as edge operations."""
        if self.name == "nb201":
            return nb201_space.canonicalize(tuple(cell))
        return ws64_space.canonicalize("".join(str(self.operations.index(op) + 1) for op in cell))

    def edges_into_nodes(self) -> list[list[int]]:
        """Edge indices grouped by the node they enter (pc-darts' edge normalisation)."""
        edges = nb201_space.EDGES if self.name == "nb201" else ws64_space.EDGES
        targets = sorted({t for _, t in edges})
        return [[i for i, (_, t) in enumerate(edges) if t == target] for target in targets]

    def derive(self, theta, beta=None):
        """The discrete architecture of θ (edges x operations): the highest-weighted operation of
        each edge, a tie going to the operation listed first (the space's operation order)."""
        return self.canonical(tuple(self.operations[int(row.argmax())] for row in theta))

    def theta_edges(self, cell) -> list[tuple[int, str]]:
        """(edge of θ, operation) of each edge the cell uses: all of them, in order."""
        return list(enumerate(cell))

    def decode(self, encoding: str):
        if self.name == "nb201":
            return nb201_space.parse_arch_str(encoding)
        return ws64_space.parse_label(encoding)

    def random_cell(self, rng: np.random.Generator, subspace: str):
        return tuple(self.operations[k] for k in rng.integers(0, len(self.operations), self.num_edges))

    def all_cells(self) -> list:
        """Every cell (encoding) of the space, in the order of their operation indices."""
        return list(itertools.product(self.operations, repeat=self.num_edges))

    def fair_group(self, rng: np.random.Generator, subspace: str) -> list:
        orders = [rng.permutation(len(self.operations)) for _ in range(self.num_edges)]
        return [tuple(self.operations[order[k]] for order in orders) for k in range(len(self.operations))]

    def benchmark_parameters(self, cell) -> int:
        if self.name == "nb201":
            return nb201.parameter_count(cell)
        return _ws64_parameters(cell)


@lru_cache(maxsize=None)
def _ws64_parameters(cell) -> int:
    return sum(p.numel() for p in ws64.WS64Network(cell).parameters())


@dataclass(frozen=True)
class DartsTraining(EdgeChoiceSearch):
    """The DARTS CNN space: θ has 28 edges (the normal cell's 14, then the reduction cell's)."""

    name = "darts"
    operations = darts_space.SEARCH_OPERATIONS
    num_edges = 2 * darts_space.EDGES_PER_CELL

    def build_supernet(self, config: TrainingConfig, num_classes: int) -> nn.Module:
        k = config.partial_channels if config.search == "pc-darts" else 1
        return darts.DartsSupernet(config.initial_channels, config.cells_per_stack, num_classes,
                                   batch_norm_settings(config), k)

    def decode(self, encoding: str):
        return darts_space.parse_genotype(encoding)

    def canonical(self, cell):
        return darts_space.canonicalize_cells(*cell)

    def random_cell(self, rng: np.random.Generator, subspace: str):
        return darts_space.random_genotype(rng)

    def fair_group(self, rng: np.random.Generator, subspace: str) -> list:
        """FairNAS on DARTS: one draw of each node's two inputs, then 7 genotypes in which every
        chosen edge takes each of the 7 operations exactly once."""
        normal, reduce = darts_space.random_genotype(rng)
        edges = [(c, n, k) for c in range(2) for n in range(darts_space.NODES) for k in range(2)]
        orders = {edge: rng.permutation(len(darts_space.OPERATIONS)) for edge in edges}
        group = []
        for position in range(len(darts_space.OPERATIONS)):
            cells = []
            for c, cell in enumerate((normal, reduce)):
                cells.append(tuple(tuple((index, darts_space.OPERATIONS[orders[(c, n, k)][position]])
                                         for k, (index, _) in enumerate(node)) for n, node in enumerate(cell)))
            group.append(tuple(cells))
        return group

    def edges_into_nodes(self) -> list[list[int]]:
        groups, start = [], 0
        for _ in range(2):
            for n in range(darts_space.NODES):
                groups.append(list(range(start, start + n + 2)))
                start += n + 2
        return groups

    def derive(self, theta, beta=None):
        """DARTS' rule on θ (PC-DARTS: θ of each edge times its β, as its genotype() does)."""
        weights = theta if beta is None else theta * beta[:, None]
        half = darts_space.EDGES_PER_CELL
        return darts_space.canonicalize_cells(*darts_space.derive(weights[:half].tolist(), weights[half:].tolist()))

    def theta_edges(self, cell) -> list[tuple[int, str]]:
        """(edge of θ, operation) of the two edges of each node, normal cell then reduction cell."""
        used = []
        for c, nodes in enumerate(cell):
            start = c * darts_space.EDGES_PER_CELL
            for n, node in enumerate(nodes):
                used += [(start + index, op) for index, op in node]
                start += n + 2
        return used

    def benchmark_parameters(self, cell) -> int:
        """Parameters of the genotype's CIFAR-10 evaluation network (DARTS' count)."""
        return darts_space.evaluation_parameters(*cell)


@dataclass(frozen=True)
class OneShot1Training:
    """NAS-Bench-1Shot1's one-shot model of its search space `number`, for differentiable search:
    θ holds the operation of each intermediate vertex, β the parent choices (one simplex per
    vertex with a choice, and the output's). Architectures are NB101 classes; a class stands
    for many configurations of the one-shot model, so it is searched and derived, not scored."""

    number: int
    name = "nb101"
    operations = one_shot1_space.OPERATIONS

    @property
    def configurations(self) -> one_shot1_space.OneShot1Space:
        return one_shot1_space.OneShot1Space(self.number)

    @property
    def num_edges(self) -> int:
        return self.configurations.vertices

    def build_supernet(self, config: TrainingConfig, num_classes: int) -> nn.Module:
        k = config.partial_channels if config.search == "pc-darts" else 1
        return one_shot1.OneShot1Supernet(self.configurations, config.initial_channels, config.cells_per_stack,
                                          num_classes, batch_norm_settings(config), k)

    def edge_decisions(self, config: TrainingConfig) -> EdgeDecisions:
        return len(self.configurations.candidate_edges()), self.configurations.choice_groups()

    def derive(self, theta, beta):
        """1Shot1's rule: the best operation per vertex, the k best parents per decision."""
        space = self.configurations
        return space.canonical(space.derive(theta.tolist(), beta.tolist()))

    def search_rows(self, theta, beta) -> tuple[list, list]:
        """θ's rows for vertices 1..V (edges 0..V-1), then one row set per parent decision
        (edges V, V+1, ...; operation `parent-u`), so every simplex of the search is a row set."""
        space = self.configurations
        rows = theta_rows(theta, self.operations)
        edges, weights = space.candidate_edges(), beta.tolist()
        for g, group in enumerate(space.choice_groups()):
            rows += [(space.vertices + g, f"parent-{edges[i][0]}", float(weights[i])) for i in group]
        return rows, []


TRAINING_SPACES = {
    "nb101": NB101Training(),
    "nb201": EdgeSpaceTraining("nb201", nb201_space.OPERATIONS, len(nb201_space.EDGES)),
    "ws64": EdgeSpaceTraining("ws64", ws64_space.OPERATIONS, len(ws64_space.EDGES)),
    "darts": DartsTraining(),
}


def training_space(name: str):
    try:
        return TRAINING_SPACES[name]
    except KeyError:
        raise WsdbError(f"no super-net for search space {name!r}; known: {', '.join(TRAINING_SPACES)}") from None


def supernet_space(config: TrainingConfig):
    """The super-net a configuration trains: a search on nb101 runs NAS-Bench-1Shot1's one-shot
    model of its sub-space (the configuration check admits only those)."""
    if config.space == "nb101" and config.search is not None:
        return OneShot1Training(one_shot1_space.number_of(config.subspace))
    return training_space(config.space)
