"""Workers write to PostgreSQL; `wsdb pull` copies the warehouse into DuckDB for the analyses."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
import sqlalchemy as sa

from conftest import SHARED_DATA, run_cli
from wsdb.analyses import runner as analysis
from wsdb.warehouse import db as database
from wsdb.analyses import duck
from wsdb.search import simulate
from wsdb.ingest.nb101 import ingest_nb101
from wsdb.ingest.to_share import ingest_to_share
from wsdb.ingest.ws64 import ingest_ws64_trajectory
from wsdb.warehouse.populate import populate
from wsdb.sharing.pull import pull
from wsdb.warehouse.schema import Base

pytestmark = pytest.mark.postgres


def counts(url):
    with database.warehouse(url) as engine, engine.connect() as connection:
        return {t.name: connection.execute(sa.text(f'SELECT COUNT(*) FROM "{t.name}"')).scalar_one()
                for t in Base.metadata.sorted_tables}


def test_ingest_into_postgresql_then_pull_into_duckdb(tmp_path, postgres_url, duckdb_url, shared_data):
    records = tmp_path / "nb101.tfrecord"
    subprocess.run([sys.executable, str(SHARED_DATA.parent / "tools/make_nb101_tfrecord.py"), str(records),
                    "--limit", "150", "--seed", "9"], check=True, capture_output=True)
    published = tmp_path / "r" / "baseline_ft_bn" / "full" / "2"
    published.mkdir(parents=True)
    shutil.copy(shared_data / "nb101/to_share_or_not_to_share/baseline_ft_bn/full/2/eval_results.pkl", published)

    database.init_database(postgres_url)
    with database.warehouse(postgres_url) as engine:
        with engine.begin() as connection:
            populate(connection, "ws64")
        assert ingest_nb101(engine, records, show_progress=False).new_results == 900
        ingest_to_share(engine, tmp_path / "r", show_progress=False)
        again = ingest_to_share(engine, tmp_path / "r", show_progress=False)  # idempotent on PostgreSQL too
        assert again.new_results == 0 and again.new_architectures == 0
        ingest_ws64_trajectory(engine, shared_data / "ws64/supernet_last128_steps.csv")
        with engine.connect() as connection:
            gt = simulate.load_ground_truth(connection, "nb101", None, "nasbench101", "cifar10", 108)
        results = simulate.random_search(gt, 5, 100, np.random.default_rng(0), "random")
        with engine.begin() as connection:
            simulate.store_runs(connection, gt, "rs", results, {"queries": 100}, 0, None)

    simulated = run_cli("simulate", "--space", "nb101", "--algorithm", "ws", "--runs", "3", "--supernet",
                        "to-share/baseline_ft_bn/full/2", "--protocol", "bns-ft:4", "--supernet-seconds", "100",
                        "--evaluation-seconds", "10", "--db", postgres_url)  # the CLI on PostgreSQL too
    assert simulated.returncode == 0 and "ws on nb101: 3 runs (3 new" in simulated.stdout, simulated.stderr

    source = counts(postgres_url)
    copied = pull(postgres_url, duckdb_url)
    assert counts(duckdb_url) == source and copied["search_traces"] == source["search_traces"] > 500
    assert sum(pull(postgres_url, duckdb_url).values()) == 0  # incremental: nothing new

    con = duck.connect(duckdb_url)
    correlation = analysis.load("correlation")
    (row,) = duck.run(con, correlation.sql, correlation.bind({"protocol": "bns-ft:4"})).to_pylist()
    con.close()
    assert row["n"] == 1000 and 0.4 < row["spearman"] < 0.7

    with database.warehouse(duckdb_url) as engine, engine.begin() as connection:
        assert populate(connection, "nb201")[0] == 6466  # new local ids do not collide with pulled ones


def test_pull_cli_errors(tmp_path, postgres_url):
    result = run_cli("pull", "--from", postgres_url, "--to", "postgresql+psycopg://x@127.0.0.1:1/y")
    assert result.returncode == 1 and "--to must be a DuckDB file" in result.stderr
    missing = run_cli("pull", "--from", str(tmp_path / "absent.duckdb"), "--to", str(tmp_path / "t.duckdb"))
    assert missing.returncode == 1 and "no warehouse at" in missing.stderr


def test_a_second_pull_updates_what_workers_changed(postgres_url, duckdb_url):
    from wsdb.jobqueue import jobs

    database.init_database(postgres_url)
    with database.warehouse(postgres_url) as engine, engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO supernets (id, search_space, config_json, status, origin, created_at) "
            "VALUES ('a1', 'nb201', '{}', 'running', 'trained', now())"))
        (job_id,) = jobs.submit(connection, [jobs.NewJob("train", {"supernet_id": "a1"})])
        jobs.claim(connection, jobs.WorkerIdentity("w", "host", 1), 60.0)
    assert pull(postgres_url, duckdb_url)["jobs"] == 1
    with database.warehouse(postgres_url) as engine, engine.begin() as connection:
        connection.execute(sa.text("UPDATE supernets SET status = 'finished', training_seconds = 12.5"))
        connection.execute(sa.text("UPDATE jobs SET status = 'done'"))
        connection.execute(sa.text("UPDATE job_attempts SET outcome = 'done'"))
    result = run_cli("pull", "--from", postgres_url, "--to", duckdb_url.removeprefix("duckdb:///"))
    assert result.returncode == 0, result.stderr
    assert "pulled 0 new rows and 3 updated ones" in result.stdout
    assert "supernets updated 1" in result.stdout and "job_attempts updated 1" in result.stdout
    assert counts(duckdb_url) == counts(postgres_url)
    with database.warehouse(duckdb_url) as engine, engine.connect() as connection:
        assert connection.execute(sa.text("SELECT status, training_seconds FROM supernets")).one() == ("finished", 12.5)
        assert connection.execute(sa.text("SELECT status FROM jobs WHERE id = :id"), {"id": job_id}).scalar() == "done"
    assert sum(pull(postgres_url, duckdb_url).values()) == 0
