"""The job queue: work for training and evaluation workers, kept in the warehouse.

A job is claimed by one worker under a lease that its heartbeat renews. A worker that dies
(kill -9, a lost node, a preempted Slurm task) stops heartbeating; once its lease has
expired, the next worker that polls marks that attempt `lost` and puts the job back in the
queue (or fails it after max_attempts), and whoever claims it resumes from the last
checkpoint. Every change of a running job is fenced by the claiming worker's id and status
'running', so a worker that lost its lease can no longer renew, finish or fail the job.

Times are the database's clock (`now() AT TIME ZONE 'UTC'`, the same SQL on PostgreSQL and
DuckDB), so leases do not depend on the clocks of the workers' machines.

Claiming is one transaction. On PostgreSQL the candidate row is locked with
`FOR UPDATE SKIP LOCKED`, so concurrent workers each take a different job without waiting
on each other; DuckDB has no row locks and admits one writing process at a time, so a
DuckDB warehouse has one worker process (wsdb.trainers.worker holds a lock file for it).
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

import sqlalchemy as sa

from wsdb.base.errors import WsdbError
from wsdb.warehouse.schema import Job, JobAttempt, utcnow

KINDS = ("train", "evaluate", "standalone")
STATUSES = ("queued", "running", "done", "failed", "cancelled")
NOW = "(now() AT TIME ZONE 'UTC')"
LEASE_END = f"{NOW} + INTERVAL '1 second' * CAST(:lease AS DOUBLE PRECISION)"


@dataclass(frozen=True)
class NewJob:
    kind: str
    payload: dict
    name: str | None = None
    sweep: str | None = None
    priority: int = 0
    max_attempts: int = 3
    depends_on: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class WorkerIdentity:
    """Who claims: a unique id per worker process, and where it runs."""

    id: str
    host: str
    pid: int
    device: str | None = None
    cluster_job: str | None = None

    @classmethod
    def here(cls, device: str | None = None) -> "WorkerIdentity":
        host, pid = socket.gethostname(), os.getpid()
        return cls(f"{host}:{pid}:{uuid.uuid4().hex[:8]}", host, pid, device, cluster_job_id())


def cluster_job_id() -> str | None:
    """The Slurm job (array task) this process runs in, if any."""
    job = os.environ.get("SLURM_ARRAY_JOB_ID") or os.environ.get("SLURM_JOB_ID")
    task = os.environ.get("SLURM_ARRAY_TASK_ID")
    if job and task:
        return f"slurm:{job}_{task}"
    return f"slurm:{job}" if job else None


@dataclass(frozen=True)
class ClaimedJob:
    id: str
    kind: str
    payload: dict
    name: str | None
    attempt: int  # this claim's number in job_attempts
    worker: str


def submit(connection: sa.Connection, jobs: list[NewJob]) -> list[str]:
    """Enqueue jobs (in one transaction: all or none); returns their ids."""
    for job in jobs:
        if job.kind not in KINDS:
            raise WsdbError(f"unknown job kind {job.kind!r}; known: {', '.join(KINDS)}")
    ids = {job.id for job in jobs}
    wanted = {job.depends_on for job in jobs if job.depends_on and job.depends_on not in ids}
    if wanted:
        found = {r for (r,) in connection.execute(sa.select(Job.id).where(Job.id.in_(wanted)))}
        if wanted - found:
            raise WsdbError(f"dependency job(s) not found: {', '.join(sorted(wanted - found))}")
    now = utcnow()
    if jobs:  # a microsecond apart, so that jobs of equal priority are claimed in submission order
        connection.execute(sa.insert(Job), [{
            "id": job.id, "kind": job.kind, "payload_json": json.dumps(job.payload, sort_keys=True),
            "status": "queued", "priority": job.priority, "attempts": 0, "max_attempts": job.max_attempts,
            "created_at": now + timedelta(microseconds=i), "sweep": job.sweep, "name": job.name,
            "depends_on": job.depends_on,
        } for i, job in enumerate(jobs)])
    return [job.id for job in jobs]


JOBS = Job.__table__


def _filters(kinds: tuple[str, ...] | None, sweep: str | None, table: sa.Table = JOBS) -> list:
    """Conditions selecting a worker's jobs (`--kinds`, `--sweep`)."""
    conditions = []
    if kinds:
        conditions.append(table.c.kind.in_(kinds))
    if sweep:
        conditions.append(table.c.sweep == sweep)
    return conditions


