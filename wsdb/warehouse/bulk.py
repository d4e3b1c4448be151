"""Set-based, idempotent writes and lookups that work on DuckDB and PostgreSQL.

Row-by-row statements reach ~7k rows/s on DuckDB (../notes/stack.md; an executemany UPDATE
of 10,000 rows took 3.7 s here), while DuckDB's native path, a registered Arrow table joined
in one statement, reaches ~300k rows/s. So on DuckDB every function stages its rows as Arrow;
on PostgreSQL it sends arrays or an executemany that psycopg pipelines.
All run inside the caller's transaction.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


def arrow_type(column: sa.Column) -> pa.DataType:
    """The Arrow type of a warehouse column (from its SQLAlchemy type, so no list to keep)."""
    kind = column.type
    if isinstance(kind, sa.BigInteger):
        return pa.int64()
    if isinstance(kind, sa.Integer):
        return pa.int32()
    if isinstance(kind, sa.Float):  # Double too
        return pa.float64()
    if isinstance(kind, sa.Boolean):
        return pa.bool_()
    if isinstance(kind, sa.DateTime):
        return pa.timestamp("us")
    return pa.string()


def arrow_rows(table: sa.Table, columns: dict[str, list]) -> pa.Table:
    """Columns (name -> values) as an Arrow table typed like `table`'s columns."""
    return pa.table({name: pa.array(values, type=arrow_type(table.c[name])) for name, values in columns.items()})


def _as_arrow(table: sa.Table, rows) -> pa.Table:
    return rows if isinstance(rows, pa.Table) else arrow_rows(table, rows)


@contextmanager
def _staged(connection: sa.Connection, rows: pa.Table):
    """`rows` visible to the raw DuckDB connection under a unique name while in the block."""
    raw = connection.connection.driver_connection
    name = f"wsdb_staged_{uuid.uuid4().hex}"
    raw.register(name, rows)
    try:
        yield raw, name
    finally:
        raw.unregister(name)


def _one_value(raw, sql: str, params=()) -> int:
    # fetchall, not fetchone: DuckDB 2.0 keeps an unfinished result open otherwise.
    ((value,),) = raw.execute(sql, params).fetchall()
    return int(value)


def conflict_key(table: sa.Table, columns: list[str]) -> tuple[str, ...]:
    """The primary key if the rows carry it, else the first unique constraint they carry."""
    candidates = [tuple(c.name for c in table.primary_key.columns)]
    candidates += [tuple(c.name for c in u.columns) for u in table.constraints if isinstance(u, sa.UniqueConstraint)]
    for key in candidates:
        if key and set(key) <= set(columns):
            return key
    raise ValueError(f"rows for {table.name} carry no key of the table")


def insert_new_rows(connection: sa.Connection, table: sa.Table, rows: pa.Table | dict, absent: bool = False) -> int:
    """Insert `rows` (an Arrow table or a dict of columns, named like the table's) skipping
    rows whose primary or unique key exists, which makes re-runs no-ops; returns the number
    of rows inserted. `absent`: the caller knows none of the rows' keys is stored (it read
    them in the same transaction), so DuckDB only drops duplicates among the rows themselves
    (the anti-join against a table of ~1M rows cost ~0.35 s a block); the key constraint
    still rejects anything that slips through."""
    rows = _as_arrow(table, rows)
    if rows.num_rows == 0:
        return 0
    if connection.dialect.name == "duckdb":
        # An anti-join, not ON CONFLICT: on DuckDB 2.0, ON CONFLICT into a table with a
        # sequence default and a unique key took 42 s for 151,644 rows in 16 batches, the
        # anti-join 0.7 s. One process writes a DuckDB file, so nothing races the check;
        # the constraint still rejects what slips through.
        key = conflict_key(table, rows.column_names)
        columns = ", ".join(f'"{c}"' for c in rows.column_names)
        match = " AND ".join(f't."{k}" = s."{k}"' for k in key)
        distinct = ", ".join(f'"{k}"' for k in key)
        new = "" if absent else f'WHERE NOT EXISTS (SELECT 1 FROM "{table.name}" t WHERE {match})'
        with _staged(connection, rows) as (raw, staged):
            return _one_value(
                raw, f'INSERT INTO "{table.name}" ({columns}) SELECT DISTINCT ON ({distinct}) {columns} FROM "{staged}" s {new}')
    if connection.dialect.name == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing().returning(sa.literal(1))
        return len(connection.execute(statement, rows.to_pylist()).fetchall())
    raise NotImplementedError(f"bulk writes support duckdb and postgresql, not {connection.dialect.name}")


