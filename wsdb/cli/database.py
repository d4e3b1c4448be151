"""`wsdb init`, `wsdb db status|upgrade`, `wsdb summary`, `wsdb pull`: the warehouse itself."""

from __future__ import annotations

from typing import Annotated

import typer

from wsdb.warehouse import catalog

from wsdb.warehouse import db as database
from wsdb.cli.options import GROUP_SETTINGS, CsvOption, DbOption, JsonOption, ParquetOption
from wsdb.analyses.output import emit, emit_record
from wsdb.warehouse.populate import FAST_SPACES, populate_spaces

db_app = typer.Typer(help="The warehouse's schema: status and upgrades.", **GROUP_SETTINGS)


def init(
    db: DbOption = None,
    populate: Annotated[str, typer.Option(
        metavar="SPACES", help="Comma-separated search spaces whose every architecture is stored now ('' for none). "
        "nb201 and ws64 take about a second; nb101 takes minutes (use `wsdb spaces populate nb101`).")]
        = ",".join(FAST_SPACES),
) -> None:
    """Create a warehouse at the newest schema (a no-op on an up-to-date one).

    \b
    Examples:
      wsdb init --db study.duckdb
      wsdb init --db study.duckdb --populate ''
      wsdb init --db postgresql+psycopg://wsdb@db.lab/wsdb
    """
    url = database.resolve_url(db)
    typer.echo(database.init_database(url))
    for space, new_archs, new_encodings in populate_spaces(url, [s.strip() for s in populate.split(",") if s.strip()]):
        typer.echo(f"{space}: {new_archs} new architectures, {new_encodings} new encodings")


@db_app.command("status")
def db_status(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Schema revision, what to do about it, and the rows of every table.

    Reports on a warehouse of any schema, also one an older wsdb wrote (then `wsdb db upgrade` migrates it) or a newer one (this wsdb cannot open it otherwise). Opens the warehouse read-only.

    \b
    Examples:
      wsdb db status
      wsdb db status --db study.duckdb --json
    """
    emit_record(database.status(database.resolve_url(db)), as_json)


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Migrate a warehouse an older wsdb wrote to the newest schema.

    Back the file up first.

    \b
    Example:
      wsdb db upgrade --db study.duckdb
    """
    typer.echo(database.upgrade_database(database.resolve_url(db)))


def summary(db: DbOption = None, as_json: JsonOption = False, csv_file: CsvOption = None,
            parquet_file: ParquetOption = None) -> None:
    """What the warehouse holds per search space.

    Architectures, ground-truth rows, super-nets and proxy scores per search space.

    Also names each space's own ground truth, which analyses of its super-nets use unless told otherwise. Opens the warehouse read-only.

    \b
    Examples:
      wsdb summary
      wsdb summary --db study.duckdb --json
    """
    url = database.resolve_url(db)
    emit(catalog.summary(url), as_json=as_json, csv_file=csv_file, parquet_file=parquet_file, title=f"warehouse {database.describe_url(url)}")


def pull(
    source: Annotated[str, typer.Option("--from", metavar="URL", help="The warehouse to copy, e.g. "
                                        "postgresql+psycopg://user@host/db.")],
    target: Annotated[str, typer.Option("--to", metavar="PATH", help="The DuckDB file to copy into (created if "
                                        "missing).")] = database.DEFAULT_DATABASE,
) -> None:
    """Copy a warehouse (PostgreSQL) into a DuckDB file for the analyses.

    Incremental: a second pull copies only new rows, and updates the super-nets, jobs and attempts whose status changed since. The source is checked before the target is created.

    \b
    Example:
      wsdb pull --from postgresql+psycopg://wsdb@db.lab/wsdb --to study.duckdb
    """
    from wsdb.sharing.pull import pull as copy_warehouse

    copied = copy_warehouse(database.resolve_url(source), database.resolve_url(target))
    new = sum(count for name, count in copied.items() if not name.endswith(" updated"))
    updated = sum(count for name, count in copied.items() if name.endswith(" updated"))
    typer.echo(f"pulled {new:,} new rows and {updated:,} updated ones into {target}: " +
               ", ".join(f"{name} {count:,}" for name, count in copied.items() if count))
