"""Direct DuckDB access for analyses, ad-hoc SQL and export: Arrow results, COPY-speed
output, and a sandbox by default.

A read-only connection (the default) is a sandbox: the warehouse file is opened read-only,
DuckDB may touch no other file (no ATTACH, COPY, read_csv, read_text, glob, EXPORT), may not
install or load extensions, and its configuration is locked so SQL cannot undo any of that
(DuckDB's `enable_external_access`, `autoinstall_known_extensions`,
`autoload_known_extensions`, then `lock_configuration`). Only one read-only statement runs
per call. Files are written by wsdb itself (`--csv`, `--parquet`, `wsdb export`), never by
the SQL. `--write` opens a plain read-write DuckDB session on the warehouse instead.
"""

from __future__ import annotations

import warnings

import duckdb
import pyarrow as pa

from wsdb.warehouse import db as database

from wsdb.analyses import statistics
from wsdb.base.errors import DatabaseError, WsdbError

SANDBOX = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,  # last: nothing above can be changed back by SQL
}
# Statement kinds a sandboxed connection runs: they read (a read-only file refuses writes
# to the warehouse anyway; this gives the clearer message and keeps temporary tables out).
READ_STATEMENTS = {"SELECT", "EXPLAIN", "PRAGMA", "CALL"}


def connect(url: str, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to a warehouse at the newest schema, with wsdb's statistics
    functions registered: sandboxed and read-only by default, plain read-write otherwise."""
    path = database.duckdb_path(url)
    if path is None:
        raise DatabaseError(
            f"{database.describe_url(url)}: analyses run on a DuckDB warehouse file; copy a PostgreSQL "
            "warehouse into one first (wsdb pull)"
        )
    if not path.exists():
        raise DatabaseError(f"no warehouse at {path}: run `wsdb init` (or pass --db / set WSDB_URL)")
    con = database.open_with_retry(
        url, lambda: duckdb.connect(str(path), read_only=read_only, config=SANDBOX if read_only else {}))
    try:
        # fetchall, not fetchone: DuckDB 2.0 keeps an unfinished result open otherwise.
        rows = con.execute("SELECT version_num FROM alembic_version").fetchall()
        revision = rows[0][0] if rows else None
    except duckdb.Error:
        revision = None
    try:
        database.check_revision(str(path), revision)
    except DatabaseError:
        con.close()
        raise
    statistics.register(con)
    return con


def _statements(con: duckdb.DuckDBPyConnection, sql: str) -> list:
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise WsdbError(f"SQL error: {' '.join(str(exc).split())[:500]}") from None
    if not statements:
        raise WsdbError("no SQL statement given")
    return statements


def _fetch(relation) -> pa.Table:
    if relation is None:  # a statement without a result (INSERT, CREATE, ...)
        return pa.table({})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return relation.to_arrow_table()


def run(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None, *, read_only: bool = True) -> pa.Table:
    """Run exactly one statement; read-only (the default) admits only statements that read.
    SQL errors become one-line WsdbErrors."""
    statements = _statements(con, sql)
    if len(statements) > 1:
        raise WsdbError(f"{len(statements)} SQL statements given where one is expected (an analysis or a "
                        "read-only query is a single statement; `wsdb sql --write` runs scripts)")
    if read_only and statements[0].type.name not in READ_STATEMENTS:
        first_word = statements[0].query.split(maxsplit=1)[0].upper()
        raise WsdbError(f"read-only: {first_word} statements are refused (read-only SQL runs "
                        f"{', '.join(sorted(READ_STATEMENTS))}); use `wsdb sql --write` for anything else "
                        "(back the warehouse up first)")
    try:
        return _fetch(con.sql(sql, params=params or None))
    except duckdb.Error as exc:
        raise WsdbError(_sql_error(exc)) from None


def run_script(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """Run every statement of `sql` in one transaction (a read-write session); returns the
    last statement's result. An error rolls every statement back. Transaction control
    (BEGIN, COMMIT, ROLLBACK, ...) is refused: a COMMIT inside would keep what came before it
    while the command fails."""
    statements = _statements(con, sql)
    for number, statement in enumerate(statements, start=1):
        if statement.type.name == "TRANSACTION":
            word = statement.query.split(maxsplit=1)[0].strip(";").upper()
            raise WsdbError(f"statement {number}: {word} is refused: `wsdb sql --write` runs the whole script in one "
                            "transaction itself (nothing was changed)")
    con.begin()
    try:
        result = pa.table({})
        for statement in statements:
            result = _fetch(con.sql(statement.query))
        con.commit()
        return result
    except duckdb.Error as exc:
        con.rollback()
        raise WsdbError(_sql_error(exc) + " (nothing was changed)") from None


def _sql_error(exc: duckdb.Error) -> str:
    message = " ".join(str(exc).split())
    if isinstance(exc, duckdb.PermissionException):
        message += (" (read-only SQL touches no file outside the warehouse: write results with --csv/--parquet "
                    "or `wsdb export`, or use `wsdb sql --write` for a plain DuckDB session)")
    return f"SQL error: {message[:600]}"


def query(url: str, sql: str, write: bool = False) -> pa.Table:
    """Ad-hoc SQL: one reading statement in the sandbox, or with `write` a script in one
    read-write transaction (the last statement's result)."""
    with connect(url, read_only=not write) as con:
        return run_script(con, sql) if write else run(con, sql)


def export(url: str, name: str) -> pa.Table:
    """A whole table or view of the warehouse."""
    with connect(url) as con:
        known = {n for (n,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if name not in known:
            raise WsdbError(f"no table or view {name!r}; known: {', '.join(sorted(known))}")
        return run(con, f'SELECT * FROM "{name}"')  # the name was checked against the catalog
