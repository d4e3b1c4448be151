"""The DARTS search space's identities: the canonical form against a brute-force equivalence
on random genotypes, every encoding of one genotype giving one class, refusals."""

from __future__ import annotations

import itertools
import json
import re

import numpy as np
import pytest

from wsdb.base.errors import InvalidArchitecture
from wsdb.spaces import darts

DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
            "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
            "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
            "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")


def _equivalent(a, b) -> bool:
    """Brute force, independent of the canonical form: some bijection of the intermediate
    nodes maps every node of `a` to a node of `b` with the same multiset of (mapped input,
    operation) pairs."""
    for image in itertools.permutations(range(2, 6)):
        label = {0: 0, 1: 1, **{n + 2: image[n] for n in range(4)}}
        if all(sorted((label[i], op) for i, op in a[n]) == sorted(b[label[n + 2] - 2]) for n in range(4)):
            return True
    return False


def _shuffled(cell, rng):
    """The same cell written otherwise: nodes relabelled in a random order that keeps inputs
    earlier, each node's two inputs in a random order."""
    orders = []
    for image in itertools.permutations(range(2, 6)):
        label = {0: 0, 1: 1, **{n + 2: image[n] for n in range(4)}}
        if all(label[i] < label[n + 2] for n in range(4) for i, _ in cell[n]):
            orders.append(label)
    label = orders[int(rng.integers(len(orders)))]
    nodes = [None] * 4
    for n in range(4):
        pair = [(label[i], op) for i, op in cell[n]]
        if rng.random() < 0.5:
            pair.reverse()
        nodes[label[n + 2] - 2] = tuple(pair)
    return tuple(nodes)


def test_the_canonical_form_is_exactly_the_brute_force_equivalence():
    """Cells of few operations and many shared inputs, so that classes collide: the canonical
    cells of two genotypes are equal iff the brute force finds them equivalent."""
    rng = np.random.default_rng(0)
    cells = []
    for _ in range(60):
        pairs = [(["skip_connect", "sep_conv_3x3"][int(rng.integers(2))], int(rng.integers(n + 2)))
                 for n in range(4) for _ in range(2)]
        cell = darts._cell(pairs, "test")
        cells += [cell, _shuffled(cell, rng), _shuffled(cell, rng)]
    canonical = [darts.canonical_cell(c) for c in cells]
    for (i, a), (j, b) in itertools.combinations(enumerate(cells), 2):
        assert (canonical[i] == canonical[j]) == _equivalent(a, b), (a, b)
    assert len(set(canonical)) < len(cells) // 2  # relabelled writings found their class


def test_random_genotypes_written_otherwise_keep_their_key():
    rng = np.random.default_rng(1)
    keys = set()
    for _ in range(200):
        normal, reduce = darts.random_genotype(rng)
        key = darts.canonicalize_cells(normal, reduce).canonical_key
        assert darts.canonicalize_cells(_shuffled(normal, rng), _shuffled(reduce, rng)).canonical_key == key
        assert all(len({i for i, _ in node}) == 2 for node in normal + reduce)  # two distinct inputs a node
        keys.add(key)
    assert len(keys) == 200  # ~10^18 classes a cell: random draws do not collide


def test_every_encoding_of_one_genotype_is_one_class():
    arch = darts.canonicalize(DARTS_V2)
    normal, reduce = darts.parse_genotype(DARTS_V2)
    pairs = {name: [[op, i] for node in cell for i, op in node] for name, cell in (("normal", normal), ("reduce", reduce))}
    as_json = json.dumps({**pairs, "normal_concat": [2, 3, 4, 5], "reduce_concat": [2, 3, 4, 5]})
    compact = json.dumps([[[i, darts.NASLIB_OPERATIONS.index(op)] for node in cell for i, op in node]
                          for cell in (normal, reduce)])
    nb301 = {}
    for name, cell in (("normal", normal), ("reduce", reduce)):
        start = 0
        for n, node in enumerate(cell):
            for i, op in node:
                nb301[f"NetworkSelectorDatasetInfo:darts:edge_{name}_{start + i}"] = op
            start += n + 2
    for cells in (darts.parse_json(as_json), darts.parse_compact(compact), darts.parse_nb301(json.dumps(nb301))):
        assert darts.canonicalize_cells(*cells) == arch
    again = darts.canonicalize(arch.canonical_encoding)  # the canonical text reads back to itself
    assert again.canonical_encoding == arch.canonical_encoding and len(arch.canonical_key) == 32
    assert arch.features["num_skip"] == 5 and arch.features["num_maxpool3x3"] == 5 and arch.features["depth"] == 2