def reclaim_expired(connection: sa.Connection) -> int:
    """Jobs whose lease has expired go back to the queue (or fail after max_attempts); their
    attempt is marked lost. Queued jobs whose dependency failed or was cancelled fail too.
    Returns the number of jobs reclaimed."""
    expired = f"SELECT id FROM jobs WHERE status = 'running' AND lease_expires_at < {NOW}"
    connection.execute(sa.text(
        f"UPDATE job_attempts SET outcome = 'lost', ended_at = {NOW}, "
        "error = 'lease expired: the worker stopped heartbeating (killed, preempted or cut off)' "
        f"WHERE outcome = 'running' AND job_id IN ({expired})"))
    reclaimed = connection.execute(sa.text(
        "UPDATE jobs SET status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END, "
        "last_error = 'lease of worker ' || worker || ' expired (killed, preempted or cut off)', "
        f"worker = NULL, lease_expires_at = NULL, finished_at = CASE WHEN attempts >= max_attempts THEN {NOW} END "
        f"WHERE status = 'running' AND lease_expires_at < {NOW}")).rowcount
    connection.execute(sa.text(
        f"UPDATE jobs SET status = 'failed', finished_at = {NOW}, "
        "last_error = 'depends on job ' || depends_on || ', which did not succeed' "
        "WHERE status = 'queued' AND depends_on IN (SELECT id FROM jobs WHERE status IN ('failed', 'cancelled'))"))
    return reclaimed


@lru_cache(maxsize=64)
def _candidate(kinds: tuple[str, ...] | None, sweep: str | None, row_locks: bool) -> sa.Select:
    """The next claimable job's id. Built once per worker filter: building it is half a
    millisecond, a quarter of a claim on PostgreSQL (bench/job_queue.py)."""
    j, d = JOBS.alias("j"), JOBS.alias("d")
    candidate = (
        sa.select(j.c.id)
        .where(j.c.status == "queued", j.c.attempts < j.c.max_attempts,
               sa.or_(j.c.depends_on.is_(None),
                      sa.exists().where(d.c.id == j.c.depends_on, d.c.status == "done")),
               *_filters(kinds, sweep, j))
        .order_by(j.c.priority.desc(), j.c.created_at, j.c.id)
        .limit(1)
    )
    return candidate.with_for_update(skip_locked=True, of=j) if row_locks else candidate


def claim(connection: sa.Connection, worker: WorkerIdentity, lease_seconds: float,
          kinds: tuple[str, ...] | None = None, sweep: str | None = None) -> ClaimedJob | None:
    """Take the next claimable job (highest priority, then oldest), or None."""
    # Select, then update by id: DuckDB rejects UPDATE ... RETURNING (and UPDATE with a
    # subquery on the same table) on a table that a foreign key references.
    candidate = _candidate(kinds, sweep, connection.dialect.name == "postgresql")
    job_id = connection.execute(candidate).scalar()
    if job_id is None:
        return None
    claimed = connection.execute(sa.text(
        f"UPDATE jobs SET status = 'running', worker = :worker, attempts = attempts + 1, "
        f"heartbeat_at = {NOW}, lease_expires_at = {LEASE_END}, started_at = COALESCE(started_at, {NOW}) "
        "WHERE id = :id AND status = 'queued'"), {"id": job_id, "worker": worker.id, "lease": lease_seconds}).rowcount
    if claimed != 1:  # DuckDB only (no row locks): another transaction took it first
        return None
    row = connection.execute(sa.text("SELECT kind, payload_json, name FROM jobs WHERE id = :id"), {"id": job_id}).one()
    attempt = connection.execute(sa.text(
        "SELECT COALESCE(MAX(attempt), 0) + 1 FROM job_attempts WHERE job_id = :id"), {"id": job_id}).scalar_one()
    connection.execute(sa.text(
        "INSERT INTO job_attempts (job_id, attempt, worker, host, pid, device, cluster_job, outcome, started_at) "
        f"VALUES (:id, :attempt, :worker, :host, :pid, :device, :cluster_job, 'running', {NOW})"),
        {"id": job_id, "attempt": attempt, "worker": worker.id, "host": worker.host, "pid": worker.pid,
         "device": worker.device, "cluster_job": worker.cluster_job})
    return ClaimedJob(job_id, row.kind, json.loads(row.payload_json), row.name, attempt, worker.id)


def _mine(job: ClaimedJob) -> tuple[str, dict]:
    return "id = :id AND worker = :worker AND status = 'running'", {"id": job.id, "worker": job.worker}