def update_changed_rows(connection: sa.Connection, table: sa.Table, rows: pa.Table) -> int:
    """DuckDB: overwrite the rows whose key is in `rows` and whose values differ; returns
    the number of rows changed (for tables whose rows change after insertion)."""
    if rows.num_rows == 0:
        return 0
    key = conflict_key(table, rows.column_names)
    others = [c for c in rows.column_names if c not in key]
    assignments = ", ".join(f'"{c}" = s."{c}"' for c in others)
    match = " AND ".join(f't."{k}" = s."{k}"' for k in key)
    changed = " OR ".join(f't."{c}" IS DISTINCT FROM s."{c}"' for c in others)
    with _staged(connection, rows) as (raw, staged):
        return _one_value(raw, f'UPDATE "{table.name}" t SET {assignments} FROM "{staged}" s WHERE {match} AND ({changed})')


def append_rows(connection: sa.Connection, table: sa.Table, rows: pa.Table | dict) -> int:
    """Append rows to a table without a key (append-only tables such as search_traces)."""
    rows = _as_arrow(table, rows)
    if rows.num_rows == 0:
        return 0
    if connection.dialect.name == "duckdb":
        columns = ", ".join(f'"{c}"' for c in rows.column_names)
        with _staged(connection, rows) as (raw, staged):
            return _one_value(raw, f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} FROM "{staged}"')
    connection.execute(table.insert(), rows.to_pylist())
    return rows.num_rows


def select_table(connection: sa.Connection, sql: str) -> pa.Table:
    """A SELECT without parameters as an Arrow table: DuckDB's own result (no Python object
    per value: ~150,000 rows took ~1 s through SQLAlchemy), PostgreSQL's rows otherwise."""
    if connection.dialect.name == "duckdb":
        return connection.connection.driver_connection.sql(sql).to_arrow_table()
    result = connection.execute(sa.text(sql))
    names, rows = list(result.keys()), result.all()
    return pa.table({name: pa.array(list(values)) for name, values in zip(names, zip(*rows))} if rows
                    else {name: pa.array([]) for name in names})


def select_by_keys(connection: sa.Connection, table: sa.Table, columns: list[str], key: str, keys: list,
                   where: dict) -> list[tuple]:
    """`columns` of the rows of `table` whose `key` is in `keys` and whose columns equal
    `where` (column -> value): one query, not one bound parameter per key."""
    return _select_by_keys(connection, table, columns, key, keys, where,
                           lambda raw, sql, params: raw.execute(sql, params).fetchall(),
                           lambda rows: [tuple(row) for row in rows])


def select_table_by_keys(connection: sa.Connection, table: sa.Table, columns: list[str], key: str, keys: list,
                         where: dict) -> pa.Table:
    """select_by_keys as an Arrow table (typed like the table's columns), for bulk reads:
    DuckDB hands its result over as Arrow without a Python object per value."""
    return _select_by_keys(
        connection, table, columns, key, keys, where,
        lambda raw, sql, params: raw.sql(sql, params=params).to_arrow_table(),  # a relation: no extra copy
        lambda rows: arrow_rows(table, {c: list(values) for c, values in zip(columns, zip(*rows))}
                                if rows else {c: [] for c in columns}))


def _select_by_keys(connection, table, columns, key, keys, where, from_duckdb, from_rows):
    if not keys:
        return from_rows([])
    selected = ", ".join(f't."{c}"' for c in columns)
    if connection.dialect.name == "duckdb":
        conditions = " AND ".join(f't."{column}" = ?' for column in where) or "TRUE"
        with _staged(connection, pa.table({"k": pa.array(keys)})) as (raw, staged):
            sql = f'SELECT {selected} FROM "{table.name}" t JOIN "{staged}" s ON t."{key}" = s.k WHERE {conditions}'
            return from_duckdb(raw, sql, list(where.values()))
    conditions = " AND ".join(f't."{column}" = :{column}' for column in where) or "TRUE"
    rows = connection.execute(
        sa.text(f'SELECT {selected} FROM "{table.name}" t WHERE t."{key}" = ANY(:keys) AND {conditions}'),
        {"keys": list(keys), **where},
    )
    return from_rows(rows)


