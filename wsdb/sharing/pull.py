"""`wsdb pull`: copy a warehouse (PostgreSQL, where many workers write) into a DuckDB file,
where the analyses run unchanged.

Tables are copied in dependency order, in chunks, as Arrow; rows whose key is already in the
DuckDB file are skipped, so a second pull copies only what is new. Rows that workers change
after inserting them (super-nets, jobs, job attempts: status, times, results) are updated
where they differ, so a pull during a study and one after it agree with the source. search_traces has no key:
its rows are copied for the search runs the DuckDB file did not hold before this pull.
Architecture ids are copied as they are, and the DuckDB id sequence is moved past them so that
local writes after a pull cannot collide.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import sqlalchemy as sa

from wsdb.warehouse import db as database
from wsdb.warehouse.bulk import append_rows, arrow_type, insert_new_rows, update_changed_rows
from wsdb.base.errors import WsdbError
from wsdb.warehouse.schema import Base, search_traces

CHUNK_ROWS = 50_000
MUTABLE_TABLES = ("supernets", "jobs", "job_attempts")


def _chunks(connection: sa.Connection, table: sa.Table, where=None):
    query = sa.select(table)
    if where is not None:
        query = query.where(where)
    result = connection.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(query)
    names = [c.name for c in table.columns]
    for rows in result.partitions(CHUNK_ROWS):
        columns = list(zip(*rows)) if rows else [[] for _ in names]
        yield pa.table({name: pa.array(list(values), type=arrow_type(table.c[name])) for name, values in zip(names, columns)})


def pull(source_url: str, target_url: str) -> dict[str, int]:
    """Copy new rows of every table from source to target; returns rows copied per table
    (and "<table> updated": changed rows of the tables that workers update)."""
    if database.duckdb_path(target_url) is None:
        raise WsdbError("--to must be a DuckDB file")
    source_path, target_path = database.duckdb_path(source_url), database.duckdb_path(target_url)
    if source_path is not None and Path(source_path).resolve() == Path(target_path).resolve():
        raise WsdbError("--from and --to are the same warehouse")
    database.open_engine(source_url).dispose()  # the source must be a warehouse before a target is created
    database.init_database(target_url)  # creates it at head, or checks it is at head
    copied: dict[str, int] = {}
    try:
        _copy(source_url, target_url, copied)
    except sa.exc.IntegrityError as exc:
        raise WsdbError(f"{database.describe_url(target_url)} holds rows that conflict with the source (written "
                        f"there directly?): pull into a fresh file ({str(exc.orig).splitlines()[0]})") from None
    return copied


def _copy(source_url: str, target_url: str, copied: dict[str, int]) -> None:
    with database.warehouse(source_url) as source, database.warehouse(target_url) as target:
        with source.connect() as reading, target.begin() as writing:
            known_runs = {r for (r,) in writing.execute(sa.text("SELECT id FROM search_runs"))}
            for table in Base.metadata.sorted_tables:
                if table is search_traces:
                    continue
                mutable = table.name in MUTABLE_TABLES
                new = updated = 0
                for chunk in _chunks(reading, table):
                    updated += update_changed_rows(writing, table, chunk) if mutable else 0
                    new += insert_new_rows(writing, table, chunk)
                copied[table.name] = new
                if mutable:
                    copied[f"{table.name} updated"] = updated
            new_runs = [r for (r,) in reading.execute(sa.text("SELECT id FROM search_runs")) if r not in known_runs]
            copied["search_traces"] = 0
            for start in range(0, len(new_runs), 1000):
                batch = new_runs[start:start + 1000]
                for chunk in _chunks(reading, search_traces, search_traces.c.run_id.in_(batch)):
                    copied["search_traces"] += append_rows(writing, search_traces, chunk)
            # move the id sequence past the copied ids (one nextval tells where it stands)
            highest = writing.execute(sa.text("SELECT COALESCE(MAX(id), 0) FROM architectures")).scalar_one()
            following = writing.execute(sa.text("SELECT nextval('architectures_id_seq')")).scalar_one()
            if following <= highest:
                writing.execute(sa.text("SELECT MAX(nextval('architectures_id_seq')) FROM range(:n)"),
                                {"n": int(highest - following + 1)})
