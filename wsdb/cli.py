"""The `wsdb` command line: one warehouse, many small commands, each with --help.

The database is `--db` (a DuckDB file path or a SQLAlchemy URL such as
postgresql+psycopg://user@host/db), else $WSDB_URL, else ./wsdb.duckdb.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Optional

import sqlalchemy as sa
import typer

from wsdb import db as database
from wsdb.cli_options import CsvOption, DbOption, JsonOption, key_values, positive_integers
from wsdb.errors import WsdbError
from wsdb.output import Format, emit_record, emit_rows, pick_format
from wsdb.populate import FAST_SPACES
from wsdb.queue_cli import jobs_app, submit_app, worker

app = typer.Typer(
    help="wsdb: a warehouse of canonical architectures, benchmark ground truth, super-nets and "
    "proxy scores for weight-sharing NAS.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema: status and upgrades.", no_args_is_help=True)
arch_app = typer.Typer(help="Canonical architectures: identities, encodings, features.", no_args_is_help=True)
spaces_app = typer.Typer(help="Search spaces and their sub-spaces.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(arch_app, name="arch")
ingest_app = typer.Typer(
    help="Turn downloaded benchmark and publication files into warehouse rows. Every ingester "
    "is idempotent (a rerun adds nothing), commits in batches, and stops at the first bad "
    "record with its file and position.",
    no_args_is_help=True,
)
app.add_typer(spaces_app, name="spaces")
app.add_typer(ingest_app, name="ingest")
report_app = typer.Typer(help="Reports in the layout of the seeds' tables.", no_args_is_help=True)
app.add_typer(report_app, name="report")
plot_app = typer.Typer(help="PNG figures (headless matplotlib).", no_args_is_help=True)
app.add_typer(plot_app, name="plot")
app.add_typer(submit_app, name="submit")
app.add_typer(jobs_app, name="jobs")
app.command("worker")(worker)


@app.command()
def init(
    db: DbOption = None,
    populate: Annotated[
        str,
        typer.Option(help="Comma-separated spaces whose every architecture is stored right away "
                     "(nb201 and ws64 take about a second; '' for none; nb101 takes minutes: "
                     "use `wsdb spaces populate nb101`)."),
    ] = ",".join(FAST_SPACES),
) -> None:
    """Create a warehouse at the newest schema (a no-op on an up-to-date one).

    Example: wsdb init --db study.duckdb
    """
    from wsdb.populate import populate as fill

    url = database.resolve_url(db)
    typer.echo(database.init_database(url))
    spaces = [s.strip() for s in populate.split(",") if s.strip()]
    if spaces:
        with database.warehouse(url) as engine, engine.begin() as connection:
            for space in spaces:
                new_archs, new_encodings = fill(connection, space)
                typer.echo(f"{space}: {new_archs} new architectures, {new_encodings} new encodings")


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Migrate a warehouse to the newest schema. Back the database file up first.

    Example: wsdb db upgrade --db study.duckdb
    """
    typer.echo(database.upgrade_database(database.resolve_url(db)))


