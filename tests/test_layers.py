"""The layers of wsdb and the rule of which may import which (README, Layout), enforced on the
import graph: every `import wsdb...` / `from wsdb... import` of every module, those inside
functions included."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Where each installed package's source lies (pyproject.toml's package-dir)
SOURCES = {"wsdb": REPO / "wsdb", "wsdb.ingest": REPO / "ingest", "wsdb.trainers": REPO / "trainers",
           "wsdb.queries": REPO / "queries", "wsdb.migrations": REPO / "migrations"}
BASE = {"wsdb.base"}
CORE = BASE | {"wsdb.spaces", "wsdb.warehouse"}
# package -> the packages its modules may import (lowest first; a package may import itself)
ALLOWED = {
    "wsdb.base": BASE,
    "wsdb.spaces": BASE | {"wsdb.spaces"},
    "wsdb.warehouse": CORE | {"wsdb.migrations"},  # the guard against unmigrated warehouses runs Alembic
    "wsdb.migrations": BASE | {"wsdb.warehouse", "wsdb.migrations"},
    "wsdb.jobqueue": CORE | {"wsdb.jobqueue"},
    "wsdb.analyses": CORE | {"wsdb.analyses", "wsdb.queries"},
    "wsdb.search": CORE | {"wsdb.search"},
    "wsdb.sharing": CORE | {"wsdb.sharing"},
    "wsdb.ingest": CORE | {"wsdb.ingest"},
    "wsdb.trainers": CORE | {"wsdb.jobqueue", "wsdb.trainers"},
    "wsdb.queries": set(),
    "wsdb.cli": None,  # the command line sits on top of everything
    "wsdb": {"wsdb.warehouse", "wsdb.analyses"},  # the package itself: wsdb.connect
}


def _package(module: str) -> str:
    """The layer a dotted module name belongs to: the longest package of ALLOWED it is in."""
    matches = [p for p in ALLOWED if module == p or module.startswith(p + ".")]
    return max(matches, key=len)


def modules() -> dict[str, str]:
    """Every module of the installed wsdb: dotted name -> source."""
    found = {}
    for package, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if package == "wsdb" and parts[0] in ("ingest", "trainers", "queries", "migrations"):
                continue
            name = ".".join((package, *parts)).removesuffix(".__init__")
            found[name] = path.read_text()
    return found


def imported(source: str) -> set[str]:
    """The wsdb modules (or packages) a module's source imports, anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name == "wsdb" or a.name.startswith("wsdb.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "wsdb":  # from wsdb import x: x is a sub-package or a name of wsdb
                names |= {f"wsdb.{a.name}" if f"wsdb.{a.name}" in _PACKAGES else "wsdb" for a in node.names}
            elif node.module.startswith("wsdb."):
                names.add(node.module)
    return names


_PACKAGES = set(ALLOWED)


def violations(sources: dict[str, str]) -> list[str]:
    found = []
    for module, source in sorted(sources.items()):
        layer = _package(module)
        allowed = ALLOWED[layer]
        if allowed is None:
            continue
        for target in sorted(imported(source)):
            # the root package (__version__; wsdb.connect imports lazily) is there for every layer
            if target != "wsdb" and _package(target) not in allowed | {layer}:
                found.append(f"{module} ({layer}) imports {target} ({_package(target)})")
    return found


def test_every_module_belongs_to_a_layer_and_imports_only_layers_below_it():
    sources = modules()
    assert len(sources) > 60 and {"wsdb.warehouse.db", "wsdb.ingest.nb101", "wsdb.cli.reports"} <= set(sources)
    assert violations(sources) == []


def test_a_lower_layer_importing_an_upper_one_is_caught():
    """The rule bites: a base module reaching into the warehouse, the warehouse into the
    trainers, and an ingester into the analyses are each reported."""
    examples = {
        "wsdb.base.example": "from wsdb.warehouse import db\n",
        "wsdb.warehouse.example": "def later():\n    from wsdb.trainers.config import make_config\n",
        "wsdb.ingest.example": "import wsdb.analyses.report\n",
        "wsdb.spaces.example": "from wsdb import warehouse\n",
        "wsdb.analyses.fine": "from wsdb.warehouse import lookup\nfrom wsdb.base import errors\n",
    }
    assert violations(examples) == [
        "wsdb.base.example (wsdb.base) imports wsdb.warehouse (wsdb.warehouse)",
        "wsdb.ingest.example (wsdb.ingest) imports wsdb.analyses.report (wsdb.analyses)",
        "wsdb.spaces.example (wsdb.spaces) imports wsdb.warehouse (wsdb.warehouse)",
        "wsdb.warehouse.example (wsdb.warehouse) imports wsdb.trainers.config (wsdb.trainers)",
    ]
