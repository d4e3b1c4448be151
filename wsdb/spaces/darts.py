"""The DARTS CNN search space (Liu, Simonyan, Yang 2019) as pure functions on genotypes.

A genotype is a normal and a reduction cell. A cell has two inputs (0: the output of the cell
before the previous one, 1: of the previous one) and four intermediate nodes 2..5; node n takes
two inputs, each from an earlier node (0..n-1) through one of the 7 operations of OPERATIONS
(`none` is the eighth during search only), and the cell's output concatenates nodes 2..5.

Canonical form (the class): the two inputs of a node are unordered, and the intermediate
nodes may be relabelled in any order that keeps every input earlier than its node (the
output concatenates them all: the order of the concatenation is taken as immaterial, as
NAS-Bench-301 and NDS treat genotypes). The canonical encoding is the smallest, over every
such relabelling of each cell, of the sorted (input, operation) pairs node by node, written
as DARTS' own `Genotype(...)` text; the canonical key is the md5 of that text. The space has
about 10^18 classes per cell type and is never enumerated: classes are stored as they appear.

Encodings read here (validated once, at this boundary):
- darts-genotype: DARTS' printed `Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=range(2, 6),
  reduce=[...], reduce_concat=range(2, 6))`, read without eval;
- darts-json: NDS' genotype object {"normal": [[op, input], ...], "normal_concat": [2, 3, 4, 5], "reduce": ...};
- darts-compact: NASLib's compact form, two lists of 8 (input, op index) pairs, op index into
  NASLIB_OPERATIONS;
- darts-nb301: NAS-Bench-301's configuration, "NetworkSelectorDatasetInfo:darts:edge_<cell>_<k>"
  keys (k numbers the 14 possible edges of a cell: node 2's from 0 and 1, node 3's from 0..2, ...);
  its "inputs_node_<cell>_<n>" keys ("0_2"), where present, must agree with the edges.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import json
import re

from wsdb.base.errors import InvalidArchitecture
from wsdb.spaces.canonical import CanonicalArchitecture

SEARCH_SPACE = "darts"
OPERATIONS = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3",
              "dil_conv_5x5")
SEARCH_OPERATIONS = ("none", *OPERATIONS)  # DARTS' PRIMITIVES: what an edge of the super-net mixes
NASLIB_OPERATIONS = OPERATIONS  # NASLib's compact op indices, in its order
NODES = 4  # intermediate nodes per cell
CELLS = ("normal", "reduce")
SUBSPACES = {"FULL": "every genotype of the DARTS space (classes stored as they appear)"}

Cell = tuple[tuple[tuple[int, str], tuple[int, str]], ...]  # per node, its two (input, operation)


def _cell(pairs, what: str) -> Cell:
    """Validate one cell: 8 (operation, input) pairs, node n's inputs among 0..n-1."""
    try:
        pairs = [(str(op), int(index)) for op, index in pairs]
    except (TypeError, ValueError):
        raise InvalidArchitecture(f"{what}: expected 8 (operation, input) pairs") from None
    if len(pairs) != 2 * NODES:
        raise InvalidArchitecture(f"{what}: expected {2 * NODES} (operation, input) pairs, got {len(pairs)}")
    nodes = []
    for n in range(NODES):
        node = []
        for op, index in pairs[2 * n:2 * n + 2]:
            if op not in OPERATIONS:
                raise InvalidArchitecture(f"{what}: unknown operation {op!r}; the DARTS space has {', '.join(OPERATIONS)}")
            if not 0 <= index < n + 2:
                raise InvalidArchitecture(f"{what}: node {n + 2} takes input {index}, not one of 0..{n + 1}")
            node.append((index, op))
        nodes.append(tuple(node))
    return tuple(nodes)


def _concat(value, what: str) -> None:
    """The output must concatenate every intermediate node (all the DARTS space allows)."""
    if value is None:
        return
    if list(value) != list(range(2, 2 + NODES)):
        raise InvalidArchitecture(f"{what}: the cell's output concatenates nodes 2..5, not {list(value)}")


def parse_genotype(text: str) -> tuple[Cell, Cell]:
    """DARTS' printed Genotype(...), read field by field with ast.literal_eval (never eval)."""
    text = str(text).strip()
    if not text.startswith("Genotype(") or not text.endswith(")"):
        raise InvalidArchitecture(f"not a DARTS Genotype(...) text: {text[:60]!r}")
    cells = []
    for name in CELLS:
        found = re.search(rf"\b{name}\s*=\s*(\[[^\]]*\])", text)
        if not found:
            raise InvalidArchitecture(f"Genotype: no {name}=[...] list")
        try:
            pairs = ast.literal_eval(found.group(1))
        except (ValueError, SyntaxError):
            raise InvalidArchitecture(f"Genotype: {name} is not a list of (operation, input) pairs") from None
        concat = re.search(rf"\b{name}_concat\s*=\s*(range\(\s*(\d+)\s*,\s*(\d+)\s*\)|\[[^\]]*\])", text)
        if concat:
            value = (range(int(concat.group(2)), int(concat.group(3))) if concat.group(2) is not None
                     else ast.literal_eval(concat.group(1)))
            _concat(value, f"Genotype {name}_concat")
        cells.append(_cell(pairs, f"Genotype {name}"))
    return cells[0], cells[1]


