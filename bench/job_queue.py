"""The job queue's figures on a throwaway PostgreSQL on loopback (and a DuckDB file):

- jobs/s through the queue: worker processes that claim and complete empty jobs as fast as
  they can (the queue's own cost: reclaim, claim, attempt row, completion), for 1, 4 and 8
  processes on PostgreSQL and the one process a DuckDB file admits, timed from the first
  worker's first claim to the last worker's end (process start-up excluded);
- reclaim delay: two real `wsdb worker` processes, one of them killed with SIGKILL while it
  trains; the seconds from the kill until the other has claimed the job (expected: the lease
  left at the kill, at most one lease, plus up to one poll).

    .venv/bin/python bench/job_queue.py [--jobs 2000] [--lease 6] [--poll 1] [--trials 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from _common import report  # noqa: E402
from throwaway_postgres import available, throwaway_postgres  # noqa: E402

from wsdb.warehouse import db as database  # noqa: E402
from wsdb.jobqueue import jobs  # noqa: E402


def drain_empty_jobs(url: str) -> tuple[int, float, float]:
    """A minimal worker: reclaim, claim and complete until the queue is empty. Returns
    (jobs done, wall-clock start and end of its loop): process start-up is not timed."""
    identity = jobs.WorkerIdentity.here("bench")
    done = 0
    engine = database.open_engine(url) if database.duckdb_path(url) is None else None
    started = time.time()
    try:
        while True:
            if engine is None:  # DuckDB: an engine per operation, as the real worker does
                with database.warehouse(url) as per_op, per_op.begin() as connection:
                    job = _claim_and_complete(connection, identity)
            else:
                with engine.begin() as connection:
                    jobs.reclaim_expired(connection)
                with engine.begin() as connection:
                    job = _claim_and_complete(connection, identity)
            if job is None:
                return done, started, time.time()
            done += 1
    finally:
        if engine is not None:
            engine.dispose()


def _claim_and_complete(connection, identity):
    job = jobs.claim(connection, identity, 60.0)
    if job is not None:
        jobs.complete(connection, job, {})
    return job


def queue_throughput(url: str, count: int, processes: int) -> float:
    with database.warehouse(url) as engine, engine.begin() as connection:
        jobs.submit(connection, [jobs.NewJob("train", {"i": i}) for i in range(count)])
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map(drain_empty_jobs, [url] * processes)
    done = sum(n for n, _, _ in results)
    assert done == count, (done, count)
    seconds = max(end for _, _, end in results) - min(start for _, start, _ in results)
    return round(count / seconds, 1)


def fresh_database(server: str, name: str) -> str:
    admin = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    url = f"{server}/{name}"
    database.init_database(url)
    return url


def reclaim_delay(url: str, lease: float, poll: float, workdir: Path) -> float:
    """Kill the worker that holds a long training job; seconds until another claims it."""
    subprocess.run([sys.executable, "-m", "wsdb.cli", "submit", "train", "--db", url, "--name", f"r{time.time_ns()}",
                    "--set", "space=nb201", "--set", "dataset=synthetic", "--set", "epochs=10000",
                    "--set", "initial_channels=4", "--set", "cells_per_stack=1", "--set", "synthetic_images=64",
                    "--checkpoint-dir", str(workdir / "ckpt")], check=True, capture_output=True)
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [subprocess.Popen([sys.executable, "-m", "wsdb.cli", "worker", "--db", url, "--lease", str(lease),
                                 "--poll", str(poll), "--device", "cpu", "--quiet"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment)
               for _ in range(2)]
    engine = database.open_engine(url)
    try:
        def holder() -> tuple[str, str] | None:
            with engine.connect() as connection:
                return connection.execute(sa.text(
                    "SELECT id, worker FROM jobs WHERE status = 'running'")).first()

        while (held := holder()) is None:
            time.sleep(0.05)
        time.sleep(lease * 0.6)  # somewhere inside a lease, after some heartbeats
        job_id, worker = held
        victim = next(w for w in workers if str(w.pid) == worker.split(":")[1])
        victim.send_signal(signal.SIGKILL)
        killed = time.perf_counter()
        while True:
            with engine.connect() as connection:
                claimed_by = connection.execute(sa.text("SELECT worker FROM jobs WHERE id = :id AND status = 'running'"),
                                                {"id": job_id}).scalar()
            if claimed_by and claimed_by != worker:
                return round(time.perf_counter() - killed, 2)
            time.sleep(0.02)
    finally:
        for w in workers:
            w.send_signal(signal.SIGKILL)
            w.wait()
        with engine.begin() as connection:  # the next trial starts from an empty queue
            connection.execute(sa.text("UPDATE jobs SET status = 'cancelled' WHERE status IN ('queued', 'running')"))
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--lease", type=float, default=6.0)
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    if not available():
        raise SystemExit("bench/job_queue.py needs PostgreSQL's server binaries (apt-get install postgresql)")
    figures: dict = {}
    with tempfile.TemporaryDirectory() as scratch, throwaway_postgres(Path(scratch)) as server:
        for processes in (1, 4, 8):
            url = fresh_database(server, f"throughput_{processes}")
            figures[f"postgresql_jobs_per_s_{processes}_workers"] = queue_throughput(url, args.jobs, processes)
        duck_url = f"duckdb:///{Path(scratch) / 'queue.duckdb'}"
        database.init_database(duck_url)
        figures["duckdb_jobs_per_s_1_worker"] = queue_throughput(duck_url, min(args.jobs, 500), 1)
        url = fresh_database(server, "reclaim")
        delays = [reclaim_delay(url, args.lease, args.poll, Path(scratch)) for _ in range(args.trials)]
    report(benchmark="job_queue", jobs=args.jobs, lease_s=args.lease, poll_s=args.poll,
           reclaim_delay_s=delays, reclaim_delay_mean_s=round(sum(delays) / len(delays), 2), **figures)


if __name__ == "__main__":
    main()
