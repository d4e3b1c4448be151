"""A researcher's first hour, as seen: no silent empty results, readable terminal tables and
complete piped output, space-aware defaults, one metric per plot, data reused by evaluate,
papers cited by name, outside clients, read-only opens, help text, NB201 ground truth kinds."""

import csv
import io
import json
import os
import pty
import re
import shutil
import subprocess
import sys

import duckdb
import numpy as np
import pytest

from conftest import REPO, SHARED_DATA, migrate, run_cli


def tty_run(*args: str, columns: int = 100) -> str:
    """The command's stdout as a terminal of `columns` columns shows it."""
    main, secondary = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "wsdb.cli", *args], stdout=secondary, stderr=subprocess.PIPE,
                               env={**os.environ, "COLUMNS": str(columns)})
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=120)
    os.close(main)
    return b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.fixture
def demo_db(demo_warehouse) -> str:
    return str(demo_warehouse[0] / "demo.duckdb")


@pytest.fixture
def demo_copy(demo_warehouse, tmp_path) -> str:
    copy = tmp_path / "demo.duckdb"
    shutil.copy(demo_warehouse[0] / "demo.duckdb", copy)
    return str(copy)


# 1. no silent empty results --------------------------------------------------------------

def test_naming_parameters_take_names_and_unknown_ones_list_the_known(demo_db):
    by_name = run_cli("query", "correlation", "--param", "supernet=to-share/baseline_ft_bn/full/0", "--json",
                      "--db", demo_db)
    assert by_name.returncode == 0, by_name.stderr
    (row,) = json.loads(by_name.stdout)
    assert row["supernet_name"] == "to-share/baseline_ft_bn/full/0" and row["n"] == 1000
    cases = {
        "supernet=my-nb201": "no super-net with id or name 'my-nb201'; known: to-share/",
        "protocol=bnsft4": "no evaluation protocol 'bnsft4' (did you mean bns-ft:4?)",
        "dataset=cifar-10": "no ground truth on dataset 'cifar-10'; known: cifar10",
        "sample=nope": "no architecture sample 'nope'; known: to-share/",
    }
    for parameter, message in cases.items():
        result = run_cli("query", "correlation", "--param", parameter, "--db", demo_db)
        assert result.returncode == 1 and result.stdout == "", parameter
        assert result.stderr.strip().splitlines() == [f"wsdb: error: {result.stderr.strip()[13:]}"]
        assert message in result.stderr, (parameter, result.stderr)
    lower = run_cli("query", "correlation", "--param", "subspace=full", "--json", "--db", demo_db)
    assert lower.returncode == 0 and len(json.loads(lower.stdout)) == 10 + 128


def test_valid_queries_without_rows_say_why(tmp_path, demo_db):
    empty = tmp_path / "empty.duckdb"
    assert run_cli("init", "--db", str(empty)).returncode == 0
    result = run_cli("query", "correlation", "--db", str(empty))
    assert result.returncode == 0 and "no proxy scores in the warehouse: score architectures" in result.stderr
    loss = run_cli("query", "correlation", "--param", "metric=validation_loss", "--db", demo_db)
    assert loss.returncode == 0 and "no proxy scores with metric validation_loss in the warehouse; it has: " \
        "bns-ft:4 validation_accuracy, no-ft validation_accuracy, published validation_accuracy" in loss.stderr
    budget = run_cli("query", "top_k", "--param", "epoch_budget=12", "--db", demo_db)
    assert budget.returncode == 0
    assert "no nasbench101 ground truth on cifar10 at 12 epochs for nb101; the warehouse holds nasbench101 " \
           "cifar10 108" in budget.stderr
    table2 = run_cli("report", "table2", "--db", demo_db)
    assert table2.returncode == 1 and "nb101 has no simulations: run `wsdb simulate` first" in table2.stderr
    nothing = run_cli("report", "table1", "--db", str(empty))
    assert nothing.returncode == 1 and "nothing to report: no proxy scores" in nothing.stderr


# 2. readable tables, complete pipes --------------------------------------------------------

