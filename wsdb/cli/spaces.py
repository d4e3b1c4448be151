"""`wsdb spaces list|define|show|populate` and `wsdb arch show`: search spaces, their sub-spaces
and canonical architectures."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from wsdb.warehouse import catalog

from wsdb.warehouse import db as database

from wsdb.warehouse import subspaces
from wsdb.base.errors import WsdbError
from wsdb.cli.options import (GROUP_SETTINGS, ArchStrOption, CsvOption, DbOption, GenotypeOption, IndexOption, JsonOption,
                              LabelOption, MatrixOption, OpsOption, ParquetOption, SpaceOption)
from wsdb.analyses.output import emit, emit_record
from wsdb.warehouse.populate import populate_spaces
from wsdb.spaces import registry

spaces_app = typer.Typer(help="Search spaces and their sub-spaces.", **GROUP_SETTINGS)
arch_app = typer.Typer(help="Canonical architectures: identities, encodings, features, ground truth.",
                       **GROUP_SETTINGS)


@spaces_app.command("list")
def spaces_list(db: DbOption = None, as_json: JsonOption = False, csv_file: CsvOption = None,
                parquet_file: ParquetOption = None) -> None:
    """List the sub-spaces of every search space: kind, members, definition.

    With a warehouse (--db, $WSDB_URL, or ./wsdb.duckdb when it exists), the sub-spaces it holds with their member counts, then the built-in constructions it has not materialised; without one, what wsdb defines. Kinds: predicate (a condition on the features), construction (a published definition), random and best (derived from a parent), membership (a list a user gave).

    \b
    Examples:
      wsdb spaces list
      wsdb spaces list --db study.duckdb --csv spaces.csv
    """
    found = db or os.environ.get(database.URL_ENVIRONMENT_VARIABLE) or Path(database.DEFAULT_DATABASE).exists()
    emit(subspaces.listing(database.resolve_url(db) if found else None), as_json=as_json, csv_file=csv_file,
         parquet_file=parquet_file)


@spaces_app.command("define")
def spaces_define(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A built-in construction, random/..., best/..., or a "
                                        "new name with --space and --members.")],
    space: Annotated[Optional[str], typer.Option(metavar="SPACE", help="With --members: nb101, nb201 or ws64.")] = None,
    members: Annotated[Optional[Path], typer.Option(metavar="FILE", help="One architecture per line (nb101 "
                                                    "'rows|..;ops', nb201 arch string or index, ws64 label); # "
                                                    "starts a comment.")] = None,
    description: Annotated[Optional[str], typer.Option(metavar="TEXT", help="With --members: what the list is.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Define a sub-space and store its members, in one transaction (idempotent).

    Built in: 1SHOT1-SS1, 1SHOT1-SS2, 1SHOT1-SS3 (NAS-Bench-1Shot1's search spaces, Zela, Siems, Hutter 2020), ZHANG-ZHANG-YANG (the NB101 space of Zhang, Zhang, Yang 2020: 95,985 cells, 42,228 classes) and VALID (NB201 cells whose input reaches the output). NB101 classes they hold that the warehouse lacks are added.

    Derived, from a PARENT that is a sub-space or a whole search space: random/PARENT/K/SEED draws a uniform 1/K of the parent's classes with the seed; random-cells/PARENT/K/SEED draws 1/K of its raw cells instead, as Zhang, Zhang, Yang 2020 did (nb201, ws64), and SPOS training samples those cells without deduplication; best/PARENT/K/BENCHMARK/DATASET/METRIC keeps the best 1/K by ground truth (METRIC test_accuracy or validation_accuracy). Parents may be derived themselves; they are defined first. Every command that takes --subspace then accepts the name.

    \b
    Examples:
      wsdb spaces define ZHANG-ZHANG-YANG
      wsdb spaces define random/nb201/8/0
      wsdb spaces define best/VALID/16/nasbench201/cifar100/test_accuracy
      wsdb spaces define random/A2/4/1
      wsdb spaces define random-cells/nb201/64/0
      wsdb spaces define mine --space nb201 --members archs.txt
    """
    record = subspaces.define(database.resolve_url(db), name, space, members, description)
    for warning in record.pop("warnings"):
        typer.echo(f"wsdb: warning: {warning}", err=True)
    if as_json:
        emit_record(record, as_json=True)
        return
    state = "defined" if record.pop("new") else "already defined"
    typer.echo(f"{record['search_space']}/{record['name']}: {state}, {record['members']} architectures "
               f"({record['kind']})")


