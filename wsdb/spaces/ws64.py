"""The 64-architecture space of Zhang et al. 2020, Deeper Insights into Weight Sharing in NAS.

A DARTS-like cell with two intermediate nodes and three edges O(0,1), O(0,2), O(1,2), each
one of four operations. Architectures are named by three digits 1-4 (the operation of each
edge, in that order): 111 ... 444. arch_index = 16a + 4b + c for digits (a+1)(b+1)(c+1).
All 64 are distinct, so the label is the canonical key.
"""

from __future__ import annotations

from wsdb.base.errors import InvalidArchitecture
from wsdb.spaces.canonical import CanonicalArchitecture

SEARCH_SPACE = "ws64"
OPERATIONS = ("max_pool_3x3", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_5x5")
EDGES = ((0, 1), (0, 2), (1, 2))
NUM_ARCHITECTURES = len(OPERATIONS) ** len(EDGES)
SUBSPACES = {"FULL": "all 64 architectures"}


def label_of_index(index: int) -> str:
    if not 0 <= index < NUM_ARCHITECTURES:
        raise InvalidArchitecture(f"ws64 arch index {index} is out of range 0..{NUM_ARCHITECTURES - 1}")
    return f"{index // 16 + 1}{index // 4 % 4 + 1}{index % 4 + 1}"


def index_of_label(label: str) -> int:
    ops = parse_label(label)
    a, b, c = (OPERATIONS.index(op) for op in ops)
    return 16 * a + 4 * b + c


def parse_label(label: str) -> tuple[str, ...]:
    label = str(label).strip()
    if len(label) != 3 or any(ch not in "1234" for ch in label):
        raise InvalidArchitecture(f"ws64 labels are three digits 1-4 (111..444), got {label!r}")
    return tuple(OPERATIONS[int(ch) - 1] for ch in label)


def all_labels() -> list[str]:
    return [label_of_index(i) for i in range(NUM_ARCHITECTURES)]


def features(ops: tuple[str, ...]) -> dict:
    return {
        "num_vertices": 4,  # input, two intermediate nodes, output (sum)
        "num_edges": len(EDGES),
        "num_output_inputs": 2,
        "has_input_output_edge": False,
        "depth": 2,
        "num_maxpool3x3": ops.count("max_pool_3x3"),
        "num_sep_conv3x3": ops.count("sep_conv_3x3"),
        "num_sep_conv5x5": ops.count("sep_conv_5x5"),
        "num_dil_conv5x5": ops.count("dil_conv_5x5"),
    }


def canonicalize(label: str) -> CanonicalArchitecture:
    ops = parse_label(label)
    return CanonicalArchitecture(
        search_space=SEARCH_SPACE,
        canonical_key=str(label).strip(),
        canonical_encoding=str(label).strip(),
        features=features(ops),
        subspaces=("FULL",),
    )


GROUPINGS = ("similarity", "random")


def groups(m: int, grouping: str, seed: int = 0) -> list[list[str]]:
    """The 64 labels split into m equal groups (Zhang et al. 2020, Deeper Insights, section 4.2):
    `similarity` slices the lexicographic order 111..444 (m = 8: 111-124, 131-144, ...);
    `random` is a seeded uniform partition (numpy PCG64), the same for every run of that seed."""
    if m < 1 or NUM_ARCHITECTURES % m:
        raise InvalidArchitecture(f"{m} groups do not split the {NUM_ARCHITECTURES} architectures evenly: "
                                  "use a divisor of 64 (1, 2, 4, 8, 16, 32, 64)")
    if grouping not in GROUPINGS:
        raise InvalidArchitecture(f"grouping must be one of {', '.join(GROUPINGS)}, not {grouping!r}")
    import numpy as np

    labels = all_labels()
    if grouping == "random":
        labels = [labels[i] for i in np.random.Generator(np.random.PCG64(seed)).permutation(NUM_ARCHITECTURES)]
    size = NUM_ARCHITECTURES // m
    return sorted(sorted(labels[k * size:(k + 1) * size]) for k in range(m))
