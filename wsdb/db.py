"""Opening warehouses: URL resolution, creation at head, and the migration guard.

A fresh database is created at the newest schema by `wsdb init`; an existing one is never
migrated silently: opening one that is behind fails and names `wsdb db upgrade`.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.ddl.impl import DefaultImpl
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from wsdb.errors import DatabaseError

DEFAULT_DATABASE = "wsdb.duckdb"
DUCKDB_LOCK_WAIT_SECONDS = 30.0
URL_ENVIRONMENT_VARIABLE = "WSDB_URL"


class DuckDBImpl(DefaultImpl):
    """Alembic ships no DuckDB implementation (defining the class registers it); DuckDB
    runs DDL inside transactions."""

    __dialect__ = "duckdb"
    transactional_ddl = True


def resolve_url(db: str | None = None) -> str:
    """`--db` value, else $WSDB_URL, else ./wsdb.duckdb. A plain path means a DuckDB file."""
    value = db or os.environ.get(URL_ENVIRONMENT_VARIABLE) or DEFAULT_DATABASE
    if "://" in value:
        return value
    return f"duckdb:///{value}"


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def duckdb_path(url: str) -> Path | None:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "duckdb" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def create_engine(url: str) -> sa.Engine:
    try:
        return sa.create_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise DatabaseError(f"cannot use database URL {url!r}: {exc}") from None


def _alembic_config() -> Config:
    import wsdb.migrations

    config = Config()
    config.set_main_option("script_location", str(Path(wsdb.migrations.__file__).parent))
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(connection: sa.Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _upgrade(engine: sa.Engine) -> None:
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def init_database(url: str) -> str:
    """Create a warehouse at the newest schema. Returns what was done, for the CLI."""
    path = duckdb_path(url)
    if path is not None and path.parent and not path.parent.exists():
        raise DatabaseError(f"cannot create {path}: folder {path.parent} does not exist")
    engine = _connect(url)
    try:
        with engine.connect() as connection:
            revision = current_revision(connection)
            other_tables = set(sa.inspect(connection).get_table_names()) - {"alembic_version"}
        head = head_revision()
        if revision == head:
            return f"warehouse {describe_url(url)} is already initialized (schema {head})"
        if revision is not None:
            raise DatabaseError(
                f"{describe_url(url)} holds schema {revision}, this wsdb uses {head}: "
                "run `wsdb db upgrade` (back the database up first)"
            )
        if other_tables:
            raise DatabaseError(f"{describe_url(url)} already has tables but is not a wsdb warehouse")
        _upgrade(engine)
        return f"created warehouse {describe_url(url)} (schema {head})"
    finally:
        engine.dispose()


def _require_existing_file(url: str) -> None:
    """DuckDB creates a missing file on connect: commands that expect a warehouse check first."""
    path = duckdb_path(url)
    if path is not None and not path.exists():
        raise DatabaseError(f"no warehouse at {path}: run `wsdb init` (or pass --db / set {URL_ENVIRONMENT_VARIABLE})")


def upgrade_database(url: str) -> str:
    _require_existing_file(url)
    engine = _connect(url)
    try:
        with engine.connect() as connection:
            before = current_revision(connection)
        if before is None:
            raise DatabaseError(f"{describe_url(url)} is not a wsdb warehouse: run `wsdb init`")
        head = head_revision()
        if before == head:
            return f"warehouse {describe_url(url)} is up to date (schema {head})"
        _upgrade(engine)
        return f"upgraded {describe_url(url)} from schema {before} to {head}"
    finally:
        engine.dispose()


def _connect(url: str) -> sa.Engine:
    """An engine whose first connection has succeeded. A DuckDB file that another process
    holds (a worker writing a checkpoint row, a `wsdb jobs` reading the queue) is retried
    for up to DUCKDB_LOCK_WAIT_SECONDS: every wsdb command holds it only for moments."""
    waited, pause = 0.0, 0.02
    while True:
        engine = create_engine(url)
        try:
            with engine.connect():
                return engine
        except Exception as exc:  # OperationalError, or duckdb's own IOException (a locked file)
            engine.dispose()
            cause = exc.orig if isinstance(exc, sa.exc.OperationalError) else exc
            if cause is exc and not type(exc).__module__.startswith(("duckdb", "_duckdb")):
                raise
            message = str(cause).splitlines()[0]
            if "Could not set lock" not in message or waited >= DUCKDB_LOCK_WAIT_SECONDS:
                after = f" (after waiting {waited:.0f} s)" if waited else ""
                raise DatabaseError(f"cannot open {describe_url(url)}{after}: {message}") from None
            time.sleep(pause)
            waited += pause
            pause = min(pause * 2, 0.5)


def open_engine(url: str) -> sa.Engine:
    """An engine on an existing warehouse at the newest schema, or a clear DatabaseError."""
    _require_existing_file(url)
    engine = _connect(url)
    with engine.connect() as connection:
        revision = current_revision(connection)
    head = head_revision()
    if revision != head:
        engine.dispose()
        if revision is None:
            raise DatabaseError(f"{describe_url(url)} is not a wsdb warehouse: run `wsdb init`")
        raise DatabaseError(
            f"{describe_url(url)} holds schema {revision}, this wsdb needs {head}: "
            "run `wsdb db upgrade` (back the database up first)"
        )
    return engine


@contextmanager
def warehouse(url: str):
    """`with warehouse(url) as engine:` opens (and finally releases) a checked warehouse.

    DuckDB holds a file lock for as long as an engine lives, so engines are disposed early.
    """
    engine = open_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
