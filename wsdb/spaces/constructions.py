"""Sub-spaces defined by construction: which cells they hold, as canonical classes.

- NAS-Bench-1Shot1 search spaces 1-3 (Zela, Siems, Hutter 2020) on NAS-Bench-101: every
  intermediate vertex v (and the output) takes a fixed number of parents among the vertices
  before it; vertex 1 always takes the input. A configuration chooses each vertex's parents
  and an operation per intermediate vertex, as the published configuration space does;
  vertices that feed nothing ("loose ends") are pruned away by NAS-Bench-101, so many
  configurations denote one cell. Spaces 1 and 2 have 4 intermediate vertices (the 7-vertex
  NAS-Bench-101 matrix gets an unused vertex), space 3 has 5.
- Zhang, Zhang, Yang 2020 ("How Does Weight Sharing Help in Neural Architecture Search?",
  Appendix A.1): like 1Shot1's space 3, but all 5 intermediate vertices are used, the output
  concatenates exactly 2 of them and never takes the input: 95,985 cells, 42,228 classes.
- NAS-Bench-201 "valid": the cells in which some path of non-`none` edges joins input and
  output (Zhang, Zhang, Yang exclude the 341 that have none).

Everything here is pure: configurations in, (number of cells, canonical classes) out.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from math import prod

from wsdb.spaces import nb101, nb201
from wsdb.spaces.canonical import CanonicalArchitecture
from wsdb.spaces.nb101_enumeration import classes_of_skeletons, unique_skeletons

# Parents of vertices 1..output, per 1Shot1 search space (their Table 1).
ONE_SHOT1_PARENTS = {1: (1, 2, 2, 2, 2), 2: (1, 1, 2, 2, 3), 3: (1, 1, 1, 2, 2, 2)}
ZHANG_PARENTS = (1, 1, 1, 2, 2, 2)


@dataclass(frozen=True)
class Construction:
    """A sub-space's cells (`num_cells`, as its authors count them) and its classes."""

    num_cells: int
    classes: list[CanonicalArchitecture]


def _parent_choices(parents: tuple[int, ...], output_from_input: bool) -> list[list[tuple[int, ...]]]:
    out = len(parents)
    choices = []
    for v, k in enumerate(parents, start=1):
        low = 1 if (v == out and not output_from_input) else 0
        choices.append(list(itertools.combinations(range(low, v), k)))
    return choices


def _pruned_matrix(parents_of: dict[int, tuple[int, ...]], out: int) -> tuple[nb101.Matrix, int]:
    """The cell left after pruning (vertices that feed the output), and its intermediate count."""
    active, stack = set(), [out]
    while stack:
        v = stack.pop()
        if v not in active:
            active.add(v)
            stack.extend(p for p in parents_of[v] if p)
    kept = [0, *sorted(active)]
    index = {v: i for i, v in enumerate(kept)}
    matrix = [[0] * len(kept) for _ in kept]
    for v in active:
        for p in parents_of[v]:
            matrix[index[p]][index[v]] = 1
    return tuple(map(tuple, matrix)), len(kept) - 2


def _skeletons(parents: tuple[int, ...], output_from_input: bool, all_used: bool) -> list[nb101.Matrix]:
    out = len(parents)
    matrices = set()
    for chosen in itertools.product(*_parent_choices(parents, output_from_input)):
        matrix, used = _pruned_matrix(dict(zip(range(1, out + 1), chosen)), out)
        if used == out - 1 or not all_used:
            matrices.add(matrix)
    return unique_skeletons(sorted(matrices))


def one_shot1(number: int, workers: int | None = None) -> Construction:
    """NAS-Bench-1Shot1 search space `number` (1, 2 or 3); `num_cells` counts the
    configurations of its published configuration space (parent choices x operations)."""
    parents = ONE_SHOT1_PARENTS[number]
    num_cells = prod(len(c) for c in _parent_choices(parents, True)) * len(nb101.OPERATIONS) ** (len(parents) - 1)
    return Construction(num_cells, classes_of_skeletons(_skeletons(parents, True, all_used=False), workers))


def zhang_zhang_yang_nb101(workers: int | None = None) -> Construction:
    """The NB101 space of Zhang, Zhang, Yang 2020 (Appendix A.1); `num_cells` counts the
    cells before isomorphic ones are merged, as they do."""
    parents = ZHANG_PARENTS
    used_graphs = sum(
        _pruned_matrix(dict(zip(range(1, len(parents) + 1), chosen)), len(parents))[1] == len(parents) - 1
        for chosen in itertools.product(*_parent_choices(parents, False))
    )
    num_cells = used_graphs * len(nb101.OPERATIONS) ** (len(parents) - 1)
    return Construction(num_cells, classes_of_skeletons(_skeletons(parents, False, all_used=True), workers))


def nb201_connects(ops: tuple[str, ...]) -> bool:
    """Whether some path of non-`none` edges leads from the input (node 0) to the output."""
    reached = {0}
    for (source, target), op in zip(nb201.EDGES, ops):  # EDGES is in topological order
        if op != nb201.NONE and source in reached:
            reached.add(target)
    return 3 in reached


def nb201_valid() -> Construction:
    """NB201 cells whose input reaches the output; every cell of a class agrees (checked)."""
    connected: dict[str, bool] = {}
    classes: dict[str, CanonicalArchitecture] = {}
    num_cells = 0
    for text in nb201.official_index_order():
        arch = nb201.canonicalize(text)
        ok = nb201_connects(nb201.parse_arch_str(text))
        if connected.setdefault(arch.canonical_key, ok) != ok:
            raise AssertionError(f"NB201 class {arch.canonical_key} mixes connected and disconnected cells")
        num_cells += ok
        if ok:
            classes[arch.canonical_key] = arch
    return Construction(num_cells, sorted(classes.values(), key=lambda a: a.canonical_key))

