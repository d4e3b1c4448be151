"""Integrity guarantees beyond single bad inputs (those are replayed by hostile_inputs.py):
the SQL sandbox, concurrent resumes, where a resumed run writes, schema drift, and worker
processes that die with their parent."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from conftest import run_cli
from wsdb.warehouse import lookup
from wsdb.warehouse import db as database
from wsdb.base.errors import WsdbError
from wsdb.trainers import records
from wsdb.trainers.config import make_config
from wsdb.trainers.train import RunOptions, resume_supernet, run_supernet

TINY = {"dataset": "synthetic", "synthetic_images": 32, "epochs": 3, "batch_size": 32, "initial_channels": 4,
        "cells_per_stack": 1}


def stopped_supernet(url: str, checkpoints: Path) -> str:
    """A super-net trained for one of its three epochs, then stopped."""
    database.init_database(url)
    options = RunOptions(checkpoint_dir=str(checkpoints), progress=False, stop_after_epochs=1)
    return run_supernet(url, make_config({"space": "nb201", **TINY}), seed=0, options=options)


def rows(url: str, sql: str, **params):
    with database.warehouse(url) as engine, engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(sa.text(sql), params)]


def test_read_only_sql_runs_one_reading_statement_and_write_mode_a_transaction(tmp_path):
    path = tmp_path / "w.duckdb"
    assert run_cli("init", "--db", str(path), "--populate", "ws64").returncode == 0
    script = run_cli("sql", "--write", "--json", "--db", str(path),
                     "CREATE TABLE notes (x INTEGER); INSERT INTO notes VALUES (1), (2); SELECT SUM(x) AS s FROM notes")
    assert script.returncode == 0, script.stderr
    assert json.loads(script.stdout) == [{"s": 3}]
    # read-only: reading statements of every kind, never a write, never another file
    assert run_cli("sql", "--db", str(path), "--json", "SELECT COUNT(*) AS n FROM notes").stdout.strip() != ""
    for statement in ("DESCRIBE notes", "EXPLAIN SELECT 1", "PRAGMA table_info('notes')", "SHOW TABLES",
                      "WITH a AS (SELECT 1) SELECT * FROM a", "FROM notes"):
        result = run_cli("sql", "--db", str(path), statement)
        assert result.returncode == 0, (statement, result.stderr)
    result = run_cli("sql", "--db", str(path), "CREATE TEMP TABLE t AS SELECT 1")
    assert result.returncode == 1 and "CREATE statements are refused" in result.stderr
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT COUNT(*) FROM notes").fetchone() == (2,)


def test_two_resumes_at_once_one_trains_the_other_stops_in_one_line(tmp_path, postgres_url):
    supernet = stopped_supernet(postgres_url, tmp_path / "ck")
    command = [sys.executable, "-m", "wsdb.cli", "run-supernet", "--resume", supernet, "--db", postgres_url, "--quiet"]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = sorted((p.wait(timeout=300), p.stderr.read()) for p in processes)
    assert [status for status, _ in outcomes] == [0, 1], outcomes
    message = outcomes[1][1].strip().splitlines()
    assert len(message) == 1 and message[0].startswith("wsdb: error: super-net"), message
    # which line depends on how far the winner got when the other looked: claimed just now,
    # still running, a checkpoint written first, or already finished
    assert any(reason in message[0] for reason in ("taken by another process", "marked running",
                                                   "already has checkpoint", "has finished training"))
    labels = [r["label"] for r in rows(postgres_url, "SELECT label FROM checkpoints ORDER BY epoch")]
    assert labels == ["epoch-1", "epoch-2", "epoch-3"]
    assert rows(postgres_url, "SELECT status FROM supernets")[0]["status"] == "finished"


def test_a_resume_claims_the_row_it_read_and_a_running_one_needs_force(tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    supernet = stopped_supernet(url, tmp_path / "ck")
    with database.warehouse(url) as engine, engine.connect() as connection:
        seen_by_first = seen_by_second = lookup.supernet(connection, supernet)
    records.claim_supernet(url, seen_by_first)
    with pytest.raises(WsdbError, match="taken by another process"):
        records.claim_supernet(url, seen_by_second)
    with pytest.raises(WsdbError, match="marked running .* resume it with --force"):
        resume_supernet(url, supernet, RunOptions(progress=False))
    with pytest.raises(WsdbError, match="already has checkpoint epoch-1"):
        records.add_checkpoint(url, "f" * 32, supernet, "epoch-1", 1, 1, "file:///x", "0" * 64, 1)


def test_a_resumed_run_writes_where_its_checkpoints_are(tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    supernet = stopped_supernet(url, tmp_path / "runs")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_cli("run-supernet", "--resume", supernet, "--db", url, "--quiet", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    uris = [r["uri"] for r in rows(url, "SELECT uri FROM checkpoints ORDER BY epoch")]
    assert uris == [(tmp_path / "runs" / supernet / f"epoch-{e}.pt").as_uri() for e in (1, 2, 3)]
    assert not (elsewhere / "checkpoints").exists()


def test_schema_drift_is_reported_not_refused_by_db_status(tmp_path):
    path = tmp_path / "w.duckdb"
    assert run_cli("init", "--db", str(path), "--populate", "").returncode == 0
    for revision, state, advice in (("9999_future", "newer", "upgrade wsdb"), ("0003", "behind", "wsdb db upgrade")):
        with duckdb.connect(str(path)) as con:
            con.execute("UPDATE alembic_version SET version_num = ?", [revision])
        status = run_cli("db", "status", "--json", "--db", str(path))
        assert status.returncode == 0, status.stderr
        record = json.loads(status.stdout)
        assert record["schema"] == revision and advice in record["schema_state"], record
        summary = run_cli("summary", "--db", str(path))
        assert summary.returncode == 1 and advice in summary.stderr
    assert database.schema_state(database.head_revision()) == "current"


def test_decoder_processes_die_with_a_killed_ingest(tmp_path):
    from test_ingest_nb101 import make_file

    path = make_file(tmp_path / "big.tfrecord", 5000, seed=9)  # above the in-process size: a pool decodes
    db = tmp_path / "w.duckdb"
    database.init_database(f"duckdb:///{db}")
    ingest = subprocess.Popen([sys.executable, "-m", "wsdb.cli", "ingest", "nasbench101", str(path), "--db", str(db),
                               "--workers", "2", "--batch-records", "500"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    children = _decoders_of(ingest)
    ingest.send_signal(signal.SIGKILL)
    ingest.wait()
    _assert_gone(children)


def test_ctrl_c_of_an_ingest_says_what_was_kept_and_a_rerun_completes_it(tmp_path):
    """SIGINT (Ctrl-C) ends an ingest with exit 130 and one line saying what it kept; its
    workers go with it; the same command again ends with the rows of one whole ingest."""
    from test_ingest_nb101 import make_file

    path = make_file(tmp_path / "big.tfrecord", 20000, seed=9)  # long enough that Ctrl-C lands mid-ingest
    db = tmp_path / "w.duckdb"
    database.init_database(f"duckdb:///{db}")
    command = [sys.executable, "-m", "wsdb.cli", "ingest", "nasbench101", str(path), "--db", str(db), "--workers", "2",
               "--batch-records", "500"]
    ingest = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    children = _decoders_of(ingest)
    ingest.send_signal(signal.SIGINT)
    _, stderr = ingest.communicate(timeout=120)
    assert ingest.returncode == 130, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wsdb: interrupted: ") and "kept" in lines[0], stderr
    _assert_gone(children)
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    once = tmp_path / "once.duckdb"
    database.init_database(f"duckdb:///{once}")
    assert subprocess.run([*command[:-6], "--db", str(once)], capture_output=True, timeout=300).returncode == 0
    counts = [duckdb.connect(str(p), read_only=True).execute(
        "SELECT COUNT(*), COUNT(DISTINCT architecture_id) FROM ground_truth_results").fetchone() for p in (db, once)]
    assert counts[0] == counts[1] and counts[0][0] > 0


def test_ctrl_c_inside_safe_points_waits_for_the_next_step_and_says_what_was_kept():
    import os

    from wsdb.base.errors import Interrupted
    from wsdb.base.interrupts import safe_points

    steps, before = [], signal.getsignal(signal.SIGINT)
    with pytest.raises(Interrupted, match="the scores so far are kept"):
        with safe_points("the scores so far are kept") as interrupt:
            while interrupt.keep_going():
                steps.append(len(steps))
                if len(steps) == 3:
                    os.kill(os.getpid(), signal.SIGINT)  # lands mid-step: the step still ends
    assert steps == [0, 1, 2]
    assert signal.getsignal(signal.SIGINT) is before  # the handler is given back


def test_ctrl_c_of_a_standalone_run_keeps_its_last_epoch_and_the_same_command_finishes_it(tmp_path):
    """SIGINT stops a stand-alone run between two steps (never inside a write): exit 130 with the
    one line, the run marked failed with its newest epoch's state; the same command continues
    it to one finished run with a ground-truth row per epoch."""
    db, folder = tmp_path / "w.duckdb", tmp_path / "ck"
    database.init_database(f"duckdb:///{db}")
    settings = [f"--set={k}={v}" for k, v in (("epochs", 12), ("dataset", "synthetic"), ("synthetic_images", 64),
                                               ("batch_size", 16), ("channels", 4))]
    command = [sys.executable, "-m", "wsdb.cli", "train-standalone", "--recipe", "ws64-200", "--space", "ws64",
               "--label", "123", *settings, "--checkpoint-dir", str(folder), "--quiet", "--db", str(db)]
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(folder.rglob("epoch-*.pt")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1].startswith("wsdb: interrupted: ") and len(stderr.strip().splitlines()) == 1
    with duckdb.connect(str(db), read_only=True) as connection:
        status, error, uri = connection.execute("SELECT status, error, checkpoint_uri FROM standalone_runs").fetchone()
    assert status == "failed" and error.startswith("KeyboardInterrupt") and uri.endswith(".pt")
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    with duckdb.connect(str(db), read_only=True) as connection:
        assert connection.execute("SELECT status FROM standalone_runs").fetchall() == [("finished",)]
        epochs = [e for (e,) in connection.execute("SELECT epoch FROM ground_truth_results ORDER BY epoch").fetchall()]
    assert epochs == list(range(1, 13))


def _decoders_of(ingest: subprocess.Popen) -> list[int]:
    """The ingest's two decoder processes, once both run (skips the test if it ends first)."""
    children = []
    deadline = time.monotonic() + 60
    while len(children) < 2 and time.monotonic() < deadline and ingest.poll() is None:
        children = _children(ingest.pid)
        time.sleep(0.1)
    if ingest.poll() is not None:
        pytest.skip("the ingest finished before its workers could be observed")
    assert len(children) >= 2, children
    return children


def _assert_gone(children: list[int]) -> None:
    """The decoder processes end within 5 s of their parent (their watchdog: 0.25 s)."""
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in children if _alive(pid)], "decoder processes outlived the ingest"


def _children(pid: int) -> list[int]:
    """The decoder processes of `pid` (spawn workers run spawn_main; the resource tracker does not)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid and "spawn_main" in _cmdline(entry):
            found.append(int(entry.name))
    return found


def _cmdline(entry: Path) -> str:
    try:
        return (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
