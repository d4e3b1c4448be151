"""NAS-Bench-201 / NATS-Bench topology space: the benchmark files users download.

- `wsdb ingest nasbench201 DIR_OR_FILE`: the NATS-Bench topology files (`NNNNNN.pickle.pbz2`,
  one architecture each, in NATS-tss-v1_0-3ffb9-simple/), read one file at a time through
  an allow-list (numpy and OrderedDict: the types they hold), or the official single-file
  benchmark (`NAS-Bench-201-v1_*.pth`) through the nas-bench-201 package. A .pth is a torch
  pickle that can run code while loading and cannot be streamed: it needs `--trust`.
- `wsdb ingest nb201-table CSV`: a table of 15,625 rows (arch_index, arch_str, num_params,
  val_acc_200ep_<dataset>, mini_12ep_<dataset>_<split>, and training-free scores).

Both formats hold, per architecture and hp ('12' or '200' epochs), per (dataset, seed) one
training run with per-epoch training accuracy/loss/time and evaluations named `<split>@<epoch>`.
Each evaluated epoch becomes a ground-truth row (repeat = training seed, epoch = epochs
completed, accuracies as fractions, training_seconds cumulative). Splits map to columns:
  cifar10-valid: x-valid -> validation, ori-test -> test (trained on train)
  cifar10: ori-test -> test (trained on train+valid)
  cifar100, ImageNet16-120: x-valid -> validation, x-test -> test (NATS API convention)
"""

from __future__ import annotations

import bz2
import pickle
from dataclasses import replace
from pathlib import Path

import sqlalchemy as sa

from wsdb.warehouse.bulk import deferred_checkpoints, insert_new_rows
from wsdb.warehouse.catalog import store_architectures
from wsdb.base.errors import InvalidArchitecture
from wsdb.base.files import regular_input
from wsdb.base.progress import progress_bar
from wsdb.ingest.common import (
    IngestError,
    IngestSummary,
    ground_truth_rows,
    parse_number,
    read_csv_rows,
)
from wsdb.base import values
from wsdb.base.safe_pickle import load_numpy_pickle
from wsdb.warehouse.schema import GroundTruthResult, ZeroCostScore
from wsdb.spaces import nb201

BENCHMARK = "nasbench201"
SPLITS = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": (None, "ori-test"),
    "cifar100": ("x-valid", "x-test"),
    "ImageNet16-120": ("x-valid", "x-test"),
}
NATS_TYPES = frozenset({("collections", "OrderedDict")})
FILES_PER_BATCH = 50


# NB201/NATS train at most 200 epochs (hp '200'; hp '12' records hold 12 or the 200-epoch schedule)
MOST_EPOCHS = 200


def run_rows(arch_index: int, hp: str, dataset: str, seed: int, run: dict, final_only: bool, origin: str) -> list[dict]:
    """Ground-truth rows of one training run (a NATS/NB201 ResultsCount state dict), without
    their architecture_id."""
    if dataset not in SPLITS:
        raise IngestError(f"{origin}: unknown NB201 dataset {dataset!r}; expected one of {', '.join(SPLITS)}")
    validation_split, test_split = SPLITS[dataset]
    where = f"{origin}: hp {hp}, {dataset} seed {seed}"
    try:
        epochs = int(run["epochs"])
        if not 1 <= epochs <= max(int(hp), MOST_EPOCHS):  # bounds the loop below by what the format holds
            raise IngestError(f"{where}: epochs = {run['epochs']!r} is not a count of epochs the benchmark trained "
                              f"(1 to {max(int(hp), MOST_EPOCHS)})")
        evaluations = run.get("eval_acc1es") or {}
        losses = run.get("eval_losses") or {}
        train_acc, train_loss, train_times = (run.get(k) or {} for k in ("train_acc1es", "train_losses", "train_times"))
        rows, elapsed = [], 0.0
        for epoch in range(epochs):
            elapsed += float(train_times.get(epoch, 0.0) or 0.0)
            if final_only and epoch != epochs - 1:
                continue
            validation = evaluations.get(f"{validation_split}@{epoch}") if validation_split else None
            test = evaluations.get(f"{test_split}@{epoch}")
            if validation is None and test is None and epoch not in train_acc:
                continue
            rows.append({
                "epoch_budget": int(hp), "benchmark_arch_id": str(arch_index),
                "repeat": int(seed), "epoch": epoch + 1, "dataset": dataset,
                "evaluation_point": "final" if epoch == epochs - 1 else f"epoch-{epoch + 1}",
                "train_accuracy": _fraction(train_acc.get(epoch)), "train_loss": _number(train_loss.get(epoch)),
                "validation_accuracy": _fraction(validation),
                "validation_loss": _number(losses.get(f"{validation_split}@{epoch}")) if validation_split else None,
                "test_accuracy": _fraction(test), "test_loss": _number(losses.get(f"{test_split}@{epoch}")),
                "training_seconds": elapsed if train_times else None,
                "where": f"{where}, epoch {epoch + 1}",
            })
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise IngestError(f"{where}: not a NAS-Bench-201 training run ({type(exc).__name__}: {exc}; expected "
                          "epochs, eval_acc1es, eval_losses, train_acc1es, train_losses, train_times)") from None
    return rows


