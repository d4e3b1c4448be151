"""NAS-Bench-201 (NATS-Bench topology space) cells: arch strings and isomorphism keys.

An architecture is an operation on each of the 6 edges of a 4-node DAG, written
`|op~0|+|op~0|op~1|+|op~0|op~1|op~2|` (node 1 from node 0; node 2 from 0, 1; node 3 from
0, 1, 2). Nodes sum their incoming edges.

Two keys identify classes:
- the NATS key (NATS-Bench `to_unique_str(consider_zero=True)`), the published notion of
  unique architectures (6,466 classes). Its quirk: an input counts as zero only when its
  string is exactly '#', so a node whose inputs are all zero ('#+#') is non-zero downstream.
  This is the `canonical_key` of NB201 rows, so counts match what NB201 users know.
- the functional key: all-zero nodes are zero and zero terms are dropped (5,390 classes of
  functionally distinct networks), stored in the `functional_key` column.
The canonical encoding of a class is its smallest arch string in index order of OPERATIONS.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from importlib import resources

from wsdb.base.errors import InvalidArchitecture
from wsdb.spaces.canonical import CanonicalArchitecture

SEARCH_SPACE = "nb201"
NONE = "none"
SKIP = "skip_connect"
CONV1X1 = "nor_conv_1x1"
CONV3X3 = "nor_conv_3x3"
AVGPOOL3X3 = "avg_pool_3x3"
OPERATIONS = (NONE, SKIP, CONV1X1, CONV3X3, AVGPOOL3X3)
# (source node, target node) of each edge, in arch-string order.
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
NUM_ARCHITECTURES = len(OPERATIONS) ** len(EDGES)  # 15,625

SUBSPACES = {"FULL": "every cell of NAS-Bench-201"}

Ops = tuple[str, ...]


def parse_arch_str(text: str) -> Ops:
    """`|op~0|+|op~0|op~1|+|...|` -> the 6 edge operations in EDGES order."""
    text = text.strip()
    nodes = text.split("+")
    if len(nodes) != 3:
        raise InvalidArchitecture(f"malformed NB201 arch string {text!r}: expected 3 nodes joined by '+'")
    ops = []
    for target, node in enumerate(nodes, start=1):
        if not (node.startswith("|") and node.endswith("|")):
            raise InvalidArchitecture(f"malformed NB201 arch string {text!r}: node {target} is not wrapped in '|'")
        terms = node[1:-1].split("|")
        if len(terms) != target:
            raise InvalidArchitecture(
                f"malformed NB201 arch string {text!r}: node {target} needs {target} inputs, got {len(terms)}"
            )
        for source, term in enumerate(terms):
            op, sep, index = term.partition("~")
            if not sep or index != str(source):
                raise InvalidArchitecture(
                    f"malformed NB201 arch string {text!r}: term {term!r} of node {target} should end in '~{source}'"
                )
            if op not in OPERATIONS:
                raise InvalidArchitecture(f"unknown NB201 op {op!r}; expected one of {', '.join(OPERATIONS)}")
            ops.append(op)
    return tuple(ops)


def arch_str(ops: Ops) -> str:
    terms = iter(ops)
    return "+".join(
        "|" + "|".join(f"{next(terms)}~{source}" for source in range(target)) + "|"
        for target in (1, 2, 3)
    )


def _node_strings(ops: Ops, natural_zero: bool) -> str:
    """Term-rewriting key of the output node (NATS `to_unique_str` with consider_zero).

    natural_zero=False reproduces NATS exactly; True treats all-zero nodes as zero and
    drops zero terms (functional equivalence).
    """
    nodes = {0: "0"}
    for target in (1, 2, 3):
        terms = []
        for (source, edge_target), op in zip(EDGES, ops):
            if edge_target != target:
                continue
            inner = nodes[source]
            if op == NONE or inner == "#":
                terms.append("#")
            elif op == SKIP:
                terms.append(inner)
            else:
                terms.append(f"({inner})@{op}")
        if natural_zero:
            terms = [t for t in terms if t != "#"] or ["#"]
        nodes[target] = "+".join(sorted(terms))
    return nodes[3]


def nats_key(ops: Ops) -> str:
    return _node_strings(ops, natural_zero=False)


def functional_key(ops: Ops) -> str:
    return _node_strings(ops, natural_zero=True)


def features(ops: Ops) -> dict:
    edge_op = dict(zip(EDGES, ops))
    live = {edge for edge, op in edge_op.items() if op != NONE}
    depth = {0: 0}
    for target in (1, 2, 3):
        reach = [depth[s] + 1 for (s, t) in live if t == target and depth.get(s) is not None]
        depth[target] = max(reach) if reach else None
    return {
        "num_vertices": 4,
        "num_edges": len(live),
        "num_output_inputs": sum(1 for (s, t) in live if t == 3 and s != 0),
        "has_input_output_edge": (0, 3) in live,
        "depth": depth[3] or 0,
        "num_none": ops.count(NONE),
        "num_skip": ops.count(SKIP),
        "num_conv1x1": ops.count(CONV1X1),
        "num_conv3x3": ops.count(CONV3X3),
        "num_avgpool3x3": ops.count(AVGPOOL3X3),
    }


def all_ops() -> list[Ops]:
    """Every cell of the space (15,625), in product order of OPERATIONS."""
    return [tuple(p) for p in itertools.product(OPERATIONS, repeat=len(EDGES))]


@lru_cache(maxsize=1)
def _class_representatives() -> dict[str, Ops]:
    """NATS key -> smallest member (product order) of the class."""
    smallest: dict[str, Ops] = {}
    for ops in all_ops():  # product order: the first seen is the smallest
        smallest.setdefault(nats_key(ops), ops)
    return smallest


@lru_cache(maxsize=1)
def official_index_order() -> tuple[str, ...]:
    """Arch strings in the official NB201/NATS index order (arch_index -> string).

    Shipped as package data (published figures only: one line of 6 op digits per index).
    """
    text = resources.files("wsdb").joinpath("data/nb201_index_order.txt").read_text()
    return tuple(arch_str(tuple(OPERATIONS[int(d)] for d in line)) for line in text.split())


def arch_str_of_index(index: int) -> str:
    order = official_index_order()
    if not 0 <= index < len(order):
        raise InvalidArchitecture(f"NB201 arch index {index} is out of range 0..{len(order) - 1}")
    return order[index]


def canonicalize(arch: str | Ops, trainable_parameters: int | None = None) -> CanonicalArchitecture:
    ops = parse_arch_str(arch) if isinstance(arch, str) else tuple(arch)
    if len(ops) != len(EDGES) or any(op not in OPERATIONS for op in ops):
        raise InvalidArchitecture(f"NB201 cells have {len(EDGES)} edge ops from {OPERATIONS}, got {ops!r}")
    key = nats_key(ops)
    representative = _class_representatives()[key]
    feats = features(representative)
    feats["functional_key"] = functional_key(representative)
    return CanonicalArchitecture(
        search_space=SEARCH_SPACE,
        canonical_key=key,
        canonical_encoding=arch_str(representative),
        features=feats,
        subspaces=("FULL",),
        trainable_parameters=trainable_parameters,
    )