def heartbeat(connection: sa.Connection, job: ClaimedJob, lease_seconds: float) -> bool:
    """Renew the lease; False when the job is no longer this worker's (lease lost)."""
    fence, params = _mine(job)
    return connection.execute(sa.text(
        f"UPDATE jobs SET heartbeat_at = {NOW}, lease_expires_at = {LEASE_END} WHERE {fence}"),
        {**params, "lease": lease_seconds}).rowcount == 1


def _end_attempt(connection: sa.Connection, job: ClaimedJob, outcome: str, error: str | None = None) -> None:
    connection.execute(sa.text(
        f"UPDATE job_attempts SET outcome = :outcome, error = :error, ended_at = {NOW} "
        "WHERE job_id = :id AND attempt = :attempt"),
        {"outcome": outcome, "error": error, "id": job.id, "attempt": job.attempt})


def complete(connection: sa.Connection, job: ClaimedJob, result: dict) -> bool:
    """Mark the job done with its result; False (and nothing written) if the lease was lost."""
    fence, params = _mine(job)
    done = connection.execute(sa.text(
        f"UPDATE jobs SET status = 'done', result_json = :result, finished_at = {NOW}, lease_expires_at = NULL, "
        f"last_error = NULL WHERE {fence}"), {**params, "result": json.dumps(result, sort_keys=True)}).rowcount == 1
    if done:
        _end_attempt(connection, job, "done")
    return done


def fail(connection: sa.Connection, job: ClaimedJob, error: str) -> str | None:
    """Record an error: the job is queued again, or failed once max_attempts are used.
    Returns the new status (None if the lease was lost)."""
    fence, params = _mine(job)
    failed = connection.execute(sa.text(
        "UPDATE jobs SET status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END, "
        "last_error = :error, worker = NULL, lease_expires_at = NULL, "
        f"finished_at = CASE WHEN attempts >= max_attempts THEN {NOW} END WHERE {fence}"),
        {**params, "error": error[:4000]}).rowcount
    if failed != 1:
        return None
    _end_attempt(connection, job, "failed", error[:4000])
    return connection.execute(sa.text("SELECT status FROM jobs WHERE id = :id"), {"id": job.id}).scalar_one()


def release(connection: sa.Connection, job: ClaimedJob, reason: str) -> bool:
    """Give the job back without counting the attempt (the worker is being stopped)."""
    fence, params = _mine(job)
    released = connection.execute(sa.text(
        "UPDATE jobs SET status = 'queued', attempts = attempts - 1, worker = NULL, lease_expires_at = NULL "
        f"WHERE {fence}"), params).rowcount == 1
    if released:
        _end_attempt(connection, job, "released", reason)
    return released


def remaining(connection: sa.Connection, kinds: tuple[str, ...] | None = None, sweep: str | None = None) -> int:
    """Jobs that are queued or running (for a worker deciding whether the queue is drained)."""
    return connection.execute(sa.select(sa.func.count()).select_from(JOBS).where(
        JOBS.c.status.in_(("queued", "running")), *_filters(kinds, sweep))).scalar_one()


def _selection(ids: list[str] | None, sweep: str | None):
    """The jobs a user named: ids, else a sweep."""
    if not ids and not sweep:
        raise WsdbError("name the jobs: give job ids or --sweep NAME")
    return JOBS.c.id.in_(ids) if ids else JOBS.c.sweep == sweep


def cancel(connection: sa.Connection, ids: list[str] | None = None, sweep: str | None = None) -> int:
    """Cancel queued jobs (running ones finish their attempt: a worker is not interrupted)."""
    return connection.execute(sa.update(JOBS).where(JOBS.c.status == "queued", _selection(ids, sweep))
                              .values(status="cancelled", finished_at=sa.text(NOW))).rowcount


def retry(connection: sa.Connection, ids: list[str] | None = None, sweep: str | None = None) -> int:
    """Queue failed or cancelled jobs again with a fresh count of attempts."""
    return connection.execute(sa.update(JOBS).where(JOBS.c.status.in_(("failed", "cancelled")), _selection(ids, sweep))
                              .values(status="queued", attempts=0, finished_at=None)).rowcount


def resolve_job(connection: sa.Connection, prefix: str) -> str:
    """A job id from a unique prefix of at least 6 characters (as `wsdb jobs` prints them)."""
    if len(prefix) < 6:
        raise WsdbError(f"job id {prefix!r}: give at least 6 characters")
    found = [r for (r,) in connection.execute(sa.select(Job.id).where(Job.id.startswith(prefix)))]
    if len(found) != 1:
        raise WsdbError(f"job id {prefix!r} matches {len(found)} jobs")
    return found[0]


