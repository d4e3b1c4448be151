"""`wsdb ingest to-share DIR`: the published weight-sharing results of Pourchot et al. 2020
(Pourchot et al. 2020, "To Share or Not To Share"), as their authors stored them.

Layout: `<method>/<space>/<seed>/eval_results.pkl`, each a pickle (numpy + builtins only,
loaded through an allow-list) holding 1,000 dicts with `full_metrics` (fixed_stats and
computed_stats of the official NB101 API), `bench_metrics` (the 3 repeats at 108 epochs),
`architecture` (the authors' own encoding) and `proxy_metrics` (super-net accuracy).

Each directory becomes one imported super-net: its configuration comes from the method name
by the mapping below, its sub-space from the space folder, its seed from the seed folder; its
1,000 architectures become the named sample `to-share/<method>/<space>/<seed>`, their proxy
accuracies proxy scores of its 'final' checkpoint (which has no file), and the NB101 ground
truth in the pickles ground-truth rows (the same rows an official NB101 file gives).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pyarrow as pa
import sqlalchemy as sa

from wsdb.warehouse.bulk import insert_new_rows
from wsdb.warehouse.catalog import store_architectures
from wsdb.base.errors import InvalidArchitecture
from wsdb.base.files import regular_input
from wsdb.warehouse.ground_truth import store_runs
from wsdb.base import values
from wsdb.base.papers import POURCHOT_2020
from wsdb.base.progress import progress_bar
from wsdb.ingest.common import (
    IngestError,
    IngestSummary,
    ground_truth_rows,
    number_occurrences,
)
from wsdb.base.safe_pickle import load_numpy_pickle
from wsdb.warehouse.schema import (
    ArchitectureSample,
    ArchitectureSampleMember,
    Checkpoint,
    ProxyScore,
    Supernet,
    utcnow,
)
from wsdb.spaces import nb101

PUBLICATION = POURCHOT_2020.citation()
NAMESPACE = uuid.UUID("5d0b1a4e-5c3e-4a59-9a3a-2f1f0c7e5b00")

# Training variant (the part of the method name before the evaluation suffix) -> how the
# super-net was trained (Pourchot et al. 2020 section 3.3).
TRAINING_VARIANTS = {
    "baseline": {"sampler": "uniform", "single_kernel": False, "architectures_per_batch": 1},
    "pro-rata": {"sampler": "pro-rata", "single_kernel": False, "architectures_per_batch": 1},
    "avg-3": {"sampler": "uniform", "single_kernel": False, "architectures_per_batch": 3},
    "single-k": {"sampler": "uniform", "single_kernel": True, "architectures_per_batch": 1},
    "s-k+p-r": {"sampler": "pro-rata", "single_kernel": True, "architectures_per_batch": 1},
}
# Evaluation suffix -> evaluation protocol of the proxy accuracies.
EVALUATIONS = {"ft_bn": "bns-ft:4", "no_ft": "no-ft"}
# Space folder -> sub-space of NB101 (Pourchot et al. 2020 section 4.3).
SPACES = {"1": "A1", "2": "A2", "3": "A3", "4": "A4", "full": "FULL", "full_0": "NRES", "full_1": "RES"}
# Training settings shared by all published super-nets (Pourchot et al. 2020 and its supplement).
COMMON_TRAINING = {
    "epochs": 432, "batch_size": 256, "initial_channels": 16, "optimizer": "rmsprop",
    "learning_rate": 0.2, "lr_schedule": "cosine", "momentum": 0.9, "epsilon": 1.0, "weight_decay": 1e-4,
    "dataset": "cifar10",
}


def parse_method(method: str) -> tuple[dict, str]:
    """'pro-rata_ft_bn' -> (training variant settings, evaluation protocol id)."""
    for suffix, protocol in EVALUATIONS.items():
        if method.endswith("_" + suffix):
            variant = method[: -len(suffix) - 1]
            if variant in TRAINING_VARIANTS:
                return {"variant": variant, **TRAINING_VARIANTS[variant]}, protocol
    raise IngestError(
        f"unknown method {method!r}: expected <variant>_<ft_bn|no_ft> with variant one of "
        f"{', '.join(TRAINING_VARIANTS)}"
    )


def find_results(root: Path) -> list[tuple[Path, str, str, int]]:
    """(pickle, method, space folder, seed) for every eval_results.pkl under `root`."""
    root = Path(root)
    if not root.exists():
        raise IngestError(f"{root}: no such file or directory")
    files = [root] if root.is_file() else sorted(root.rglob("eval_results.pkl"))
    if not files:
        raise IngestError(f"{root}: no <method>/<space>/<seed>/eval_results.pkl found")
    found = []
    for path in files:
        regular_input(path)
        method, space, seed = path.parts[-4:-1]
        if space not in SPACES:
            raise IngestError(f"{path}: unknown space folder {space!r}; expected one of {', '.join(SPACES)}")
        if not seed.isdigit():
            raise IngestError(f"{path}: seed folder {seed!r} is not a number")
        parse_method(method)
        found.append((path, method, space, int(seed)))
    return found


def ingest_to_share(engine: sa.Engine, root: Path, show_progress: bool = True) -> IngestSummary:
    results = find_results(root)
    summary = IngestSummary(source=f"to-share {Path(root).name}")
    cells: dict[tuple, nb101.CanonicalArchitecture] = {}
    with progress_bar(len(results), "super-nets", "to-share", show_progress) as bar:
        for path, method, space, seed in results:
            entries = load_numpy_pickle(path)
            _store_supernet(engine, path, method, space, seed, entries, cells, summary)
            bar.update()
    return summary.finish()


def _checked_entries(path: Path, entries) -> list[dict]:
    """Each entry's cell, repeats and proxy accuracy, checked before anything is written:
    (matrix, ops, parameter count, [repeat dicts], proxy accuracy)."""
    if not isinstance(entries, list) or not entries:
        raise IngestError(f"{path}: expected a list of result dicts")
    checked = []
    for index, entry in enumerate(entries):
        where = f"{path}: entry {index}"
        try:
            fixed = entry["full_metrics"][0]
            matrix = tuple(tuple(int(v) for v in row) for row in fixed["module_adjacency"])
            ops = tuple(str(op) for op in fixed["module_operations"])
            parameters = fixed["trainable_parameters"]
            repeats = list(entry["bench_metrics"])
            proxy = entry["proxy_metrics"]["final_validation_accuracy"]
            if not repeats or not all(isinstance(r, dict) for r in repeats):
                raise TypeError
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            raise IngestError(f"{where}: not a result dict (expected full_metrics (fixed_stats with module_adjacency, "
                              "module_operations, trainable_parameters), bench_metrics (a list of repeat dicts) "
                              "and proxy_metrics.final_validation_accuracy)") from None
        values.check(parameters, "count", where, "trainable_parameters")
        values.check(proxy, "accuracy", where, "proxy_metrics.final_validation_accuracy")
        checked.append({"matrix": matrix, "ops": ops, "parameters": int(parameters), "repeats": repeats,
                        "proxy": float(proxy), "where": where})
    return checked


def _canonical_cells(entries: list[dict], cells: dict) -> list[tuple[str, "nb101.CanonicalArchitecture"]]:
    """(raw encoding as published, its class) per checked entry."""
    archs = []
    for entry in entries:
        matrix, ops = entry["matrix"], entry["ops"]
        arch = cells.get((matrix, ops))
        if arch is None:
            try:
                arch = cells[(matrix, ops)] = nb101.canonicalize(matrix, ops, entry["parameters"])
            except InvalidArchitecture as exc:
                raise IngestError(f"{entry['where']}: invalid cell: {exc}") from None
        archs.append((nb101.encode(matrix, ops), arch))
    return archs


def _store_supernet(engine, path, method, space, seed, entries, cells, summary) -> None:
    variant, protocol = parse_method(method)
    entries = _checked_entries(path, entries)
    raw_and_archs = _canonical_cells(entries, cells)
    archs = [arch for _, arch in raw_and_archs]
    subspace = SPACES[space]
    name = f"to-share/{method}/{space}/{seed}"
    supernet_id = uuid.uuid5(NAMESPACE, name).hex
    checkpoint_id = uuid.uuid5(NAMESPACE, name + "/final").hex
    config = {**COMMON_TRAINING, **variant, "subspace": subspace, "evaluation_protocol": protocol,
              "publication": PUBLICATION, "method": method}
    now = utcnow()
    truth, run = [], 0
    for arch, entry in zip(archs, entries):
        for repeat, metrics in enumerate(entry["repeats"]):
            for point, epoch in (("halfway", 54), ("final", 108)):
                truth.append({
                    "benchmark_arch_id": arch.canonical_key, "repeat": run, "epoch": epoch, "evaluation_point": point,
                    "train_accuracy": metrics.get(f"{point}_train_accuracy"),
                    "validation_accuracy": metrics.get(f"{point}_validation_accuracy"),
                    "test_accuracy": metrics.get(f"{point}_test_accuracy"),
                    "training_seconds": metrics.get(f"{point}_training_time"),
                    "where": f"{entry['where']}, bench_metrics[{repeat}]",
                })
            run += 1  # tells the runs apart; store_runs numbers them by content
    truth_rows = ground_truth_rows(truth, benchmark="nasbench101", dataset="cifar10", epoch_budget=108,
                                   source=f"{PUBLICATION}: {method}/{space}/{seed}")
    with engine.begin() as connection:
        ids, new_archs, _ = store_architectures(
            connection, archs, [("nb101-cell", raw, arch.canonical_key) for raw, arch in raw_and_archs]
        )
        truth_rows = truth_rows.set_column(
            truth_rows.schema.get_field_index("architecture_id"), "architecture_id",
            pa.array([ids[key] for key in truth_rows.column("benchmark_arch_id").to_pylist()], pa.int32()))
        new_results = store_runs(connection, truth_rows)
        insert_new_rows(connection, Supernet.__table__, {
            "id": [supernet_id], "search_space": ["nb101"], "subspace": [subspace], "name": [name],
            "config_json": [json.dumps(config, sort_keys=True)], "seed": [seed], "status": ["imported"],
            "origin": ["imported"], "source": [f"{PUBLICATION}; file {path}"], "created_at": [now],
        })
        insert_new_rows(connection, Checkpoint.__table__, {
            "id": [checkpoint_id], "supernet_id": [supernet_id], "label": ["final"],
            "epoch": [COMMON_TRAINING["epochs"]], "created_at": [now],
        })
        insert_new_rows(connection, ArchitectureSample.__table__, {
            "name": [name], "search_space": ["nb101"], "subspace": [subspace],
            "description": [f"the {len(archs)} architectures {PUBLICATION} scored with super-net {name}"],
            "seed": [seed], "created_at": [now],
        })
        insert_new_rows(connection, ArchitectureSampleMember.__table__, {
            "sample_name": [name] * len(archs), "position": list(range(len(archs))),
            "architecture_id": [ids[a.canonical_key] for a in archs],
        })
        new_scores = insert_new_rows(connection, ProxyScore.__table__, {
            "checkpoint_id": [checkpoint_id] * len(archs),
            "architecture_id": [ids[a.canonical_key] for a in archs],
            "protocol_id": [protocol] * len(archs),
            "metric": ["validation_accuracy"] * len(archs),
            "evaluation_repeat": number_occurrences(a.canonical_key for a in archs),
            "value": [e["proxy"] for e in entries],
            "evaluated_at": [now] * len(archs),
        })
    summary.records_read += len(entries)
    summary.new_architectures += new_archs
    summary.new_results += new_results + new_scores
    summary.duplicates_skipped += len(truth) + len(archs) - new_results - new_scores
