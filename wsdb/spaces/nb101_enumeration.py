"""Enumerating every NAS-Bench-101 class (423,624), as the benchmark's authors did.

The official generator walks all matrices of 2..7 vertices, keeps "full" DAGs (every
vertex but the output has an out-edge, every vertex but the input an in-edge: exactly the
cells that pruning leaves unchanged) of at most 9 edges, labels the intermediate vertices
in every way and keeps one cell per module hash. Labelled classes on non-isomorphic
skeletons are distinct, so we first keep one skeleton per isomorphism class (by the hash of
its uniformly labelled cell) and only then label: each class is hashed about once instead
of once per vertex ordering.
"""

from __future__ import annotations

import itertools
import os

from wsdb.base.processes import multiprocessing_pool
from wsdb.spaces import nb101
from wsdb.spaces.canonical import CanonicalArchitecture


def full_dags(num_vertices: int):
    """Strictly upper-triangular matrices with <= MAX_EDGES edges and no dangling vertex."""
    n = num_vertices
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    for num_edges in range(n - 1, min(nb101.MAX_EDGES, len(pairs)) + 1):
        for edges in itertools.combinations(pairs, num_edges):
            has_out = {i for i, _ in edges}
            has_in = {j for _, j in edges}
            if len(has_out) == n - 1 and len(has_in) == n - 1:
                matrix = [[0] * n for _ in range(n)]
                for i, j in edges:
                    matrix[i][j] = 1
                yield tuple(map(tuple, matrix))


def unique_skeletons(matrices) -> list[nb101.Matrix]:
    """One matrix per isomorphism class of unlabelled skeletons (pruned cells' matrices)."""
    unique = {}
    for matrix in matrices:
        n = len(matrix)
        uniform_ops = (nb101.INPUT,) + (nb101.CONV3X3,) * (n - 2) + (nb101.OUTPUT,)
        unique.setdefault(nb101.module_hash(matrix, uniform_ops), matrix)
    return list(unique.values())


def skeletons() -> list[nb101.Matrix]:
    """One full DAG per isomorphism class of unlabelled skeletons."""
    return unique_skeletons(m for n in range(2, nb101.MAX_VERTICES + 1) for m in full_dags(n))


def _classes_of(matrix: nb101.Matrix) -> list[CanonicalArchitecture]:
    n = len(matrix)
    found = {}
    for labels in itertools.product(nb101.OPERATIONS, repeat=n - 2):
        ops = (nb101.INPUT, *labels, nb101.OUTPUT)
        hashes = nb101.vertex_hashes(matrix, ops)
        key = nb101._md5(str(sorted(hashes)))
        if key not in found:
            found[key] = nb101.canonicalize_pruned(matrix, ops, hashes)
    return list(found.values())


def classes_of_skeletons(shapes: list[nb101.Matrix], workers: int | None = None) -> list[CanonicalArchitecture]:
    """Every class that labels one of these (pairwise non-isomorphic) skeletons, sorted by key."""
    workers = min(workers or os.cpu_count() or 1, max(1, len(shapes) // 16))
    if workers == 1:
        batches = map(_classes_of, shapes)
    else:
        pool = multiprocessing_pool(workers)
        batches = pool.imap(_classes_of, shapes, chunksize=16)
    classes = {}
    for batch in batches:
        for arch in batch:
            classes.setdefault(arch.canonical_key, arch)
    if workers != 1:
        pool.close()
        pool.join()
    return sorted(classes.values(), key=lambda a: a.canonical_key)


def all_classes(workers: int | None = None) -> list[CanonicalArchitecture]:
    """Every class of the space, in a deterministic order."""
    return classes_of_skeletons(skeletons(), workers)
