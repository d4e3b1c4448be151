"""`wsdb worker` processes against real warehouses: several workers on one PostgreSQL drain a
queue while being killed with SIGKILL and restarted; a stale lease is reclaimed; a corrupted
checkpoint is refused on resume; SIGUSR2 (Slurm's warning) gives a job back; a DuckDB file
admits one worker; submitit launches workers (locally, and as a Slurm array script)."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import torch

from conftest import run_cli
from wsdb.warehouse import db as database
from wsdb.trainers.checkpoints import load_checkpoint

TINY = ["--set", "space=nb201", "--set", "dataset=synthetic", "--set", "initial_channels=8", "--set",
        "cells_per_stack=1", "--set", "synthetic_images=512", "--set", "batch_size=64"]


def start_worker(url: str, log: Path, *extra: str, lease: float = 3.0) -> subprocess.Popen:
    with open(log, "a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "wsdb.cli", "worker", "--db", url, "--drain", "--lease", str(lease),
             "--poll", "0.2", "--device", "cpu", *extra],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})


def query(url: str, sql: str, **params) -> list:
    with database.warehouse(url) as engine, engine.connect() as connection:
        return connection.execute(sa.text(sql), params).all()


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def submit(url: str, *args: str) -> None:
    result = run_cli("submit", "train", "--db", url, *args)
    assert result.returncode == 0, result.stderr


def running_workers(url: str) -> dict[str, str]:
    """pid -> job id, for jobs held under a live lease."""
    rows = query(url, "SELECT id, worker FROM jobs WHERE status = 'running'")
    return {worker.split(":")[1]: job_id for job_id, worker in rows}


def final_weights(url: str, name: str) -> dict:
    (row,) = query(url, "SELECT c.uri, c.sha256 FROM checkpoints c JOIN supernets s ON s.id = c.supernet_id "
                        "WHERE s.name = :n ORDER BY c.epoch DESC LIMIT 1", n=name)
    return load_checkpoint(row.uri, row.sha256, name)["model"]


@pytest.mark.slow  # 40-60 s of three workers training on two cores: `make test-slow`, which CI runs too
@pytest.mark.postgres
def test_workers_killed_at_random_drain_the_queue_once(tmp_path, postgres_url):
    """3 workers, 8 training jobs of 5 epochs; a worker holding a job is killed (SIGKILL) five
    times and replaced. Every job ends done exactly once, every killed job resumes from its
    checkpoint (a restart from scratch would collide with its stored epochs), and a run
    that was killed ends with exactly the weights of its uninterrupted twin."""
    assert run_cli("init", "--db", postgres_url, "--populate", "").returncode == 0
    for sweep in ("a", "b"):  # twin sweeps: the same runs under two names
        submit(postgres_url, "--name", sweep, *TINY, "--set", "epochs=5", "--seeds", "0-3",
               "--max-attempts", "10", "--checkpoint-dir", str(tmp_path / "ckpt"))  # one job may be hit 5 times
    log = tmp_path / "workers.log"
    workers = [start_worker(postgres_url, log) for _ in range(3)]
    rng = random.Random(7)
    kills = 0
    started = time.monotonic()
    while kills < 5 and time.monotonic() - started < 120:
        time.sleep(rng.uniform(0.8, 2.0))
        holders = {pid: job for pid, job in running_workers(postgres_url).items()
                   if any(str(w.pid) == pid and w.poll() is None for w in workers)}
        if not holders:
            continue
        chosen = rng.choice(sorted(holders))
        victim = next(w for w in workers if str(w.pid) == chosen)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        # a kill counts if the victim died holding a job (it may have finished one just before)
        kills += bool(query(postgres_url, "SELECT 1 FROM job_attempts WHERE outcome = 'running' AND worker LIKE :w",
                            w=f"%:{victim.pid}:%"))
        workers = [w for w in workers if w is not victim] + [start_worker(postgres_url, log)]
    for w in workers:
        assert w.wait(timeout=180) == 0, log.read_text()[-3000:]
    assert kills == 5

    statuses = query(postgres_url, "SELECT status, COUNT(*) FROM jobs GROUP BY status")
    assert statuses == [("done", 8)], log.read_text()[-3000:]
    outcomes = dict(query(postgres_url, "SELECT outcome, COUNT(*) FROM job_attempts GROUP BY outcome"))
    # every kill loses its attempt (a starved heartbeat could lose one more: also correct)
    assert outcomes.get("done") == 8 and outcomes.get("lost", 0) >= kills and "running" not in outcomes
    per_job = query(postgres_url, "SELECT job_id, SUM(CASE WHEN outcome = 'done' THEN 1 ELSE 0 END) FROM job_attempts "
                                  "GROUP BY job_id")
    assert len(per_job) == 8 and all(done == 1 for _, done in per_job)
    epochs = query(postgres_url, "SELECT s.name, s.status, COUNT(c.id), MIN(c.epoch), MAX(c.epoch) FROM supernets s "
                                 "JOIN checkpoints c ON c.supernet_id = s.id GROUP BY s.name, s.status")
    assert len(epochs) == 8 and all(row[1:] == ("finished", 5, 1, 5) for row in epochs)
    killed = {name for (name,) in query(postgres_url, "SELECT DISTINCT j.name FROM jobs j JOIN job_attempts a "
                                                      "ON a.job_id = j.id WHERE a.outcome = 'lost'")}
    assert killed
    for name in killed:
        twin = ("b" if name.startswith("a/") else "a") + name[1:]
        mine, theirs = final_weights(postgres_url, name), final_weights(postgres_url, twin)
        assert all(torch.equal(mine[k], theirs[k]) for k in mine), name


def test_stale_lease_reclaimed_corrupt_checkpoint_refused_and_one_duckdb_worker(tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    assert run_cli("init", "--db", url, "--populate", "").returncode == 0
    submit(url, "--name", "long", *TINY, "--set", "epochs=40", "--max-attempts", "2",
           "--checkpoint-dir", str(tmp_path / "ckpt"))
    log = tmp_path / "worker.log"
    first = start_worker(url, log, lease=4)  # short enough to wait out; a loaded machine starved 1.5 s
    checkpoint = wait_for(lambda: query(url, "SELECT uri FROM checkpoints ORDER BY epoch DESC LIMIT 1"), 60,
                          "a first checkpoint")
    second = run_cli("worker", "--db", url, "--drain")
    assert second.returncode == 1 and "already has a worker" in second.stderr and "PostgreSQL" in second.stderr
    first.send_signal(signal.SIGKILL)
    first.wait()
    newest = query(url, "SELECT uri FROM checkpoints ORDER BY epoch DESC LIMIT 1")[0].uri
    path = Path(newest.removeprefix("file://"))
    path.write_bytes(path.read_bytes() + b"tampered")
    assert checkpoint
    replacement = start_worker(url, log, lease=5)  # a loaded machine may starve its heartbeat past 1.5 s
    assert replacement.wait(timeout=120) == 0
    ((status, attempts, error),) = query(url, "SELECT status, attempts, last_error FROM jobs")
    assert status == "failed" and attempts == 2 and "does not match its recorded sha256" in error
    outcomes = [r.outcome for r in query(url, "SELECT outcome FROM job_attempts ORDER BY attempt")]
    assert outcomes == ["lost", "failed"]


@pytest.mark.postgres
def test_a_stop_signal_gives_the_job_back_and_the_next_worker_resumes_it(tmp_path, postgres_url):
    """SIGUSR2, as Slurm sends it (through submitit's --signal) before a time limit; SIGTERM
    and SIGINT take the same path."""
    assert run_cli("init", "--db", postgres_url, "--populate", "").returncode == 0
    submit(postgres_url, "--name", "t", *TINY, "--set", "epochs=6", "--checkpoint-dir", str(tmp_path / "ckpt"))
    log = tmp_path / "worker.log"
    worker = start_worker(postgres_url, log, lease=30)
    wait_for(lambda: query(postgres_url, "SELECT 1 FROM checkpoints"), 60, "a first checkpoint")
    worker.send_signal(signal.SIGUSR2)
    assert worker.wait(timeout=60) == 0
    ((status, attempts),) = query(postgres_url, "SELECT status, attempts FROM jobs")
    assert (status, attempts) == ("queued", 0), log.read_text()
    assert "gave job" in log.read_text() and "1 given back" in log.read_text()
    assert start_worker(postgres_url, log, lease=30).wait(timeout=120) == 0
    assert query(postgres_url, "SELECT status, attempts FROM jobs") == [("done", 1)]
    outcomes = [r.outcome for r in query(postgres_url, "SELECT outcome FROM job_attempts ORDER BY attempt")]
    assert outcomes == ["released", "done"]
    assert query(postgres_url, "SELECT COUNT(*), MAX(epoch) FROM checkpoints") == [(6, 6)]


@pytest.mark.postgres
def test_sweep_file_submit_evaluate_and_local_submitit_launch(tmp_path, postgres_url):
    """A YAML sweep with variants and evaluations, drained by two workers that submitit
    starts; the job list and a job's attempts through the CLI."""
    assert run_cli("init", "--db", postgres_url, "--populate", "nb201").returncode == 0
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        "name: study\n"
        "base: {space: nb201, dataset: synthetic, initial_channels: 4, cells_per_stack: 1, synthetic_images: 128,\n"
        "       batch_size: 32, epochs: 2}\n"
        "grid: {seed: [0]}\n"
        "variants: {baseline: {}, avg-2: {architectures_per_batch: 2}}\n"
        "evaluate: [{protocol: 'bns-ft:2', n: 4}]\n")
    submitted = run_cli("submit", "train", str(sweep), "--db", postgres_url, "--checkpoint-dir", str(tmp_path / "c"))
    assert submitted.returncode == 0 and "queued 4 job(s) of sweep study: 2 train, 2 evaluate" in submitted.stdout
    again = run_cli("submit", "train", str(sweep), "--db", postgres_url)
    assert again.returncode == 1 and "sweep 'study' already has 4 jobs" in again.stderr

    launched = run_cli("worker", "--launch", "local", "--workers", "2", "--db", postgres_url, "--lease", "20",
                       "--poll", "0.2", "--device", "cpu", "--log-dir", str(tmp_path / "logs"))
    assert launched.returncode == 0, launched.stderr
    assert sum(int(line.split(": ")[1].split()[0]) for line in launched.stdout.splitlines()) == 4

    listed = json.loads(run_cli("jobs", "--db", postgres_url, "--json").stdout)
    assert len(listed) == 4 and {j["status"] for j in listed} == {"done"}
    names = sorted(j["name"] for j in listed if j["kind"] == "train")
    assert names == ["study/avg-2/seed=0", "study/baseline/seed=0"]
    (progress,) = json.loads(run_cli("jobs", "sweeps", "--db", postgres_url, "--json").stdout)
    assert (progress["sweep"], progress["jobs"], progress["done"], progress["failed"]) == ("study", 4, 4, 0)
    shown = json.loads(run_cli("jobs", "show", listed[-1]["id"], "--db", postgres_url, "--json").stdout)
    (attempt,) = shown["attempt_log"]
    assert attempt["outcome"] == "done" and attempt["host"] and attempt["device"].startswith("cpu")
    scores = query(postgres_url, "SELECT COUNT(*) FROM proxy_scores WHERE protocol_id = 'bns-ft:2' "
                                 "AND metric = 'validation_accuracy'")
    assert scores == [(8,)]
    config = json.loads(query(postgres_url, "SELECT config_json FROM supernets WHERE name = 'study/avg-2/seed=0'")[0][0])
    assert config["architectures_per_batch"] == 2 and config["epochs"] == 2


