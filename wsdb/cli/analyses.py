"""`wsdb query`, `wsdb sql`, `wsdb export`: reading the warehouse out."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from wsdb.analyses import runner as analysis

from wsdb.warehouse import db as database

from wsdb.analyses import duck
from wsdb.cli.options import CsvOption, DbOption, JsonOption, ParamOption, ParquetOption, key_values
from wsdb.base.errors import WsdbError
from wsdb.analyses.output import emit


def query(
    name: Annotated[Optional[str], typer.Argument(metavar="ANALYSIS", help="An analysis (see --list) or a path to a "
                                                  ".sql file with such a header")] = None,
    param: ParamOption = None,
    list_: Annotated[bool, typer.Option("--list", help="List the analyses and their parameters.")] = False,
    db: DbOption = None,
    csv_file: CsvOption = None,
    parquet_file: ParquetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run an analysis (a SQL file with a documented header).

    An analysis is a SQL file whose header says what it computes, its parameters and its columns.

    Parameters are bound, never spliced into the SQL. Parameters that name things (supernet, sample, subspace, protocol, benchmark, dataset, search_space) take names as well as ids and are checked: an unknown one is an error listing the known ones. The ground truth defaults to each super-net's search space's own (`wsdb summary` lists them). When nothing matches, a line on stderr says why. The warehouse is opened read-only, in the SQL sandbox.

    \b
    Examples:
      wsdb query --list
      wsdb query correlation --param supernet=to-share/baseline_ft_bn/full/0
      wsdb query correlation --param protocol=bns-ft:4 --csv rho.csv
      wsdb query my_analysis.sql --param k=3 --parquet out.parquet
    """
    if list_:
        emit(analysis.catalogue(), as_json=as_json, csv_file=csv_file)
        return
    if not name:
        raise WsdbError("name an analysis (wsdb query --list shows them)")
    result = analysis.query(database.resolve_url(db), name, key_values(param, "--param"))
    emit(result.table, as_json=as_json, csv_file=csv_file, parquet_file=parquet_file, title=result.analysis.summary)
    for note in result.notes:
        typer.echo(f"wsdb: {note}", err=True)


def sql(
    statement: Annotated[str, typer.Argument(metavar="SQL", help="SQL in DuckDB's dialect")],
    write_access: Annotated[bool, typer.Option("--write", help="A plain read-write session: several statements in "
                                               "one transaction, files allowed.")] = False,
    db: DbOption = None,
    csv_file: CsvOption = None,
    parquet_file: ParquetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ad-hoc SQL: one read-only statement in a sandbox, unless --write.

    Without --write the warehouse is opened read-only and DuckDB touches no other file (no ATTACH, COPY, read_csv, extensions); --csv and --parquet write the result. wsdb's functions are there (spearman_rho, kendall_tau_b, sparse_kendall_tau, student_t_quantile). With --write it is a plain read-write DuckDB session: the statements run in one transaction, which an error rolls back, and the last one's result is shown.

    \b
    Examples:
      wsdb sql "SELECT subspace, COUNT(*) FROM architecture_subspaces GROUP BY ALL"
      wsdb sql "SELECT * FROM proxy_vs_truth" --csv - | head
      wsdb sql --write "DELETE FROM jobs WHERE status = 'failed'"
    """
    table = duck.query(database.resolve_url(db), statement, write_access)
    emit(table, as_json=as_json, csv_file=csv_file, parquet_file=parquet_file)
    if table.num_columns and table.num_rows == 0:
        typer.echo("wsdb: the statement returned no rows", err=True)


def export(
    name: Annotated[str, typer.Argument(metavar="TABLE", help="A table or view of the warehouse")],
    db: DbOption = None,
    csv_file: CsvOption = None,
    parquet_file: ParquetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write a whole table or view to CSV, Parquet or JSON.

    \b
    Examples:
      wsdb export proxy_vs_truth --parquet proxy_vs_truth.parquet
      wsdb export ground_truth_final --csv -
      wsdb export supernets --json
    """
    if not (csv_file or parquet_file or as_json):
        raise WsdbError("export needs --csv FILE (or -), --parquet FILE or --json")
    emit(duck.export(database.resolve_url(db), name), csv_file=csv_file, parquet_file=parquet_file, as_json=as_json)