@spaces_app.command("show")
def spaces_show(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A sub-space (SPACE/NAME where several spaces have "
                                        "one of that name, e.g. nb201/FULL).")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """A sub-space's definition, parameters, provenance and counts.

    \b
    Examples:
      wsdb spaces show ZHANG-ZHANG-YANG
      wsdb spaces show random/nb201/8/0 --json
    """
    emit_record(subspaces.show(database.resolve_url(db), name), as_json=as_json)


@spaces_app.command("populate")
def spaces_populate(
    space: Annotated[str, typer.Argument(metavar="SPACE", help="nb101, nb201 or ws64")],
    db: DbOption = None,
    workers: Annotated[Optional[int], typer.Option(min=1, metavar="N", help="Processes for nb101 (default: all "
                                                   "cores).")] = None,
) -> None:
    """Store every architecture of a search space (idempotent).

    nb101 enumerates all 423,624 classes, a few minutes on 2 cores; nb201 and ws64 take a second (`wsdb init` stores them).

    \b
    Example:
      wsdb spaces populate nb101 --db study.duckdb
    """
    for name, new_archs, new_encodings in populate_spaces(database.resolve_url(db), [space], workers):
        typer.echo(f"{name}: {new_archs} new architectures, {new_encodings} new encodings")


@arch_app.command("show")
def arch_show(
    space: SpaceOption = None,
    matrix: MatrixOption = None,
    ops: OpsOption = None,
    arch_str: ArchStrOption = None,
    index: IndexOption = None,
    label: LabelOption = None,
    genotype: GenotypeOption = None,
    db: Annotated[Optional[str], typer.Option("--db", metavar="PATH|URL", help="Also look the architecture up in "
                                              "this warehouse, read-only: its id and ground truth there. "
                                              "Without it nothing is opened.")] = None,
    curve: Annotated[bool, typer.Option("--curve", help="With --db: the ground truth at every evaluation point "
                                        "(NB201: each of 200 epochs), not only the final one.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Canonical key, encoding, features and sub-spaces of an architecture.

    With --db, also its ground truth in the warehouse: per benchmark, dataset and budget, the final mean over the runs (and the cells of the benchmark that map to this class) apart from published means; --curve adds every evaluation point before it.

    \b
    Examples:
      wsdb arch show --space nb101 --matrix '[[0,1,1],[0,0,1],[0,0,0]]' --ops input,conv3x3,output
      wsdb arch show --space nb201 --index 284 --db study.duckdb
      wsdb arch show --space nb201 --index 284 --db study.duckdb --curve
      wsdb arch show --space ws64 --label 434
      wsdb arch show --space darts --genotype "Genotype(normal=[('sep_conv_3x3', 0), ...], ...)"
    """
    arch = registry.from_options(space, matrix, ops, arch_str, index, label, genotype)
    record = arch.as_dict()
    if db is not None:
        record.update(catalog.stored_facts(database.resolve_url(db), arch, curves=curve))
    elif curve:
        raise WsdbError("--curve shows the ground truth a warehouse holds: give --db")
    if as_json:
        emit_record(record, as_json=True)
        return
    facts = record.pop("ground_truth", None)
    emit_record(record)
    if facts:
        print()
        emit(facts, title="ground truth (mean over `averaged` rows of `num_cells` benchmark cells)")