def test_terminal_tables_fit_100_columns_and_pipes_get_everything(demo_db):
    shown = tty_run("query", "correlation", "--param", "protocol=bns-ft:4", "--db", demo_db)
    lines = shown.strip().splitlines()
    assert max(len(line) for line in lines) <= 100, shown
    ids = re.findall(r"\b[0-9a-f]{12,32}\b", shown)
    assert ids and all(len(i) == 12 for i in ids)  # short ids, as `wsdb jobs` shows them
    assert not re.search(r"\d\.\d{5,}", shown)  # rounded numbers
    piped = run_cli("query", "correlation", "--param", "protocol=bns-ft:4", "--db", demo_db)
    rows = list(csv.DictReader(io.StringIO(piped.stdout), delimiter="\t"))
    assert len(rows) == 5 and len(rows[0]["supernet_id"]) == 32 and len(rows[0]["spearman"]) > 8
    wide = tty_run("sql", "SELECT id, name, source, config_json FROM supernets WHERE name LIKE '%full/0' ORDER BY name",
                   "--db", demo_db)
    assert max(len(line) for line in wide.splitlines()) <= 100 and "-- row" not in wide  # long text wraps in its column
    assert "config_json" in wide and "arXiv:2002.04289" in wide.replace("\n", "")  # the source shown whole
    assert "method=baseline_ft_bn" in wide and "optimizer=" not in wide  # configurations: the keys that differ
    piped = json.loads(run_cli("sql", "SELECT config_json FROM supernets WHERE name LIKE '%full/0'", "--json",
                               "--db", demo_db).stdout)
    assert all("optimizer" in json.loads(r["config_json"]) for r in piped)  # complete when piped
    summary = tty_run("summary", "--db", demo_db)  # three rows: a table at 100 columns, names folded
    assert "-- row" not in summary and max(len(line) for line in summary.splitlines()) <= 100
    assert re.search(r"^nb101\s+423,?624", summary, re.M)


def test_csv_dash_writes_to_stdout_for_every_command_with_csv(demo_db, tmp_path):
    for args in (("sql", "SELECT 1 AS one"), ("query", "top_k"), ("export", "search_spaces"), ("summary",),
                 ("report", "table1"), ("jobs",), ("jobs", "sweeps"), ("spaces", "list"), ("query", "--list")):
        db = () if args == ("spaces", "list") else ("--db", demo_db)
        result = run_cli(*args, "--csv", "-", *db, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr)
        assert next(csv.reader(io.StringIO(result.stdout))), args
    assert not (tmp_path / "-").exists()


# 3. space-aware defaults -------------------------------------------------------------------

def test_analyses_default_to_each_spaces_own_ground_truth(demo_db):
    ws64 = run_cli("query", "correlation", "--param", "supernet=zhang2020/last128", "--json", "--db", demo_db)
    rows = json.loads(ws64.stdout)
    assert len(rows) == 128 and all(r["n"] == 64 for r in rows)
    stability = run_cli("query", "stability_checkpoints", "--param", "last_k=64", "--json", "--db", demo_db)
    by_name = {r["supernet_name"]: r for r in json.loads(stability.stdout)}
    assert by_name["zhang2020/last128"]["checkpoints"] == 64 and by_name["zhang2020/last128"]["gt_tau_std"] > 0
    assert by_name["to-share/baseline_ft_bn/full/0"]["gt_tau_std"] is None
    assert "10 super-net(s) have a single checkpoint" in stability.stderr


# 4. one metric per plot --------------------------------------------------------------------

def test_scatter_takes_one_metric_of_a_supernet_with_several(demo_copy):
    import wsdb
    from wsdb.analyses import plots

    with wsdb.connect(demo_copy, read_only=False) as con:  # a super-net that also stored losses
        con.execute("INSERT INTO proxy_scores (checkpoint_id, architecture_id, protocol_id, metric, evaluation_repeat, "
                    "value, evaluated_at) SELECT checkpoint_id, architecture_id, protocol_id, 'validation_loss', "
                    "evaluation_repeat, 2.5 - value, evaluated_at FROM proxy_scores p "
                    "WHERE checkpoint_id IN (SELECT id FROM checkpoints WHERE supernet_id IN "
                    "(SELECT id FROM supernets WHERE name = 'to-share/baseline_ft_bn/full/0'))")
    with wsdb.connect(demo_copy) as con:
        accuracy = plots.scatter_points(con, "to-share/baseline_ft_bn/full/0")
        loss = plots.scatter_points(con, "to-share/baseline_ft_bn/full/0", metric="validation_loss")
    assert len(accuracy["proxy"]) == len(loss["proxy"]) == 1000
    assert max(accuracy["proxy"]) <= 1 < min(loss["proxy"])
    with pytest.raises(Exception, match="has no test_loss scores; it has: validation_accuracy, validation_loss"):
        with wsdb.connect(demo_copy) as con:
            plots.scatter_points(con, "to-share/baseline_ft_bn/full/0", metric="test_loss")


