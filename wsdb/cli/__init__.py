"""The `wsdb` command line: one module per command group, each command a thin shell over one
library function.

The warehouse is `--db` (a DuckDB file path or a URL such as postgresql+psycopg://user@host/db),
else $WSDB_URL, else ./wsdb.duckdb.
"""

from __future__ import annotations

import os
import sys
import traceback

import sqlalchemy as sa
import typer

from wsdb.cli import analyses, bundles, database, ingest, queue, reports, spaces, training
from wsdb.cli.options import GROUP_SETTINGS
from wsdb.base.errors import Interrupted, WsdbError

app = typer.Typer(
    help="wsdb: a warehouse for weight-sharing neural architecture search.\n\nCanonical architectures, benchmark "
    "ground truth with every repeat, super-nets, checkpoints and proxy scores, and analyses in SQL. Every command has "
    "--help with examples.",
    pretty_exceptions_enable=False, add_completion=False, **GROUP_SETTINGS,
)
# The order in `wsdb --help`: the warehouse, data in, results produced, results out, the queue.
app.command("init")(database.init)
app.command("summary")(database.summary)
app.add_typer(database.db_app, name="db")
app.add_typer(spaces.spaces_app, name="spaces")
app.add_typer(spaces.arch_app, name="arch")
app.add_typer(ingest.ingest_app, name="ingest")
app.command("run-supernet")(training.run_supernet)
app.command("evaluate")(training.evaluate)
app.command("train-standalone")(training.train_standalone)
app.add_typer(training.recipes_app, name="recipes")
app.command("simulate")(training.simulate)
app.command("query")(analyses.query)
app.command("sql")(analyses.sql)
app.command("export")(analyses.export)
app.add_typer(reports.report_app, name="report")
app.add_typer(reports.plot_app, name="plot")
app.add_typer(bundles.bundle_app, name="bundle")
app.command("demo")(reports.demo)
app.add_typer(queue.submit_app, name="submit")
app.command("worker")(queue.worker)
app.add_typer(queue.jobs_app, name="jobs")
app.command("pull")(database.pull)

TRACEBACK_VARIABLE = "WSDB_TRACEBACK"


def run(argv: list[str] | None = None) -> int:
    """Run the command line on `argv` (default: sys.argv); returns the exit status.

    Usage errors exit 2 (typer prints them); every other error is one line on stderr and
    exit 1: a user's mistake as `wsdb: error: ...`, a failure of the database server as
    `wsdb: error: database: ...`, and a bug in wsdb as `wsdb: internal error: ...` (with
    the traceback when $WSDB_TRACEBACK=1).
    """
    try:
        app(args=argv, prog_name="wsdb")  # standalone: typer prints usage errors and exits
        return 0
    except SystemExit as exc:
        if isinstance(exc.code, str):
            typer.echo(exc.code, err=True)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Interrupted as exc:
        typer.echo(f"wsdb: interrupted: {exc}", err=True)
        return 130
    except WsdbError as exc:
        typer.echo(f"wsdb: error: {exc}", err=True)
    except KeyboardInterrupt:
        typer.echo("wsdb: interrupted: what was committed before stays (an ingest its whole batches, an evaluation "
                   "its scored architectures, a training run its checkpoints); run the same command again to go on",
                   err=True)
        return 130
    except BrokenPipeError:  # `wsdb ... | head` closed the pipe: nothing left to say
        sys.stderr.close()
        return 0
    except Exception as exc:
        if os.environ.get(TRACEBACK_VARIABLE) == "1":
            traceback.print_exc()
        message = " ".join(str(getattr(exc, "orig", None) or exc).split())[:500]
        if isinstance(exc, sa.exc.DBAPIError) or type(exc).__module__.startswith(("duckdb", "_duckdb")):
            typer.echo(f"wsdb: error: database: {message}", err=True)
        else:
            typer.echo(f"wsdb: internal error: {type(exc).__name__}: {message} (a bug in wsdb: please report it; "
                       f"{TRACEBACK_VARIABLE}=1 shows where)", err=True)
    return 1


def main() -> None:
    """Entry point of the `wsdb` command."""
    status = run()
    # Every command has committed and disposed its engines by now. Skipping interpreter
    # finalization avoids DuckDB 2.0's nanobind "leaked instances" report, which it prints
    # at exit after any Arrow scan in a process that also holds SQLAlchemy models.
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    sys.stderr.flush()
    os._exit(status)