def _number(value):
    return None if value is None else float(value)


def _fraction(percent):
    return None if percent is None else float(percent) / 100.0


def _canonical(source, arch_index: int, arch_str: str, trainable_parameters: int | None = None):
    """The class of an indexed arch string; the parameter count is kept only when this cell
    is the class representative (isomorphic cells can differ in parameters)."""
    try:
        expected = nb201.arch_str_of_index(arch_index)
    except InvalidArchitecture as exc:
        raise IngestError(f"{source}: {exc}") from None
    if expected != arch_str:
        raise IngestError(f"{source}: arch {arch_index} is {arch_str!r}, the official index order has {expected!r}")
    arch = nb201.canonicalize(arch_str)
    if trainable_parameters is not None and arch.canonical_encoding == arch_str:
        arch = replace(arch, trainable_parameters=trainable_parameters)
    return arch


def _architecture_rows(origin: str, hp_results: dict[str, dict], final_only: bool) -> list[dict]:
    """Ground-truth rows of one architecture record (architecture_id filled in at storing)."""
    rows = []
    for hp, state in hp_results.items():
        runs = state["all_results"]
        if not isinstance(runs, dict) or not all(isinstance(k, tuple) and len(k) == 2 for k in runs):
            raise IngestError(f"{origin}: hp {hp}: all_results is not a dict of (dataset, seed) -> run")
        for (dataset, seed), run in runs.items():
            if not isinstance(run, dict):
                raise IngestError(f"{origin}: hp {hp}, {dataset} seed {seed}: not a training run dict")
            rows += run_rows(state["arch_index"], hp, dataset, seed, run, final_only, origin)
    return rows


class _Batch:
    """Architectures and their rows, committed together every FILES_PER_BATCH files."""

    def __init__(self, engine: sa.Engine, summary: IngestSummary, source: str, final_only: bool):
        self.engine, self.summary, self.source, self.final_only = engine, summary, source, final_only
        self.items: list[tuple[dict, object, list[dict]]] = []

    def add(self, origin: str, hp_results: dict) -> None:
        """One architecture's record ({hp: ArchResults state}), checked, canonicalized and
        turned into rows (their values are checked when the batch is stored, in its
        transaction)."""
        _check_state(origin, hp_results)
        state = next(iter(hp_results.values()))
        arch = _canonical(origin, state["arch_index"], state["arch_str"], _params_of(origin, hp_results))
        rows = _architecture_rows(origin, hp_results, self.final_only)
        self.items.append((hp_results, arch, rows))
        if len(self.items) >= FILES_PER_BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.items:
            return
        with self.engine.begin() as connection:
            encodings = []
            for hp_results, arch, _ in self.items:
                state = next(iter(hp_results.values()))
                encodings += [("nb201-arch-str", state["arch_str"], arch.canonical_key),
                              ("nb201-index", str(state["arch_index"]), arch.canonical_key)]
            ids, new_archs, _ = store_architectures(connection, [a for _, a, _ in self.items], encodings)
            rows = [{**row, "architecture_id": ids[arch.canonical_key]} for _, arch, rows in self.items for row in rows]
            new = insert_new_rows(connection, GroundTruthResult.__table__,
                                  ground_truth_rows(rows, benchmark=BENCHMARK, source=self.source))
        self.summary.records_read += len(self.items)
        self.summary.new_architectures += new_archs
        self.summary.new_results += new
        self.summary.duplicates_skipped += len(rows) - new
        self.items = []


