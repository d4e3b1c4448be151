"""Bulk, idempotent writes: the same call works on DuckDB and PostgreSQL.

Row-by-row ORM inserts reach ~7k rows/s on DuckDB (../notes/stack.md); DuckDB's native path
(a registered Arrow table + INSERT ... SELECT) reaches ~300k rows/s, so DuckDB gets that
path. Rows whose primary or unique key already exists are skipped, which makes re-runs
no-ops.
"""

from __future__ import annotations

import uuid

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


def insert_new_rows(connection: sa.Connection, table: sa.Table, rows: pa.Table) -> int:
    """Insert `rows` (columns named like the table's) skipping existing keys; returns the
    number of rows inserted. Runs inside the caller's transaction."""
    if rows.num_rows == 0:
        return 0
    columns = rows.column_names
    if connection.dialect.name == "duckdb":
        raw = connection.connection.driver_connection
        staged = f"wsdb_staged_{uuid.uuid4().hex}"
        raw.register(staged, rows)
        try:
            column_list = ", ".join(f'"{c}"' for c in columns)
            # fetchall, not fetchone: DuckDB 2.0 keeps an unfinished result open otherwise.
            ((inserted,),) = raw.execute(
                f'INSERT INTO "{table.name}" ({column_list}) SELECT {column_list} FROM "{staged}" '
                "ON CONFLICT DO NOTHING"
            ).fetchall()
        finally:
            raw.unregister(staged)
        return int(inserted)
    if connection.dialect.name == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing()
        result = connection.execute(statement.returning(sa.literal(1)), rows.to_pylist())
        return len(result.fetchall())
    raise NotImplementedError(f"bulk writes support duckdb and postgresql, not {connection.dialect.name}")
