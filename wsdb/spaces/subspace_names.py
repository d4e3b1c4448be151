"""The names of sub-spaces wsdb can define, as pure functions on names: the built-in
constructions (NAS-Bench-1Shot1's spaces, Zhang, Zhang, Yang's NB101 space, NB201's valid cells)
and the derived names `random/<parent>/<k>/<seed>`, `random-cells/<parent>/<k>/<seed>` and
`best/<parent>/<k>/<benchmark>/<dataset>/<metric>`. Storing and materialising them is the
warehouse's (wsdb/warehouse/subspaces.py); looking names up uses `undefined_hint` to say how
to define one that is not stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from wsdb.base import papers
from wsdb.base.errors import WsdbError
from wsdb.spaces import constructions

METRICS = ("test_accuracy", "validation_accuracy")


@dataclass(frozen=True)
class Builtin:
    search_space: str
    description: str
    source: str
    build: Callable[[], constructions.Construction]


BUILTIN = {
    **{
        f"1SHOT1-SS{n}": Builtin(
            "nb101",
            f"NAS-Bench-1Shot1 search space {n}: vertex parents {'-'.join(map(str, constructions.ONE_SHOT1_PARENTS[n]))} "
            "(intermediate vertices, then the output), every configuration, loose ends pruned",
            papers.ZELA_2020.citation(),
            lambda n=n: constructions.one_shot1(n),
        )
        for n in (1, 2, 3)
    },
    "ZHANG-ZHANG-YANG": Builtin(
        "nb101",
        "exactly 5 intermediate vertices, all used; parents 1-1-1-2-2; the output concatenates 2 of them and never "
        "takes the input (their Appendix A.1)",
        papers.ZHANG_ZHANG_YANG_2020.citation(),
        constructions.zhang_zhang_yang_nb101,
    ),
    "VALID": Builtin(
        "nb201",
        "cells whose input reaches the output through non-none edges (15,284 of 15,625)",
        papers.ZHANG_ZHANG_YANG_2020.citation(),
        constructions.nb201_valid,
    ),
}


RANDOM_KINDS = ("random", "random-cells")
# The encoding of one raw cell, per space whose cells the warehouse lists (random-cells draws them)
CELL_ENCODING = {"nb201": "nb201-arch-str", "ws64": "ws64-label"}


@dataclass(frozen=True)
class Derived:
    """A parsed `random/...` or `best/...` name."""

    kind: str
    parent: str
    k: int
    seed: int | None = None
    benchmark: str | None = None
    dataset: str | None = None
    metric: str | None = None

    def name(self, parent: str) -> str:
        tail = [self.seed] if self.kind in RANDOM_KINDS else [self.benchmark, self.dataset, self.metric]
        return "/".join(str(part) for part in (self.kind, parent, self.k, *tail))


def _whole(name: str, what: str, text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < least:
        raise WsdbError(f"sub-space {name!r}: {what} must be a whole number >= {least}, got {text!r}")
    return value


def parse(name: str) -> Derived | None:
    """The derived definition a name spells, None for other names; a malformed one is an error."""
    parts = name.split("/")
    kind = parts[0].lower()
    if kind in RANDOM_KINDS:
        if len(parts) < 4 or not all(parts[1:]):
            raise WsdbError(f"sub-space {name!r}: write {kind}/<parent>/<k>/<seed>, e.g. {kind}/nb201/8/0")
        return Derived(kind, "/".join(parts[1:-2]), _whole(name, "k", parts[-2], 1),
                       seed=_whole(name, "the seed", parts[-1], 0))
    if kind == "best":
        if len(parts) < 6 or not all(parts[1:]):
            raise WsdbError(f"sub-space {name!r}: write best/<parent>/<k>/<benchmark>/<dataset>/<metric>, "
                            "e.g. best/nb201/8/nasbench201/cifar100/test_accuracy")
        metric = parts[-1].lower()
        if metric not in METRICS:
            raise WsdbError(f"sub-space {name!r}: metric must be one of {', '.join(METRICS)}, got {parts[-1]!r}")
        return Derived("best", "/".join(parts[1:-4]), _whole(name, "k", parts[-4], 1),
                       benchmark=parts[-3], dataset=parts[-2], metric=metric)
    return None


def builtin(name: str) -> tuple[str, Builtin] | None:
    return next(((key, b) for key, b in BUILTIN.items() if key.lower() == name.lower()), None)


def undefined_hint(name: str) -> str | None:
    """What to say of a name that is not stored but could be defined (None if it could not)."""
    if builtin(name) is not None or parse(name) is not None:
        return f"sub-space {name!r} is not defined in this warehouse: `wsdb spaces define {name}` materialises it"
    return None