def attempts_of(connection: sa.Connection, job_id: str) -> list[dict]:
    table = JobAttempt.__table__
    return [dict(r._mapping) for r in connection.execute(
        sa.select(table).where(table.c.job_id == job_id).order_by(table.c.attempt))]


def submit_checked(connection: sa.Connection, new_jobs: list[NewJob], sweep: str | None) -> None:
    """Queue jobs; a sweep's training jobs are refused when the sweep name is taken."""
    if sweep is not None and any(job.kind == "train" for job in new_jobs):
        existing = connection.execute(sa.select(sa.func.count()).select_from(JOBS).where(JOBS.c.sweep == sweep)).scalar_one()
        if existing:
            raise WsdbError(f"sweep {sweep!r} already has {existing} jobs: choose another name "
                            "(or `wsdb jobs retry --sweep` to run its failed jobs again)")
    submit(connection, new_jobs)


LISTING_COLUMNS = ("id", "kind", "name", "status", "attempts", "worker", "lease_left_s", "last_error")
SWEEP_COLUMNS = ("sweep", "jobs", *STATUSES, "attempts", "submitted", "last_finished")


def listing(connection: sa.Connection, status: str | None = None, sweep: str | None = None, kind: str | None = None,
            limit: int = 200) -> list[dict]:
    """The queue as `wsdb jobs` shows it: running jobs first (with the seconds their lease has
    left, by the database's clock), then queued, then ended."""
    if status is not None and status not in STATUSES:
        raise WsdbError(f"--status {status!r}: expected one of {', '.join(STATUSES)}")
    if kind is not None and kind not in KINDS:
        raise WsdbError(f"--kind {kind!r}: expected one of {', '.join(KINDS)}")
    conditions = [JOBS.c[column] == value for column, value in (("status", status), ("sweep", sweep), ("kind", kind))
                  if value is not None]
    order = sa.case((JOBS.c.status == "running", 0), (JOBS.c.status == "queued", 1), else_=2)
    rows = connection.execute(
        sa.select(JOBS.c.id, JOBS.c.kind, JOBS.c.name, JOBS.c.status, JOBS.c.attempts, JOBS.c.max_attempts,
                  JOBS.c.worker, JOBS.c.lease_expires_at, JOBS.c.last_error, sa.literal_column(NOW).label("database_now"))
        .where(*conditions).order_by(order, JOBS.c.priority.desc(), JOBS.c.created_at, JOBS.c.id).limit(limit)).all()
    listed = []
    for r in rows:
        lease_left = (r.lease_expires_at - r.database_now).total_seconds() if r.lease_expires_at else None
        listed.append({
            "id": r.id[:12], "kind": r.kind, "name": r.name,
            "status": "running (lease expired)" if lease_left is not None and lease_left < 0 else r.status,
            "attempts": f"{r.attempts}/{r.max_attempts}", "worker": r.worker,
            "lease_left_s": round(lease_left, 1) if lease_left is not None else None,
            "last_error": (r.last_error or "")[:120] or None,
        })
    return listed


def status_counts(connection: sa.Connection) -> dict[str, int]:
    counts = dict(connection.execute(sa.select(JOBS.c.status, sa.func.count()).group_by(JOBS.c.status)).all())
    return {status: counts.get(status, 0) for status in STATUSES}


def sweep_progress(connection: sa.Connection) -> list[dict]:
    """Per sweep: jobs per status, attempts used, first submission, last finish."""
    sweep = sa.func.coalesce(JOBS.c.sweep, "(none)")
    per_status = [sa.func.sum(sa.case((JOBS.c.status == s, 1), else_=0)).label(s) for s in STATUSES]
    rows = connection.execute(
        sa.select(sweep.label("sweep"), sa.func.count().label("jobs"), *per_status,
                  sa.func.sum(JOBS.c.attempts).label("attempts"), sa.func.min(JOBS.c.created_at).label("submitted"),
                  sa.func.max(JOBS.c.finished_at).label("last_finished"))
        .group_by(sweep).order_by(sa.func.min(JOBS.c.created_at))).all()
    return [dict(r._mapping) for r in rows]


def describe(connection: sa.Connection, given: str) -> dict:
    """One job in full: its row, payload and result parsed, and every attempt."""
    job_id = resolve_job(connection, given)
    record = dict(connection.execute(sa.select(JOBS).where(JOBS.c.id == job_id)).one()._mapping)
    for key in ("payload_json", "result_json"):
        record[key.removesuffix("_json")] = json.loads(record.pop(key)) if record[key] else None
    record["attempt_log"] = attempts_of(connection, job_id)
    return record
