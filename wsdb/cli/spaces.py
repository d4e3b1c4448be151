"""`wsdb spaces list|populate` and `wsdb arch show`: search spaces and canonical architectures."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from wsdb import catalog, db as database
from wsdb.cli.options import GROUP_SETTINGS, CsvOption, DbOption, JsonOption
from wsdb.output import emit, emit_record
from wsdb.populate import populate_spaces
from wsdb.spaces import registry

spaces_app = typer.Typer(help="Search spaces and their sub-spaces.", **GROUP_SETTINGS)
arch_app = typer.Typer(help="Canonical architectures: identities, encodings, features, ground truth.",
                       **GROUP_SETTINGS)


@spaces_app.command("list")
def spaces_list(as_json: JsonOption = False, csv_file: CsvOption = None) -> None:
    """List the search spaces and their sub-spaces.

    \b
    Examples:
      wsdb spaces list
      wsdb spaces list --csv spaces.csv
    """
    emit(registry.listing(), as_json=as_json, csv_file=csv_file)


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
    space: Annotated[str, typer.Option("--space", metavar="SPACE", help="nb101, nb201 or ws64")],
    matrix: Annotated[Optional[str], typer.Option(metavar="MATRIX", help="nb101: the adjacency as JSON "
                                                  "[[0,1],[0,0]] or rows 01|00")] = None,
    ops: Annotated[Optional[str], typer.Option(metavar="OPS", help="nb101: operations, comma-separated or JSON "
                                               "(input,...,output)")] = None,
    arch_str: Annotated[Optional[str], typer.Option("--arch-str", metavar="TEXT", help="nb201: "
                                                    "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|")] = None,
    index: Annotated[Optional[int], typer.Option(metavar="N", help="nb201: official index; ws64: 0..63")] = None,
    label: Annotated[Optional[str], typer.Option(metavar="DIGITS", help="ws64: three digits 111..444")] = None,
    db: Annotated[Optional[str], typer.Option("--db", metavar="PATH|URL", help="Also look the architecture up in "
                                              "this warehouse, read-only: its id and ground truth there. "
                                              "Without it nothing is opened.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Canonical key, encoding, features and sub-spaces of an architecture.

    With --db, also its ground truth in the warehouse: per benchmark, dataset, budget and evaluation point, the mean over the runs (and the cells of the benchmark that map to this class) apart from published means.

    \b
    Examples:
      wsdb arch show --space nb101 --matrix '[[0,1,1],[0,0,1],[0,0,0]]' --ops input,conv3x3,output
      wsdb arch show --space nb201 --index 284 --db study.duckdb
      wsdb arch show --space ws64 --label 434
    """
    arch = registry.from_options(space, matrix, ops, arch_str, index, label)
    record = arch.as_dict()
    if db is not None:
        record.update(catalog.stored_facts(database.resolve_url(db), arch))
    if as_json:
        emit_record(record, as_json=True)
        return
    facts = record.pop("ground_truth", None)
    emit_record(record)
    if facts:
        print()
        emit(facts, title="ground truth (mean over `averaged` rows of `num_cells` benchmark cells)")
