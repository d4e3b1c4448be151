"""`wsdb worker`: claim jobs from the warehouse's queue and run them.

A worker polls (reclaiming expired leases first), claims one job, runs it while a thread
renews the lease, and records the outcome; then polls again. Training jobs name their
super-net id at submission, so whoever claims a job again (after a crash, kill -9 or a
preempted node) resumes that super-net from its newest checkpoint, whose sha256 must
match; evaluation jobs skip what is already scored. A worker that learns it lost its lease
stops the job at the next training step or architecture and writes nothing more for it.

SIGTERM, SIGINT or SIGUSR2 (scancel, Ctrl-C, Slurm's warning before a time limit or a
preemption) stop the running job at the next step and give it back to the queue without
counting the attempt; then the worker exits.

A DuckDB warehouse admits one worker process at a time: the worker holds an exclusive lock
on `<file>.worker.lock` (released by the OS even after kill -9), and a second worker stops
at once with a message that says so.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa

from wsdb.warehouse import lookup
from wsdb.warehouse import db as database
from wsdb.jobqueue import jobs
from wsdb.base.errors import WsdbError
from wsdb.warehouse.schema import Supernet
from wsdb.trainers import records
from wsdb.trainers.config import make_config
from wsdb.trainers.evaluate import evaluate_supernet
from wsdb.trainers.seeds import Seeds
from wsdb.trainers.standalone import StandaloneOptions, train_standalone
from wsdb.spaces import registry
from wsdb.trainers.runtime import RunInterrupted, pick_device
from wsdb.trainers.train import RunOptions, resume_supernet, run_supernet

# SIGUSR2: what Slurm sends before a time limit or a preemption (submitit's --signal=USR2@90)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR2)
POLL_ERRORS_TOLERATED = 20  # consecutive failed polls (database unreachable) before giving up


@dataclass
class WorkerOptions:
    kinds: tuple[str, ...] | None = None  # only these kinds of job
    sweep: str | None = None  # only this sweep's jobs
    lease_seconds: float = 120.0
    poll_seconds: float = 5.0
    drain: bool = False  # exit once nothing is queued or running (instead of waiting for work)
    max_jobs: int | None = None
    device: str | None = None
    data_dir: str | None = None
    progress: bool = True  # per-job lines on stderr
    training_progress: bool = False  # per-epoch training output

    def __post_init__(self) -> None:
        for kind in self.kinds or ():
            if kind not in jobs.KINDS:
                raise WsdbError(f"--kinds: unknown kind {kind!r}; known: {', '.join(jobs.KINDS)}")
        if self.lease_seconds <= 0 or self.poll_seconds <= 0:
            raise WsdbError("--lease and --poll must be positive")


@dataclass
class WorkerSummary:
    worker: str
    done: int = 0
    failed: int = 0
    released: int = 0
    lost: int = 0
    seconds: float = 0.0
    jobs: list[str] = field(default_factory=list)


class Queue:
    """Database access for queue operations: one engine for the worker's life on PostgreSQL
    (a connection pool shared with the heartbeat thread); on DuckDB an engine per operation,
    so other processes (`wsdb jobs`, `wsdb submit`) can open the file in between."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = None if database.duckdb_path(url) else database.open_engine(url)

    @contextmanager
    def transaction(self):
        if self.engine is not None:
            with self.engine.begin() as connection:
                yield connection
        else:
            with database.warehouse(self.url) as engine, engine.begin() as connection:
                yield connection

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


class Heartbeat(threading.Thread):
    """Renews a job's lease every quarter lease; sets `lost` when the job is no longer ours
    (or the database could not be reached for longer than the lease)."""

    def __init__(self, queue: Queue, job: jobs.ClaimedJob, lease_seconds: float) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{job.id[:8]}")
        self.queue, self.job, self.lease_seconds = queue, job, lease_seconds
        self.lost = threading.Event()
        self.finished = threading.Event()

    def run(self) -> None:
        last_renewal = time.monotonic()
        while not self.finished.wait(self.lease_seconds / 4):
            try:
                with self.queue.transaction() as connection:
                    if not jobs.heartbeat(connection, self.job, self.lease_seconds):
                        self.lost.set()
                        return
                last_renewal = time.monotonic()
            except Exception:  # a database hiccup: try again until the lease would be gone
                if time.monotonic() - last_renewal > self.lease_seconds:
                    self.lost.set()
                    return

    def stop(self) -> None:
        self.finished.set()
        self.join()