# 5. evaluate reuses the data the super-net was trained on ------------------------------------

def test_evaluate_finds_the_data_of_the_training_run(tmp_path):
    data = tmp_path / "data" / "tiny.npz"
    data.parent.mkdir()
    generator = np.random.default_rng(0)
    np.savez(data, images=generator.integers(0, 255, (64, 32, 32, 3), dtype=np.uint8),
             labels=generator.integers(0, 10, 64))
    db = str(tmp_path / "w.duckdb")
    assert run_cli("init", "--db", db, "--populate", "ws64").returncode == 0
    trained = run_cli("run-supernet", "--space", "ws64", "--dataset", "npz", "--data-dir", str(data), "--epochs", "1",
                      "--batch-size", "32", "--channels", "4", "--cells", "1", "--name", "tiny", "--quiet",
                      "--db", db, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    scored = run_cli("evaluate", "--supernet", "tiny", "--protocol", "no-ft", "--n", "4", "--quiet", "--db", db,
                     cwd=elsewhere)
    assert scored.returncode == 0, scored.stderr
    assert "4 architectures scored" in scored.stdout


# 6. papers by name -------------------------------------------------------------------------

def test_the_product_cites_papers_by_name_never_by_internal_file_names():
    internal = re.compile(r"\.\./seeds|seeds/0\d\d|\bseeds? ?0\d\d\b", re.IGNORECASE)
    product = [REPO / "README.md", *(REPO / "wsdb").rglob("*.py"), *(REPO / "ingest").rglob("*.py"),
               *(REPO / "trainers").rglob("*.py"), *(REPO / "queries").glob("*.sql"),
               *(REPO / "migrations").rglob("*.py"), *(REPO / "wsdb" / "data").rglob("*.csv")]
    found = [f"{path.relative_to(REPO)}:{number}" for path in product
             for number, line in enumerate(path.read_text().splitlines(), 1) if internal.search(line)]
    assert found == []
    listing = run_cli("query", "--list", "--csv", "-")
    assert not internal.search(listing.stdout) and "Pourchot et al. 2020" in listing.stdout


def test_stored_configuration_cites_papers_and_old_warehouses_are_rewritten(demo_db, tmp_path):
    with duckdb.connect(demo_db, read_only=True) as con:
        texts = [t for row in con.execute("SELECT config_json, source FROM supernets").fetchall() for t in row]
    assert all("seeds" not in text for text in texts)
    assert any("Pourchot, Ducarouge, Sigaud 2020: To Share or Not To Share: An Extensive Appraisal of "
               "Weight-Sharing (arXiv:2002.04289)" in text for text in texts)
    ci = run_cli("report", "table1", "--ci", "normal", "--markdown", "--db", demo_db)  # what was `--ci seed000`
    assert ci.returncode == 0 and "as Pourchot et al. 2020" in ci.stdout and "seed" not in ci.stdout


def test_an_old_warehouse_is_upgraded_to_the_citations(any_url):
    import sqlalchemy as sa

    from wsdb.warehouse import db as database

    migrate(any_url, "upgrade", "0004")
    engine = database.create_engine(any_url)
    with engine.begin() as connection:  # what wsdb stored before: the papers' working-copy paths
        connection.execute(sa.text(
            "INSERT INTO supernets (id, search_space, config_json, status, origin, source, created_at) VALUES "
            "('a', 'nb101', :config, 'imported', 'imported', 'x', CURRENT_TIMESTAMP)"),
            {"config": json.dumps({"publication": "Pourchot, Ducarouge, Sigaud 2020: To Share or Not To Share "
                                                  "(../seeds/000)"})})
    engine.dispose()
    assert "upgraded" in database.upgrade_database(any_url)
    with database.warehouse(any_url) as engine, engine.connect() as connection:
        (config_json,) = connection.execute(sa.text("SELECT config_json FROM supernets")).one()
        descriptions = [d for (d,) in connection.execute(sa.text("SELECT description FROM subspaces"))]
        defaults = connection.execute(sa.text("SELECT name, default_dataset FROM search_spaces ORDER BY 1")).all()
    assert json.loads(config_json)["publication"].endswith("Appraisal of Weight-Sharing (arXiv:2002.04289)")
    assert not any("seeds" in d for d in descriptions) and any("Pourchot et al. 2020" in d for d in descriptions)
    assert [tuple(d) for d in defaults] == [("darts", "cifar10"), ("nb101", "cifar10"), ("nb201", "cifar10-valid"), ("ws64", "cifar10")]


# 7. outside clients ------------------------------------------------------------------------

def test_wsdb_connect_and_views_that_do_not_double_count(demo_db):
    import wsdb

    with wsdb.connect(demo_db) as con:
        scores, joined = con.execute("SELECT (SELECT COUNT(*) FROM proxy_scores), (SELECT COUNT(*) FROM proxy_vs_truth)"
                                     ).fetchone()
        keys, rows = con.execute("SELECT COUNT(DISTINCT (architecture_id, benchmark, dataset, epoch_budget)), "
                                 "COUNT(*) FROM ground_truth_final").fetchone()
        rho = con.execute("SELECT spearman_rho(LIST(proxy_value), LIST(truth_validation_accuracy)) FROM proxy_vs_truth "
                          "WHERE supernet_id = (SELECT id FROM supernets WHERE name = 'to-share/baseline_ft_bn/full/0')"
                          ).fetchone()[0]
        natural = con.execute("SELECT COUNT(*) FROM proxy_scores NATURAL JOIN ground_truth_final").fetchone()[0]
    assert scores == joined and keys == rows
    assert natural == scores  # one benchmark, dataset and budget per architecture in the demo
    assert rho == pytest.approx(0.548, abs=0.05)


def test_the_readmes_wsdb_connect_example_gives_one_rho_per_checkpoint_protocol_and_metric(demo_db):
    """The README's plain-Python example, run as printed: one rho per checkpoint, protocol and
    metric (it grouped by super-net only, pooling protocols and checkpoints into one rho),
    each equal to scipy's on the same pairs."""
    import wsdb
    from scipy.stats import spearmanr

    readme = (REPO / "README.md").read_text()
    example = re.search(r"```python\n(import wsdb\n.*?)```", readme, re.S).group(1)
    sql = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', example.split("con.sql(", 1)[1].split(").show()")[0]))
    with wsdb.connect(demo_db) as con:
        rows = con.execute(sql).fetchall()
        groups = con.execute("SELECT COUNT(DISTINCT (checkpoint_id, protocol_id, metric)) FROM proxy_vs_truth").fetchone()[0]
        pairs = con.execute("SELECT checkpoint_id, proxy_value, truth_validation_accuracy FROM proxy_vs_truth").fetchall()
    assert len(rows) == groups == 138  # 10 published nb101 super-nets + 128 ws64 trajectory steps
    by_checkpoint: dict = {}
    for checkpoint, proxy, truth in pairs:
        by_checkpoint.setdefault(checkpoint, []).append((proxy, truth))
    for row in rows[:20]:
        proxy, truth = zip(*by_checkpoint[row[1]])
        assert row[-1] == pytest.approx(spearmanr(proxy, truth).statistic, abs=1e-12)


# 8. read-only opens ------------------------------------------------------------------------

def test_reading_commands_share_the_file_with_another_reader(demo_db):
    with duckdb.connect(demo_db, read_only=True):  # e.g. a notebook
        for args in (("summary",), ("db", "status"), ("jobs",), ("query", "top_k"), ("sql", "SELECT 1"),
                     ("arch", "show", "--space", "ws64", "--label", "434", "--db", demo_db)):
            db = () if "--db" in args else ("--db", demo_db)
            result = run_cli(*args, *db, process=True)  # another process than the reader
            assert result.returncode == 0, (args, result.stderr)


def test_a_writer_blocked_by_a_reader_is_told_what_to_do(demo_copy):
    with duckdb.connect(demo_copy, read_only=True):
        result = run_cli("ingest", "ws64", "--db", demo_copy, env={"WSDB_LOCK_WAIT_SECONDS": "1"}, process=True)
    assert result.returncode == 1
    assert "another process holds it" in result.stderr and "wait for the other process" in result.stderr


# 9. help text ------------------------------------------------------------------------------

HELP = REPO / "tests" / "help"


def _commands():
    import typer

    from wsdb.cli import app

    def walk(command, path=()):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, (*path, name))

    return list(walk(typer.main.get_command(app)))


