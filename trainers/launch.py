"""Starting workers on a cluster engine: Slurm job arrays through submitit.

Each array task is one `wsdb worker --drain` against the same warehouse (PostgreSQL: a
DuckDB file admits one worker): it claims jobs until the queue is drained, then ends, so
an array of N tasks is N workers and no scheduler of our own decides anything. A task
that Slurm kills (time limit, preemption, a lost node) stops heartbeating; its job is
reclaimed by another task after the lease. submitit's `local` cluster runs the same
array as processes on this machine (how the tests exercise this path without Slurm).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

from wsdb.warehouse import db as database
from wsdb.base.errors import WsdbError
from wsdb.trainers.worker import WorkerOptions, run_worker

CLUSTERS = ("slurm", "local")


@dataclass(frozen=True)
class Resources:
    """What each array task asks for (Slurm's names in comments)."""

    time_minutes: int = 24 * 60  # --time
    gpus: int = 1  # --gpus-per-node
    cpus: int = 8  # --cpus-per-task
    mem_gb: float | None = None  # --mem
    partition: str | None = None  # --partition
    account: str | None = None  # --account
    qos: str | None = None  # --qos
    extra: dict = field(default_factory=dict)  # any other sbatch option, e.g. {"constraint": "a100"}


def executor_parameters(cluster: str, workers: int, resources: Resources) -> dict:
    parameters = {"name": "wsdb-worker", "timeout_min": resources.time_minutes, "cpus_per_task": resources.cpus,
                  "tasks_per_node": 1, "nodes": 1}
    if cluster == "slurm":
        parameters.update({"gpus_per_node": resources.gpus, "slurm_array_parallelism": workers})
        optional = {"mem_gb": resources.mem_gb, "slurm_partition": resources.partition,
                    "slurm_account": resources.account, "slurm_qos": resources.qos}
        parameters.update({k: v for k, v in optional.items() if v is not None})
        if resources.extra:
            parameters["slurm_additional_parameters"] = dict(resources.extra)
    return parameters


def launch_workers(url: str, options: WorkerOptions, cluster: str, workers: int, log_dir: Path,
                   resources: Resources) -> list:
    """Submit `workers` drain-mode workers as one job array; returns submitit's jobs."""
    if cluster not in CLUSTERS:
        raise WsdbError(f"--launch {cluster!r}: expected one of {', '.join(CLUSTERS)}")
    if workers < 1:
        raise WsdbError("--workers must be at least 1")
    if database.duckdb_path(url) is not None and (workers > 1 or cluster == "slurm"):
        raise WsdbError("--launch needs a PostgreSQL warehouse (a DuckDB file admits one worker process at a time)")
    database.open_engine(url).dispose()
    try:
        import submitit
    except ImportError:
        raise WsdbError("launching workers needs submitit: pip install 'wsdb[cluster]'") from None
    if cluster == "slurm" and not (shutil.which("sbatch") and shutil.which("srun")):
        raise WsdbError("--launch slurm: sbatch/srun not found; run this on a Slurm login node")
    executor = submitit.AutoExecutor(folder=str(log_dir / "%j"), cluster=cluster)
    executor.update_parameters(**executor_parameters(cluster, workers, resources))
    task_options = replace(options, drain=True)
    return executor.map_array(run_worker, [url] * workers, [task_options] * workers)
