"""Opening warehouses: URL resolution, creation at head, and the migration guard.

A fresh database is created at the newest schema by `wsdb init`; an existing one is never
migrated silently: opening one that is behind fails and names `wsdb db upgrade`.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.ddl.impl import DefaultImpl
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from wsdb.base.errors import DatabaseError

DEFAULT_DATABASE = "wsdb.duckdb"
DUCKDB_LOCK_WAIT_SECONDS = 30.0
URL_ENVIRONMENT_VARIABLE = "WSDB_URL"
T = TypeVar("T")
SUPPORTED_BACKENDS = ("duckdb", "postgresql")


class DuckDBImpl(DefaultImpl):
    """Alembic ships no DuckDB implementation (defining the class registers it); DuckDB
    runs DDL inside transactions."""

    __dialect__ = "duckdb"
    transactional_ddl = True


def resolve_url(db: str | None = None) -> str:
    """`--db` value, else $WSDB_URL, else ./wsdb.duckdb. A plain path means a DuckDB file."""
    value = db or os.environ.get(URL_ENVIRONMENT_VARIABLE) or DEFAULT_DATABASE
    url = value if "://" in value else f"duckdb:///{value}"
    try:
        backend = sa.engine.make_url(url).get_backend_name()
    except (sa.exc.ArgumentError, ValueError):
        raise DatabaseError(f"cannot read database URL {value!r}: give a DuckDB file path or a URL such as "
                            "postgresql+psycopg://user@host/dbname") from None
    if backend not in SUPPORTED_BACKENDS:
        raise DatabaseError(f"{describe_url(url)}: wsdb keeps warehouses in DuckDB files or PostgreSQL "
                            f"(postgresql+psycopg://user@host/dbname), not {backend}")
    return url


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def duckdb_path(url: str) -> Path | None:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "duckdb" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def create_engine(url: str, read_only: bool = False) -> sa.Engine:
    """An engine for a URL from resolve_url; `read_only` opens a DuckDB file for reading,
    which other reading processes can share."""
    backend = sa.engine.make_url(url).get_backend_name()
    try:
        if backend == "duckdb" and read_only:
            return sa.create_engine(url, connect_args={"read_only": True})
        return sa.create_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        hint = " (pip install 'wsdb[postgres]' brings psycopg)" if backend == "postgresql" else ""
        raise DatabaseError(f"cannot use database URL {describe_url(url)}: {exc}{hint}") from None


def _alembic_config() -> Config:
    import wsdb.migrations

    config = Config()
    config.set_main_option("script_location", str(Path(wsdb.migrations.__file__).parent))
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


def schema_state(revision: str | None) -> str:
    """'current', 'behind' (an older wsdb wrote it: `wsdb db upgrade`), 'newer' (a newer
    wsdb wrote it: this one cannot read it), or 'none' (not a wsdb warehouse)."""
    if revision is None:
        return "none"
    if revision == head_revision():
        return "current"
    return "behind" if revision in known_revisions() else "newer"


def check_revision(where: str, revision: str | None) -> None:
    """A DatabaseError unless `revision` is this wsdb's newest schema, saying what to do."""
    state, head = schema_state(revision), head_revision()
    if state == "none":
        raise DatabaseError(f"{where} is not a wsdb warehouse: run `wsdb init`")
    if state == "behind":
        raise DatabaseError(f"{where} holds schema {revision}, this wsdb needs {head}: "
                            "run `wsdb db upgrade` (back the database up first)")
    if state == "newer":
        raise DatabaseError(f"{where} was written by a newer wsdb (schema {revision}; this wsdb knows schemas up "
                            f"to {head}): upgrade wsdb to open it (`wsdb db status` still reports on it)")


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
            check_revision(describe_url(url), revision)
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
        if schema_state(before) in ("none", "newer"):
            check_revision(describe_url(url), before)
        head = head_revision()
        if before == head:
            return f"warehouse {describe_url(url)} is up to date (schema {head})"
        _upgrade(engine)
        return f"upgraded {describe_url(url)} from schema {before} to {head}"
    finally:
        engine.dispose()