@pytest.mark.parametrize("text, message", [
    ("Genotype(normal=[('sep_conv_3x3', 0)], reduce=[])", "expected 8"),
    (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"), "node 5 takes input 5"),
    (DARTS_V2.replace("dil_conv_3x3", "conv_7x1_1x7"), "unknown operation 'conv_7x1_1x7'"),
    (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[4, 5]"), "concatenates nodes 2..5"),
    ("__import__('os').system('true')", "not a DARTS Genotype"),
    ("Genotype(normal=[__import__('os')], reduce=[])", "not a list of (operation, input) pairs"),
])
def test_bad_genotypes_are_refused_with_what_is_wrong(text, message):
    with pytest.raises(InvalidArchitecture, match=re.escape(message)):
        darts.canonicalize(text)


def test_the_derived_genotype_follows_darts_rule():
    """Per node the 2 edges whose best non-none weight is largest, with that operation; `none`
    never chosen even where it weighs most; computed by hand on random weights."""
    rng = np.random.default_rng(3)
    weights = [rng.normal(size=(14, 8)) for _ in range(2)]
    weights[0][:, 0] = 10.0  # none dominates every edge of the normal cell: still excluded
    derived = darts.derive(*weights)
    for cell, w in zip(derived, weights):
        start = 0
        for n in range(4):
            block = w[start:start + n + 2, 1:]
            strength = block.max(axis=1)
            chosen = sorted(np.argsort(-strength, kind="stable")[:2].tolist())
            assert [i for i, _ in cell[n]] == chosen
            assert [op for _, op in cell[n]] == [darts.OPERATIONS[int(block[i].argmax())] for i in chosen]
            start += n + 2
    with pytest.raises(InvalidArchitecture, match="expected 14 x 8"):
        darts.derive(np.zeros((13, 8)), np.zeros((14, 8)))


# The architecture keys of a real NAS-Bench-301 / Auto-PyTorch configuration (from the DARTS
# network test of an Auto-PyTorch checkout; training keys left out).
REAL_NB301_CONFIG = {
    "NetworkSelectorDatasetInfo:darts:edge_normal_0": "max_pool_3x3",
    "NetworkSelectorDatasetInfo:darts:edge_normal_1": "sep_conv_5x5",
    "NetworkSelectorDatasetInfo:darts:edge_reduce_0": "dil_conv_5x5",
    "NetworkSelectorDatasetInfo:darts:edge_reduce_1": "sep_conv_3x3",
    "NetworkSelectorDatasetInfo:darts:inputs_node_normal_3": "0_1",
    "NetworkSelectorDatasetInfo:darts:inputs_node_normal_4": "0_1",
    "NetworkSelectorDatasetInfo:darts:inputs_node_normal_5": "2_3",
    "NetworkSelectorDatasetInfo:darts:inputs_node_reduce_3": "0_1",
    "NetworkSelectorDatasetInfo:darts:inputs_node_reduce_4": "0_2",
    "NetworkSelectorDatasetInfo:darts:inputs_node_reduce_5": "1_3",
    "NetworkSelectorDatasetInfo:darts:edge_normal_11": "dil_conv_3x3",
    "NetworkSelectorDatasetInfo:darts:edge_normal_12": "skip_connect",
    "NetworkSelectorDatasetInfo:darts:edge_normal_2": "avg_pool_3x3",
    "NetworkSelectorDatasetInfo:darts:edge_normal_3": "avg_pool_3x3",
    "NetworkSelectorDatasetInfo:darts:edge_normal_5": "avg_pool_3x3",
    "NetworkSelectorDatasetInfo:darts:edge_normal_6": "avg_pool_3x3",
    "NetworkSelectorDatasetInfo:darts:edge_reduce_10": "max_pool_3x3",
    "NetworkSelectorDatasetInfo:darts:edge_reduce_12": "dil_conv_3x3",
    "NetworkSelectorDatasetInfo:darts:edge_reduce_2": "max_pool_3x3",
    "NetworkSelectorDatasetInfo:darts:edge_reduce_3": "max_pool_3x3",
    "NetworkSelectorDatasetInfo:darts:edge_reduce_5": "dil_conv_5x5",
    "NetworkSelectorDatasetInfo:darts:edge_reduce_7": "avg_pool_3x3",
}


def test_a_real_nb301_configuration_reads_as_its_genotype():
    normal, reduce = darts.parse_nb301(json.dumps(REAL_NB301_CONFIG))
    assert normal == (((0, "max_pool_3x3"), (1, "sep_conv_5x5")), ((0, "avg_pool_3x3"), (1, "avg_pool_3x3")),
                      ((0, "avg_pool_3x3"), (1, "avg_pool_3x3")), ((2, "dil_conv_3x3"), (3, "skip_connect")))
    assert reduce == (((0, "dil_conv_5x5"), (1, "sep_conv_3x3")), ((0, "max_pool_3x3"), (1, "max_pool_3x3")),
                      ((0, "dil_conv_5x5"), (2, "avg_pool_3x3")), ((1, "max_pool_3x3"), (3, "dil_conv_3x3")))
    disagreeing = {**REAL_NB301_CONFIG, "NetworkSelectorDatasetInfo:darts:inputs_node_normal_5": "1_3"}
    with pytest.raises(InvalidArchitecture, match="inputs_node_normal_5"):
        darts.parse_nb301(json.dumps(disagreeing))
