"""Direct DuckDB access for analyses, ad-hoc SQL and export: Arrow results, COPY-speed
output, and read-only by default so a query cannot change the warehouse by accident."""

from __future__ import annotations

import warnings
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet

from wsdb import db as database, statistics
from wsdb.errors import DatabaseError, WsdbError


def connect(url: str, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to a warehouse at the newest schema."""
    path = database.duckdb_path(url)
    if path is None:
        raise DatabaseError(
            f"{database.describe_url(url)}: analyses run on a DuckDB warehouse file; copy a PostgreSQL "
            "warehouse into one first"
        )
    if not path.exists():
        raise DatabaseError(f"no warehouse at {path}: run `wsdb init` (or pass --db / set WSDB_URL)")
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise DatabaseError(f"cannot open {path}: {str(exc).splitlines()[0]}") from None
    try:
        # fetchall, not fetchone: DuckDB 2.0 keeps an unfinished result open otherwise.
        rows = con.execute("SELECT version_num FROM alembic_version").fetchall()
        revision = rows[0][0] if rows else None
    except duckdb.Error:
        revision = None
    head = database.head_revision()
    if revision != head:
        con.close()
        if revision is None:
            raise DatabaseError(f"{path} is not a wsdb warehouse: run `wsdb init`")
        raise DatabaseError(f"{path} holds schema {revision}, this wsdb needs {head}: run `wsdb db upgrade`")
    statistics.register(con)
    return con


def run(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> pa.Table:
    """Run one statement; SQL errors become one-line WsdbErrors."""
    try:
        relation = con.sql(sql, params=params or None)
        if relation is None:  # a statement without a result (INSERT, CREATE, ...)
            return pa.table({})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return relation.to_arrow_table()
    except duckdb.Error as exc:
        raise WsdbError(f"SQL error: {' '.join(str(exc).split())[:500]}") from None


def write(table: pa.Table, path: Path, kind: str) -> None:
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise WsdbError(f"cannot write {path}: folder {path.parent} does not exist")
    if kind == "csv":
        pyarrow.csv.write_csv(table, path)
    elif kind == "parquet":
        pyarrow.parquet.write_table(table, path)
    else:
        raise WsdbError(f"unknown output kind {kind!r}")
