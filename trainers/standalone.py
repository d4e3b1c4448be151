"""Stand-alone training: one architecture from scratch under a published recipe, stored as
ground truth of the benchmark `wsdb-standalone`.

The DARTS space has no exhaustive benchmark, and Zhang et al. 2020 (Deeper Insights) trained
their 64 architectures themselves: wsdb's own runs are ground truth like any ingested
benchmark. A run stores, per epoch, train/validation/test accuracy and loss and the
cumulative training seconds as `ground_truth_results` rows (benchmark `wsdb-standalone`,
dataset the task, epoch budget the run's epochs, benchmark_arch_id the canonical encoding
trained, repeat the seed; the last epoch is evaluation point `final`), and its provenance in
`standalone_runs`: recipe and every setting, seed, code version, host, device, the final
weights by URI + sha256. A run's rows are written in one transaction when it ends; a failed
run leaves its `standalone_runs` row marked failed and no ground truth, and its newest
epoch's state (weights, optimizer, generators, figures), from which it continues when asked
for again.

Recipes (each setting overridable, `wsdb recipes show NAME` prints them):
- darts-cifar10: DARTS' CIFAR-10 evaluation (Liu, Simonyan, Yang 2019, `train.py`): 20 cells
  of 36 channels, auxiliary head weighted 0.4, cutout 16, drop path 0.2 raised linearly over
  training, SGD momentum 0.9, lr 0.025 cosine to 0 per epoch, weight decay 3e-4, batch 96,
  gradient norm clipped to 5, 600 epochs on all 50,000 training images, tested on the 10,000.
- nb201-200: NAS-Bench-201's (Dong & Yang 2020): C 16, N 5, SGD Nesterov momentum 0.9, lr
  0.1 cosine to 0, weight decay 5e-4, batch 256, 200 epochs on its cifar10-valid split.
- nb101-108: NAS-Bench-101's (Ying et al. 2019): 128 stem channels, 3 stacks of 3 cells,
  RMSProp (TensorFlow's: momentum 0.9, epsilon 1) lr 0.2 cosine to 0, weight decay 1e-4,
  batch 256, BN momentum 0.997 (0.003 here), 108 epochs on 40,000 images, validated on 10,000.
- ws64-200: Zhang et al. 2020 (Deeper Insights, section 3): SGD momentum 0.9, weight decay
  1e-3, lr 0.025 cosine to 0.001, batch 256, 200 epochs, BN momentum 0.4.
Every recipe augments by random crop (4-pixel padding) and horizontal flip.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import time
import uuid
from dataclasses import dataclass, fields

import sqlalchemy as sa
import torch
import torch.nn.functional as F
from torch import nn

from wsdb.base.errors import WsdbError
from wsdb.spaces.canonical import CanonicalArchitecture
from wsdb.trainers import darts, nb101, nb201, ws64
from wsdb.trainers.config import DATASETS, OPTIMIZERS, number_problem
from wsdb.trainers.checkpoints import check_location, fitting, load_checkpoint, location_uri, save_checkpoint
from wsdb.trainers.data import VALIDATION_IS_TEST, Dataset, ImageSplit, load_dataset, load_test_split
from wsdb.trainers.layers import BatchNormSettings, ParameterUsage
from wsdb.trainers.optim import MaskedOptimizer, cosine
from wsdb.trainers.records import code_version, describe_device
from wsdb.trainers.runtime import check_keep_going, pick_device
from wsdb.trainers.seeds import Seeds
from wsdb.trainers.spaces import training_space
from wsdb.warehouse.artifacts import remove
from wsdb.warehouse.bulk import insert_new_rows
from wsdb.warehouse.catalog import architecture_ids, store_architectures
from wsdb.warehouse.db import warehouse
from wsdb.warehouse.schema import GroundTruthResult, StandaloneRun, utcnow

BENCHMARK = "wsdb-standalone"
TASKS = {"cifar10-full": "cifar10"}  # the dataset a ground-truth row names: the task, not the split


@dataclass(frozen=True)
class Recipe:
    space: str
    citation: str
    dataset: str
    epochs: int
    batch_size: int
    optimizer: str  # sgd (torch's, with nesterov) or rmsprop (TensorFlow's, trainers/optim.py)
    learning_rate: float
    lr_min: float
    lr_per: str  # the cosine schedule advances per "epoch" or per "step"
    momentum: float
    nesterov: bool
    weight_decay: float
    channels: int  # darts C, nb201 C, nb101 stem channels, ws64 cell channels
    cells: int  # darts cells, nb201 cells per stage, nb101 cells per stack, ws64 cells
    epsilon: float = 1.0  # rmsprop
    rms_decay: float = 0.9  # rmsprop
    gradient_clip: float | None = None
    bn_momentum: float = 0.1  # PyTorch convention
    bn_eps: float = 1e-5
    auxiliary_weight: float = 0.0  # darts: the auxiliary head's loss weight (0: no head)
    cutout: int = 0  # side of the zeroed square (0: none)
    drop_path: float = 0.0  # darts: final drop-path rate, raised linearly from 0
    synthetic_images: int = 2048  # with dataset synthetic (tests)

    def as_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


RECIPES = {
    "darts-cifar10": Recipe("darts", "Liu, Simonyan, Yang 2019, DARTS: Differentiable Architecture Search "
                            "(CIFAR-10 evaluation)", "cifar10-full", 600, 96, "sgd", 0.025, 0.0, "epoch", 0.9, False,
                            3e-4, 36, 20, gradient_clip=5.0, auxiliary_weight=0.4, cutout=16, drop_path=0.2),
    "nb201-200": Recipe("nb201", "Dong & Yang 2020, NAS-Bench-201 (200-epoch training)", "cifar10-valid", 200, 256,
                        "sgd", 0.1, 0.0, "step", 0.9, True, 5e-4, 16, 5),
    "nb101-108": Recipe("nb101", "Ying et al. 2019, NAS-Bench-101 (108-epoch training)", "cifar10", 108, 256,
                        "rmsprop", 0.2, 0.0, "step", 0.9, False, 1e-4, 128, 3, bn_momentum=0.003),
    "ws64-200": Recipe("ws64", "Zhang, Lin, Jiang, Zhang, Wang, Xue, Zhang, Yang 2020, Deeper Insights into Weight "
                       "Sharing in Neural Architecture Search (stand-alone training, section 3)", "cifar10", 200, 256,
                       "sgd", 0.025, 0.001, "step", 0.9, False, 1e-3, 16, 4, bn_momentum=0.4),
}
FIXED = ("space", "citation")  # what an override may not change
CHOICES = {"optimizer": OPTIMIZERS, "lr_per": ("epoch", "step"), "dataset": DATASETS}
RANGES = {"epochs": (1, 10_000), "batch_size": (1, 65_536), "learning_rate": (0, None, "()"), "lr_min": (0, None),
          "momentum": (0, 1, "[)"), "weight_decay": (0, None), "channels": (1, 4096), "cells": (1, 256),
          "epsilon": (0, None, "()"), "rms_decay": (0, 1, "[)"), "gradient_clip": (0, None, "()"),
          "bn_momentum": (0, 1), "bn_eps": (0, None, "()"), "auxiliary_weight": (0, None), "cutout": (0, 32),
          "drop_path": (0, 1, "[)"), "synthetic_images": (1, 1_000_000)}


def recipe(name: str, overrides: dict | None = None) -> Recipe:
    """A named recipe with settings overridden (each checked: known key, type, range)."""
    try:
        base = RECIPES[name]
    except KeyError:
        raise WsdbError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}") from None
    overrides = dict(overrides or {})
    settable = [f.name for f in fields(Recipe) if f.name not in FIXED]
    for key, value in overrides.items():
        if key not in settable:
            raise WsdbError(f"recipe {name}: {key!r} is not a setting to override; settable: {', '.join(settable)}")
        if key in CHOICES and value not in CHOICES[key]:
            raise WsdbError(f"recipe {name}: {key} must be one of {', '.join(CHOICES[key])}, not {value!r}")
        if key == "nesterov" and not isinstance(value, bool):
            raise WsdbError(f"recipe {name}: nesterov must be true or false, not {value!r}")
    chosen = dataclasses.replace(base, **overrides)
    problem = number_problem(chosen, RANGES)
    if problem:
        raise WsdbError(f"recipe {name}: {problem}")
    if (chosen.auxiliary_weight or chosen.drop_path) and chosen.space != "darts":
        raise WsdbError(f"recipe {name}: auxiliary_weight and drop_path belong to DARTS' evaluation network")
    if chosen.space == "darts" and chosen.cells < 3:
        raise WsdbError(f"recipe {name}: cells must be at least 3 (reductions at 1/3 and 2/3 of the depth)")
    return chosen


def listing() -> list[dict]:
    return [{"recipe": name, "space": r.space, "epochs": r.epochs, "dataset": r.dataset, "source": r.citation}
            for name, r in RECIPES.items()]


def show(name: str) -> dict:
    return {"recipe": name, **dataclasses.asdict(recipe(name))}


# --- the network of a recipe -------------------------------------------------------------------


def build_network(chosen: Recipe, cell, num_classes: int) -> nn.Module:
    bn = BatchNormSettings(chosen.bn_momentum, chosen.bn_eps)
    if chosen.space == "darts":
        return darts.DartsNetwork(cell, chosen.channels, chosen.cells, num_classes, chosen.auxiliary_weight > 0)
    if chosen.space == "nb201":
        return nb201.NB201Network(cell, nb201.Macro(chosen.channels, chosen.cells, num_classes, bn))
    if chosen.space == "nb101":
        return nb101.NB101Network(cell, nb101.Macro(chosen.channels, 3, chosen.cells, num_classes, bn))
    return ws64.WS64Network(cell, ws64.Macro(channels=chosen.channels, cells=chosen.cells, num_classes=num_classes,
                                             bn=bn))


def trainable_parameters(model: nn.Module) -> int:
    """Parameters of the network as its benchmark counts them (DARTS: without the auxiliary head)."""
    return darts.parameter_count(model) if isinstance(model, darts.DartsNetwork) else sum(
        p.numel() for p in model.parameters())


def cutout(x: torch.Tensor, length: int, generator: torch.Generator) -> torch.Tensor:
    """DARTS' cutout: per image, a length x length square around a uniform centre (clipped at
    the border) set to zero, after normalisation."""
    n, _, h, w = x.shape
    centre = torch.stack([torch.randint(0, h, (n,), generator=generator), torch.randint(0, w, (n,), generator=generator)])
    centre = centre.to(x.device)
    rows = torch.arange(h, device=x.device)[None, :]
    cols = torch.arange(w, device=x.device)[None, :]
    inside_rows = (rows >= centre[0][:, None] - length // 2) & (rows < centre[0][:, None] + length // 2)
    inside_cols = (cols >= centre[1][:, None] - length // 2) & (cols < centre[1][:, None] + length // 2)
    hole = inside_rows[:, :, None] & inside_cols[:, None, :]
    return x * (~hole)[:, None].to(x.dtype)


class _Optimizer:
    """torch's SGD (Nesterov where the recipe says) or TensorFlow's RMSProp (trainers/optim.py)."""

    def __init__(self, chosen: Recipe, model: nn.Module) -> None:
        self.chosen, self.model = chosen, model
        if chosen.optimizer == "sgd":
            self.sgd = torch.optim.SGD(model.parameters(), lr=chosen.learning_rate, momentum=chosen.momentum,
                                       nesterov=chosen.nesterov, weight_decay=chosen.weight_decay)
        else:
            self.sgd = None
            self.rmsprop = MaskedOptimizer(model.named_parameters(), chosen)  # reads the same key names
            self.whole = ParameterUsage()

    def state_dict(self) -> dict:
        return self.sgd.state_dict() if self.sgd is not None else self.rmsprop.state_dict()

    def load_state_dict(self, state: dict) -> None:
        (self.sgd if self.sgd is not None else self.rmsprop).load_state_dict(state)

    def step(self, lr: float) -> None:
        if self.sgd is None:
            self.rmsprop.step(lr, self.whole)  # gradient_clip applied there
            return
        if self.chosen.gradient_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.chosen.gradient_clip)
        for group in self.sgd.param_groups:
            group["lr"] = lr
        self.sgd.step()


def _learning_rate(chosen: Recipe, epoch: int, step: int, steps_per_epoch: int) -> float:
    progress = epoch / chosen.epochs if chosen.lr_per == "epoch" else (
        (epoch * steps_per_epoch + step) / (chosen.epochs * steps_per_epoch))
    return cosine(chosen.learning_rate, chosen.lr_min, progress)


@torch.no_grad()
def _evaluate(model: nn.Module, data: Dataset, split: ImageSplit, batch_size: int = 500) -> tuple[float, float]:
    """(accuracy, mean loss) on a split."""
    model.eval()
    correct, loss = 0, 0.0
    for start in range(0, len(split), batch_size):
        x = data.normalize(split.images[start:start + batch_size])
        y = split.labels[start:start + batch_size]
        logits = model(x)
        correct += int((logits.argmax(1) == y).sum())
        loss += float(F.cross_entropy(logits.float(), y, reduction="sum"))
    return correct / len(split), loss / len(split)


@dataclass
class StandaloneOptions:
    checkpoint_dir: str = "checkpoints"
    data_dir: str | None = None
    device: str | None = None
    progress: bool = True
    keep_going: object = None  # asked before every step; False interrupts the run


def train_network(model: nn.Module, chosen: Recipe, data: Dataset, test: ImageSplit | None, seed: int,
                  options: StandaloneOptions, device: torch.device, after_epoch=None,
                  resumed: dict | None = None) -> list[dict]:
    """Train a network under a recipe; per epoch the figures a ground-truth row holds.
    `after_epoch(state)` gets, after every epoch, what a resumed run needs (weights, optimizer,
    generator states, the figures so far); `resumed` is such a state: training continues after
    its epoch exactly as it would have without the interruption."""
    data_generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    optimizer = _Optimizer(chosen, model)
    figures: list[dict] = []
    if resumed is not None:
        with fitting(f"the saved state of stand-alone run {resumed.get('run_id')}", "network"):
            model.load_state_dict(resumed["model"])
            optimizer.load_state_dict(resumed["optimizer"])
            data_generator.set_state(resumed["data_rng"])
            torch.set_rng_state(resumed["torch_rng"])  # drop path's masks
            if device.type == "cuda" and resumed.get("cuda_rng") is not None:
                torch.cuda.set_rng_state(resumed["cuda_rng"], device)
            figures = [dict(row) for row in resumed["figures"]]
    n = len(data.train)
    batch = min(chosen.batch_size, n)
    steps = n // batch
    elapsed = figures[-1]["training_seconds"] if figures else 0.0
    validation_is_test = data.name in VALIDATION_IS_TEST
    for epoch in range(len(figures), chosen.epochs):
        darts.set_drop_path(model, chosen.drop_path * epoch / chosen.epochs)  # DARTS: raised linearly per epoch
        model.train()
        started = time.perf_counter()
        order = torch.randperm(n, generator=data_generator)
        loss_sum = correct = torch.zeros((), device=device)  # summed on the device: no sync per step
        for step in range(steps):
            check_keep_going(options.keep_going)
            x, y = data.training_batch(order[step * batch:(step + 1) * batch], data_generator)
            if chosen.cutout:
                x = cutout(x, chosen.cutout, data_generator)
            output = model(x)
            logits, auxiliary = output if isinstance(output, tuple) else (output, None)
            loss = F.cross_entropy(logits.float(), y)
            total = loss if auxiliary is None else loss + chosen.auxiliary_weight * F.cross_entropy(auxiliary.float(), y)
            total.backward()
            optimizer.step(_learning_rate(chosen, epoch, step, steps))
            model.zero_grad(set_to_none=True)
            loss_sum = loss_sum + loss.detach()
            correct = correct + (logits.argmax(1) == y).sum() / len(y)
        if device.type == "cuda":
            torch.cuda.synchronize(device)  # the epoch's kernels finish inside its time
        elapsed += time.perf_counter() - started
        held_out = _evaluate(model, data, data.valid)
        tested = _evaluate(model, data, test) if test is not None else (None, None)
        validation, tested = ((None, None), held_out) if validation_is_test else (held_out, tested)
        figures.append({"epoch": epoch + 1, "train_accuracy": float(correct) / steps, "train_loss": float(loss_sum) / steps,
                        "validation_accuracy": validation[0], "validation_loss": validation[1],
                        "test_accuracy": tested[0], "test_loss": tested[1], "training_seconds": elapsed})
        if after_epoch:
            after_epoch({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                         "data_rng": data_generator.get_state(), "torch_rng": torch.get_rng_state(),
                         "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                         "figures": list(figures)})
    return figures


# --- runs in the warehouse ---------------------------------------------------------------------


def _ground_truth_rows(run_id: str, architecture_id: int, chosen: Recipe, name: str, encoding: str, seed: int,
                       figures: list[dict]) -> dict:
    rows = {column: [] for column in ("architecture_id", "benchmark", "dataset", "epoch_budget", "benchmark_arch_id",
                                      "repeat", "epoch", "evaluation_point", "train_accuracy", "train_loss",
                                      "validation_accuracy", "validation_loss", "test_accuracy", "test_loss",
                                      "training_seconds", "source")}
    for figure in figures:
        point = "final" if figure["epoch"] == chosen.epochs else f"epoch-{figure['epoch']}"
        values = {"architecture_id": architecture_id, "benchmark": BENCHMARK,
                  "dataset": TASKS.get(chosen.dataset, chosen.dataset), "epoch_budget": chosen.epochs,
                  "benchmark_arch_id": encoding, "repeat": seed, "evaluation_point": point,
                  "source": f"wsdb stand-alone run {run_id}, recipe {name}", **figure}
        for column in rows:
            rows[column].append(values[column])
    return rows


def _already_trained(connection: sa.Connection, architecture_id: int, chosen: Recipe, encoding: str, seed: int) -> bool:
    table = GroundTruthResult.__table__
    return connection.execute(sa.select(sa.func.count()).where(
        table.c.architecture_id == architecture_id, table.c.benchmark == BENCHMARK,
        table.c.dataset == TASKS.get(chosen.dataset, chosen.dataset), table.c.epoch_budget == chosen.epochs,
        table.c.benchmark_arch_id == encoding, table.c.repeat == seed)).scalar() > 0


def _earlier_run(connection: sa.Connection, run_id: str | None, architecture_id: int | None, chosen: Recipe,
                seed: int):
    """The run asked for before: the given run id's row (finished or not), else the newest
    unfinished run of this architecture under the same settings and seed (None: none)."""
    table = StandaloneRun.__table__
    if run_id is not None:
        where = [table.c.id == run_id]
    elif architecture_id is None:
        return None
    else:
        where = [table.c.architecture_id == architecture_id, table.c.recipe_json == chosen.as_json(),
                 table.c.seed == seed, table.c.status != "finished"]
    return connection.execute(sa.select(table).where(*where).order_by(table.c.created_at.desc())).first()


def train_standalone(url: str, arch: CanonicalArchitecture, recipe_name: str, overrides: dict | None = None,
                     seed: int = 0, options: StandaloneOptions | None = None, run_id: str | None = None,
                     skip_stored: bool = False, force: bool = False) -> dict:
    """Train `arch` (its canonical cell) from scratch under a recipe and store the result as
    ground truth; returns the run's summary. Everything a user can get wrong (recipe, space,
    data, checkpoint folder, a repeat already stored) is checked before anything is written.
    A run id whose run finished (a queue job retried after its worker died) returns that run;
    with `skip_stored`, so does ground truth already stored for this repeat (a sample trained
    again), instead of the refusal.

    Every epoch's state (weights, optimizer, generators, figures) is written to the run's file,
    so an interrupted run continues where it stopped: a queue job retried under its run id, or
    the same architecture, settings and seed asked for again (a run still marked running only
    with `force`: its process may be alive)."""
    options = options or StandaloneOptions()
    Seeds.of(seed)  # the rule for every seed: a whole number in [0, 2^31), what `repeat` holds
    chosen = recipe(recipe_name, overrides)
    if arch.search_space != chosen.space:
        raise WsdbError(f"recipe {recipe_name} trains {chosen.space} architectures, not {arch.search_space}")
    with warehouse(url, read_only=True) as engine, engine.connect() as connection:
        ids = architecture_ids(connection, arch.search_space, [arch.canonical_key]).get(arch.canonical_key)
        earlier = _earlier_run(connection, run_id, ids, chosen, seed)
        if earlier is not None and earlier.status == "finished":
            return summary(url, earlier.id)
        stored = ids is not None and _already_trained(connection, ids, chosen, arch.canonical_encoding, seed)
        if stored and skip_stored:
            done = connection.execute(sa.select(StandaloneRun.id).where(
                StandaloneRun.architecture_id == ids, StandaloneRun.seed == seed, StandaloneRun.epochs == chosen.epochs,
                StandaloneRun.dataset == chosen.dataset, StandaloneRun.status == "finished")).scalar()
            if done is not None:  # else the rows came in a bundle
                return {**summary(url, done), "status": "already stored"}
        if stored:  # asked for once more, or stored by another lab's bundle
            raise WsdbError(f"{arch.search_space} architecture {arch.canonical_key} already has {BENCHMARK} ground truth "
                            f"for {chosen.epochs} epochs on {chosen.dataset} under seed {seed}: give another --seed")
    if earlier is not None and run_id is None and earlier.status == "running" and not force:
        raise WsdbError(f"stand-alone run {earlier.id} of this architecture, recipe and seed is marked running (on "
                        f"{earlier.host}, since {earlier.created_at:%Y-%m-%d %H:%M}); if its process died, add --force "
                        "to continue it")
    run_id = earlier.id if earlier is not None else run_id or uuid.uuid4().hex
    device = pick_device(options.device)
    cell = training_space(chosen.space).decode(arch.canonical_encoding)
    data = load_dataset(chosen.dataset, options.data_dir, device, synthetic_images=chosen.synthetic_images)
    test = load_test_split(chosen.dataset, options.data_dir, device, chosen.synthetic_images)
    torch.manual_seed(seed)
    model = build_network(chosen, cell, data.num_classes).to(device).to(memory_format=torch.channels_last)
    check_location(options.checkpoint_dir)
    resumed = None
    if earlier is not None and earlier.checkpoint_uri is not None and earlier.recipe_json == chosen.as_json():
        resumed = load_checkpoint(earlier.checkpoint_uri, earlier.checkpoint_sha256, f"stand-alone run {run_id}")
    parameters = trainable_parameters(model)
    with warehouse(url) as engine, engine.begin() as connection:
        architecture_id = store_architectures(connection, [arch])[0][arch.canonical_key]
        running = {"status": "running", "error": None, "finished_at": None, "host": socket.gethostname(),
                   "device": describe_device(device), "data_dir": options.data_dir}
        if resumed is not None:
            connection.execute(sa.update(StandaloneRun).where(StandaloneRun.id == run_id).values(**running))
        else:
            connection.execute(sa.delete(StandaloneRun).where(StandaloneRun.id == run_id))  # nothing kept to resume
            connection.execute(sa.insert(StandaloneRun), [{
                "id": run_id, "architecture_id": architecture_id, "search_space": chosen.space,
                "encoding": arch.canonical_encoding, "recipe": recipe_name, "recipe_json": chosen.as_json(),
                "dataset": chosen.dataset, "epochs": chosen.epochs, "seed": seed, "trainable_parameters": parameters,
                "code_version": code_version(), "created_at": utcnow(), **running}])
    saved = _EpochStates(url, run_id, options, chosen.epochs, earlier.checkpoint_uri if resumed is not None else None)
    try:
        figures = train_network(model, chosen, data, test, seed, options, device, saved, resumed)
    except BaseException as error:
        _mark(url, run_id, status="failed", error=f"{type(error).__name__}: {error}"[:2000], finished_at=utcnow())
        raise
    with warehouse(url) as engine, engine.begin() as connection:
        insert_new_rows(connection, GroundTruthResult.__table__,
                        _ground_truth_rows(run_id, architecture_id, chosen, recipe_name, arch.canonical_encoding, seed,
                                           figures))
        connection.execute(sa.update(StandaloneRun).where(StandaloneRun.id == run_id).values(
            status="finished", training_seconds=figures[-1]["training_seconds"], finished_at=utcnow()))
    return summary(url, run_id)


class _EpochStates:
    """Writes each epoch's state to `<checkpoint_dir>/standalone/<run id>/epoch-N.pt`, records it
    (URI, sha256, size, training seconds so far) on the run's row, then deletes the previous
    epoch's file: the row always names a whole file, and the last one holds the final weights."""

    def __init__(self, url: str, run_id: str, options: StandaloneOptions, epochs: int, previous: str | None) -> None:
        self.url, self.run_id, self.options, self.epochs, self.previous = url, run_id, options, epochs, previous

    def __call__(self, state: dict) -> None:
        figures = state["figures"][-1]
        uri = f"{location_uri(self.options.checkpoint_dir)}/standalone/{self.run_id}/epoch-{figures['epoch']}.pt"
        sha256, size = save_checkpoint(uri, {"run_id": self.run_id, **state})
        _mark(self.url, self.run_id, checkpoint_uri=uri, checkpoint_sha256=sha256, checkpoint_size_bytes=size,
              training_seconds=figures["training_seconds"])
        if self.previous is not None and self.previous != uri:
            remove(self.previous)
        self.previous = uri
        if self.options.progress:
            _progress_line(figures, self.epochs)


