"""`wsdb submit`, `wsdb worker`, `wsdb jobs`: the job queue from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import sqlalchemy as sa
import typer

from wsdb import db as database
from wsdb import jobs
from wsdb.cli_options import CsvOption, DbOption, JsonOption, key_values
from wsdb.errors import WsdbError
from wsdb.output import Format, emit_record, emit_rows, pick_format

submit_app = typer.Typer(help="Put training and evaluation jobs in the warehouse's queue (workers run them).",
                         no_args_is_help=True)
jobs_app = typer.Typer(help="The job queue: list (the default), sweeps, show, cancel, retry.",
                       invoke_without_command=True)

PriorityOption = Annotated[int, typer.Option(help="Higher runs first")]
AttemptsOption = Annotated[int, typer.Option(min=1, help="Claims before a job is failed (crashes and expired leases count)")]


def _parse_seeds(text: str) -> list[int]:
    """'0-4' or '0,1,5'."""
    try:
        if "-" in text.strip("-"):
            first, last = text.split("-", 1)
            return list(range(int(first), int(last) + 1))
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise WsdbError(f"--seeds {text!r}: expected a range like 0-4 or a list like 0,1,5") from None


def _yaml_values(items: Optional[list[str]], option: str) -> dict:
    """`--option key=value`, each value read as YAML (numbers, true/false, lists)."""
    import yaml

    return {key: yaml.safe_load(value) if value else None for key, value in key_values(items, option).items()}


def _submit(db: Optional[str], new_jobs: list[jobs.NewJob], sweep: str | None, as_json: bool) -> None:
    with database.warehouse(database.resolve_url(db)) as engine, engine.begin() as connection:
        if sweep is not None and any(job.kind == "train" for job in new_jobs):
            existing = connection.execute(sa.text("SELECT COUNT(*) FROM jobs WHERE sweep = :s"), {"s": sweep}).scalar_one()
            if existing:
                raise WsdbError(f"sweep {sweep!r} already has {existing} jobs: choose another name "
                                "(or `wsdb jobs retry --sweep` to run its failed jobs again)")
        jobs.submit(connection, new_jobs)
    rows = [{"id": job.id, "kind": job.kind, "name": job.name, "depends_on": job.depends_on} for job in new_jobs]
    if as_json:
        emit_rows(rows, Format.json)
        return
    kinds = {kind: sum(job.kind == kind for job in new_jobs) for kind in jobs.KINDS}
    typer.echo(f"queued {len(new_jobs)} job(s)" + (f" of sweep {sweep}" if sweep else "") + ": " +
               ", ".join(f"{count} {kind}" for kind, count in kinds.items() if count))


@submit_app.command("train")
def submit_train(
    sweep_file: Annotated[Optional[Path], typer.Argument(help="A sweep YAML file (README: name, base, grid, "
                          "variants, evaluate)")] = None,
    settings: Annotated[Optional[list[str]], typer.Option("--set", help="A configuration key for every run, "
                        "key=value (repeatable), e.g. --set space=nb201 --set epochs=50")] = None,
    seeds: Annotated[Optional[str], typer.Option(help="Seeds to cross with the grid: 0-4 or 0,1,5")] = None,
    name: Annotated[Optional[str], typer.Option(help="The sweep's name (overrides the file's)")] = None,
    checkpoint_dir: Annotated[str, typer.Option(help="Where workers write checkpoints: a path on a filesystem "
                              "every worker sees, or an fsspec URI (s3://...)")] = "checkpoints",
    priority: PriorityOption = 0,
    max_attempts: AttemptsOption = 3,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Queue one training job per grid point and variant (and the sweep's evaluation jobs,
    each claimable once its training job is done). Every configuration is validated now.

    Examples: wsdb submit train sweep.yaml --db postgresql+psycopg://wsdb@db.lab/wsdb;
    wsdb submit train --name quick --set space=nb201 --set dataset=synthetic --set epochs=2 --seeds 0-2
    """
    from wsdb.trainers.checkpoints import location_uri
    from wsdb.trainers.sweep import expand, read_sweep

    sweep = read_sweep(sweep_file) if sweep_file else {}
    if name:
        sweep["name"] = name
    sweep["base"] = {**(sweep.get("base") or {}), **_yaml_values(settings, "--set")}
    if seeds is not None:
        sweep["grid"] = {**(sweep.get("grid") or {}), "seed": _parse_seeds(seeds)}
    new_jobs = expand(sweep, location_uri(checkpoint_dir), priority, max_attempts)
    _submit(db, new_jobs, sweep["name"], as_json)


