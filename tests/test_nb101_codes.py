"""NB101 raw cells by 21-bit code: validity and class by table agree with the official
algorithm (wsdb.spaces.nb101), on random cells and on every class (slow)."""

import random

import numpy as np
import pyarrow.parquet as pq
import pytest

from wsdb.spaces import nb101
from wsdb.spaces.nb101_codes import (
    ASSIGNMENTS,
    CellClasses,
    assignments_of,
    codes_of,
    kept_vertices,
    matrices_of,
    topologies,
)
from wsdb.spaces.nb101_codes import OP_CODES, encode_cells

NAMES = {code: op for op, code in OP_CODES.items()}


def official(code, op_codes):
    """The official class key of a raw 7-vertex cell, None where invalid."""
    matrix = matrices_of(np.array([code]))[0].tolist()
    try:
        return nb101.canonicalize(matrix, ["input", *(NAMES[c] for c in op_codes), "output"]).canonical_key
    except nb101.InvalidArchitecture:
        return None


def test_codes_round_trip_and_kept_vertices_match_pruning():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 1 << 21, 3000)
    assert (codes_of(matrices_of(codes)) == codes).all()
    kept = kept_vertices(codes)
    for code, row in zip(codes[:300], kept[:300]):
        matrix = tuple(map(tuple, matrices_of(np.array([code]))[0].tolist()))
        if row[0] and row[-1] and bin(code).count("1") <= nb101.MAX_EDGES:
            pruned, _ = nb101.prune(matrix, ("input",) + ("conv3x3-bn-relu",) * 5 + ("output",))
            assert len(pruned) == row.sum()


def test_validity_and_class_by_table_agree_with_the_official_hash(shared_data):
    rows = pq.read_table(shared_data / "nb101/archs_151644.parquet").to_pylist()
    published = random.Random(5).sample(rows, 4000)
    classes = CellClasses([nb101.canonicalize(nb101.parse_matrix(r["adjacency"]), r["operations"].split(",")).canonical_encoding
                           for r in published])
    row_of_hash = {r["module_hash"]: i for i, r in enumerate(published)}
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 1 << 21, 6000)
    op_codes = rng.integers(0, 3, (6000, 5))
    # plus every published cell as given (renumbered and unpruned cells among them): all found
    matrices, published_ops = encode_cells([(nb101.parse_matrix(r["adjacency"]), r["operations"].split(","))
                                            for r in published[:1000]])
    codes, op_codes = np.concatenate([codes, codes_of(matrices)]), np.concatenate([op_codes, published_ops])
    valid = classes.valid[codes]
    found = np.full(len(codes), -1)
    found[valid] = classes.lookup(codes[valid], op_codes[valid])
    for code, ops, is_valid, row in zip(codes, op_codes, valid, found):
        key = official(code, ops)
        assert (key is not None) == bool(is_valid), code
        if key is not None:
            assert row_of_hash.get(key, -1) == row, (code, ops)
    assert (found[-1000:] == np.arange(1000)).all()


def test_relabelled_by_an_automorphism_is_the_same_class():
    # input -> {1, 2} -> output with both intermediate vertices alike: swapping their
    # operations is an automorphism; a third operation on a chain is not
    matrix = [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
    stored = nb101.canonicalize(matrix, ["input", "conv3x3-bn-relu", "maxpool3x3", "output"]).canonical_encoding
    classes = CellClasses([stored])
    cells = [(matrix, ["input", "maxpool3x3", "conv3x3-bn-relu", "output"]),
             (matrix, ["input", "conv3x3-bn-relu", "maxpool3x3", "output"]),
             (matrix, ["input", "conv3x3-bn-relu", "conv3x3-bn-relu", "output"])]
    matrices, op_codes = encode_cells(cells)
    assert classes.lookup(codes_of(matrices), op_codes).tolist() == [0, 0, -1]
    with pytest.raises(ValueError, match="one NB101 class"):
        CellClasses([stored, nb101.canonicalize(*cells[0]).canonical_encoding])  # the same class twice
    assert ASSIGNMENTS == 243 and len(assignments_of(op_codes)) == 3


@pytest.mark.slow
def test_every_valid_cell_is_one_of_the_423624_classes(all_nb101_classes):
    every = all_nb101_classes
    classes = CellClasses([a.canonical_encoding for a in every])   # raises if two were one class
    entry_of_code, automorphisms = topologies()
    representatives = np.unique(entry_of_code[entry_of_code >= 0] & 0xFFFF, return_index=True)[1]
    # every assignment of every topology's kept vertices names a stored class
    for code in np.flatnonzero(entry_of_code >= 0)[representatives]:
        kept = int(kept_vertices(np.array([code]))[0, 1:-1].sum())
        assert (classes.rows[entry_of_code[code] & 0xFFFF, : 3 ** kept] >= 0).all(), code
    assert len(np.unique(classes.rows[classes.rows >= 0])) == len(every) == 423_624