def _params_of(origin: str, hp_results: dict) -> int | None:
    """The parameter count of a record's CIFAR-10 network (stored in millions)."""
    for hp, state in hp_results.items():
        for (dataset, _), run in state["all_results"].items():
            if dataset in ("cifar10-valid", "cifar10") and isinstance(run, dict) and run.get("params") is not None:
                millions = values.check(run["params"], "loss", f"{origin}: hp {hp}, {dataset}", "params (millions)")
                return round(float(millions) * 1e6)
    return None


def _check_state(origin, hp_results) -> None:
    if not isinstance(hp_results, dict) or not hp_results:
        raise IngestError(f"{origin}: not a NAS-Bench-201 architecture record")
    for hp, state in hp_results.items():
        if hp not in ("12", "200") or not isinstance(state, dict) or not {"arch_index", "arch_str", "all_results"} <= set(state):
            raise IngestError(f"{origin}: hp {hp!r} is not a NAS-Bench-201 ArchResults record")
        if not isinstance(state["arch_index"], int) or not isinstance(state["arch_str"], str):
            raise IngestError(f"{origin}: hp {hp}: arch_index must be an integer and arch_str a string")
        if not isinstance(state["all_results"], dict):
            raise IngestError(f"{origin}: hp {hp}: all_results is not a dict of (dataset, seed) -> run")


# A NATS-Bench architecture file holds ~0.3 MB when decompressed (the "simple" release) and a
# few MB in the full release; a file that expands beyond this is refused, not read whole.
MAX_ARCHITECTURE_FILE_BYTES = 64 << 20


def decompress_bounded(path: Path, limit: int = MAX_ARCHITECTURE_FILE_BYTES) -> bytes:
    """bz2-decompress a file, refusing one that would expand beyond `limit` bytes."""
    decompressor = bz2.BZ2Decompressor()
    try:
        data = decompressor.decompress(regular_input(path).read_bytes(), max_length=limit + 1)
    except (OSError, ValueError, EOFError):
        raise IngestError(f"{path}: not a bz2 file") from None
    if len(data) > limit:
        raise IngestError(f"{path}: expands to more than {limit >> 20} MiB; a NATS-Bench architecture file holds "
                          "a few MiB at most: refusing it")
    if not decompressor.eof:
        raise IngestError(f"{path}: truncated bz2 file")
    return data


def ingest_nats(engine: sa.Engine, path: Path, trust: bool = False, final_only: bool = False,
                show_progress: bool = True) -> IngestSummary:
    """NATS-Bench topology files: a folder of NNNNNN.pickle.pbz2, or one such file."""
    path = Path(path)
    if not path.exists():
        raise IngestError(f"{path}: no such file or directory")
    files = [path] if path.is_file() else sorted(p for p in path.glob("*.pickle.pbz2") if p.name != "meta.pickle.pbz2")
    if not files:
        raise IngestError(f"{path}: no NNNNNN.pickle.pbz2 files")
    summary = IngestSummary(source=f"nasbench201 {path.name}")
    batch = _Batch(engine, summary, path.name, final_only)
    with deferred_checkpoints(engine), progress_bar(len(files), "archs", "nasbench201", show_progress) as bar:
        for file in files:
            data = decompress_bounded(file)
            hp_results = pickle.loads(data) if trust else load_numpy_pickle(file, data, also_allow=NATS_TYPES)
            batch.add(str(file), hp_results)
            bar.update()
        batch.flush()
    return summary.finish()