@submit_app.command("evaluate")
def submit_evaluate(
    supernets: Annotated[Optional[list[str]], typer.Option("--supernet", help="A super-net id or name (repeatable)")] = None,
    sweep: Annotated[Optional[str], typer.Option(help="Every super-net this sweep trains (each job waits for its "
                     "training job)")] = None,
    protocol: Annotated[str, typer.Option(help="no-ft, bns-ft[:BATCHES] or ft[:STEPS]")] = "bns-ft:4",
    sample: Annotated[Optional[str], typer.Option(help="Score this named architecture sample")] = None,
    n: Annotated[Optional[int], typer.Option("--n", min=1, help="Score N architectures drawn uniformly")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the --n draw")] = 0,
    checkpoint: Annotated[str, typer.Option(help="latest, all, a label or an epoch number")] = "latest",
    save_predictions: Annotated[bool, typer.Option("--save-predictions", help="Also write per-image predictions")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Validation batch size")] = 1000,
    priority: PriorityOption = 0,
    max_attempts: AttemptsOption = 3,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Queue evaluation jobs: one per super-net, scored as `wsdb evaluate` would.

    Examples: wsdb submit evaluate --sweep subspaces --protocol bns-ft:4 --n 1000;
    wsdb submit evaluate --supernet 3f2a... --protocol no-ft --sample to-share/baseline_ft_bn/full/0
    """
    from wsdb.trainers import records
    from wsdb.trainers.sweep import evaluation_payload

    if bool(supernets) == bool(sweep):
        raise WsdbError("give --supernet (repeatable) or --sweep, not both")
    values = {"protocol": protocol, "sample": sample, "n": n, "seed": seed, "checkpoint": checkpoint,
              "save_predictions": save_predictions, "batch_size": batch_size}
    targets: list[tuple[str, str | None, str | None]] = []  # (super-net id, name, training job to wait for)
    with database.warehouse(database.resolve_url(db)) as engine, engine.connect() as connection:
        if sweep:
            rows = connection.execute(sa.text(
                "SELECT id, name, status, payload_json FROM jobs WHERE sweep = :s AND kind = 'train' "
                "ORDER BY created_at, id"), {"s": sweep}).all()
            if not rows:
                raise WsdbError(f"sweep {sweep!r} has no training jobs")
            targets = [(json.loads(r.payload_json)["supernet_id"], r.name, None if r.status == "done" else r.id)
                       for r in rows]
        else:
            for given in supernets:
                row = records.supernet_row(connection, given)
                targets.append((row.id, row.name, None))
    new_jobs = []
    for supernet_id, supernet_name, training_job in targets:
        payload = evaluation_payload(supernet_id, values)
        new_jobs.append(jobs.NewJob("evaluate", payload, name=f"{supernet_name or supernet_id} {payload['protocol']}",
                                    sweep=sweep, priority=priority, max_attempts=max_attempts,
                                    depends_on=training_job))
    _submit(db, new_jobs, sweep, as_json)


def worker(
    kinds: Annotated[Optional[str], typer.Option(help="Only these kinds of job, e.g. train or train,evaluate")] = None,
    sweep: Annotated[Optional[str], typer.Option(help="Only this sweep's jobs")] = None,
    lease: Annotated[float, typer.Option(help="Lease in seconds, renewed every quarter lease; a job whose "
                     "worker stops heartbeating is reclaimed once it expires")] = 120.0,
    poll: Annotated[float, typer.Option(help="Seconds between polls of an empty queue")] = 5.0,
    drain: Annotated[bool, typer.Option("--drain", help="Exit once nothing is queued or running (default: wait "
                     "for more work)")] = False,
    max_jobs: Annotated[Optional[int], typer.Option(min=1, help="Exit after this many jobs")] = None,
    device: Annotated[Optional[str], typer.Option(help="cpu, cuda, cuda:1 (default: CUDA when available)")] = None,
    data_dir: Annotated[Optional[str], typer.Option(help="Where this machine keeps the datasets")] = None,
    launch: Annotated[Optional[str], typer.Option(help="Start the workers through submitit instead: slurm (a job "
                      "array) or local (processes here, to try it out)")] = None,
    workers: Annotated[int, typer.Option(min=1, help="With --launch: how many workers (array tasks)")] = 1,
    partition: Annotated[Optional[str], typer.Option(help="Slurm partition")] = None,
    gpus: Annotated[int, typer.Option(min=0, help="Slurm GPUs per worker")] = 1,
    cpus: Annotated[int, typer.Option(min=1, help="CPUs per worker")] = 8,
    mem_gb: Annotated[Optional[float], typer.Option(help="Slurm memory per worker (GB)")] = None,
    time_min: Annotated[int, typer.Option(min=1, help="Time limit per worker in minutes")] = 24 * 60,
    account: Annotated[Optional[str], typer.Option(help="Slurm account")] = None,
    qos: Annotated[Optional[str], typer.Option(help="Slurm QOS")] = None,
    slurm_option: Annotated[Optional[list[str]], typer.Option("--slurm-option", help="Any other sbatch option, "
                            "key=value (repeatable), e.g. constraint=a100")] = None,
    log_dir: Annotated[Path, typer.Option(help="submitit's folder for the workers' logs and results")] = Path("wsdb-workers"),
    wait: Annotated[bool, typer.Option("--wait", help="With --launch slurm: wait for the array to end")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No per-job lines")] = False,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Claim jobs from the queue and run them: trains super-nets (resuming from the newest
    checkpoint when a job was claimed before), scores architectures. A lease renewed by a
    heartbeat guards each job; SIGTERM, SIGINT or SIGUSR2 (Slurm's warning before a time
    limit) give the running job back to the queue. Every attempt records host, process,
    device and Slurm job. On DuckDB one worker process at a time; run many against
    PostgreSQL. Checkpoints load only through torch's weights-only
    allow-list and only if their sha256 matches.

    Examples: wsdb worker --db postgresql+psycopg://wsdb@db.lab/wsdb;
    wsdb worker --drain --kinds evaluate --device cuda:1;
    wsdb worker --launch slurm --workers 16 --partition gpu --gpus 1 --time-min 720
    """
    from wsdb.trainers.worker import WorkerOptions, run_worker

    url = database.resolve_url(db)
    options = WorkerOptions(
        kinds=tuple(k.strip() for k in kinds.split(",")) if kinds else None, sweep=sweep, lease_seconds=lease,
        poll_seconds=poll, drain=drain, max_jobs=max_jobs, device=device, data_dir=data_dir, progress=not quiet)
    for kind in options.kinds or ():
        if kind not in jobs.KINDS:
            raise WsdbError(f"--kinds: unknown kind {kind!r}; known: {', '.join(jobs.KINDS)}")
    if lease <= 0 or poll <= 0:
        raise WsdbError("--lease and --poll must be positive")
    if launch is None:
        database.open_engine(url).dispose()  # a clear error now rather than in the loop
        summary = run_worker(url, options)
        if as_json:
            emit_record(summary, Format.json)
        else:
            typer.echo(f"worker {summary['worker']}: {summary['done']} done, {summary['failed']} failed, "
                       f"{summary['released']} given back, {summary['lost']} lost, {summary['seconds']:.1f} s")
        return
    _launch(url, options, launch, workers, log_dir, wait, as_json, dict(
        time_minutes=time_min, gpus=gpus, cpus=cpus, mem_gb=mem_gb, partition=partition, account=account, qos=qos,
        extra=_yaml_values(slurm_option, "--slurm-option")))


def _launch(url: str, options, cluster: str, workers: int, log_dir: Path, wait: bool, as_json: bool,
            resources: dict) -> None:
    from wsdb.trainers.launch import Resources, launch_workers

    if database.duckdb_path(url) is not None and (workers > 1 or cluster == "slurm"):
        raise WsdbError("--launch needs a PostgreSQL warehouse (a DuckDB file admits one worker process at a time)")
    database.open_engine(url).dispose()
    launched = launch_workers(url, options, cluster, workers, log_dir, Resources(**resources))
    ids = [job.job_id for job in launched]
    if cluster == "slurm" and not wait:
        typer.echo(f"submitted {len(ids)} workers as Slurm job array {ids[0].split('_')[0]} (logs under {log_dir})")
        return
    summaries = [job.result() for job in launched]
    if as_json:
        emit_rows(summaries, Format.json)
        return
    for job_id, summary in zip(ids, summaries):
        typer.echo(f"worker {job_id} ({summary['worker']}): {summary['done']} done, {summary['failed']} failed, "
                   f"{summary['lost']} lost")


def _job_rows(connection: sa.Connection, status: str | None, sweep: str | None, kind: str | None, limit: int) -> list[dict]:
    clauses, params = [], {"limit": limit}
    for column, value in (("status", status), ("sweep", sweep), ("kind", kind)):
        if value is not None:
            clauses.append(f"{column} = :{column}")
            params[column] = value
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = connection.execute(sa.text(
        f"SELECT id, kind, name, status, attempts, max_attempts, worker, lease_expires_at, "
        f"last_error, created_at, finished_at, {jobs.NOW} AS database_now FROM jobs {where} "
        "ORDER BY CASE status WHEN 'running' THEN 0 WHEN 'queued' THEN 1 ELSE 2 END, priority DESC, created_at, id "
        "LIMIT :limit"), params).all()
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


@jobs_app.callback()
def jobs_list(
    ctx: typer.Context,
    status: Annotated[Optional[str], typer.Option(help="queued, running, done, failed or cancelled")] = None,
    sweep: Annotated[Optional[str], typer.Option(help="Only this sweep's jobs")] = None,
    kind: Annotated[Optional[str], typer.Option(help="train or evaluate")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows")] = 200,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    db: DbOption = None,
) -> None:
    """Show the queue: running jobs first (with the seconds their lease has left), then
    queued, then ended; a count per status on stderr.

    Examples: wsdb jobs; wsdb jobs --sweep subspaces --status failed --json;
    wsdb jobs show 3f2a9c; wsdb jobs cancel --sweep subspaces; wsdb jobs retry 3f2a9c
    """
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"db": db, "as_json": as_json}
        return
    if status is not None and status not in jobs.STATUSES:
        raise WsdbError(f"--status {status!r}: expected one of {', '.join(jobs.STATUSES)}")
    fmt = pick_format(as_json, as_csv)
    with database.warehouse(database.resolve_url(db)) as engine, engine.connect() as connection:
        rows = _job_rows(connection, status, sweep, kind, limit)
        counts = dict(connection.execute(sa.text("SELECT status, COUNT(*) FROM jobs GROUP BY status")).all())
    emit_rows(rows, fmt)
    if fmt is Format.table:
        typer.echo(", ".join(f"{counts.get(s, 0)} {s}" for s in jobs.STATUSES), err=True)


@jobs_app.command("sweeps")
def jobs_sweeps(ctx: typer.Context, as_json: JsonOption = False, as_csv: CsvOption = False,
                db: DbOption = None) -> None:
    """Progress per sweep: jobs per status, attempts used, first submission, last finish.

    Example: wsdb jobs sweeps --csv
    """
    counts = ", ".join(f"SUM(CASE WHEN status = '{s}' THEN 1 ELSE 0 END) AS {s}" for s in jobs.STATUSES)
    with database.warehouse(_db_of(ctx, db)) as engine, engine.connect() as connection:
        rows = connection.execute(sa.text(
            f"SELECT COALESCE(sweep, '(none)') AS sweep, COUNT(*) AS jobs, {counts}, SUM(attempts) AS attempts, "
            "MIN(created_at) AS submitted, MAX(finished_at) AS last_finished FROM jobs "
            "GROUP BY COALESCE(sweep, '(none)') ORDER BY MIN(created_at)")).all()
    emit_rows([dict(r._mapping) for r in rows], pick_format(as_json, as_csv))


def _resolve(connection: sa.Connection, ids: Optional[list[str]]) -> list[str] | None:
    return [jobs.resolve_job(connection, given) for given in ids] if ids else None


def _db_of(ctx: typer.Context, db: Optional[str]) -> str:
    return database.resolve_url(db or (ctx.obj or {}).get("db"))


@jobs_app.command("show")
def jobs_show(ctx: typer.Context, job_id: Annotated[str, typer.Argument(help="A job id (or its first 6+ characters)")],
              as_json: JsonOption = False, db: DbOption = None) -> None:
    """One job in full: payload, result, and every attempt (worker, host, pid, device,
    Slurm job, outcome, error).

    Example: wsdb jobs show 3f2a9c
    """
    with database.warehouse(_db_of(ctx, db)) as engine, engine.connect() as connection:
        full_id = jobs.resolve_job(connection, job_id)
        row = connection.execute(sa.text("SELECT * FROM jobs WHERE id = :id"), {"id": full_id}).one()
        record = dict(row._mapping)
        record["attempt_log"] = jobs.attempts_of(connection, full_id)
    for key in ("payload_json", "result_json"):
        record[key.removesuffix("_json")] = json.loads(record.pop(key)) if record[key] else None
    if as_json or (ctx.obj or {}).get("as_json"):
        emit_record(record, Format.json)
        return
    attempt_log = record.pop("attempt_log")
    emit_record(record, Format.table)
    emit_rows(attempt_log, Format.table, title="attempts")


@jobs_app.command("cancel")
def jobs_cancel(ctx: typer.Context, job_ids: Annotated[Optional[list[str]], typer.Argument(help="Job ids")] = None,
                sweep: Annotated[Optional[str], typer.Option(help="Every queued job of this sweep")] = None,
                db: DbOption = None) -> None:
    """Cancel queued jobs (a running job finishes its attempt); jobs that depend on a
    cancelled one fail at the next poll.

    Example: wsdb jobs cancel --sweep subspaces
    """
    with database.warehouse(_db_of(ctx, db)) as engine, engine.begin() as connection:
        count = jobs.cancel(connection, _resolve(connection, job_ids), sweep)
    typer.echo(f"cancelled {count} queued job(s)")


@jobs_app.command("retry")
def jobs_retry(ctx: typer.Context, job_ids: Annotated[Optional[list[str]], typer.Argument(help="Job ids")] = None,
               sweep: Annotated[Optional[str], typer.Option(help="Every failed or cancelled job of this sweep")] = None,
               db: DbOption = None) -> None:
    """Queue failed or cancelled jobs again, with a fresh count of attempts (training
    resumes from the newest checkpoint).

    Example: wsdb jobs retry --sweep subspaces
    """
    with database.warehouse(_db_of(ctx, db)) as engine, engine.begin() as connection:
        count = jobs.retry(connection, _resolve(connection, job_ids), sweep)
    typer.echo(f"queued {count} job(s) again")