def test_submit_errors_leave_the_queue_empty(tmp_path):
    url = f"duckdb:///{tmp_path / 'e.duckdb'}"
    assert run_cli("init", "--db", url, "--populate", "").returncode == 0
    typo = run_cli("submit", "train", "--db", url, "--name", "x", "--set", "space=nb201", "--set", "epoch=3")
    assert typo.returncode == 1 and "unknown configuration key(s): epoch" in typo.stderr
    nameless = run_cli("submit", "train", "--db", url, "--set", "space=nb201")
    assert nameless.returncode == 1 and "give it a name" in nameless.stderr
    bad_protocol = run_cli("submit", "evaluate", "--db", url, "--supernet", "x", "--sweep", "y")
    assert bad_protocol.returncode == 1 and "not both" in bad_protocol.stderr
    assert query(url, "SELECT COUNT(*) FROM jobs") == [(0,)]
    assert run_cli("worker", "--db", url, "--kinds", "bake").returncode == 1


@pytest.mark.postgres
def test_slurm_launch_writes_an_array_script(tmp_path, postgres_url):
    """submitit's Slurm executor, with an `sbatch` on PATH that records what it is given."""
    assert run_cli("init", "--db", postgres_url, "--populate", "").returncode == 0
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(f"#!/bin/sh\ncp \"$1\" {tmp_path}/submitted.sh\necho 'Submitted batch job 4242'\n")
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    for tool in ("sbatch", "srun"):
        (bin_dir / tool).chmod(0o755)
    assert run_cli("worker", "--launch", "slurm", "--db", postgres_url).stderr.endswith(
        "--launch slurm: sbatch/srun not found; run this on a Slurm login node\n")
    result = run_cli("worker", "--launch", "slurm", "--workers", "3", "--partition", "gpu", "--gpus", "1",
                     "--time-min", "30", "--slurm-option", "constraint=a100",
                     "--db", postgres_url, "--log-dir", str(tmp_path / "logs"),
                     env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert result.returncode == 0, result.stderr
    assert "submitted 3 workers as Slurm job array 4242" in result.stdout
    script = (tmp_path / "submitted.sh").read_text()
    for line in ("#SBATCH --array=0-2%3", "#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=1",
                 "#SBATCH --time=30", "#SBATCH --constraint=a100", "#SBATCH --signal=USR2@90"):
        assert line in script
