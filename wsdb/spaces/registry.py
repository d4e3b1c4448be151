"""One interface over the search spaces: raw encodings in, canonical architectures out.

Encoding kinds name the raw forms a user or a benchmark file uses; they are also the
`encoding_kind` values of the `architecture_encodings` table.
"""

from __future__ import annotations

from dataclasses import dataclass

from wsdb.base.errors import InvalidArchitecture
from wsdb.spaces import darts, nb101, nb201, ws64
from wsdb.spaces.canonical import CanonicalArchitecture


@dataclass(frozen=True)
class SearchSpace:
    name: str
    description: str
    canonical_key_kind: str
    num_architectures: int | None  # canonical classes in the whole space; None: never enumerated
    subspaces: dict[str, str]

    @property
    def enumerable(self) -> bool:
        return self.num_architectures is not None


SEARCH_SPACES = {
    "nb101": SearchSpace(
        "nb101",
        "NAS-Bench-101 cells (Ying et al. 2019): DAGs of <= 7 vertices and <= 9 edges, "
        "3 operations, CIFAR-10",
        "official module hash (md5 of the pruned cell)",
        423_624,
        nb101.SUBSPACES,
    ),
    "nb201": SearchSpace(
        "nb201",
        "NAS-Bench-201 / NATS-Bench topology cells (Dong & Yang 2020): 6 edges, 5 operations",
        "NATS unique string (to_unique_str with consider_zero)",
        6_466,
        nb201.SUBSPACES,
    ),
    "ws64": SearchSpace(
        "ws64",
        "the 64-architecture space of Zhang et al. 2020 (Deeper Insights into Weight Sharing)",
        "three-digit label 111..444",
        ws64.NUM_ARCHITECTURES,
        ws64.SUBSPACES,
    ),
    "darts": SearchSpace(
        "darts",
        "DARTS CNN cells (Liu, Simonyan, Yang 2019): a normal and a reduction cell, 4 nodes of 2 inputs each, "
        "7 operations, CIFAR-10",
        "md5 of the canonical Genotype(...) text (node inputs unordered, nodes relabelled)",
        None,
        darts.SUBSPACES,
    ),
}

# encoding kind -> (search space, function from the raw text to its class)
ENCODING_KINDS = {
    "nb101-cell": ("nb101", lambda text: nb101.canonicalize(*nb101.decode(text))),
    "nb201-arch-str": ("nb201", nb201.canonicalize),
    "nb201-index": ("nb201", lambda text: nb201.canonicalize(nb201.arch_str_of_index(_int(text, "NB201 index")))),
    "ws64-label": ("ws64", ws64.canonicalize),
    "ws64-index": ("ws64", lambda text: ws64.canonicalize(ws64.label_of_index(_int(text, "ws64 index")))),
    "darts-genotype": ("darts", darts.canonicalize),
    "darts-json": ("darts", lambda text: darts.canonicalize_cells(*darts.parse_json(text))),
    "darts-compact": ("darts", lambda text: darts.canonicalize_cells(*darts.parse_compact(text))),
    "darts-nb301": ("darts", lambda text: darts.canonicalize_cells(*darts.parse_nb301(text))),
}


# the encoding kind of each space's canonical encodings (a stored class back to its class)
CANONICAL_ENCODING_KIND = {"nb101": "nb101-cell", "nb201": "nb201-arch-str", "ws64": "ws64-label",
                           "darts": "darts-genotype"}


def _int(text: str, what: str) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise InvalidArchitecture(f"{what} must be an integer, got {text!r}") from None


def get_space(name: str) -> SearchSpace:
    try:
        return SEARCH_SPACES[name]
    except KeyError:
        raise InvalidArchitecture(
            f"unknown search space {name!r}; known: {', '.join(SEARCH_SPACES)}"
        ) from None


def canonicalize(encoding_kind: str, text: str) -> CanonicalArchitecture:
    """Any raw encoding of a known kind -> its canonical architecture."""
    try:
        _, to_class = ENCODING_KINDS[encoding_kind]
    except KeyError:
        raise InvalidArchitecture(
            f"unknown encoding kind {encoding_kind!r}; known: {', '.join(ENCODING_KINDS)}"
        ) from None
    return to_class(text)


def from_options(space: str | None, matrix: str | None = None, ops: str | None = None, arch_str: str | None = None,
                 index: int | None = None, label: str | None = None, genotype: str | None = None) -> CanonicalArchitecture:
    """The architecture a command line describes: nb101 --matrix and --ops, nb201 --arch-str
    or --index, ws64 --label or --index, darts --genotype (DARTS' Genotype(...) text)."""
    if space is None:
        raise InvalidArchitecture("give --space (nb101, nb201, ws64 or darts) and the architecture")
    get_space(space)
    given = {"matrix": matrix, "ops": ops, "arch-str": arch_str, "index": index, "label": label, "genotype": genotype}
    allowed = {"nb101": {"matrix", "ops"}, "nb201": {"arch-str", "index"}, "ws64": {"label", "index"},
               "darts": {"genotype"}}[space]
    extra = [f"--{k}" for k, v in given.items() if v is not None and k not in allowed]
    if extra:
        raise InvalidArchitecture(f"{', '.join(extra)} do not apply to --space {space}")
    if space == "nb101":
        if matrix is None or ops is None:
            raise InvalidArchitecture("--space nb101 needs --matrix and --ops")
        return nb101.canonicalize(nb101.parse_matrix(matrix), nb101.parse_ops(ops))
    if space == "darts":
        if genotype is None:
            raise InvalidArchitecture("--space darts needs --genotype \"Genotype(normal=[...], reduce=[...], ...)\"")
        return darts.canonicalize(genotype)
    if space == "nb201":
        if (arch_str is None) == (index is None):
            raise InvalidArchitecture("--space nb201 needs exactly one of --arch-str and --index")
        return canonicalize("nb201-arch-str", arch_str) if arch_str else canonicalize("nb201-index", str(index))
    if (label is None) == (index is None):
        raise InvalidArchitecture("--space ws64 needs exactly one of --label and --index")
    return canonicalize("ws64-label", label) if label else canonicalize("ws64-index", str(index))


def listing() -> list[dict]:
    """Every search space's predicate sub-spaces, as wsdb defines them (no warehouse needed;
    `wsdb.warehouse.subspaces.listing` adds the constructions and what a warehouse materialised)."""
    return [
        {"search_space": space.name, "name": name, "kind": "predicate",
         "members": space.num_architectures if name == "FULL" else None, "cells": None, "parent": None,
         "description": description}
        for space in SEARCH_SPACES.values() for name, description in space.subspaces.items()
    ]