def _progress_line(figures: dict, epochs: int) -> None:
    held_out = figures["validation_accuracy"] if figures["validation_accuracy"] is not None else figures["test_accuracy"]
    print(f"epoch {figures['epoch']}/{epochs}  loss {figures['train_loss']:.4f}  held-out accuracy {held_out:.4f}", flush=True)


def _mark(url: str, run_id: str, **values) -> None:
    with warehouse(url) as engine, engine.begin() as connection:
        connection.execute(sa.update(StandaloneRun).where(StandaloneRun.id == run_id).values(**values))


def summary(url: str, run_id: str) -> dict:
    with warehouse(url, read_only=True) as engine, engine.connect() as connection:
        row = connection.execute(sa.text(
            "SELECT r.id, r.architecture_id, r.recipe, r.seed, r.epochs, r.status, r.trainable_parameters, "
            "r.training_seconds, g.validation_accuracy, g.test_accuracy FROM standalone_runs r "
            "LEFT JOIN ground_truth_results g ON g.architecture_id = r.architecture_id AND g.benchmark = :b "
            "AND g.source = 'wsdb stand-alone run ' || r.id || ', recipe ' || r.recipe AND g.evaluation_point = 'final' "
            "WHERE r.id = :id"), {"id": run_id, "b": BENCHMARK}).one()
    return dict(row._mapping)

