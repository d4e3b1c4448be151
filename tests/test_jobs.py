"""The job queue's rules, on DuckDB and on a real PostgreSQL: claiming, leases, fencing,
reclaiming, attempts, dependencies, cancel and retry; and concurrent claims on PostgreSQL."""

import threading
import time

import pytest
import sqlalchemy as sa

from wsdb.warehouse import db as database
from wsdb.jobqueue import jobs
from wsdb.base.errors import WsdbError


def worker_named(name: str) -> jobs.WorkerIdentity:
    return jobs.WorkerIdentity(f"test:{name}", "test-host", 1, "cpu: test", None)


@pytest.fixture
def queue(any_url):
    database.init_database(any_url)
    engine = database.open_engine(any_url)
    yield engine
    engine.dispose()


def job_row(engine, job_id):
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT * FROM jobs WHERE id = :id"), {"id": job_id}).one()


def claim(engine, who, lease=60.0, **filters):
    with engine.begin() as connection:
        jobs.reclaim_expired(connection)
        return jobs.claim(connection, worker_named(who), lease, **filters)


def test_claim_order_complete_and_fencing(queue):
    with queue.begin() as connection:
        low, high, later = jobs.submit(connection, [
            jobs.NewJob("train", {"n": 1}), jobs.NewJob("train", {"n": 2}, priority=5), jobs.NewJob("evaluate", {"n": 3})])
    first = claim(queue, "a")
    assert first.id == high and first.payload == {"n": 2} and first.attempt == 1
    assert claim(queue, "b", kinds=("evaluate",)).id == later
    second = claim(queue, "c")
    assert second.id == low and claim(queue, "d") is None
    with queue.begin() as connection:
        assert jobs.heartbeat(connection, first, 60.0)
        assert jobs.complete(connection, first, {"ok": True})
        assert not jobs.complete(connection, first, {"ok": "twice"})  # not running any more: fenced
        assert not jobs.heartbeat(connection, first, 60.0)
        forged = jobs.ClaimedJob(second.id, second.kind, second.payload, None, second.attempt, "test:intruder")
        assert not jobs.complete(connection, forged, {}) and jobs.fail(connection, forged, "x") is None
        assert jobs.remaining(connection) == 2
    done = job_row(queue, high)
    assert done.status == "done" and done.result_json == '{"ok": true}' and done.attempts == 1
    with queue.connect() as connection:
        (attempt,) = jobs.attempts_of(connection, high)
    assert attempt["outcome"] == "done" and attempt["worker"] == "test:a" and attempt["host"] == "test-host"


def test_expired_lease_is_reclaimed_and_the_old_holder_is_fenced_out(queue):
    with queue.begin() as connection:
        (job_id,) = jobs.submit(connection, [jobs.NewJob("train", {}, max_attempts=2)])
    stale = claim(queue, "crashed", lease=0.3)
    assert claim(queue, "other") is None  # leased
    time.sleep(0.6)
    fresh = claim(queue, "other")  # the poll reclaims, then claims
    assert fresh.id == job_id and fresh.attempt == 2
    row = job_row(queue, job_id)
    assert row.attempts == 2 and "lease of worker test:crashed expired" in row.last_error
    with queue.begin() as connection:
        assert not jobs.heartbeat(connection, stale, 60.0)
        assert not jobs.complete(connection, stale, {})
        outcomes = [a["outcome"] for a in jobs.attempts_of(connection, job_id)]
    assert outcomes == ["lost", "running"]
    with queue.begin() as connection:  # the second lease also runs out: max_attempts is reached
        connection.execute(sa.text("UPDATE jobs SET lease_expires_at = heartbeat_at WHERE id = :id"), {"id": job_id})
        assert jobs.reclaim_expired(connection) == 1
    assert job_row(queue, job_id).status == "failed" and claim(queue, "third") is None


def test_failures_retry_until_max_attempts_and_release_does_not_count(queue):
    with queue.begin() as connection:
        (job_id,) = jobs.submit(connection, [jobs.NewJob("evaluate", {}, max_attempts=2)])
    job = claim(queue, "a")
    with queue.begin() as connection:
        assert jobs.release(connection, job, "SIGTERM")
    assert job_row(queue, job_id).attempts == 0
    for expected in ("queued", "failed"):
        job = claim(queue, "a")
        with queue.begin() as connection:
            assert jobs.fail(connection, job, "RuntimeError: boom") == expected
    row = job_row(queue, job_id)
    assert row.status == "failed" and row.last_error == "RuntimeError: boom" and row.finished_at is not None
    with queue.connect() as connection:
        assert [a["outcome"] for a in jobs.attempts_of(connection, job_id)] == ["released", "failed", "failed"]
    with queue.begin() as connection:
        assert jobs.retry(connection, [job_id]) == 1
    assert claim(queue, "b").attempt == 4


def test_dependencies_wait_for_success_and_fail_with_their_dependency(queue):
    with queue.begin() as connection:
        train, train2 = jobs.submit(connection, [jobs.NewJob("train", {}), jobs.NewJob("train", {}, max_attempts=1)])
        evaluate, evaluate2 = jobs.submit(connection, [jobs.NewJob("evaluate", {}, depends_on=train),
                                                       jobs.NewJob("evaluate", {}, depends_on=train2)])
        with pytest.raises(WsdbError, match="dependency job"):
            jobs.submit(connection, [jobs.NewJob("evaluate", {}, depends_on="0" * 32)])
    first, second = claim(queue, "a"), claim(queue, "b")
    assert {first.id, second.id} == {train, train2} and claim(queue, "c") is None  # evaluations wait
    with queue.begin() as connection:
        jobs.complete(connection, first if first.id == train else second, {})
        jobs.fail(connection, second if second.id == train2 else first, "no data")
    assert claim(queue, "c").id == evaluate
    assert job_row(queue, evaluate2).status == "failed"
    assert "depends on job" in job_row(queue, evaluate2).last_error


def test_cancel_and_retry_by_sweep(queue):
    with queue.begin() as connection:
        ids = jobs.submit(connection, [jobs.NewJob("train", {}, sweep="s"), jobs.NewJob("train", {}, sweep="s"),
                                       jobs.NewJob("train", {}, sweep="other")])
    running = claim(queue, "a")
    with queue.begin() as connection:
        assert jobs.cancel(connection, sweep="s") == 1  # the running one finishes its attempt
        assert jobs.resolve_job(connection, ids[2][:8]) == ids[2]
        with pytest.raises(WsdbError, match="at least 6"):
            jobs.resolve_job(connection, ids[2][:3])
        with pytest.raises(WsdbError, match="name the jobs"):
            jobs.cancel(connection)
    assert running.id == ids[0] and job_row(queue, ids[1]).status == "cancelled"
    with queue.begin() as connection:
        assert jobs.retry(connection, sweep="s") == 1
    assert job_row(queue, ids[1]).status == "queued"


@pytest.mark.postgres
def test_concurrent_claims_on_postgresql_take_each_job_once(postgres_url):
    database.init_database(postgres_url)
    engine = database.open_engine(postgres_url)
    with engine.begin() as connection:
        submitted = set(jobs.submit(connection, [jobs.NewJob("train", {"i": i}) for i in range(200)]))
    taken: list[str] = []
    lock = threading.Lock()

    def drain(name):
        while True:
            with engine.begin() as connection:
                job = jobs.claim(connection, worker_named(name), 60.0)
                if job is None:
                    return
                assert jobs.complete(connection, job, {})
            with lock:
                taken.append(job.id)

    threads = [threading.Thread(target=drain, args=(f"t{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    assert len(taken) == 200 and set(taken) == submitted