def parse_json(text) -> tuple[Cell, Cell]:
    """NDS' genotype object (or its JSON text)."""
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError:
        raise InvalidArchitecture("darts-json: not JSON") from None
    if not isinstance(value, dict) or not all(name in value for name in CELLS):
        raise InvalidArchitecture("darts-json: expected an object with normal and reduce lists")
    for name in CELLS:
        _concat(value.get(f"{name}_concat"), f"darts-json {name}_concat")
    return _cell(value["normal"], "darts-json normal"), _cell(value["reduce"], "darts-json reduce")


def parse_compact(text) -> tuple[Cell, Cell]:
    """NASLib's compact form: ((input, op index) x 8, (input, op index) x 8)."""
    try:
        value = json.loads(text) if isinstance(text, str) else text
        cells = [[(NASLIB_OPERATIONS[int(op)], int(index)) for index, op in cell] for cell in value]
    except (json.JSONDecodeError, TypeError, ValueError, IndexError):
        raise InvalidArchitecture("darts-compact: expected two lists of (input, operation index) pairs, "
                                  f"operation indices into {', '.join(NASLIB_OPERATIONS)}") from None
    if len(cells) != 2:
        raise InvalidArchitecture("darts-compact: expected two cells")
    return _cell(cells[0], "darts-compact normal"), _cell(cells[1], "darts-compact reduce")


def parse_nb301(text) -> tuple[Cell, Cell]:
    """NAS-Bench-301's configuration: the chosen edges of each cell by flat edge number."""
    try:
        config = json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError:
        raise InvalidArchitecture("darts-nb301: not JSON") from None
    if not isinstance(config, dict):
        raise InvalidArchitecture("darts-nb301: expected an object of configuration keys")
    cells = []
    for name in CELLS:
        pairs, start = [], 0
        for n in range(NODES):
            chosen = [(config[key], k - start) for k in range(start, start + n + 2)
                      if (key := f"NetworkSelectorDatasetInfo:darts:edge_{name}_{k}") in config]
            if len(chosen) != 2:
                raise InvalidArchitecture(f"darts-nb301: node {n + 2} of the {name} cell has {len(chosen)} edges, not 2")
            stated = config.get(f"NetworkSelectorDatasetInfo:darts:inputs_node_{name}_{n + 2}")
            if stated is not None and stated != "_".join(str(index) for _, index in chosen):
                raise InvalidArchitecture(f"darts-nb301: inputs_node_{name}_{n + 2} says {stated!r}, its edges say "
                                          f"{'_'.join(str(index) for _, index in chosen)}")
            pairs += chosen
            start += n + 2
        cells.append(_cell(pairs, f"darts-nb301 {name}"))
    return cells[0], cells[1]


def _relabellings() -> list[tuple[int, ...]]:
    """Every order of the 4 intermediate nodes, as new label of node 2..5 (checked per cell)."""
    return [tuple(p) for p in itertools.permutations(range(2, 2 + NODES))]


def canonical_cell(cell: Cell) -> Cell:
    """The smallest form of a cell over the relabellings that keep every input earlier than
    its node, each node's two inputs sorted."""
    best = None
    for new in _relabellings():  # new[n - 2]: node n's new label
        label = {0: 0, 1: 1, **{n + 2: new[n] for n in range(NODES)}}
        if any(label[index] >= label[n + 2] for n in range(NODES) for index, _ in cell[n]):
            continue  # an input would come after its node
        relabelled = [None] * NODES
        for n in range(NODES):
            relabelled[label[n + 2] - 2] = tuple(sorted((label[index], op) for index, op in cell[n]))
        candidate = tuple(relabelled)
        if best is None or candidate < best:
            best = candidate
    return best


def genotype_text(normal: Cell, reduce: Cell) -> str:
    """A genotype as DARTS prints it (pairs as (operation, input))."""
    def pairs(cell: Cell) -> str:
        return "[" + ", ".join(f"('{op}', {index})" for node in cell for index, op in node) + "]"

    return (f"Genotype(normal={pairs(normal)}, normal_concat=range(2, 6), "
            f"reduce={pairs(reduce)}, reduce_concat=range(2, 6))")


def _depth(cell: Cell) -> int:
    """Longest path from a cell input to the output, in edges (the concatenation counts none)."""
    longest = {0: 0, 1: 0}
    for n in range(NODES):
        longest[n + 2] = 1 + max(longest[index] for index, _ in cell[n])
    return max(longest[n + 2] for n in range(NODES))


