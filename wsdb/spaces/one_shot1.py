"""NAS-Bench-1Shot1's search spaces 1-3 (Zela, Siems, Hutter 2020) as a one-shot model sees them.

A configuration of space n gives every intermediate vertex v = 1..V an operation and a fixed
number of parents among the vertices before it (`constructions.ONE_SHOT1_PARENTS`), and the
output (vertex V + 1) its parents among the input and the V vertices. The one-shot model holds
one simplex per decision: the operation of each vertex, the parents of each vertex that has a
choice (more candidates than parents; vertex 1 always takes the input, space 1's vertex 2
always takes both the input and vertex 1), and the output's parents.

Derivation (1Shot1's `eval_one_shot_model`): the operation with the highest weight per vertex,
the k highest-weighted parents per vertex and for the output; ties go to the lower index (their
`np.argpartition` leaves ties unspecified). The configuration becomes an NB101 cell the way
1Shot1 writes it (spaces 1 and 2 have 4 intermediate vertices: the 7-vertex matrix gets an
unused vertex 5), and NB101's pruning and hash give its class.
"""

from __future__ import annotations

from dataclasses import dataclass

from wsdb.base.errors import WsdbError
from wsdb.spaces import nb101
from wsdb.spaces.canonical import CanonicalArchitecture
from wsdb.spaces.constructions import ONE_SHOT1_PARENTS

SUBSPACES = {f"1SHOT1-SS{n}": n for n in ONE_SHOT1_PARENTS}
# Operation order of 1Shot1's PRIMITIVES (the columns of its alphas_mixed_op)
OPERATIONS = (nb101.MAXPOOL3X3, nb101.CONV3X3, nb101.CONV1X1)

Configuration = tuple[tuple[tuple[int, ...], ...], tuple[str, ...]]  # parents of 1..V+1, ops of 1..V


def number_of(subspace: str) -> int:
    """The 1Shot1 space number of a sub-space name (1SHOT1-SS1..3, any case)."""
    try:
        return SUBSPACES[subspace.upper()]
    except KeyError:
        raise WsdbError(f"{subspace!r} is not a NAS-Bench-1Shot1 search space; one of {', '.join(SUBSPACES)}") from None


@dataclass(frozen=True)
class OneShot1Space:
    number: int

    @property
    def parents(self) -> tuple[int, ...]:
        """How many parents vertices 1..V and the output take."""
        return ONE_SHOT1_PARENTS[self.number]

    @property
    def vertices(self) -> int:
        """V, the intermediate vertices (choice blocks)."""
        return len(self.parents) - 1

    @property
    def output(self) -> int:
        return self.vertices + 1

    def choice_vertices(self) -> list[int]:
        """The vertices (and the output) whose parents are a decision: more candidates than parents."""
        return [v for v in range(1, self.output + 1) if self.parents[v - 1] < v]

    def candidate_edges(self) -> list[tuple[int, int]]:
        """Every (parent, vertex) edge the one-shot model holds, vertex by vertex."""
        return [(u, v) for v in range(1, self.output + 1) for u in range(v)]

    def incoming(self, v: int) -> list[int]:
        """Indices into `candidate_edges` of the edges into vertex v."""
        return [i for i, (_, target) in enumerate(self.candidate_edges()) if target == v]

    def choice_groups(self) -> list[list[int]]:
        """Indices into `candidate_edges` of each parent decision (one simplex each)."""
        return [self.incoming(v) for v in self.choice_vertices()]

    def derive(self, operation_weights, edge_weights) -> Configuration:
        """The configuration of the highest weights: `operation_weights` V rows over OPERATIONS,
        `edge_weights` one weight per candidate edge (those of a vertex without a choice unused)."""
        ops = tuple(OPERATIONS[max(range(len(OPERATIONS)), key=lambda o: (row[o], -o))]
                    for row in operation_weights)
        edges = self.candidate_edges()
        parents = []
        for v in range(1, self.output + 1):
            best = sorted(self.incoming(v), key=lambda i: (-float(edge_weights[i]), i))[: self.parents[v - 1]]
            parents.append(tuple(sorted(edges[i][0] for i in best)))
        return tuple(parents), ops

    def nb101_cell(self, configuration: Configuration) -> tuple[list[list[int]], list[str]]:
        """The 7-vertex NB101 matrix and operations 1Shot1 writes for a configuration (unpruned)."""
        parents, ops = configuration
        # spaces 1 and 2: vertex 5 is an unused conv1x1 (1Shot1's upscale_to_nasbench_format)
        position = {v: v for v in range(self.output)} | {self.output: nb101.MAX_VERTICES - 1}
        matrix = [[0] * nb101.MAX_VERTICES for _ in range(nb101.MAX_VERTICES)]
        for v, chosen in enumerate(parents, start=1):
            for u in chosen:
                matrix[position[u]][position[v]] = 1
        labels = [nb101.INPUT, *ops, *[nb101.CONV1X1] * (nb101.MAX_VERTICES - 2 - len(ops)), nb101.OUTPUT]
        return matrix, labels

    def canonical(self, configuration: Configuration) -> CanonicalArchitecture:
        """The NB101 class of a configuration (loose ends pruned as NAS-Bench-101 prunes)."""
        return nb101.canonicalize(*self.nb101_cell(configuration))