def lookup(connection: sa.Connection, table: sa.Table, key: str, value: str, keys: list, where: dict) -> dict:
    """{key: value} for the rows of `table` whose `key` is in `keys` and whose columns equal
    `where` (column -> value)."""
    return dict(select_by_keys(connection, table, [key, value], key, keys, where))


def delete_by_keys(connection: sa.Connection, table: sa.Table, keys: pa.Table, where: dict) -> int:
    """Delete the rows of `table` that match a row of `keys` (an Arrow table whose columns
    are columns of `table`) and whose columns equal `where`; returns the rows deleted."""
    if keys.num_rows == 0:
        return 0
    duckdb = connection.dialect.name == "duckdb"
    match = " AND ".join([f't."{c}" = s."{c}"' for c in keys.column_names] +
                         [f't."{c}" = {"$" if duckdb else ":"}{c}' for c in where])
    if duckdb:
        with _staged(connection, keys) as (raw, staged):
            return _one_value(raw, f'DELETE FROM "{table.name}" t USING "{staged}" s WHERE {match}', where)
    arrays = ", ".join(f'unnest(CAST(:k_{c} AS {_pg_array(table.c[c])})) AS "{c}"' for c in keys.column_names)
    result = connection.execute(
        sa.text(f'DELETE FROM "{table.name}" t USING (SELECT {arrays}) s WHERE {match}'),
        {**{f"k_{c}": keys.column(c).to_pylist() for c in keys.column_names}, **where},
    )
    return result.rowcount


def _pg_array(column: sa.Column) -> str:
    kind = column.type
    if isinstance(kind, sa.Integer):  # BigInteger too
        return "BIGINT[]"
    if isinstance(kind, sa.Float):
        return "DOUBLE PRECISION[]"
    return "TEXT[]"


def fill_null_integers(connection: sa.Connection, table: sa.Table, key: str, column: str, pairs: list[tuple]) -> int:
    """Set the integer `column` from (integer key, value) pairs where it is NULL."""
    if not pairs:
        return 0
    keys, values = (list(x) for x in zip(*pairs))
    if connection.dialect.name == "duckdb":
        with _staged(connection, pa.table({"k": pa.array(keys, pa.int64()), "v": pa.array(values, pa.int64())})) as (raw, staged):
            return _one_value(
                raw,
                f'UPDATE "{table.name}" SET "{column}" = s.v FROM "{staged}" s '
                f'WHERE "{table.name}"."{key}" = s.k AND "{table.name}"."{column}" IS NULL',
            )
    result = connection.execute(
        sa.text(
            f'UPDATE "{table.name}" t SET "{column}" = s.v FROM '
            "(SELECT unnest(CAST(:keys AS BIGINT[])) AS k, unnest(CAST(:values AS BIGINT[])) AS v) s "
            f'WHERE t."{key}" = s.k AND t."{column}" IS NULL'
        ),
        {"keys": keys, "values": values},
    )
    return result.rowcount


@contextmanager
def deferred_checkpoints(engine: sa.Engine):
    """Let a long ingest commit batch after batch without DuckDB checkpointing each time.

    Past 16 MiB of write-ahead log DuckDB checkpoints on commit, rewriting the growing
    tables again and again; during the block it checkpoints once, at the end. Commits stay
    durable (the log is on disk), so an interrupted run keeps every committed batch.
    """
    if engine.dialect.name != "duckdb":
        yield
        return
    with engine.connect() as connection:
        previous = connection.exec_driver_sql("SELECT current_setting('checkpoint_threshold')").scalar()
        connection.exec_driver_sql("SET checkpoint_threshold = '4GB'")
    try:
        yield
    finally:
        with engine.connect() as connection:
            connection.exec_driver_sql(f"SET checkpoint_threshold = '{previous}'")
            connection.exec_driver_sql("CHECKPOINT")