def features(normal: Cell, reduce: Cell) -> dict:
    ops = [op for cell in (normal, reduce) for node in cell for _, op in node]
    return {
        "num_vertices": 2 + NODES + 1, "num_edges": len(ops), "num_output_inputs": NODES,
        "has_input_output_edge": False, "depth": _depth(normal),
        "num_maxpool3x3": ops.count("max_pool_3x3"), "num_avgpool3x3": ops.count("avg_pool_3x3"),
        "num_skip": ops.count("skip_connect"), "num_none": 0,
        "num_sep_conv3x3": ops.count("sep_conv_3x3"), "num_sep_conv5x5": ops.count("sep_conv_5x5"),
        "num_dil_conv5x5": ops.count("dil_conv_5x5"),
    }


def _operation_parameters(op: str, c: int, stride: int) -> int:
    """Weights of one operation of the evaluation network on c channels (affine batch norms)."""
    if op.startswith("sep_conv"):
        k = int(op[-1])
        return 2 * (c * k * k + c * c + 2 * c)  # twice depthwise k x k, pointwise, BN
    if op.startswith("dil_conv"):
        k = int(op[-1])
        return c * k * k + c * c + 2 * c
    if op == "skip_connect" and stride == 2:
        return 2 * c * (c // 2) + 2 * c  # factorized reduction
    return 0  # pools, identity


def evaluation_parameters(normal: Cell, reduce: Cell, channels: int = 36, layers: int = 20,
                          num_classes: int = 10) -> int:
    """Trainable parameters of DARTS' CIFAR evaluation network of a genotype, auxiliary head
    excluded as DARTS' count_parameters_in_MB excludes it (closed form; tests/test_darts_space.py
    checks it against the network itself, trainers/darts.py)."""
    total = 3 * 3 * 3 * (3 * channels) + 2 * 3 * channels  # stem conv and BN
    c_pp = c_p = 3 * channels
    c, reduction_prev = channels, False
    for i in range(layers):
        reduction = i in (layers // 3, 2 * layers // 3)
        c = 2 * c if reduction else c
        total += (2 * c_pp * (c // 2) if reduction_prev else c_pp * c) + 2 * c  # preprocess0
        total += c_p * c + 2 * c  # preprocess1
        for node in (reduce if reduction else normal):
            total += sum(_operation_parameters(op, c, 2 if reduction and index < 2 else 1) for index, op in node)
        reduction_prev = reduction
        c_pp, c_p = c_p, NODES * c
    return total + c_p * num_classes + num_classes


def canonicalize_cells(normal: Cell, reduce: Cell) -> CanonicalArchitecture:
    """The class of a genotype, with the parameter count of its CIFAR-10 evaluation network."""
    normal, reduce = canonical_cell(normal), canonical_cell(reduce)
    text = genotype_text(normal, reduce)
    return CanonicalArchitecture(SEARCH_SPACE, hashlib.md5(text.encode()).hexdigest(), text,
                                 features(normal, reduce), ("FULL",), evaluation_parameters(normal, reduce))


def canonicalize(text: str) -> CanonicalArchitecture:
    """A DARTS Genotype(...) text -> its class."""
    return canonicalize_cells(*parse_genotype(text))


def random_genotype(rng) -> tuple[Cell, Cell]:
    """A uniform draw over raw genotypes as Li and Talwalkar's random search samples them: each
    node two distinct earlier nodes, each through an operation drawn independently."""
    cells = []
    for _ in CELLS:
        pairs = []
        for n in range(NODES):
            for index in sorted(rng.choice(n + 2, size=2, replace=False).tolist()):
                pairs.append((OPERATIONS[int(rng.integers(len(OPERATIONS)))], int(index)))
        cells.append(_cell(pairs, "random genotype"))
    return cells[0], cells[1]


EDGES_PER_CELL = sum(n + 2 for n in range(NODES))  # 14: node n's edges come from nodes 0..n+1, in that order


def derive(weights_normal, weights_reduce) -> tuple[Cell, Cell]:
    """DARTS' rule (Liu et al. 2019, section 2.4): per node, the two incoming edges whose
    strongest operation other than `none` is strongest, each with that operation; ties go to
    the earlier input and to the operation listed first in SEARCH_OPERATIONS. `weights_*` are
    14 x 8 (edges in flat order, SEARCH_OPERATIONS), softmax-ed or not: only the order counts."""
    cells = []
    for what, weights in (("normal", weights_normal), ("reduce", weights_reduce)):
        rows = [list(map(float, row)) for row in weights]
        if len(rows) != EDGES_PER_CELL or any(len(row) != len(SEARCH_OPERATIONS) for row in rows):
            raise InvalidArchitecture(f"{what}: expected {EDGES_PER_CELL} x {len(SEARCH_OPERATIONS)} weights")
        pairs, start = [], 0
        for n in range(NODES):
            edges = rows[start:start + n + 2]
            best = [max(range(1, len(SEARCH_OPERATIONS)), key=lambda o, row=row: (row[o], -o)) for row in edges]
            strongest = sorted(range(n + 2), key=lambda i: (-edges[i][best[i]], i))[:2]
            pairs += [(SEARCH_OPERATIONS[best[i]], i) for i in sorted(strongest)]
            start += n + 2
        cells.append(_cell(pairs, f"derived {what}"))
    return cells[0], cells[1]