def test_every_help_text_matches_its_snapshot_at_100_columns():
    """Regenerate after a deliberate change: WSDB_UPDATE_HELP=1 pytest tests/test_first_hour.py -k help"""
    from typer.testing import CliRunner

    from wsdb.cli import app

    runner = CliRunner()
    commands = _commands()
    assert len(commands) > 40
    update = os.environ.get("WSDB_UPDATE_HELP") == "1"
    for path, command in commands:
        result = runner.invoke(app, [*path, "--help"], terminal_width=100, env={"COLUMNS": "100"}, prog_name="wsdb")
        assert result.exit_code == 0, path
        text = result.output
        assert max(len(line) for line in text.splitlines()) <= 100, path
        assert "<bool>" not in text, path
        if not hasattr(command, "commands"):
            assert "Example" in text, path
        snapshot = HELP / ("wsdb" + "".join(f"-{p}" for p in path) + ".txt")
        if update:
            HELP.mkdir(exist_ok=True)
            snapshot.write_text(text)
        assert snapshot.exists(), f"no help snapshot for {' '.join(path)}: run with WSDB_UPDATE_HELP=1"
        assert text == snapshot.read_text(), f"help of `wsdb {' '.join(path)}` changed: review, then WSDB_UPDATE_HELP=1"


# 10. NB201 ground truth kinds ----------------------------------------------------------------

