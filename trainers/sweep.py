"""Sweeps: the training jobs of a study, from one YAML file, and evaluation jobs after them.

    name: subspaces            # the sweep's name: `wsdb jobs --sweep`, super-net names
    base: {space: nb101, epochs: 432}          # configuration keys of every run
    grid:                      # every combination; `seed` (init_seed, sampling_seed, data_seed
      seed: [0, 1, 2, 3, 4]    # apart) or any configuration key
      subspace: [A1, A2, A3, A4, FULL, RES, NRES]
    variants:                  # optional: named sets of configuration keys, crossed with the grid
      baseline: {}
      fairnas: {sampler: fairnas}
    evaluate:                  # optional: evaluation jobs, each claimable once its training is done
      - {protocol: "bns-ft:4", n: 1000}

Every configuration is validated here, at submission, so a typo fails before any job is
queued. Each training job carries the id its super-net will have: a job claimed again
after a crash resumes that super-net instead of starting another. Super-nets are named
`<sweep>/<variant>/<key>=<value>,...` (grid keys in file order; no variant part when the
sweep has no variants).
"""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import asdict
from pathlib import Path

import sqlalchemy as sa

from wsdb.jobqueue import jobs

from wsdb.warehouse import lookup
from wsdb.warehouse.db import warehouse
from wsdb.base.errors import WsdbError
from wsdb.trainers.config import TrainingConfig, make_config, read_config_file
from wsdb.trainers.seeds import KINDS, Seeds

SWEEP_KEYS = ("name", "base", "grid", "variants", "evaluate")
EVALUATION_KEYS = ("protocol", "n", "sample", "seed", "checkpoint", "save_predictions", "batch_size", "curve")


def read_sweep(path: Path) -> dict:
    sweep = read_config_file(path)
    unknown = sorted(set(sweep) - set(SWEEP_KEYS))
    if unknown:
        raise WsdbError(f"{path}: unknown sweep key(s) {', '.join(unknown)}; a sweep has {', '.join(SWEEP_KEYS)}")
    return sweep


