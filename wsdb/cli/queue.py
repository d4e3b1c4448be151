"""`wsdb submit`, `wsdb worker`, `wsdb jobs`: the job queue from the command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from wsdb.warehouse import db as database

from wsdb.jobqueue import jobs
from wsdb.cli.options import (GROUP_SETTINGS, ArchStrOption, CsvOption, DbOption, GenotypeOption, IndexOption, JsonOption,
                              LabelOption, MatrixOption, OpsOption, ParquetOption, SpaceOption, seeds, yaml_values)
from wsdb.analyses.output import emit, emit_record

submit_app = typer.Typer(help="Queue super-net training, evaluation and stand-alone training jobs (workers run them).",
                         **GROUP_SETTINGS)
jobs_app = typer.Typer(help="The job queue: list (the default), sweeps, show, cancel, retry.",
                       **{**GROUP_SETTINGS, "no_args_is_help": False}, invoke_without_command=True)

PriorityOption = Annotated[int, typer.Option(metavar="N", help="Higher runs first.")]
AttemptsOption = Annotated[int, typer.Option(min=1, metavar="N", help="Claims before a job is failed (crashes and "
                                             "expired leases count).")]


def _queued(new_jobs: list, sweep: str | None, as_json: bool) -> None:
    rows = [{"id": job.id, "kind": job.kind, "name": job.name, "depends_on": job.depends_on} for job in new_jobs]
    if as_json:
        emit(rows, as_json=True)
        return
    kinds = {kind: sum(job.kind == kind for job in new_jobs) for kind in jobs.KINDS}
    typer.echo(f"queued {len(new_jobs)} job(s)" + (f" of sweep {sweep}" if sweep else "") + ": " +
               ", ".join(f"{count} {kind}" for kind, count in kinds.items() if count))


@submit_app.command("train")
def submit_train(
    sweep_file: Annotated[Optional[Path], typer.Argument(metavar="SWEEP.yaml", help="A sweep file (README: name, "
                          "base, grid, variants, evaluate)")] = None,
    settings: Annotated[Optional[list[str]], typer.Option("--set", metavar="KEY=VALUE", help="A configuration key "
                        "for every run (repeatable), e.g. --set space=nb201 --set epochs=50.")] = None,
    seed_list: Annotated[Optional[str], typer.Option("--seeds", metavar="SEEDS", help="Seeds crossed with the grid: "
                                                     "0-4 or 0,1,5.")] = None,
    name: Annotated[Optional[str], typer.Option(metavar="NAME", help="The sweep's name (overrides the file's).")]
        = None,
    checkpoint_dir: Annotated[str, typer.Option(metavar="PATH|URI", help="Where workers write checkpoints: a folder "
                              "every worker sees, or an fsspec URI (s3://...).")] = "checkpoints",
    priority: PriorityOption = 0,
    max_attempts: AttemptsOption = 3,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Queue a sweep's training jobs (and its evaluation jobs).

    One training job per grid point and variant.

    Each evaluation job can be claimed once its training job is done. Every configuration is validated before anything is queued.

    \b
    Examples:
      wsdb submit train sweep.yaml --db postgresql+psycopg://wsdb@db.lab/wsdb
      wsdb submit train --name quick --set space=nb201 --set epochs=2 --seeds 0-2
    """
    from wsdb.trainers.sweep import submit_training

    sweep, new_jobs = submit_training(database.resolve_url(db), sweep_file, yaml_values(settings, "--set"),
                                      seeds(seed_list) if seed_list is not None else None, name, checkpoint_dir,
                                      priority, max_attempts)
    _queued(new_jobs, sweep, as_json)