def test_nb201_arch_show_keeps_runs_and_published_means_apart(tmp_path):
    nats = SHARED_DATA / "nb201" / "nats_tss_simple_3archs"
    table = SHARED_DATA / "nb201" / "nb201_all15625.csv"
    if not nats.is_dir():
        pytest.skip("published NB201 files not found")
    db = str(tmp_path / "w.duckdb")
    assert run_cli("init", "--db", db).returncode == 0
    for args in (("nasbench201", str(nats / "000284.pickle.pbz2"), "--final-only"), ("nb201-table", str(table))):
        assert run_cli("ingest", *args, "--db", db).returncode == 0
    shown = json.loads(run_cli("arch", "show", "--space", "nb201", "--index", "284", "--db", db, "--json").stdout)
    cifar100 = [r for r in shown["ground_truth"] if r["dataset"] == "cifar100" and r["epoch_budget"] == 200]
    kinds = {r["kind"]: r for r in cifar100}
    assert set(kinds) == {"runs", "published-mean"}
    # the runs of the one cell ingested (index 284, 3 seeds) apart from the published means of all
    # 275 cells of its class; averaged together they gave "278 repeats" before
    assert (kinds["runs"]["averaged"], kinds["runs"]["num_cells"]) == (3, 1)
    assert kinds["published-mean"]["averaged"] == kinds["published-mean"]["num_cells"] == 275