def _mapping(value, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WsdbError(f"sweep: {what} must be a mapping")
    return value


def _grid(grid: dict) -> list[dict]:
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise WsdbError(f"sweep: grid key {key!r} must be a non-empty list")
    return [dict(zip(grid, combination)) for combination in itertools.product(*grid.values())]


def evaluation_payload(supernet_id: str, values: dict) -> dict:
    """An evaluate job's payload, checked as `wsdb evaluate` checks its options."""
    from wsdb.trainers.evaluate import parse_protocol

    unknown = sorted(set(values) - set(EVALUATION_KEYS))
    if unknown:
        raise WsdbError(f"evaluation: unknown key(s) {', '.join(unknown)}; known: {', '.join(EVALUATION_KEYS)}")
    if "protocol" not in values:
        raise WsdbError("evaluation: give a protocol (no-ft, bns-ft:B, ft:S)")
    if (values.get("n") is None) == (values.get("sample") is None):
        raise WsdbError("evaluation: give exactly one of n or sample")
    protocol = parse_protocol(str(values["protocol"]))
    if values.get("curve") and protocol.name != "ft":
        raise WsdbError(f"evaluation: curve scores fine-tuning step by step and needs protocol ft:STEPS, "
                        f"not {protocol.id}")
    return {"supernet": supernet_id, "protocol": str(values["protocol"]), "n": values.get("n"),
            "sample": values.get("sample"), "seed": int(values.get("seed", 0)),
            "checkpoint": str(values.get("checkpoint", "latest")),
            "save_predictions": bool(values.get("save_predictions", False)),
            "batch_size": int(values.get("batch_size", 1000)), "curve": bool(values.get("curve", False))}


def expand(sweep: dict, checkpoint_dir: str, priority: int = 0, max_attempts: int = 3) -> list[jobs.NewJob]:
    """The sweep's jobs: one training job per (variant, grid point), and its evaluations."""
    name = sweep.get("name")
    if not name or not isinstance(name, str):
        raise WsdbError("sweep: give it a name (name: ... in the file, or --name)")
    base = _mapping(sweep.get("base"), "base")
    variants = _mapping(sweep.get("variants"), "variants") or {"": {}}
    evaluations = sweep.get("evaluate") or []
    if isinstance(evaluations, dict):
        evaluations = [evaluations]
    points = _grid(_mapping(sweep.get("grid"), "grid"))
    new_jobs: list[jobs.NewJob] = []
    for variant, values in variants.items():
        for point in points:
            settings = {**base, **_mapping(values, f"variant {variant!r}"), **point}
            seed = int(settings.pop("seed", 0))
            try:
                seeds = Seeds.of(seed, *(settings.pop(f"{kind}_seed", None) for kind in KINDS))
                config: TrainingConfig = make_config(settings)
            except WsdbError as error:
                raise WsdbError(f"sweep {name}, variant {variant}, {point}: {error}") from None
            label = ",".join(f"{k}={v}" for k, v in point.items())
            run_name = "/".join(part for part in (name, variant, label) if part)
            supernet_id = uuid.uuid4().hex
            training = jobs.NewJob("train", {"supernet_id": supernet_id, "config": config.as_dict(), "seed": seed,
                                             "seeds": asdict(seeds), "name": run_name,
                                             "checkpoint_dir": checkpoint_dir},
                                   name=run_name, sweep=name, priority=priority, max_attempts=max_attempts)
            new_jobs.append(training)
            for evaluation in evaluations:
                payload = evaluation_payload(supernet_id, _mapping(evaluation, "an evaluate entry"))
                new_jobs.append(jobs.NewJob("evaluate", payload, name=f"{run_name} {payload['protocol']}", sweep=name,
                                            priority=priority, max_attempts=max_attempts, depends_on=training.id))
    return new_jobs


def submit_training(url: str, sweep_file: Path | None, settings: dict, seeds: list[int] | None, name: str | None,
                    checkpoint_dir: str, priority: int = 0, max_attempts: int = 3) -> tuple[str, list[jobs.NewJob]]:
    """Queue one training job per grid point and variant of a sweep (a file, --set keys,
    --seeds), and its evaluation jobs; every configuration is validated before anything is
    written. Returns the sweep's name and its jobs."""
    from wsdb.trainers.checkpoints import location_uri

    sweep = read_sweep(sweep_file) if sweep_file else {}
    if name:
        sweep["name"] = name
    sweep["base"] = {**(sweep.get("base") or {}), **settings}
    if seeds is not None:
        sweep["grid"] = {**(sweep.get("grid") or {}), "seed": seeds}
    new_jobs = expand(sweep, location_uri(checkpoint_dir), priority, max_attempts)
    with warehouse(url) as engine, engine.begin() as connection:
        jobs.submit_checked(connection, new_jobs, sweep["name"])
    return sweep["name"], new_jobs


def submit_evaluations(url: str, supernets: list[str] | None, sweep: str | None, values: dict, priority: int = 0,
                       max_attempts: int = 3) -> list[jobs.NewJob]:
    """Queue one evaluation job per super-net (given, or trained by a sweep: each then waits
    for its training job)."""
    if bool(supernets) == bool(sweep):
        raise WsdbError("give --supernet (repeatable) or --sweep, not both")
    targets: list[tuple[str, str | None, str | None]] = []  # (super-net id, name, training job to wait for)
    with warehouse(url) as engine, engine.begin() as connection:
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
                row = lookup.supernet(connection, given)
                targets.append((row.id, row.name, None))
        new_jobs = []
        for supernet_id, supernet_name, training_job in targets:
            payload = evaluation_payload(supernet_id, values)
            new_jobs.append(jobs.NewJob("evaluate", payload, name=f"{supernet_name or supernet_id} {payload['protocol']}",
                                        sweep=sweep, priority=priority, max_attempts=max_attempts,
                                        depends_on=training_job))
        jobs.submit_checked(connection, new_jobs, sweep)
    return new_jobs


def submit_standalone(url: str, archs: list, recipe_name: str, overrides: dict, seeds: list[int], checkpoint_dir: str,
                      name: str | None = None, priority: int = 0, max_attempts: int = 3) -> list[jobs.NewJob]:
    """Queue one stand-alone training job per architecture and seed (the recipe and its settings
    checked first); each job carries its run id, so a retried job finds its finished run."""
    from wsdb.trainers.checkpoints import location_uri
    from wsdb.trainers.standalone import recipe

    chosen = recipe(recipe_name, overrides)
    for seed in seeds:
        Seeds.of(seed)
    wrong = [arch.canonical_key for arch in archs if arch.search_space != chosen.space]
    if wrong:
        raise WsdbError(f"recipe {recipe_name} trains {chosen.space} architectures, not {wrong[0]}")
    uri = location_uri(checkpoint_dir)
    new_jobs = [jobs.NewJob("standalone", {"space": arch.search_space, "encoding": arch.canonical_encoding,
                                           "recipe": recipe_name, "overrides": overrides, "seed": seed,
                                           "checkpoint_dir": uri, "run_id": uuid.uuid4().hex},
                            name=f"{recipe_name} {arch.canonical_key[:12]} seed {seed}", sweep=name, priority=priority,
                            max_attempts=max_attempts)
                for arch in archs for seed in seeds]
    with warehouse(url) as engine, engine.begin() as connection:
        jobs.submit_checked(connection, new_jobs, name)
    return new_jobs
