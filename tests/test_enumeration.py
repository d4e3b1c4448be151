"""Enumeration of the NB101 space. The full check (423,624 classes, ~35 s on 2 cores) is
marked slow: `make test-slow`; bench/enumerate_nb101.py reports its time."""

import csv

import pytest

from wsdb.spaces import nb101, nb101_enumeration


def test_full_dags_are_exactly_the_cells_pruning_leaves_unchanged():
    for n in (2, 3, 4, 5):
        for matrix in nb101_enumeration.full_dags(n):
            ops = ("input",) + ("maxpool3x3",) * (n - 2) + ("output",)
            assert nb101.prune(matrix, ops) == (matrix, ops)


def test_small_skeletons_give_classes_whose_encodings_round_trip():
    small = [m for m in nb101_enumeration.skeletons() if len(m) <= 5]
    classes = [arch for matrix in small for arch in nb101_enumeration._classes_of(matrix)]
    assert len({a.canonical_key for a in classes}) == len(classes)
    for arch in classes:
        assert nb101.canonicalize(*nb101.decode(arch.canonical_encoding)).canonical_key == arch.canonical_key


@pytest.mark.slow
def test_enumeration_gives_423624_classes_and_the_official_smallest_hashes(shared_data, all_nb101_classes):
    keys = [arch.canonical_key for arch in all_nb101_classes]
    assert len(keys) == 423_624
    with open(shared_data / "nb101/official_hashes_sorted_first6668.csv") as f:
        official = [row["module_hash"] for row in csv.DictReader(f)]
    assert keys[: len(official)] == official