@submit_app.command("standalone")
def submit_standalone(
    recipe: Annotated[str, typer.Option(metavar="NAME", help="The recipe (`wsdb recipes` lists them).")],
    space: SpaceOption = None,
    matrix: MatrixOption = None,
    ops: OpsOption = None,
    arch_str: ArchStrOption = None,
    index: IndexOption = None,
    label: LabelOption = None,
    genotype: GenotypeOption = None,
    sample: Annotated[Optional[str], typer.Option(metavar="NAME", help="Every architecture of this sample.")] = None,
    n: Annotated[Optional[int], typer.Option("--n", min=1, metavar="N", help="N architectures drawn uniformly (the "
                                             "sample random/SPACE/FULL/N/DRAW_SEED, made once).")] = None,
    draw_seed: Annotated[int, typer.Option(min=0, max=2**31 - 1, metavar="N", help="With --n: the seed of the "
                                           "draw.")] = 0,
    settings: Annotated[Optional[list[str]], typer.Option("--set", metavar="KEY=VALUE", help="Override a setting of "
                        "the recipe (repeatable).")] = None,
    seed_list: Annotated[str, typer.Option("--seeds", metavar="SEEDS", help="Seeds, one job each: 0-9 or "
                                           "0,1,5.")] = "0",
    name: Annotated[Optional[str], typer.Option(metavar="NAME", help="A sweep name grouping the jobs.")] = None,
    checkpoint_dir: Annotated[str, typer.Option(metavar="PATH|URI", help="Where workers write each epoch's state and "
                              "the final weights: a folder every worker sees, or an fsspec URI.")] = "checkpoints",
    priority: PriorityOption = 0,
    max_attempts: AttemptsOption = 3,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Queue stand-alone trainings: one job per architecture and seed, run by workers as `wsdb train-standalone` would.

    \b
    Examples:
      wsdb submit standalone --recipe ws64-200 --n 64 --seeds 0-9 --name ws64-truth
      wsdb submit standalone --recipe darts-cifar10 --genotype "Genotype(...)" --seeds 0-2
      wsdb submit standalone --recipe darts-cifar10 --n 100 --set epochs=100
    """
    from wsdb.cli.training import architectures_named
    from wsdb.trainers.seeds import Seeds
    from wsdb.trainers.sweep import submit_standalone as submit

    url, overrides, seed_values = database.resolve_url(db), yaml_values(settings, "--set"), seeds(seed_list)
    for seed in seed_values:  # before --n draws and stores its sample
        Seeds.of(seed)
    archs = architectures_named(url, sample, n, draw_seed, recipe, overrides, space, matrix, ops, arch_str, index, label,
                                genotype)
    new_jobs = submit(url, archs, recipe, overrides, seed_values, checkpoint_dir, name, priority, max_attempts)
    _queued(new_jobs, name, as_json)


@submit_app.command("evaluate")
def submit_evaluate(
    supernets: Annotated[Optional[list[str]], typer.Option("--supernet", metavar="NAME|ID", help="A super-net "
                         "(repeatable).")] = None,
    sweep: Annotated[Optional[str], typer.Option(metavar="NAME", help="Every super-net this sweep trains (each job "
                                                 "waits for its training job).")] = None,
    protocol: Annotated[str, typer.Option(metavar="PROTOCOL", help="no-ft, bns-ft[:BATCHES[xSIZE]] or ft[:STEPS].")]
        = "bns-ft:4",
    sample: Annotated[Optional[str], typer.Option(metavar="NAME", help="Score this named architecture sample.")]
        = None,
    n: Annotated[Optional[int], typer.Option("--n", min=1, metavar="N", help="Score N architectures drawn "
                                             "uniformly.")] = None,
    seed: Annotated[int, typer.Option(metavar="N", help="Seed of the --n draw.")] = 0,
    checkpoint: Annotated[str, typer.Option(metavar="WHICH", help="latest, all, a label or an epoch number.")]
        = "latest",
    save_predictions: Annotated[bool, typer.Option("--save-predictions", help="Also write per-image "
                                                   "predictions.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, metavar="N", help="Validation batch size.")] = 1000,
    priority: PriorityOption = 0,
    max_attempts: AttemptsOption = 3,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Queue evaluation jobs: one per super-net, scored as `wsdb evaluate` would.

    \b
    Examples:
      wsdb submit evaluate --sweep subspaces --protocol bns-ft:4 --n 1000
      wsdb submit evaluate --supernet my-net --protocol no-ft --sample my-sample
    """
    from wsdb.trainers.sweep import submit_evaluations

    values = {"protocol": protocol, "sample": sample, "n": n, "seed": seed, "checkpoint": checkpoint,
              "save_predictions": save_predictions, "batch_size": batch_size}
    new_jobs = submit_evaluations(database.resolve_url(db), supernets, sweep, values, priority, max_attempts)
    _queued(new_jobs, sweep, as_json)


def worker(
    kinds: Annotated[Optional[str], typer.Option(metavar="KINDS", help="Only these kinds of job: train, evaluate, "
                                                 "standalone, or several such as train,evaluate.")] = None,
    sweep: Annotated[Optional[str], typer.Option(metavar="NAME", help="Only this sweep's jobs.")] = None,
    lease: Annotated[float, typer.Option(metavar="S", help="Lease in seconds, renewed every quarter lease; a job whose "
                                         "worker stops renewing it is reclaimed once it expires.")] = 120.0,
    poll: Annotated[float, typer.Option(metavar="S", help="Seconds between polls of an empty queue.")] = 5.0,
    drain: Annotated[bool, typer.Option("--drain", help="Exit once nothing is queued or running (default: wait for "
                                        "more work).")] = False,
    max_jobs: Annotated[Optional[int], typer.Option(min=1, metavar="N", help="Exit after this many jobs.")] = None,
    device: Annotated[Optional[str], typer.Option(metavar="DEVICE", help="cpu, cuda, cuda:1 (default: CUDA when "
                                                  "available).")] = None,
    data_dir: Annotated[Optional[str], typer.Option(metavar="PATH", help="Where this machine keeps the datasets "
                                                    "(default: where each super-net's training found them).")] = None,
    launch: Annotated[Optional[str], typer.Option(metavar="WHERE", help="Start workers through submitit instead: "
                                                  "slurm (a job array) or local (processes here, to try it out).")]
        = None,
    workers: Annotated[int, typer.Option(min=1, metavar="N", help="With --launch: how many workers (array tasks).")]
        = 1,
    partition: Annotated[Optional[str], typer.Option(metavar="NAME", help="Slurm partition.")] = None,
    gpus: Annotated[int, typer.Option(min=0, metavar="N", help="Slurm GPUs per worker.")] = 1,
    cpus: Annotated[int, typer.Option(min=1, metavar="N", help="CPUs per worker.")] = 8,
    mem_gb: Annotated[Optional[float], typer.Option(metavar="GB", help="Slurm memory per worker.")] = None,
    time_min: Annotated[int, typer.Option(min=1, metavar="MIN", help="Time limit per worker in minutes.")] = 24 * 60,
    account: Annotated[Optional[str], typer.Option(metavar="NAME", help="Slurm account.")] = None,
    qos: Annotated[Optional[str], typer.Option(metavar="NAME", help="Slurm QOS.")] = None,
    slurm_option: Annotated[Optional[list[str]], typer.Option("--slurm-option", metavar="KEY=VALUE", help="Any other "
                            "sbatch option (repeatable), e.g. constraint=a100.")] = None,
    log_dir: Annotated[Path, typer.Option(metavar="PATH", help="submitit's folder for the workers' logs and "
                                          "results.")] = Path("wsdb-workers"),
    wait: Annotated[bool, typer.Option("--wait", help="With --launch slurm: wait for the array to end.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No per-job lines.")] = False,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Claim jobs from the queue and run them.

    Trains super-nets (resuming a job that was claimed before) and scores architectures.

    A lease renewed by a heartbeat guards each job; SIGTERM, SIGINT or SIGUSR2 (Slurm's warning before a time limit) give the running job back to the queue. Every attempt records host, process, device and Slurm job. On DuckDB one worker process at a time; run many against PostgreSQL. Checkpoints load only through torch's weights-only allow-list and only if their sha256 matches.

    \b
    Examples:
      wsdb worker --db postgresql+psycopg://wsdb@db.lab/wsdb
      wsdb worker --drain --kinds evaluate --device cuda:1
      wsdb worker --launch slurm --workers 16 --partition gpu --gpus 1 --time-min 720
    """
    from wsdb.trainers.launch import Resources, launch_workers
    from wsdb.trainers.worker import WorkerOptions, run_worker

    url = database.resolve_url(db)
    options = WorkerOptions(
        kinds=tuple(k.strip() for k in kinds.split(",")) if kinds else None, sweep=sweep, lease_seconds=lease,
        poll_seconds=poll, drain=drain, max_jobs=max_jobs, device=device, data_dir=data_dir, progress=not quiet)
    if launch is None:
        summary = run_worker(url, options)
        if as_json:
            emit_record(summary, as_json=True)
        else:
            typer.echo(f"worker {summary['worker']}: {summary['done']} done, {summary['failed']} failed, "
                       f"{summary['released']} given back, {summary['lost']} lost, {summary['seconds']:.1f} s")
        return
    resources = Resources(time_minutes=time_min, gpus=gpus, cpus=cpus, mem_gb=mem_gb, partition=partition,
                          account=account, qos=qos, extra=yaml_values(slurm_option, "--slurm-option"))
    launched = launch_workers(url, options, launch, workers, log_dir, resources)
    ids = [job.job_id for job in launched]
    if launch == "slurm" and not wait:
        typer.echo(f"submitted {len(ids)} workers as Slurm job array {ids[0].split('_')[0]} (logs under {log_dir})")
        return
    summaries = [job.result() for job in launched]
    if as_json:
        emit(summaries, as_json=True)
        return
    for job_id, summary in zip(ids, summaries):
        typer.echo(f"worker {job_id} ({summary['worker']}): {summary['done']} done, {summary['failed']} failed, "
                   f"{summary['lost']} lost")


def _db_of(ctx: typer.Context, db: Optional[str]) -> str:
    """--db given to the subcommand, else to `wsdb jobs`, else the default."""
    return database.resolve_url(db or (ctx.obj or {}).get("db"))


def _change(ctx: typer.Context, db: Optional[str], change, job_ids: Optional[list[str]], sweep: Optional[str]) -> int:
    """Apply jobs.cancel or jobs.retry to the named jobs (ids or prefixes) or a sweep."""
    with database.warehouse(_db_of(ctx, db)) as engine, engine.begin() as connection:
        ids = [jobs.resolve_job(connection, given) for given in job_ids] if job_ids else None
        return change(connection, ids, sweep)


@jobs_app.callback()
def jobs_list(
    ctx: typer.Context,
    status: Annotated[Optional[str], typer.Option(metavar="STATUS", help="queued, running, done, failed or "
                                                  "cancelled.")] = None,
    sweep: Annotated[Optional[str], typer.Option(metavar="NAME", help="Only this sweep's jobs.")] = None,
    kind: Annotated[Optional[str], typer.Option(metavar="KIND", help="train or evaluate.")] = None,
    limit: Annotated[int, typer.Option(min=1, metavar="N", help="At most this many rows.")] = 200,
    as_json: JsonOption = False,
    csv_file: CsvOption = None,
    parquet_file: ParquetOption = None,
    db: DbOption = None,
) -> None:
    """Show the queue: running jobs first (with the seconds their lease has left), then queued, then ended.

    A count per status follows on stderr. Opens the warehouse read-only.

    \b
    Examples:
      wsdb jobs
      wsdb jobs --sweep subspaces --status failed --json
      wsdb jobs show 3f2a9c
    """
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"db": db}
        return
    with database.warehouse(database.resolve_url(db), read_only=True) as engine, engine.connect() as connection:
        rows = jobs.listing(connection, status, sweep, kind, limit)
        counts = jobs.status_counts(connection)
    emit(rows, as_json=as_json, csv_file=csv_file, parquet_file=parquet_file, columns=jobs.LISTING_COLUMNS)
    if not (as_json or csv_file or parquet_file) and sys.stdout.isatty():
        typer.echo(", ".join(f"{count} {status}" for status, count in counts.items()), err=True)
    if not rows:
        typer.echo("wsdb: no jobs" + (" match" if status or sweep or kind else " in the queue"), err=True)


@jobs_app.command("sweeps")
def jobs_sweeps(ctx: typer.Context, as_json: JsonOption = False, csv_file: CsvOption = None,
                parquet_file: ParquetOption = None, db: DbOption = None) -> None:
    """Progress per sweep: jobs per status, attempts, first and last times.

    \b
    Example:
      wsdb jobs sweeps --csv -
    """
    with database.warehouse(_db_of(ctx, db), read_only=True) as engine, engine.connect() as connection:
        rows = jobs.sweep_progress(connection)
    emit(rows, as_json=as_json, csv_file=csv_file, parquet_file=parquet_file, columns=jobs.SWEEP_COLUMNS)
    if not rows:
        typer.echo("wsdb: no jobs in the queue", err=True)


@jobs_app.command("show")
def jobs_show(ctx: typer.Context, job_id: Annotated[str, typer.Argument(metavar="ID", help="A job id (or its first "
                                                                        "6+ characters)")],
              as_json: JsonOption = False, db: DbOption = None) -> None:
    """One job in full: payload, result, and every attempt.

    Each attempt with its worker, host, pid, device, Slurm job, outcome and error.

    \b
    Example:
      wsdb jobs show 3f2a9c
    """
    with database.warehouse(_db_of(ctx, db), read_only=True) as engine, engine.connect() as connection:
        record = jobs.describe(connection, job_id)
    if as_json:
        emit_record(record, as_json=True)
        return
    attempt_log = record.pop("attempt_log")
    emit_record(record)
    print()
    emit(attempt_log, title="attempts")


@jobs_app.command("cancel")
def jobs_cancel(ctx: typer.Context, job_ids: Annotated[Optional[list[str]], typer.Argument(metavar="ID...",
                                                                                          help="Job ids")] = None,
                sweep: Annotated[Optional[str], typer.Option(metavar="NAME", help="Every queued job of this "
                                                             "sweep.")] = None,
                db: DbOption = None) -> None:
    """Cancel queued jobs.

    A running job finishes its attempt; jobs that depend on a cancelled one fail.

    \b
    Example:
      wsdb jobs cancel --sweep subspaces
    """
    typer.echo(f"cancelled {_change(ctx, db, jobs.cancel, job_ids, sweep)} queued job(s)")


@jobs_app.command("retry")
def jobs_retry(ctx: typer.Context, job_ids: Annotated[Optional[list[str]], typer.Argument(metavar="ID...",
                                                                                         help="Job ids")] = None,
               sweep: Annotated[Optional[str], typer.Option(metavar="NAME", help="Every failed or cancelled job of "
                                                            "this sweep.")] = None,
               db: DbOption = None) -> None:
    """Queue failed or cancelled jobs again.

    With a fresh count of attempts; training resumes from its newest checkpoint.

    \b
    Example:
      wsdb jobs retry --sweep subspaces
    """
    typer.echo(f"queued {_change(ctx, db, jobs.retry, job_ids, sweep)} job(s) again")