LOCK_ADVICE = ("a DuckDB file admits one writing process, or any number of reading ones, at a time: wait for "
               "the other process to finish (an ingest holds the file for its whole run), close it (a notebook's "
               "duckdb.connect counts), or put the warehouse on PostgreSQL for concurrent work")


def open_with_retry(url: str, attempt: Callable[[], T]) -> T:
    """`attempt()` (which opens `url`), retried while another process holds the DuckDB file,
    for up to DUCKDB_LOCK_WAIT_SECONDS ($WSDB_LOCK_WAIT_SECONDS): most wsdb commands hold it
    only for moments."""
    limit = float(os.environ.get("WSDB_LOCK_WAIT_SECONDS", DUCKDB_LOCK_WAIT_SECONDS))
    waited, pause = 0.0, 0.02
    while True:
        try:
            return attempt()
        except Exception as exc:  # OperationalError, or duckdb's own IOException (a locked file)
            cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
            if cause is exc and not type(exc).__module__.startswith(("duckdb", "_duckdb")):
                raise
            message = " ".join(str(cause).split())
            locked = "Could not set lock" in message
            if not locked or waited >= limit:
                after = f" (after waiting {waited:.0f} s)" if waited else ""
                if locked:
                    holder = message.partition("Conflicting lock is held in ")[2].split(". ")[0]
                    raise DatabaseError(f"cannot open {describe_url(url)}{after}: another process holds it"
                                        f"{' (' + holder + ')' if holder else ''}; {LOCK_ADVICE}") from None
                raise DatabaseError(f"cannot open {describe_url(url)}{after}: {message[:300]}") from None
            time.sleep(pause)
            waited += pause
            pause = min(pause * 2, 0.5)


def _connect(url: str, read_only: bool = False) -> sa.Engine:
    """An engine whose first connection has succeeded."""
    def attempt() -> sa.Engine:
        engine = create_engine(url, read_only)
        try:
            with engine.connect():
                return engine
        except Exception:
            engine.dispose()
            raise

    return open_with_retry(url, attempt)


def open_engine(url: str, read_only: bool = False) -> sa.Engine:
    """An engine on an existing warehouse at the newest schema, or a clear DatabaseError."""
    _require_existing_file(url)
    engine = _connect(url, read_only)
    with engine.connect() as connection:
        revision = current_revision(connection)
    try:
        check_revision(describe_url(url), revision)
    except DatabaseError:
        engine.dispose()
        raise
    return engine


@contextmanager
def warehouse(url: str, read_only: bool = False):
    """`with warehouse(url) as engine:` opens (and finally releases) a checked warehouse;
    `read_only` lets other readers of a DuckDB file in (and refuses writes).

    DuckDB holds a file lock for as long as an engine lives, so engines are disposed early.
    """
    engine = open_engine(url, read_only)
    try:
        yield engine
    finally:
        engine.dispose()


SCHEMA_ADVICE = {
    "current": "up to date",
    "behind": "written by an older wsdb: run `wsdb db upgrade` (back the database up first)",
    "newer": "written by a newer wsdb: upgrade wsdb to use it",
    "none": "not a wsdb warehouse: run `wsdb init`",
}


def status(url: str) -> dict:
    """Schema revision, how it compares with this wsdb, and row counts of every table and
    view. Reports on warehouses of any schema (older, newer) instead of refusing them."""
    _require_existing_file(url)
    engine = _connect(url, read_only=True)
    try:
        with engine.connect() as connection:
            revision = current_revision(connection)
            inspector = sa.inspect(connection)
            names = sorted(inspector.get_table_names()) + sorted(inspector.get_view_names())
            counts = {name: connection.execute(sa.text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one()
                      for name in names if name != "alembic_version"}
    finally:
        engine.dispose()
    state = schema_state(revision)
    return {"database": describe_url(url), "schema": revision, "schema_of_this_wsdb": head_revision(),
            "schema_state": SCHEMA_ADVICE[state], "rows": counts}