def test_piped_arch_show_gives_the_final_ground_truth_and_the_curve_on_request(tmp_path):
    """Every epoch of a NATS record (about 900 rows for index 284) came out of a pipe; now the
    final point per benchmark, dataset and budget, and `--curve` for the rest."""
    nats = SHARED_DATA / "nb201" / "nats_tss_simple_3archs"
    if not nats.is_dir():
        pytest.skip("published NB201 files not found")
    db = str(tmp_path / "w.duckdb")
    assert run_cli("init", "--db", db).returncode == 0
    assert run_cli("ingest", "nasbench201", str(nats / "000284.pickle.pbz2"), "--db", db).returncode == 0
    summary = run_cli("arch", "show", "--space", "nb201", "--index", "284", "--db", db).stdout
    curve = run_cli("arch", "show", "--space", "nb201", "--index", "284", "--db", db, "--curve").stdout
    finals = json.loads(run_cli("arch", "show", "--space", "nb201", "--index", "284", "--db", db, "--json").stdout)
    assert finals["ground_truth"] and {r["evaluation_point"] for r in finals["ground_truth"]} == {"final"}
    assert len(summary.splitlines()) < 40 < 500 < len(curve.splitlines())
    refused = run_cli("arch", "show", "--space", "nb201", "--index", "284", "--curve")
    assert refused.returncode == 1 and "give --db" in refused.stderr


# code shape: the analyses' contract ----------------------------------------------------------

def test_every_shipped_analysis_returns_exactly_the_columns_its_header_documents(demo_db):
    """dbt's contract: the `columns:` of a header are the columns the SQL returns, in order."""
    import wsdb
    from wsdb.analyses import runner as analysis

    with wsdb.connect(demo_db) as con:
        for name, item in analysis.shipped().items():
            required = {p.name: "1" for p in item.all_parameters().values() if p.required}
            table = analysis.run(con, name, required)
            assert table.column_names == list(item.columns), name
            assert all(description for description in item.columns.values()), name


def test_every_readme_example_names_real_commands_and_options():
    """Each `wsdb ...` line of the README's code blocks resolves to a command whose options
    it uses exist (a renamed option would leave a stale example)."""
    import shlex



    commands = dict(_commands())
    examples, fenced = [], False
    for line in (REPO / "README.md").read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced and line.strip().removeprefix("$ ").startswith("wsdb "):
            examples.append(line.strip().removeprefix("$ "))
    assert len(examples) > 60
    for example in examples:
        words = shlex.split(example.split(" #")[0].split(" && ")[0].split(" | ")[0].replace("\\", ""))[1:]
        path = ()
        while words and path + (words[0],) in commands:
            path, words = path + (words[0],), words[1:]
        command = commands[path]
        assert not hasattr(command, "commands") or getattr(command, "invoke_without_command", False), example
        known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        used = {word.split("=")[0] for word in words if word.startswith("--")}
        assert used <= known, (example, used - known)


# 10. every row-listing command speaks JSON, CSV and Parquet ------------------------------------

ROW_LISTING = {"summary", "query", "sql", "export", "spaces list", "jobs", "jobs sweeps", "report table1",
               "report table2", "report subspaces", "report differentiable", "report factors"}


def _command_options() -> dict[str, set[str]]:
    """Every command of the tree (groups that run on their own too) -> its options."""
    from typer.main import get_command

    from wsdb.cli import app

    found = {}

    def walk(command, path):
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        if path and (not hasattr(command, "commands") or getattr(command, "invoke_without_command", False)):
            found[" ".join(path)] = options
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(get_command(app), [])
    return found


def test_every_command_that_lists_rows_takes_json_csv_and_parquet(demo_db, tmp_path):
    commands = _command_options()
    assert ROW_LISTING <= set(commands)
    for path, options in commands.items():
        if path in ROW_LISTING or "--csv" in options:
            assert {"--json", "--csv", "--parquet"} <= options, path
    # the two the README promised and lacked, run: JSON on stdout, Parquet that reads back
    table1 = json.loads(run_cli("report", "table1", "--json", "--db", demo_db).stdout)
    full = [r for r in table1 if r["subspace"] == "FULL" and r["column"] == "BNS-FT"]
    assert len(full) == 1 and round(full[0]["mean_spearman"], 2) == 0.56
    exported = json.loads(run_cli("export", "supernets", "--json", "--db", demo_db).stdout)
    assert len(exported) == 11 and {"id", "config_json"} <= set(exported[0])
    import pyarrow.parquet as pq

    out = tmp_path / "spaces.parquet"
    assert run_cli("spaces", "list", "--parquet", str(out), "--db", demo_db).returncode == 0
    assert pq.read_table(out).num_rows == len(json.loads(run_cli("spaces", "list", "--json", "--db", demo_db).stdout))