@db_app.command("status")
def db_status(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show the schema revision and row counts of every table and view.

    Example: wsdb db status --json
    """
    record = database.status(database.resolve_url(db))
    emit_record(record, pick_format(as_json, False))


@app.command()
def summary(db: DbOption = None, as_json: JsonOption = False, as_csv: CsvOption = False) -> None:
    """What the warehouse holds per search space: architectures, ground truth, super-nets.

    Example: wsdb summary
    """
    query = sa.text(
        """
        SELECT s.name AS search_space,
               s.num_architectures AS classes_in_space,
               (SELECT COUNT(*) FROM architectures a WHERE a.search_space = s.name) AS architectures_stored,
               (SELECT COUNT(*) FROM ground_truth_results g JOIN architectures a ON a.id = g.architecture_id
                 WHERE a.search_space = s.name) AS ground_truth_rows,
               (SELECT COUNT(*) FROM supernets n WHERE n.search_space = s.name) AS supernets,
               (SELECT COUNT(*) FROM proxy_scores p JOIN architectures a ON a.id = p.architecture_id
                 WHERE a.search_space = s.name) AS proxy_scores
        FROM search_spaces s ORDER BY s.name
        """
    )
    url = database.resolve_url(db)
    with database.warehouse(url) as engine, engine.connect() as connection:
        rows = [dict(r._mapping) for r in connection.execute(query)]
    emit_rows(rows, pick_format(as_json, as_csv), title=f"wsdb warehouse {database.describe_url(url)}")


@spaces_app.command("list")
def spaces_list(as_json: JsonOption = False, as_csv: CsvOption = False) -> None:
    """List the search spaces and their sub-spaces.

    Example: wsdb spaces list
    """
    from wsdb.spaces.registry import SEARCH_SPACES

    rows = [
        {
            "search_space": space.name,
            "classes": space.num_architectures,
            "canonical_key": space.canonical_key_kind,
            "subspace": name,
            "subspace_description": description,
        }
        for space in SEARCH_SPACES.values()
        for name, description in space.subspaces.items()
    ]
    emit_rows(rows, pick_format(as_json, as_csv))


@spaces_app.command("populate")
def spaces_populate(
    space: Annotated[str, typer.Argument(help="nb101, nb201 or ws64")],
    db: DbOption = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Processes for nb101 (default: all cores).")] = None,
) -> None:
    """Store every architecture of a search space (idempotent).

    nb101 enumerates all 423,624 classes (a few minutes on 2 cores).
    Example: wsdb spaces populate nb101
    """
    from wsdb.populate import populate as fill
    from wsdb.spaces.registry import get_space

    get_space(space)
    with database.warehouse(database.resolve_url(db)) as engine, engine.begin() as connection:
        new_archs, new_encodings = fill(connection, space, workers=workers)
    typer.echo(f"{space}: {new_archs} new architectures, {new_encodings} new encodings")


@arch_app.command("show")
def arch_show(
    space: Annotated[str, typer.Option("--space", help="nb101, nb201 or ws64")],
    matrix: Annotated[Optional[str], typer.Option(help="nb101: adjacency as JSON [[0,1],[0,0]] or rows 01|00")] = None,
    ops: Annotated[Optional[str], typer.Option(help="nb101: ops, comma-separated or JSON (input,...,output)")] = None,
    arch_str: Annotated[Optional[str], typer.Option("--arch-str", help="nb201: |op~0|+|op~0|op~1|+|op~0|op~1|op~2|")] = None,
    index: Annotated[Optional[int], typer.Option(help="nb201 official arch index, or ws64 index 0..63")] = None,
    label: Annotated[Optional[str], typer.Option(help="ws64: three digits 111..444")] = None,
    db: Annotated[
        Optional[str],
        typer.Option("--db", help="Also look the architecture up in this warehouse (its id and "
                     "ground-truth rows); without it nothing is opened."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Canonical key, canonical encoding, features and sub-spaces of one architecture.

    Examples:
      wsdb arch show --space nb101 --matrix '[[0,1,1],[0,0,1],[0,0,0]]' --ops input,conv3x3-bn-relu,output
      wsdb arch show --space nb201 --arch-str '|nor_conv_3x3~0|+|none~0|skip_connect~1|+|skip_connect~0|none~1|nor_conv_1x1~2|'
      wsdb arch show --space ws64 --label 434
    """
    from wsdb.spaces import nb101
    from wsdb.spaces.registry import canonicalize, get_space

    get_space(space)
    given = {"matrix": matrix, "ops": ops, "arch-str": arch_str, "index": index, "label": label}
    allowed = {"nb101": {"matrix", "ops"}, "nb201": {"arch-str", "index"}, "ws64": {"label", "index"}}[space]
    extra = [f"--{k}" for k, v in given.items() if v is not None and k not in allowed]
    if extra:
        raise WsdbError(f"{', '.join(extra)} do not apply to --space {space}")
    if space == "nb101":
        if matrix is None or ops is None:
            raise WsdbError("--space nb101 needs --matrix and --ops")
        arch = nb101.canonicalize(nb101.parse_matrix(matrix), nb101.parse_ops(ops))
    elif space == "nb201":
        if (arch_str is None) == (index is None):
            raise WsdbError("--space nb201 needs exactly one of --arch-str and --index")
        arch = canonicalize("nb201-arch-str", arch_str) if arch_str else canonicalize("nb201-index", str(index))
    else:
        if (label is None) == (index is None):
            raise WsdbError("--space ws64 needs exactly one of --label and --index")
        arch = canonicalize("ws64-label", label) if label else canonicalize("ws64-index", str(index))
    record = arch.as_dict()
    if db is not None:
        record.update(_stored_facts(db, arch))
    emit_record(record, pick_format(as_json, False))


def _report_ingest(summary, as_json: bool) -> None:
    if as_json:
        emit_record(summary.as_dict(), pick_format(True, False))
    else:
        typer.echo(summary.line())


@ingest_app.command("nasbench101")
def ingest_nasbench101(
    path: Annotated[str, typer.Argument(help="nasbench_only108.tfrecord or nasbench_full.tfrecord")],
    db: DbOption = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Decoding processes (default: all cores).")] = None,
    batch_records: Annotated[int, typer.Option(min=1, help="Records per committed batch.")] = 30_000,
    as_json: JsonOption = False,
) -> None:
    """Official NAS-Bench-101 TFRecord files, read without TensorFlow (checksums verified,
    every module hash recomputed; every repeat and evaluation point stored).

    Example: wsdb ingest nasbench101 nasbench_only108.tfrecord --db study.duckdb
    """
    from wsdb.ingest.nb101 import ingest_nb101

    with database.warehouse(database.resolve_url(db)) as engine:
        summary = ingest_nb101(engine, Path(path), workers=workers, block_records=batch_records)
    _report_ingest(summary, as_json)


@ingest_app.command("to-share")
def ingest_to_share_command(
    path: Annotated[str, typer.Argument(help="A folder of <method>/<space>/<seed>/eval_results.pkl, or one such file")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Published super-net results of Pourchot et al. 2020 (To Share or Not To Share).

    One imported super-net per <method>/<space>/<seed>: configuration from the method name
    (baseline, pro-rata, avg-3, single-k, s-k+p-r; _ft_bn = BNS-FT, _no_ft = NO-FT), its
    1,000 architectures as a named sample, their proxy accuracies, and their NB101 ground
    truth. The pickles are loaded through an allow-list (numpy arrays and builtins only):
    a pickle that reaches for anything else is refused, never executed.

    Example: wsdb ingest to-share to_share_or_not_to_share/results_paper
    """
    from wsdb.ingest.to_share import ingest_to_share

    with database.warehouse(database.resolve_url(db)) as engine:
        summary = ingest_to_share(engine, Path(path))
    _report_ingest(summary, as_json)


@ingest_app.command("ws64")
def ingest_ws64_command(
    from_csv: Annotated[Optional[str], typer.Option("--from", help="The authors' repository version "
                        "(CSV with label, gt_acc_mean, gt_acc_std) instead of the paper's Table 5.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Stand-alone ground truth of the 64-architecture space (Zhang et al. 2020): the paper's
    Table 5, shipped with wsdb, or the repository version with --from.

    Examples: wsdb ingest ws64; wsdb ingest ws64 --from ground_truth_64.csv
    """
    from wsdb.ingest.ws64 import ingest_ws64_ground_truth

    with database.warehouse(database.resolve_url(db)) as engine:
        summary = ingest_ws64_ground_truth(engine, Path(from_csv) if from_csv else None)
    _report_ingest(summary, as_json)


@ingest_app.command("ws64-trajectory")
def ingest_ws64_trajectory_command(
    path: Annotated[str, typer.Argument(help="CSV with step, arch_index, supernet_val_acc")],
    name: Annotated[Optional[str], typer.Option(help="Super-net name (default zhang2020/<file stem>).")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """A published ws64 super-net trajectory: one imported super-net, one checkpoint per
    step, the 64 validation accuracies of each step as proxy scores.

    Example: wsdb ingest ws64-trajectory supernet_last128_steps.csv
    """
    from wsdb.ingest.ws64 import ingest_ws64_trajectory

    with database.warehouse(database.resolve_url(db)) as engine:
        summary = ingest_ws64_trajectory(engine, Path(path), name)
    _report_ingest(summary, as_json)


@ingest_app.command("nasbench201")
def ingest_nasbench201(
    path: Annotated[str, typer.Argument(help="A NATS-tss folder of NNNNNN.pickle.pbz2 files, one such file, "
                                        "or an official NAS-Bench-201-v1_*.pth")],
    trust: Annotated[bool, typer.Option("--trust", help="Load with unrestricted unpickling. Needed for .pth "
                     "files (torch pickles can run code while loading): only for files you trust.")] = False,
    final_only: Annotated[bool, typer.Option("--final-only", help="Store only the last epoch of each run "
                          "(default: every evaluated epoch).")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """NAS-Bench-201 / NATS-Bench topology results: every dataset, seed, epoch budget (12,
    200) and evaluated epoch the files hold, mapped to canonical NB201 architectures.

    NATS .pickle.pbz2 files are read through an allow-list (numpy, OrderedDict), one at a time;
    a .pth file is a torch pickle that can execute code, so it needs --trust, and it is read
    whole (the format cannot be streamed).

    Examples: wsdb ingest nasbench201 NATS-tss-v1_0-3ffb9-simple/;
    wsdb ingest nasbench201 NAS-Bench-201-v1_1-096897.pth --trust
    """
    from wsdb.ingest.nb201 import ingest_nats, ingest_nb201_pth

    with database.warehouse(database.resolve_url(db)) as engine:
        if path.endswith((".pth", ".pt")):
            summary = ingest_nb201_pth(engine, Path(path), trust, final_only)
        else:
            summary = ingest_nats(engine, Path(path), trust, final_only)
    _report_ingest(summary, as_json)


@ingest_app.command("nb201-table")
def ingest_nb201_table_command(
    path: Annotated[str, typer.Argument(help="CSV with arch_index, arch_str and result/score columns")],
    source: Annotated[str, typer.Option(help="Name stored with the training-free scores.")] = "table",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """A per-architecture NB201 table such as nb201_all15625.csv: val_acc_200ep_<dataset>
    (200-epoch validation accuracy, %), mini_12ep_<dataset>_<split> (12-epoch results),
    num_params, and <metric>_score_<dataset> training-free scores (zero_cost_scores).

    Example: wsdb ingest nb201-table nb201_all15625.csv --source monet
    """
    from wsdb.ingest.nb201 import ingest_nb201_table

    with database.warehouse(database.resolve_url(db)) as engine:
        summary = ingest_nb201_table(engine, Path(path), source)
    _report_ingest(summary, as_json)


@ingest_app.command("scores")
def ingest_scores_command(
    path: Annotated[str, typer.Argument(help="CSV of per-architecture scores keyed by an encoding")],
    space: Annotated[str, typer.Option("--space", help="nb101 or nb201")],
    source: Annotated[str, typer.Option(help="Who computed the scores (stored with them).")] = "naslib",
    dataset: Annotated[Optional[str], typer.Option(help="Dataset, when the file has no dataset column.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Zero-cost / training-free scores keyed by an encoding (NB101 matrix+ops or NASLib
    tuple; NB201 arch string, index or NASLib tuple); every other numeric column is a metric,
    <m>_score with <m>_time gives its elapsed seconds.

    Example: wsdb ingest scores naslib_zero_cost_500.csv --space nb101 --dataset cifar10
    """
    from wsdb.ingest.scores import ingest_scores

    with database.warehouse(database.resolve_url(db)) as engine:
        summary = ingest_scores(engine, Path(path), space, source, dataset)
    _report_ingest(summary, as_json)


def _emit_table(table, fmt, csv_file: Optional[str], parquet_file: Optional[str], title: str | None = None) -> None:
    from wsdb.duck import write

    if csv_file and parquet_file:
        raise WsdbError("choose one of --csv and --parquet")
    if csv_file or parquet_file:
        write(table, Path(csv_file or parquet_file), "csv" if csv_file else "parquet")
        typer.echo(f"wrote {table.num_rows:,} rows to {csv_file or parquet_file}", err=True)
        return
    rows = table.to_pylist()
    shown = rows if fmt.value == "json" else rows[:SHOWN_ROWS]
    emit_rows(shown, fmt, title=title)
    if len(shown) < len(rows):
        typer.echo(f"({len(rows):,} rows, {SHOWN_ROWS} shown: use --csv/--parquet/--json for all)", err=True)


SHOWN_ROWS = 100
DEFAULT_DUCKDB = database.DEFAULT_DATABASE
CsvFileOption = Annotated[Optional[str], typer.Option("--csv", help="Write the result to this CSV file.")]
ParquetFileOption = Annotated[Optional[str], typer.Option("--parquet", help="Write the result to this Parquet file.")]


@app.command()
def query(
    name: Annotated[Optional[str], typer.Argument(help="An analysis of queries/ (see --list) or a path to a .sql file")] = None,
    param: Annotated[Optional[list[str]], typer.Option("--param", help="k=v, bound as a parameter (repeatable)")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the analyses with their parameters.")] = False,
    db: DbOption = None,
    csv_file: CsvFileOption = None,
    parquet_file: ParquetFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run an analysis: a SQL file with a header saying what it computes, its parameters and
    columns. Parameters are bound, never spliced into the SQL.

    Examples: wsdb query --list; wsdb query correlation --param protocol=bns-ft:4 --csv rho.csv
    """
    from wsdb import analysis, duck

    if list_:
        rows = [
            {"analysis": a.name, "computes": a.summary,
             "parameters": ", ".join(f"{p.name}={'(required)' if p.required else repr(p.default)}"
                                     for p in a.all_parameters().values())}
            for a in analysis.shipped().values()
        ]
        emit_rows(rows, pick_format(as_json, False))
        return
    if not name:
        raise WsdbError("name an analysis (wsdb query --list shows them)")
    chosen = analysis.load(name)
    values = chosen.bind(key_values(param, "--param"))
    with duck.connect(database.resolve_url(db)) as con:
        table = analysis.execute(con, chosen, values)
    _emit_table(table, Format.json if as_json else Format.table, csv_file, parquet_file, title=chosen.summary)


@app.command()
def sql(
    statement: Annotated[str, typer.Argument(help="SQL to run on the warehouse (DuckDB dialect)")],
    write_access: Annotated[bool, typer.Option("--write", help="Open the warehouse read-write (default: read-only).")] = False,
    db: DbOption = None,
    csv_file: CsvFileOption = None,
    parquet_file: ParquetFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ad-hoc SQL on the warehouse: one read-only statement in a sandbox, unless --write.

    Without --write the warehouse is opened read-only and DuckDB may touch no other file (no
    ATTACH, COPY, read_csv, extensions): --csv/--parquet write the result. With --write it is a
    plain read-write DuckDB session: several statements run in one transaction, and the last
    one's result is shown.

    Example: wsdb sql "SELECT subspace, COUNT(*) FROM architecture_subspaces GROUP BY ALL"
    """
    from wsdb import duck

    with duck.connect(database.resolve_url(db), read_only=not write_access) as con:
        table = duck.run_script(con, statement) if write_access else duck.run(con, statement)
    _emit_table(table, Format.json if as_json else Format.table, csv_file, parquet_file)


@app.command()
def export(
    name: Annotated[str, typer.Argument(help="A table or view of the warehouse")],
    db: DbOption = None,
    csv_file: CsvFileOption = None,
    parquet_file: ParquetFileOption = None,
) -> None:
    """Write a whole table or view to CSV or Parquet.

    Example: wsdb export proxy_vs_truth --parquet proxy_vs_truth.parquet
    """
    from wsdb import duck

    if not (csv_file or parquet_file):
        raise WsdbError("export needs --csv FILE or --parquet FILE")
    with duck.connect(database.resolve_url(db)) as con:
        known = {n for (n,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if name not in known:
            raise WsdbError(f"no table or view {name!r}; known: {', '.join(sorted(known))}")
        table = duck.run(con, f'SELECT * FROM "{name}"')  # name checked against the catalog above
    _emit_table(table, Format.table, csv_file, parquet_file)


@report_app.command("table1")
def report_table1(
    db: DbOption = None,
    ci: Annotated[str, typer.Option("--ci", help="Interval: seed000 (1.96 x population sd / sqrt(n), "
                  "as Table 1 reports) or student-t.")] = "seed000",
    param: Annotated[Optional[list[str]], typer.Option("--param", help="k=v for the correlation analysis "
                     "(truth, dataset, epoch_budget, metric)")] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table.")] = False,
    csv_file: CsvFileOption = None,
) -> None:
    """Table 1 of ../seeds/000: per sub-space and training variant x evaluation protocol, the
    mean Spearman rho over super-nets with a 95% CI; * marks cells where a diverged super-net
    (constant proxy) was left out.

    Example: wsdb report table1 --markdown
    """
    import pyarrow as pa

    from wsdb import report

    report.check_convention(ci)
    cells = report.summary(database.resolve_url(db), key_values(param, "--param"))
    if csv_file:
        _emit_table(pa.Table.from_pylist(report.long_rows(cells, ci)), Format.table, csv_file, None)
        return
    rows = report.layout(cells, ci)
    if markdown:
        typer.echo(report.markdown(rows, ci), nl=False)
    else:
        emit_rows(rows, pick_format(False, False), title="Spearman rho between proxy and stand-alone accuracy")


@report_app.command("table2")
def report_table2(
    db: DbOption = None,
    space: Annotated[str, typer.Option("--space", help="Search space of the simulations")] = "nb101",
    top_k: Annotated[str, typer.Option("--top-k", help="Comma-separated k of the TOP-k budgets")] = "1,10",
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table.")] = False,
    csv_file: CsvFileOption = None,
) -> None:
    """Table 2 of ../seeds/000 from the stored simulations: per sub-space and TOP-k budget, the
    mean regret difference RS - RE and RS - WS (x100) with a 95% CI, t-test p-value, Cohen's d.

    Example: wsdb report table2 --markdown
    """
    import pyarrow as pa

    from wsdb import report

    rows = report.table2(database.resolve_url(db), space, positive_integers(top_k, "--top-k"))
    if csv_file:
        _emit_table(pa.Table.from_pylist(rows), Format.table, csv_file, None)
    elif markdown:
        typer.echo(report.table2_markdown(rows), nl=False)
    else:
        emit_rows(rows, pick_format(False, False), title="Regret differences at the TOP-k budgets (x100)")


@plot_app.command("scatter")
def plot_scatter(
    supernet: Annotated[str, typer.Option("--supernet", help="Super-net id or name")],
    out: Annotated[str, typer.Option("--out", help="PNG file to write")] = "scatter.png",
    color_by: Annotated[str, typer.Option("--color-by", help="Architecture feature that colours the points")] = "has_input_output_edge",
    protocol: Annotated[Optional[str], typer.Option(help="Evaluation protocol, when the super-net has several")] = None,
    dataset: Annotated[Optional[str], typer.Option(help="Ground-truth dataset, when several")] = None,
    epoch_budget: Annotated[Optional[int], typer.Option(help="Ground-truth budget, when several")] = None,
    db: DbOption = None,
) -> None:
    """Proxy score vs mean stand-alone accuracy of one super-net's architectures, coloured by a
    feature, with both marginal distributions.

    Example: wsdb plot scatter --supernet to-share/baseline_ft_bn/full/0 --out full0.png
    """
    from wsdb import plots

    path = plots.scatter(database.resolve_url(db), supernet, Path(out), color_by, protocol, dataset, epoch_budget)
    typer.echo(f"wrote {path}")


@plot_app.command("regret")
def plot_regret(
    out: Annotated[str, typer.Option("--out", help="PNG file to write")] = "regret.png",
    space: Annotated[str, typer.Option("--space", help="Search space of the simulations")] = "nb101",
    subspace: Annotated[Optional[str], typer.Option(help="Sub-space (default: the whole space)")] = None,
    top_k: Annotated[str, typer.Option("--top-k", help="TOP-k budget lines")] = "1,10,20",
    db: DbOption = None,
) -> None:
    """Mean test regret vs simulated time (log-log) of the stored simulations, per algorithm,
    with 95% bands and the TOP-k budget lines.

    Example: wsdb plot regret --space nb101 --out regret.png
    """
    from wsdb import plots

    path = plots.regret(database.resolve_url(db), Path(out), space, subspace, positive_integers(top_k, "--top-k"))
    typer.echo(f"wrote {path}")


@plot_app.command("correlation")
def plot_correlation(
    out: Annotated[str, typer.Option("--out", help="PNG file to write")] = "correlation.png",
    ci: Annotated[str, typer.Option("--ci", help="seed000 or student-t")] = "seed000",
    param: Annotated[Optional[list[str]], typer.Option("--param", help="k=v for the correlation analysis")] = None,
    db: DbOption = None,
) -> None:
    """Mean Spearman rho with 95% intervals per sub-space and configuration (Table 1 as a figure).

    Example: wsdb plot correlation --out correlation.png
    """
    from wsdb import plots

    path = plots.correlation(database.resolve_url(db), Path(out), ci, key_values(param, "--param"))
    typer.echo(f"wrote {path}")


@app.command()
def demo(
    db: Annotated[str, typer.Option("--db", help="The demo warehouse to create (must not exist).")] = "demo.duckdb",
    out: Annotated[str, typer.Option("--out", help="Folder for the CSV and PNG files.")] = ".",
) -> None:
    """Build a warehouse from the real sample shipped with wsdb (ten published super-nets of
    seed 000 on NB101 FULL with their ground truth, and the ws64 space) and run the headline
    analyses: Table 1 rows, correlations (CSV), top-10 (CSV) and a scatter plot (PNG).

    Example: wsdb demo --db demo.duckdb --out .
    """
    from wsdb.demo import build

    files = build(Path(db), Path(out), say=typer.echo)
    typer.echo("\nWrote:")
    typer.echo(f"  {db}  (the warehouse)")
    for path in files.values():
        typer.echo(f"  {path}")
    bin_dir = Path(sys.executable).parent  # the environment wsdb runs in (.venv after `make demo`)
    typer.echo("\nOpen the warehouse with DuckDB, for example:")
    typer.echo(f"  {bin_dir / 'wsdb'} sql \"SELECT * FROM proxy_vs_truth LIMIT 5\" --db {db}")
    typer.echo(f"  {bin_dir / 'python'} -c \"import duckdb; duckdb.connect('{db}', read_only=True).sql('FROM ground_truth_mean LIMIT 5').show()\"")


@app.command()
def simulate(
    space: Annotated[str, typer.Option("--space", help="nb101 or nb201")],
    algorithm: Annotated[str, typer.Option("--algorithm", help="rs (random search), re (regularized evolution), "
                         "ws (weight-sharing-guided)")],
    subspace: Annotated[Optional[str], typer.Option(help="Search within this sub-space (e.g. A2, RES)")] = None,
    runs: Annotated[int, typer.Option(min=1, help="Independent runs")] = 100,
    queries: Annotated[int, typer.Option(min=1, help="Queries per run (rs, re); ws queries its whole sample")] = 10_000,
    repeat: Annotated[str, typer.Option(help="Ground truth of a query: random (a random repeat, like the "
                      "official API) or mean (over repeats)")] = "random",
    seed: Annotated[int, typer.Option(help="Random seed; the same seed and settings reproduce (and skip) runs")] = 0,
    supernet: Annotated[Optional[str], typer.Option(help="ws: super-net id or name")] = None,
    protocol: Annotated[Optional[str], typer.Option(help="ws: evaluation protocol of the proxy scores")] = None,
    sample: Annotated[Optional[str], typer.Option(help="ws: the named sample to order (default: the sample "
                      "named like the super-net)")] = None,
    supernet_seconds: Annotated[Optional[float], typer.Option(help="ws: super-net training time, when the "
                                "warehouse does not record it (imported super-nets)")] = None,
    evaluation_seconds: Annotated[Optional[float], typer.Option(help="ws: time to score the sample, when not recorded")] = None,
    benchmark: Annotated[Optional[str], typer.Option(help="Ground-truth benchmark (default: nasbench101 / nasbench201)")] = None,
    dataset: Annotated[Optional[str], typer.Option(help="Ground-truth dataset (default: cifar10 / cifar10-valid)")] = None,
    epoch_budget: Annotated[Optional[int], typer.Option(help="Ground-truth budget (default: 108 / 200)")] = None,
    db: DbOption = None,
) -> None:
    """Simulate searches on the ground truth the warehouse holds and store every run and its
    trajectory (search_runs, search_traces): regret after each query against the best mean
    test accuracy of the (sub)space.

    Examples: wsdb simulate --space nb101 --algorithm re --runs 500 --queries 10000;
    wsdb simulate --space nb101 --algorithm ws --supernet to-share/baseline_ft_bn/full/0
    --protocol bns-ft:4 --supernet-seconds 180000 --evaluation-seconds 5000 --runs 30
    """
    import numpy as np

    from wsdb import simulate as sim

    if algorithm not in sim.ALGORITHMS:
        raise WsdbError(f"--algorithm must be one of {', '.join(sim.ALGORITHMS)}")
    if space not in sim.DEFAULT_BENCHMARK:
        raise WsdbError(f"--space must be one of {', '.join(sim.DEFAULT_BENCHMARK)}")
    if repeat not in ("random", "mean"):
        raise WsdbError("--repeat must be random or mean")
    default_benchmark, default_dataset, default_budget = sim.DEFAULT_BENCHMARK[space]
    rng = np.random.default_rng(seed)
    config = {"queries": queries, "repeat": repeat, "benchmark": benchmark or default_benchmark,
              "dataset": dataset or default_dataset, "epoch_budget": epoch_budget or default_budget}
    with database.warehouse(database.resolve_url(db)) as engine:
        with engine.connect() as connection:
            gt = sim.load_ground_truth(connection, space, subspace, config["benchmark"], config["dataset"],
                                       config["epoch_budget"])
            supernet_id = sample_name = None
            if algorithm == "ws":
                supernet_id, sample_name, order, start = sim.ws_order(
                    connection, supernet, protocol, sample, supernet_seconds, evaluation_seconds, gt.time_unit)
                config.update({"start_time": start})
        if algorithm == "rs":
            results = sim.random_search(gt, runs, queries, rng, repeat)
        elif algorithm == "re":
            results = sim.regularized_evolution(gt, runs, queries, rng, repeat)
        else:
            results = sim.ws_guided_search(gt, order, runs, rng, repeat, config["start_time"])
        with engine.begin() as connection:
            new_runs, rows = sim.store_runs(connection, gt, algorithm, results, config, seed, subspace,
                                            supernet_id, protocol if algorithm == "ws" else None, sample_name)
    final = np.mean([r["regret"][-1] for r in results]) * 100
    typer.echo(f"{algorithm} on {space}{'/' + subspace if subspace else ''}: {len(results)} runs "
               f"({new_runs} new, {rows:,} trace rows), {len(gt.architecture_ids):,} architectures searched, "
               f"best mean {gt.regret_on} accuracy {gt.best_test * 100:.2f}%, final mean {gt.regret_on} regret "
               f"{final:.3f} points, time in {gt.time_unit}")


@app.command()
def pull(
    source: Annotated[str, typer.Option("--from", help="The warehouse to copy, e.g. postgresql+psycopg://user@host/db")],
    target: Annotated[str, typer.Option("--to", help="The DuckDB file to copy into (created if missing)")] = DEFAULT_DUCKDB,
) -> None:
    """Copy a warehouse (typically the PostgreSQL one that workers write to) into a DuckDB file,
    where the analyses run. Incremental: a second pull copies only new rows, and updates the
    super-nets, jobs and attempts whose status changed since.

    Example: wsdb pull --from postgresql+psycopg://wsdb@db.lab/wsdb --to study.duckdb
    """
    from wsdb.pull import pull as copy_warehouse

    copied = copy_warehouse(database.resolve_url(source), database.resolve_url(target))
    new = sum(count for name, count in copied.items() if not name.endswith(" updated"))
    updated = sum(count for name, count in copied.items() if name.endswith(" updated"))
    typer.echo(f"pulled {new:,} new rows and {updated:,} updated ones into {target}: " +
               ", ".join(f"{name} {count:,}" for name, count in copied.items() if count))


@app.command("run-supernet")
def run_supernet_command(
    space: Annotated[Optional[str], typer.Option("--space", help="nb101, nb201 or ws64")] = None,
    subspace: Annotated[Optional[str], typer.Option(help="Train on this sub-space only (nb101: A1-A4, FULL, RES, NRES)")] = None,
    sampler: Annotated[Optional[str], typer.Option(help="uniform (over encodings, SPOS), random-a (over canonical "
                       "architectures), fairnas, pro-rata (to parameter count)")] = None,
    avg: Annotated[Optional[int], typer.Option("--avg", min=1, help="AVG-k: architectures per batch, losses averaged")] = None,
    slicing: Annotated[Optional[str], typer.Option(help="nb101 dynamic channels: first (first c) or interpolate")] = None,
    single_kernel: Annotated[Optional[bool], typer.Option("--single-kernel/--no-single-kernel",
                             help="nb101 SINGLE-K: the 1x1 kernel is the centre of the 3x3")] = None,
    epochs: Annotated[Optional[int], typer.Option(min=1, help="Training epochs")] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1, help="Batch size")] = None,
    learning_rate: Annotated[Optional[float], typer.Option("--lr", help="Initial learning rate")] = None,
    channels: Annotated[Optional[int], typer.Option(min=1, help="Initial channels (nb101 stem, nb201 C, ws64 cell)")] = None,
    cells: Annotated[Optional[int], typer.Option(min=1, help="Cells per stack (nb101), per stage (nb201), in all (ws64)")] = None,
    train_portion: Annotated[Optional[float], typer.Option(help="Portion of the training split used")] = None,
    dataset: Annotated[Optional[str], typer.Option(
        help="cifar10, cifar10-valid, cifar100, ImageNet16-120, npz, synthetic")] = None,
    checkpoint_every: Annotated[Optional[int], typer.Option(min=1, help="Save a checkpoint every N epochs (and at the end)")] = None,
    config_file: Annotated[Optional[Path], typer.Option("--config", help="YAML file of configuration keys "
                           "(README: every key); options given here override it")] = None,
    seed: Annotated[int, typer.Option(help="Seed of weights, sampling and data order (kept outside the configuration)")] = 0,
    name: Annotated[Optional[str], typer.Option(help="A name for the super-net (unique names help later commands)")] = None,
    resume: Annotated[Optional[str], typer.Option("--resume", help="Continue this super-net (id or name) from its "
                      "newest checkpoint, whose sha256 must match")] = None,
    checkpoint_dir: Annotated[Optional[str], typer.Option(help="Directory or fsspec URI for checkpoint files "
                              "(default: ./checkpoints; with --resume, where the super-net's checkpoints are)")] = None,
    force: Annotated[bool, typer.Option("--force", help="With --resume: resume a super-net marked running (its "
                     "process died without saying so)")] = False,
    data_dir: Annotated[Optional[str], typer.Option(help="Where the dataset lies (or an .npz file for --dataset npz)")] = None,
    device: Annotated[Optional[str], typer.Option(help="cpu, cuda, cuda:1 (default: CUDA when available)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress output")] = False,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Train a super-net, saving a checkpoint every N epochs (file + sha256 in the warehouse).

    The super-net row holds the full configuration, host, device and code version; a failed
    run is marked failed with its error. Checkpoints are loaded back only through torch's
    weights-only allow-list and only if their sha256 matches.

    Examples: wsdb run-supernet --space nb101 --subspace A3 --sampler pro-rata --epochs 432;
    wsdb run-supernet --space nb201 --dataset synthetic --epochs 2 --channels 4 --cells 1;
    wsdb run-supernet --resume 3f2a...
    """
    from wsdb.trainers.config import make_config, read_config_file
    from wsdb.trainers.train import RunOptions, resume_supernet, run_supernet

    url = database.resolve_url(db)
    options = RunOptions(checkpoint_dir, data_dir, device, progress=not quiet)
    if resume:
        supernet_id = resume_supernet(url, resume, options, force=force)
    else:
        values = read_config_file(config_file) if config_file else {}
        given = {"space": space, "subspace": subspace, "sampler": sampler, "architectures_per_batch": avg,
                 "slicing": slicing, "single_kernel": single_kernel, "epochs": epochs, "batch_size": batch_size,
                 "learning_rate": learning_rate, "initial_channels": channels, "cells_per_stack": cells,
                 "train_portion": train_portion, "dataset": dataset, "checkpoint_every": checkpoint_every}
        values.update({k: v for k, v in given.items() if v is not None})
        supernet_id = run_supernet(url, make_config(values), seed, name, options)
    with database.warehouse(url) as engine, engine.connect() as connection:
        row = connection.execute(sa.text(
            "SELECT s.id, s.status, s.training_seconds, COUNT(c.id) AS checkpoints FROM supernets s "
            "LEFT JOIN checkpoints c ON c.supernet_id = s.id WHERE s.id = :id GROUP BY s.id, s.status, s.training_seconds"),
            {"id": supernet_id}).one()
    record = dict(row._mapping)
    if as_json:
        emit_record(record, Format.json)
    else:
        typer.echo(f"super-net {record['id']}: {record['status']}, {record['checkpoints']} checkpoint(s), "
                   f"{record['training_seconds']:.1f} s")


@app.command()
def evaluate(
    supernet: Annotated[str, typer.Option(help="Super-net id or name")],
    protocol: Annotated[str, typer.Option(help="no-ft, bns-ft[:BATCHES] (default 4) or ft[:STEPS] (default 100)")] = "bns-ft:4",
    sample: Annotated[Optional[str], typer.Option(help="Score this named architecture sample")] = None,
    n: Annotated[Optional[int], typer.Option("--n", min=1, help="Score N canonical architectures drawn uniformly from the "
                 "super-net's (sub)space (saved as sample random/<space>/<subspace>/<N>/<seed>)")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the --n draw")] = 0,
    checkpoint: Annotated[str, typer.Option(help="latest, all, a label (epoch-12) or an epoch number")] = "latest",
    save_predictions: Annotated[bool, typer.Option("--save-predictions", help="Also write every image's prediction "
                                "and loss to an HDF5 file beside the checkpoint")] = False,
    data_dir: Annotated[Optional[str], typer.Option(help="Where the dataset lies (as for run-supernet)")] = None,
    device: Annotated[Optional[str], typer.Option(help="cpu, cuda, ... (default: CUDA when available)")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Validation batch size")] = 1000,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress output")] = False,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Score architectures with a trained super-net and store their validation accuracy and
    loss as proxy scores of the checkpoint and protocol. Already scored ones are skipped (a
    rerun is a no-op). Checkpoint files must match their sha256 and load through torch's
    weights-only allow-list.

    Examples: wsdb evaluate --supernet 3f2a... --protocol bns-ft:4 --n 1000;
    wsdb evaluate --supernet my-net --protocol no-ft --sample to-share/baseline_ft_bn/full/0 --checkpoint all
    """
    from wsdb.trainers.evaluate import evaluate_supernet

    summary = evaluate_supernet(database.resolve_url(db), supernet, protocol, sample, n, seed, checkpoint,
                                save_predictions, data_dir, device, batch_size, progress=not quiet)
    if as_json:
        emit_record(dict(vars(summary)), Format.json)
    else:
        typer.echo(summary.line())
        for uri in summary.prediction_files:
            typer.echo(f"predictions: {uri}")


def _stored_facts(db: str, arch) -> dict:
    with database.warehouse(database.resolve_url(db)) as engine, engine.connect() as connection:
        arch_id = connection.execute(
            sa.text("SELECT id FROM architectures WHERE search_space = :s AND canonical_key = :k"),
            {"s": arch.search_space, "k": arch.canonical_key},
        ).scalar()
        if arch_id is None:
            return {"architecture_id": None}
        rows = connection.execute(
            sa.text(
                "SELECT benchmark, dataset, epoch_budget, evaluation_point, num_repeats, "
                "validation_accuracy, test_accuracy FROM ground_truth_mean WHERE architecture_id = :a "
                "ORDER BY benchmark, dataset, epoch_budget, epoch"
            ),
            {"a": arch_id},
        )
        return {"architecture_id": arch_id, "ground_truth_mean": [dict(r._mapping) for r in rows]}


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
    except WsdbError as exc:
        typer.echo(f"wsdb: error: {exc}", err=True)
    except KeyboardInterrupt:
        typer.echo("wsdb: interrupted", err=True)
        return 130
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
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