@contextmanager
def single_duckdb_worker(url: str):
    """On a DuckDB warehouse, hold `<file>.worker.lock` for the worker's life."""
    path = database.duckdb_path(url)
    if path is None:
        yield
        return
    lock_path = path.with_name(path.name + ".worker.lock")
    handle = open(lock_path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise WsdbError(f"{path} already has a worker ({holder}): a DuckDB warehouse admits one worker process "
                        "at a time; to run several, put the warehouse on PostgreSQL (--db postgresql+psycopg://...) "
                        "and `wsdb pull` it into DuckDB for the analyses") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}")
    handle.flush()
    try:
        yield
    finally:
        handle.close()


def _train(url: str, payload: dict, options: RunOptions) -> dict:
    supernet_id = payload["supernet_id"]
    with database.warehouse(url) as engine, engine.connect() as connection:
        status = connection.execute(sa.select(Supernet.status).where(Supernet.id == supernet_id)).scalar()
    if status is None:
        seed = payload.get("seed", 0)
        seeds = Seeds(**payload["seeds"]) if payload.get("seeds") else Seeds.of(seed)
        run_supernet(url, make_config(payload["config"]), seed, payload.get("name"), options,
                     supernet_id=supernet_id, seeds=seeds)
    elif status != "finished":  # an earlier attempt got this far: continue from its newest checkpoint
        resume_supernet(url, supernet_id, options, force=True)  # the job's lease makes this worker its only runner
    with database.warehouse(url) as engine, engine.connect() as connection:
        row = lookup.supernet(connection, supernet_id)
        count = len(records.checkpoints_of(connection, supernet_id))
    return {"supernet_id": supernet_id, "status": row.status, "checkpoints": count,
            "training_seconds": row.training_seconds}


def _evaluate(url: str, payload: dict, options: WorkerOptions, keep_going) -> dict:
    summary = evaluate_supernet(
        url, payload["supernet"], payload["protocol"], payload.get("sample"), payload.get("n"),
        payload.get("seed", 0), payload.get("checkpoint", "latest"), payload.get("save_predictions", False),
        options.data_dir, options.device, payload.get("batch_size", 1000), progress=options.training_progress,
        keep_going=keep_going, curve=payload.get("curve", False))
    return dict(vars(summary))


def _standalone(url: str, payload: dict, options: WorkerOptions, keep_going) -> dict:
    """One stand-alone training; under the job's run id a retried job returns the finished run or
    continues the interrupted one from its newest epoch."""
    arch = registry.canonicalize(registry.CANONICAL_ENCODING_KIND[payload["space"]], payload["encoding"])
    run_options = StandaloneOptions(payload["checkpoint_dir"], options.data_dir, options.device,
                                    progress=options.training_progress, keep_going=keep_going)
    return train_standalone(url, arch, payload["recipe"], payload.get("overrides"), payload.get("seed", 0),
                            run_options, run_id=payload["run_id"], skip_stored=True)


def execute(url: str, job: jobs.ClaimedJob, options: WorkerOptions, keep_going) -> dict:
    """Run one claimed job; returns its result (stored as the job's result_json)."""
    if job.kind == "train":
        run_options = RunOptions(checkpoint_dir=job.payload["checkpoint_dir"], data_dir=options.data_dir,
                                 device=options.device, progress=options.training_progress, keep_going=keep_going)
        return _train(url, job.payload, run_options)
    if job.kind == "evaluate":
        return _evaluate(url, job.payload, options, keep_going)
    if job.kind == "standalone":
        return _standalone(url, job.payload, options, keep_going)
    raise WsdbError(f"job {job.id}: unknown kind {job.kind!r}")


