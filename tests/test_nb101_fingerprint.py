"""The vectorized NB101 fingerprint agrees with the official hash on which cells are one class."""

import random

import numpy as np
import pyarrow.parquet as pq
import pytest

from wsdb.spaces import nb101
from wsdb.spaces.nb101_codes import encode_cells
from wsdb.spaces.nb101_fingerprint import FingerprintIndex, fingerprints


def random_cells(count, seed):
    rng = random.Random(seed)
    cells = []
    for _ in range(count):
        n = rng.choice([5, 6, 7, 7, 7])
        matrix = [[int(j > i and rng.random() < 0.45) for j in range(n)] for i in range(n)]
        cells.append((matrix, ["input"] + [rng.choice(nb101.OPERATIONS) for _ in range(n - 2)] + ["output"]))
    return cells


def official_key(cell):
    try:
        return nb101.canonicalize(*cell).canonical_key
    except nb101.InvalidArchitecture:
        return None


def test_validity_and_class_agree_with_the_official_hash(shared_data):
    rows = pq.read_table(shared_data / "nb101/archs_151644.parquet").to_pylist()
    published = random.Random(2).sample(rows, 3000)
    index = FingerprintIndex([nb101.canonicalize(nb101.parse_matrix(r["adjacency"]), r["operations"].split(",")).canonical_encoding
                              for r in published], list(range(3000)))
    hash_to_id = {r["module_hash"]: i for i, r in enumerate(published)}
    cells = random_cells(6000, seed=3)
    # plus renumbered, unpruned copies of indexed cells: they must be found
    for r in published[:500]:
        matrix = nb101.parse_matrix(r["adjacency"])
        cells.append((matrix, r["operations"].split(",")))
    keys, valid = fingerprints(*encode_cells(cells))
    ids = index.lookup(keys)
    found = 0
    for cell, is_valid, arch_id in zip(cells, valid, ids):
        key = official_key(cell)
        assert (key is not None) == bool(is_valid), cell
        if key is not None:
            assert hash_to_id.get(key, -1) == arch_id, cell
            found += arch_id >= 0
    assert found >= 500


@pytest.mark.slow
def test_no_two_nb101_classes_share_a_fingerprint(all_nb101_classes):
    classes = all_nb101_classes
    FingerprintIndex([a.canonical_encoding for a in classes], list(range(len(classes))))  # raises on a collision


def test_fingerprint_is_invariant_under_renumbering_and_dangling_vertices():
    matrix = [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
    ops = ["input", "conv3x3-bn-relu", "maxpool3x3", "output"]
    swapped = ([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], ["input", "maxpool3x3", "conv3x3-bn-relu", "output"])
    dangling = ([[0, 1, 1, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],
                ["input", "conv3x3-bn-relu", "maxpool3x3", "conv1x1-bn-relu", "output"])
    keys, valid = fingerprints(*encode_cells([(matrix, ops), swapped, dangling]))
    assert valid.all() and keys[0] == keys[1] == keys[2]
    other, _ = fingerprints(*encode_cells([(matrix, ["input", "conv3x3-bn-relu", "conv3x3-bn-relu", "output"])]))
    assert other[0] != keys[0]
    assert isinstance(keys[0], np.uint64)