def ingest_nb201_pth(engine: sa.Engine, path: Path, trust: bool, final_only: bool = False,
                     show_progress: bool = True) -> IngestSummary:
    """The official single-file benchmark (NAS-Bench-201-v1_0/v1_1 .pth), via nas-bench-201."""
    path = regular_input(path)
    if not trust:
        raise IngestError(
            f"{path}: a .pth benchmark is a torch pickle that can run code while loading; "
            "pass --trust if you trust this file"
        )
    import torch
    from nas_201_api.api_utils import ArchResults

    try:
        # weights_only=False: the file pickles plain dicts of the package's own classes.
        data = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a file that is not a torch file
        raise IngestError(f"{path}: not a NAS-Bench-201 .pth file ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict) or not {"meta_archs", "arch2infos", "evaluated_indexes"} <= set(data):
        raise IngestError(f"{path}: not a NAS-Bench-201 benchmark (expected meta_archs, arch2infos, evaluated_indexes)")
    summary = IngestSummary(source=f"nasbench201 {path.name}")
    batch = _Batch(engine, summary, path.name, final_only)
    infos = data["arch2infos"]
    with deferred_checkpoints(engine), progress_bar(len(infos), "archs", "nasbench201", show_progress) as bar:
        for index in sorted(infos):
            origin = f"{path} arch {index}"
            try:
                # The package's own class validates the record and gives back its state.
                hp_results = {hp: ArchResults.create_from_state_dict(infos[index][key]).state_dict()
                              for hp, key in (("12", "less"), ("200", "full")) if key in infos[index]}
            except (AssertionError, KeyError, TypeError, ValueError, AttributeError) as exc:
                raise IngestError(f"{origin}: invalid ArchResults record ({exc})") from None
            batch.add(origin, hp_results)
            bar.update()
        batch.flush()
    return summary.finish()


# nb201_all15625.csv-style tables: column -> (dataset, epoch budget, ground-truth field).
TABLE_RESULTS = {
    "val_acc_200ep_cifar10valid": ("cifar10-valid", 200, "validation_accuracy"),
    "val_acc_200ep_cifar100": ("cifar100", 200, "validation_accuracy"),
    "val_acc_200ep_imagenet16_120": ("ImageNet16-120", 200, "validation_accuracy"),
    "mini_12ep_cifar10valid_xvalid": ("cifar10-valid", 12, "validation_accuracy"),
    "mini_12ep_cifar10_oritest": ("cifar10", 12, "test_accuracy"),
    "mini_12ep_cifar100_xvalid": ("cifar100", 12, "validation_accuracy"),
    "mini_12ep_cifar100_xtest": ("cifar100", 12, "test_accuracy"),
    "mini_12ep_in16_xvalid": ("ImageNet16-120", 12, "validation_accuracy"),
    "mini_12ep_in16_xtest": ("ImageNet16-120", 12, "test_accuracy"),
}
# training-free score columns: <metric>_score_<dataset suffix>
TABLE_DATASETS = {"cifar10valid": "cifar10-valid", "cifar100": "cifar100", "imagenet16_120": "ImageNet16-120"}


def ingest_nb201_table(engine: sa.Engine, path: Path, source: str = "table") -> IngestSummary:
    """Per-architecture NB201 results as a CSV table (means over seeds: repeat -1)."""
    summary = IngestSummary(source=f"nb201-table {Path(path).name}")
    archs, truth, scores = {}, [], []
    for line, row in read_csv_rows(path, ("arch_index", "arch_str")):
        index = parse_number(path, line, row, "arch_index", int, low=0, high=nb201.NUM_ARCHITECTURES - 1)
        params = parse_number(path, line, row, "num_params", int, low=0) if row.get("num_params") else None
        arch = _canonical(f"{path}: line {line}", index, row["arch_str"], params)
        archs.setdefault(arch.canonical_key, arch)
        per_run: dict[tuple, dict] = {}
        for column, (dataset, budget, field) in TABLE_RESULTS.items():
            if row.get(column):
                value = parse_number(path, line, row, column, low=0, high=100) / 100.0
                per_run.setdefault((dataset, budget), {})[field] = value
        for (dataset, budget), fields in per_run.items():
            truth.append({"key": arch.canonical_key, "benchmark_arch_id": str(index), "dataset": dataset,
                          "epoch_budget": budget, "epoch": budget, "where": f"{path}: line {line}", **fields})
        for column, text in row.items():
            metric, _, suffix = column.partition("_score_")
            if suffix in TABLE_DATASETS and text not in (None, ""):
                scores.append((arch.canonical_key, TABLE_DATASETS[suffix], str(index), metric,
                               parse_number(path, line, row, column, infinite=True)))
        summary.records_read += 1
    with engine.begin() as connection:
        ids, summary.new_architectures, _ = store_architectures(connection, archs.values())
        for row in truth:
            row["architecture_id"] = ids[row.pop("key")]
        new = insert_new_rows(connection, GroundTruthResult.__table__, ground_truth_rows(
            truth, benchmark=BENCHMARK, repeat=-1, evaluation_point="final", source=f"{Path(path).name} ({source})"))
        new_scores = insert_new_rows(connection, ZeroCostScore.__table__, {
            "source": [source] * len(scores), "dataset": [s[1] for s in scores],
            "encoding_kind": ["nb201-index"] * len(scores), "encoding": [s[2] for s in scores],
            "metric": [s[3] for s in scores], "architecture_id": [ids[s[0]] for s in scores],
            "value": [s[4] for s in scores],
        })
    summary.new_results = new + new_scores
    summary.duplicates_skipped = len(truth) + len(scores) - summary.new_results
    return summary.finish()