class Worker:
    def __init__(self, url: str, options: WorkerOptions) -> None:
        self.url, self.options = url, options
        self.identity = jobs.WorkerIdentity.here(records.describe_device(pick_device(options.device)))
        self.summary = WorkerSummary(self.identity.id)
        self.stop_requested = threading.Event()

    def say(self, message: str) -> None:
        if self.options.progress:
            print(f"[{time.strftime('%H:%M:%S')} {self.identity.id}] {message}", file=sys.stderr, flush=True)

    def _poll(self, queue: Queue) -> jobs.ClaimedJob | None:
        with queue.transaction() as connection:
            reclaimed = jobs.reclaim_expired(connection)
        if reclaimed:
            self.say(f"reclaimed {reclaimed} job(s) whose lease had expired")
        with queue.transaction() as connection:
            return jobs.claim(connection, self.identity, self.options.lease_seconds, self.options.kinds,
                              self.options.sweep)

    def _drained(self, queue: Queue) -> bool:
        with queue.transaction() as connection:
            return jobs.remaining(connection, self.options.kinds, self.options.sweep) == 0

    def _run_one(self, queue: Queue, job: jobs.ClaimedJob) -> None:
        self.say(f"claimed {job.kind} job {job.id[:12]} ({job.name or '-'}), attempt {job.attempt}")
        beat = Heartbeat(queue, job, self.options.lease_seconds)
        beat.start()
        started = time.perf_counter()
        try:
            result = execute(self.url, job, self.options,
                             keep_going=lambda: not (beat.lost.is_set() or self.stop_requested.is_set()))
        except RunInterrupted:
            beat.stop()
            if beat.lost.is_set():
                self.summary.lost += 1
                self.say(f"lost the lease of job {job.id[:12]}: abandoned it to its new holder")
                return
            with queue.transaction() as connection:
                jobs.release(connection, job, "worker stopped by a signal")
            self.summary.released += 1
            self.say(f"gave job {job.id[:12]} back to the queue")
            return
        except Exception as error:
            beat.stop()
            message = f"{type(error).__name__}: {error}"
            with queue.transaction() as connection:
                status = jobs.fail(connection, job, message)
            self.summary.failed += 1
            self.say(f"job {job.id[:12]} failed ({message.splitlines()[0][:200]}); now {status or 'lost'}")
            return
        beat.stop()
        with queue.transaction() as connection:
            finished = jobs.complete(connection, job, result)
        if finished:
            self.summary.done += 1
            self.summary.jobs.append(job.id)
            self.say(f"job {job.id[:12]} done in {time.perf_counter() - started:.1f} s")
        else:
            self.summary.lost += 1
            self.say(f"job {job.id[:12]} finished after its lease was lost: result not recorded")

    def run(self) -> WorkerSummary:
        started = time.perf_counter()
        with single_duckdb_worker(self.url), _stop_on_signals(self.stop_requested):
            queue = Queue(self.url)
            try:
                self._loop(queue)
            finally:
                queue.close()
        self.summary.seconds = time.perf_counter() - started
        return self.summary

    def _loop(self, queue: Queue) -> None:
        self.say(f"started on {self.identity.device}; lease {self.options.lease_seconds:g} s")
        failures = 0
        while not self.stop_requested.is_set():
            if self.options.max_jobs is not None and self.summary.done + self.summary.failed >= self.options.max_jobs:
                break
            try:
                job = self._poll(queue)
                failures = 0
            except sa.exc.DBAPIError as error:  # unreachable database, a serialization failure: poll again
                failures += 1
                if failures >= POLL_ERRORS_TOLERATED:
                    raise WsdbError(f"the queue could not be read {failures} times in a row: "
                                    f"{str(error.orig).splitlines()[0]}") from None
                self.stop_requested.wait(self.options.poll_seconds)
                continue
            if job is not None:
                self._run_one(queue, job)
            elif self.options.drain and self._drained(queue):
                self.say("queue drained")
                break
            else:
                self.stop_requested.wait(self.options.poll_seconds)


@contextmanager
def _stop_on_signals(event: threading.Event):
    """SIGTERM, SIGINT and SIGUSR2 ask the worker to stop (handlers can only be set in the
    main thread). Under submitit, these replace its handlers while the worker runs: its
    USR2 handler would raise inside a training step, or requeue the whole task."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    for s in previous:
        signal.signal(s, lambda *_: event.set())
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def run_worker(url: str, options: WorkerOptions) -> dict:
    """A worker's life; returns its summary as a plain dict (what a Slurm task returns)."""
    database.open_engine(url).dispose()  # a clear error now rather than in the loop
    summary = Worker(url, options).run()
    return json.loads(json.dumps(vars(summary)))
