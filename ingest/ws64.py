"""The 64-architecture space of Zhang et al. 2020 (Deeper Insights into Weight Sharing in NAS).

- `wsdb ingest ws64`: the stand-alone ground truth of the paper's Table 5 (validation
  accuracy, mean and standard deviation over 10 seeds, shipped in the package), benchmark
  'ws64-paper'; `--from CSV` reads the authors' repository version instead (columns label,
  gt_acc_mean, gt_acc_std as fractions), benchmark 'ws64-repository'. The two differ
  slightly, so both can live side by side.
- `wsdb ingest ws64-trajectory CSV`: a published super-net's validation accuracy of all 64
  architectures at each of its last training steps (columns step, arch_index,
  supernet_val_acc): one imported super-net, one checkpoint per step, 'published' scores.
"""

from __future__ import annotations

import json
import uuid
from importlib import resources
from pathlib import Path

import sqlalchemy as sa

from wsdb.warehouse.bulk import insert_new_rows
from wsdb.base.errors import InvalidArchitecture
from wsdb.ingest.common import (
    IngestError,
    IngestSummary,
    ground_truth_rows,
    parse_number,
    read_csv_rows,
)
from wsdb.base.papers import ZHANG_2020_DEEPER
from wsdb.warehouse.populate import populate
from wsdb.warehouse.schema import Checkpoint, GroundTruthResult, ProxyScore, Supernet, utcnow
from wsdb.spaces import ws64

PUBLICATION = ZHANG_2020_DEEPER.citation()
NAMESPACE = uuid.UUID("0b7d3a52-7a8e-4f5e-9a7e-64a0c0ffee64")
EPOCH_BUDGET = 200  # stand-alone training "with the same setting as weight sharing"
TRAINING = {"optimizer": "sgd", "learning_rate": 0.025, "lr_min": 0.001, "lr_schedule": "cosine", "momentum": 0.9,
            "weight_decay": 1e-3, "batch_size": 256, "sampler": "uniform", "dataset": "cifar10"}


def _label_ids(connection: sa.Connection, summary: IngestSummary) -> dict[str, int]:
    summary.new_architectures, _ = populate(connection, "ws64")  # the 64 classes, if not stored yet
    rows = connection.execute(sa.text("SELECT canonical_key, id FROM architectures WHERE search_space = 'ws64'"))
    return {label: arch_id for label, arch_id in rows}


def ingest_ws64_ground_truth(engine: sa.Engine, csv_path: Path | None = None) -> IngestSummary:
    if csv_path is None:
        source, benchmark = "paper Table 5 (shipped with wsdb)", "ws64-paper"
        text = resources.files("wsdb").joinpath("data/ws64_table5.csv").read_text()
        rows = [
            (line, row["label"], float(row["accuracy_mean_percent"]) / 100, float(row["accuracy_std_percent"]) / 100)
            for line, row in read_csv_rows("ws64_table5.csv", ("label",), text=text)
        ]
    else:
        source, benchmark = str(csv_path), "ws64-repository"
        rows = [
            (line, row["label"], parse_number(csv_path, line, row, "gt_acc_mean", low=0, high=1),
             parse_number(csv_path, line, row, "gt_acc_std", low=0, high=1))
            for line, row in read_csv_rows(csv_path, ("label", "gt_acc_mean", "gt_acc_std"))
        ]
    for line, label, _, _ in rows:
        try:
            ws64.parse_label(label)
        except InvalidArchitecture as exc:
            raise IngestError(f"{source}: line {line}: {exc}") from None
    summary = IngestSummary(source=f"ws64 {benchmark}", records_read=len(rows))
    with engine.begin() as connection:
        ids = _label_ids(connection, summary)
        truth = [
            {"architecture_id": ids[label], "benchmark_arch_id": label, "validation_accuracy": mean,
             "validation_accuracy_std": std, "where": f"{source}: line {line}"}
            for line, label, mean, std in rows
        ]
        summary.new_results = insert_new_rows(connection, GroundTruthResult.__table__, ground_truth_rows(
            truth, benchmark=benchmark, dataset="cifar10", epoch_budget=EPOCH_BUDGET, repeat=-1,
            epoch=EPOCH_BUDGET, evaluation_point="final", source=f"{PUBLICATION}; {source}",
        ))
    summary.duplicates_skipped = len(rows) - summary.new_results
    return summary.finish()


def ingest_ws64_trajectory(engine: sa.Engine, csv_path: Path, name: str | None = None) -> IngestSummary:
    csv_path = Path(csv_path)
    name = name or f"zhang2020/{csv_path.stem}"
    scores: dict[int, dict[str, float]] = {}
    for line, row in read_csv_rows(csv_path, ("step", "arch_index", "supernet_val_acc")):
        step = parse_number(csv_path, line, row, "step", int, low=0)
        index = parse_number(csv_path, line, row, "arch_index", int, low=0, high=63)
        value = parse_number(csv_path, line, row, "supernet_val_acc", low=0, high=1)
        label = ws64.label_of_index(index)
        if label in scores.setdefault(step, {}):
            raise IngestError(f"{csv_path}: line {line}: step {step} lists arch_index {index} twice")
        scores[step][label] = value
    supernet_id = uuid.uuid5(NAMESPACE, name).hex
    now = utcnow()
    summary = IngestSummary(source=f"ws64 trajectory {csv_path.name}",
                            records_read=sum(len(v) for v in scores.values()))
    with engine.begin() as connection:
        ids = _label_ids(connection, summary)
        config = {**TRAINING, "publication": PUBLICATION, "note": f"published super-net trajectory {csv_path.name}"}
        insert_new_rows(connection, Supernet.__table__, {
            "id": [supernet_id], "search_space": ["ws64"], "subspace": ["FULL"], "name": [name],
            "config_json": [json.dumps(config, sort_keys=True)], "status": ["imported"], "origin": ["imported"],
            "source": [f"{PUBLICATION}; file {csv_path}"], "created_at": [now],
        })
        steps = sorted(scores)
        checkpoint_ids = {step: uuid.uuid5(NAMESPACE, f"{name}/step-{step}").hex for step in steps}
        insert_new_rows(connection, Checkpoint.__table__, {
            "id": [checkpoint_ids[s] for s in steps], "supernet_id": [supernet_id] * len(steps),
            "label": [f"step-{s}" for s in steps], "step": steps, "created_at": [now] * len(steps),
        })
        flat = [(step, label, value) for step in steps for label, value in scores[step].items()]
        summary.new_results = insert_new_rows(connection, ProxyScore.__table__, {
            "checkpoint_id": [checkpoint_ids[s] for s, _, _ in flat],
            "architecture_id": [ids[label] for _, label, _ in flat],
            "protocol_id": ["published"] * len(flat), "metric": ["validation_accuracy"] * len(flat),
            "evaluation_repeat": [0] * len(flat), "value": [v for _, _, v in flat], "evaluated_at": [now] * len(flat),
        })
    summary.duplicates_skipped = len(flat) - summary.new_results
    return summary.finish()
