"""Shared fixtures: the published data beside the checkout, fresh DuckDB warehouses, and a
real PostgreSQL server started on loopback for the session (Debian's postgresql package)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `pytest -n 2` on 2 cores: one thread per worker (and its subprocesses), not two each
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
SHARED_DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "tools"))
import throwaway_postgres  # noqa: E402  (tools/ is not a package)


@pytest.fixture(scope="session")
def all_nb101_classes():
    """The 423,624 NB101 classes, enumerated once for the slow tests that need them (~60 s)."""
    from wsdb.spaces import nb101_enumeration

    return nb101_enumeration.all_classes()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"published data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def duckdb_url(tmp_path) -> str:
    return f"duckdb:///{tmp_path / 'wsdb.duckdb'}"


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, process: bool = False
            ) -> subprocess.CompletedProcess:
    """Run `wsdb ARGS` as a user would and return its exit status, stdout and stderr.

    In this process by default, through the same entry point as the command (wsdb.cli.run:
    its output is not a terminal, as in a pipe), which saves a second of interpreter and
    import start-up per call; `process=True` runs the real `wsdb` in a subprocess, for what
    needs one (signals, concurrency, file locks between processes, a terminal)."""
    if process:
        return subprocess.run([sys.executable, "-m", "wsdb.cli", *args], capture_output=True, text=True,
                              env={**os.environ, **(env or {})}, cwd=cwd, timeout=300)
    from wsdb.cli import run

    saved_environment, saved_directory = dict(os.environ), os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    try:
        os.environ.update(env or {})
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = run(list(args))
    finally:
        os.chdir(saved_directory)
        os.environ.clear()
        os.environ.update(saved_environment)
    return subprocess.CompletedProcess(["wsdb", *args], status, out.getvalue(), err.getvalue())


def migrate(url: str, direction: str, revision: str) -> None:
    """Alembic's upgrade or downgrade of a warehouse to `revision`, as `wsdb db upgrade` runs it."""
    from alembic import command

    from wsdb.warehouse import db as database

    engine = database.create_engine(url)
    config = database._alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            getattr(command, direction)(config, revision)
    finally:
        engine.dispose()


def _build_demo(folder: Path) -> str:
    result = run_cli("demo", "--db", str(folder / "demo.duckdb"), "--out", str(folder), cwd=folder)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory, worker_id) -> tuple[Path, str]:
    """`wsdb demo` run once per test run: (a folder of this process's own, what it printed);
    the warehouse is demo.duckdb there. Tests that change it work on a copy. Under xdist the
    first process builds it (12 s) in the run's shared folder and each process copies it."""
    folder = tmp_path_factory.mktemp("demo")
    if worker_id == "master":
        return folder, _build_demo(folder)
    import fcntl
    import shutil

    shared = tmp_path_factory.getbasetemp().parent / "demo-shared"  # this run's, shared by its workers
    with open(shared.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "printed.txt").exists():
            shared.mkdir(exist_ok=True)
            (shared / "printed.txt").write_text(_build_demo(shared))
    shutil.copytree(shared, folder, dirs_exist_ok=True)
    return folder, (folder / "printed.txt").read_text()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """A throwaway PostgreSQL cluster on 127.0.0.1; yields a URL template without database.

    Skipped when PostgreSQL is not installed, unless WSDB_REQUIRE_POSTGRES=1 (CI sets it).
    """
    if not throwaway_postgres.available():
        if os.environ.get("WSDB_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is required (WSDB_REQUIRE_POSTGRES=1) but initdb/pg_ctl are not installed")
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    with throwaway_postgres.throwaway_postgres(tmp_path_factory.mktemp("postgres")) as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    name = f"wsdb_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(f"{postgres_server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return f"{postgres_server}/{name}"


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_url(request, tmp_path) -> str:
    """The same test on a DuckDB file and on PostgreSQL."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'wsdb.duckdb'}"
    return request.getfixturevalue("postgres_url")


def pytest_sessionfinish(session, exitstatus):
    session.config._wsdb_exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    # DuckDB 2.0's bindings (nanobind) print a long "leaked instances" report during
    # interpreter finalization once DuckDB connections lived next to SQLAlchemy engines in
    # the process. It is cosmetic, but it would land after pytest's summary line, which is
    # the line CI reads: leave right after pytest has finished, with pytest's exit status.
    status = getattr(config, "_wsdb_exit_status", None)
    if status is not None and not hasattr(sys, "_called_from_pytester"):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
