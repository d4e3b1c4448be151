"""A vectorized NB101 class fingerprint.

The NB101 ingest meets hundreds of thousands of raw cells (7x7 matrices with dangling
vertices) and must find each one's class among those stored. The official md5 hash costs
~70 us per cell in Python, so this module computes, for a whole batch of cells at once with numpy:
  1. validity (at most 9 edges as given, input and output connected after pruning),
  2. pruning (vertices on an input->output path: nb101_codes.kept_vertices),
  3. a 64-bit Weisfeiler-Lehman fingerprint of the pruned cell: initial labels from
     (out-degree, in-degree, operation) as the official hash, 7 rounds that mix each vertex's
     value with the sums of mixed in- and out-neighbour values (sums: order-free, as the
     official hash's sorted concatenations), and a sum over the kept vertices.
Isomorphic cells get equal fingerprints by construction; refinement separates classes as the
official hash does, so equal fingerprints mean one class up to 64-bit collisions, which
`FingerprintIndex` rules out among the classes it indexes (it refuses to build otherwise).
"""

from __future__ import annotations

import numpy as np

from wsdb.spaces import nb101
from wsdb.spaces.nb101_codes import VERTICES, codes_of, encode_canonical, kept_vertices


_SHIFTS = (np.uint64(30), np.uint64(27), np.uint64(31))
_FACTORS = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: a bijective scrambling of 64-bit values (uint64 arrays wrap
    silently; the callers' errstate covers scalars)."""
    x = x.astype(np.uint64, copy=True)
    x ^= x >> _SHIFTS[0]
    x *= _FACTORS[0]
    x ^= x >> _SHIFTS[1]
    x *= _FACTORS[1]
    x ^= x >> _SHIFTS[2]
    return x


def prune_mask(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(kept vertices (B, 7) bool, valid (B,) bool) for a batch of upper-triangular matrices."""
    codes = codes_of(matrices)
    kept = kept_vertices(codes)
    valid = kept[:, 0] & kept[:, -1] & (np.bitwise_count(codes) <= nb101.MAX_EDGES)
    return kept, valid


def fingerprints(matrices: np.ndarray, op_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fingerprint (B,) uint64, valid (B,) bool) of raw cells.

    matrices: (B, 7, 7) 0/1, strictly upper-triangular; op_codes: (B, 5) codes of the
    intermediate vertices (0 conv3x3, 1 conv1x1, 2 maxpool3x3).
    """
    kept, valid = prune_mask(matrices)
    adjacency = matrices.astype(np.uint64) * kept[:, :, None] * kept[:, None, :]
    out_degree = adjacency.sum(axis=2)
    in_degree = adjacency.sum(axis=1)
    labels = np.empty((matrices.shape[0], VERTICES), dtype=np.int64)
    labels[:, 0], labels[:, -1] = -1, -2
    labels[:, 1:-1] = op_codes
    with np.errstate(over="ignore"):
        value = _mix((out_degree * np.uint64(64) + in_degree) * np.uint64(8) + (labels + 2).astype(np.uint64))
        for _ in range(VERTICES):
            mixed_in = _mix(value)
            mixed_out = _mix(value ^ np.uint64(0xC2B2AE3D27D4EB4F))
            from_predecessors = np.einsum("buv,bu->bv", adjacency, mixed_in)
            from_successors = np.einsum("buv,bv->bu", adjacency, mixed_out)
            value = _mix(value * np.uint64(0x100000001B3) + from_predecessors * np.uint64(0x9E3779B97F4A7C15)
                         + (from_successors ^ (from_successors >> np.uint64(29))))
        value = np.where(kept, _mix(value), np.uint64(0))
        fingerprint = _mix(value.sum(axis=1) + kept.sum(axis=1).astype(np.uint64))
    return fingerprint, valid


class FingerprintIndex:
    """fingerprint -> architecture id over a set of classes, looked up with searchsorted."""

    def __init__(self, canonical_encodings: list[str], architecture_ids: list[int]):
        keys, valid = fingerprints(*encode_canonical(canonical_encodings))
        if not valid.all():
            raise ValueError("a stored canonical encoding is not a valid NB101 cell")
        order = np.argsort(keys)
        self.keys = keys[order]
        self.ids = np.asarray(architecture_ids, dtype=np.int64)[order]
        if len(self.keys) > 1 and (np.diff(self.keys) == 0).any():
            raise ValueError("fingerprint collision between two classes: cannot index them")

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Architecture ids, -1 where the fingerprint is not indexed."""
        position = np.clip(np.searchsorted(self.keys, keys), 0, len(self.keys) - 1)
        found = self.keys[position] == keys
        return np.where(found, self.ids[position], -1)
