"""`wsdb run-supernet`: train a super-net, checkpoint it, record everything in the warehouse.

A run owns these sources of randomness, all saved in every checkpoint: torch's global
generator only initialises the weights (the init seed), a numpy Generator draws architectures
(and a fixed sampling order; the sampling seed, which also drives GDAS' Gumbel draws), a torch
Generator orders and augments the data, and another draws what Yu et al.'s factors draw
(shuffled channel orders, dropout masks; both from the data seed, as does the bilevel split). Resuming from a checkpoint restores model,
optimizer, schedule position and both generators, so a resumed run computes exactly what
the uninterrupted run would have (tests/test_trainers.py checks it on CPU).
"""

from __future__ import annotations

import socket
import sys
import time
import uuid
from pathlib import Path
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import sqlalchemy as sa
import torch
import torch.nn.functional as F

from wsdb.warehouse import lookup

from wsdb.warehouse import subspaces
from wsdb.warehouse.db import warehouse
from wsdb.base.errors import WsdbError
from wsdb.base.progress import progress_bar
from wsdb.warehouse.schema import Supernet, utcnow
from wsdb.trainers import records
from wsdb.trainers.checkpoints import check_location, fitting, load_checkpoint, location_uri, save_checkpoint
from wsdb.trainers.config import TrainingConfig
from wsdb.trainers.data import Dataset, load_dataset
from wsdb.trainers.differentiable import ArchitectureWeights, search_step
from wsdb.trainers.evaluate import Evaluator, Protocol, ensure_protocol, store_scores
from wsdb.trainers.layers import (Dropout, ParameterUsage, channel_orders, recording, redraw_channel_orders,
                                  regularising)
from wsdb.trainers.optim import MaskedOptimizer, learning_rate
from wsdb.trainers.runtime import RunInterrupted, check_keep_going, pick_device
from wsdb.trainers.sampling import ArchitectureSampler, load_pool
from wsdb.trainers.seeds import Seeds
from wsdb.trainers.spaces import OneShot1Training, supernet_space


DEFAULT_CHECKPOINT_DIR = "checkpoints"
STEP_PROTOCOL = Protocol("no-ft", "no-ft")


@dataclass
class RunOptions:
    checkpoint_dir: str | None = None  # None: ./checkpoints for a new run, where its checkpoints are for a resumed one
    data_dir: str | None = None
    device: str | None = None
    progress: bool = True
    stop_after_epochs: int | None = None  # leave the run resumable after this many epochs
    keep_going: Callable[[], bool] | None = None  # asked before every step; False interrupts the run


def resolve_subspace(url: str, config: TrainingConfig) -> TrainingConfig:
    """The configuration with its sub-space as the warehouse stores it (checked there: derived
    and constructed sub-spaces exist only once defined)."""
    with warehouse(url, read_only=True) as engine, engine.connect() as connection:
        name = lookup.subspace(connection, config.subspace, config.space)
        listed = subspaces.kind_of(connection, config.space, name) != "predicate"
    if listed and config.sampler == "fairnas":
        raise WsdbError(f"sampler fairnas builds its groups from raw cells and cannot keep to {config.space}/{name}, "
                        "whose members are listed: use uniform, random-a or pro-rata")
    return replace(config, subspace=name)


class Trainer:
    """Everything one training run holds in memory."""

    def __init__(self, url: str, supernet_id: str, config: TrainingConfig, seed: int, options: RunOptions,
                 device: torch.device, seeds: Seeds | None = None) -> None:
        self.url, self.supernet_id, self.config, self.seed, self.options = url, supernet_id, config, seed, options
        seeds = seeds or Seeds.of(seed)
        self.device = device
        self.space = supernet_space(config)
        self.data: Dataset = load_dataset(config.dataset, options.data_dir, device, config.train_portion,
                                          config.synthetic_images)
        torch.manual_seed(seeds.init)
        self.model = self.space.build_supernet(config, self.data.num_classes).to(device)
        self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = MaskedOptimizer(self.model.named_parameters(), config)
        # A sub-space with listed members (derived, constructed) has no predicate a raw draw could
        # be checked against: every sampler draws from its members. A search weighs the whole
        # space, except NAS-Bench-1Shot1's one-shot model, which is its sub-space.
        with warehouse(url) as engine, engine.connect() as connection:
            listed = subspaces.kind_of(connection, config.space, config.subspace) != "predicate"
            if config.search is not None and listed and not isinstance(self.space, OneShot1Training):
                raise WsdbError(f"search {config.search} weighs every operation of every edge and cannot keep to "
                                f"{config.space}/{config.subspace}: train it on the whole space")
            sampled = config.search is None and (listed or config.sampler in ("random-a", "pro-rata"))
            pool = load_pool(connection, config.space, config.subspace) if sampled else None
        self.sampler = ArchitectureSampler(self.space, config, np.random.Generator(np.random.PCG64(seeds.sampling)), pool,
                                           restricted=listed and config.search is None)
        self.architecture = self.search_generator = None
        if config.search is not None:
            self.architecture = ArchitectureWeights(config, self.space.num_edges, self.space.operations,
                                                    self.space.edge_decisions(config), device)
            self.search_generator = torch.Generator().manual_seed(seeds.sampling)
        self.data_generator = torch.Generator().manual_seed(seeds.data)
        self.factor_generator = torch.Generator().manual_seed(seeds.data)
        self.dropout = (Dropout(config.path_dropout, config.global_dropout, self.factor_generator)
                        if config.path_dropout or config.global_dropout else None)
        self.channel_orders = channel_orders(self.model)  # shuffle slicing's permutations (else none)
        self.step_cells: list[tuple[int, object]] = []  # (id, cell) of every architecture, decoded once
        if config.evaluate_last_steps:  # Zhang et al.'s per-step scores need every architecture
            with warehouse(url, read_only=True) as engine, engine.connect() as connection:
                pool = load_pool(connection, config.space, config.subspace)
            self.step_cells = [(a, self.space.decode(e)) for a, e in zip(pool.architecture_ids, pool.encodings)]
            self.step_evaluator = Evaluator(self.model, self.data, config, STEP_PROTOCOL, device, seed)
        self.usage = ParameterUsage()
        self.epoch = 0
        self.step = 0
        self.training_seconds = 0.0  # cumulative over resumes: the time axis of a search's trajectory
        n = len(self.data.train)
        if config.search is not None and config.formulation == "bilevel":
            # DARTS: half of the training split trains the weights, the other half θ
            order = torch.randperm(n, generator=torch.Generator().manual_seed(seeds.data))
            self.weight_indices, self.architecture_indices = order[: n // 2], order[n // 2:]
            n = len(self.weight_indices)
        else:
            self.weight_indices = self.architecture_indices = None
        self.batch_size = min(config.batch_size, n)
        self.steps_per_epoch = n // self.batch_size
        self.total_steps = self.steps_per_epoch * config.epochs

    # --- state ----------------------------------------------------------------------------

    def state(self) -> dict:
        return {
            "supernet_id": self.supernet_id, "epoch": self.epoch, "step": self.step,
            "config": self.config.as_json(), "seed": self.seed, "training_seconds": self.training_seconds,
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "sampler_rng": self.sampler.rng.bit_generator.state, "sampler_order": self.sampler.order_state(),
            "data_rng": self.data_generator.get_state(), "factor_rng": self.factor_generator.get_state(),
            **({"architecture": self.architecture.state_dict(), "search_rng": self.search_generator.get_state()}
               if self.architecture is not None else {}),
        }

    def restore(self, state: dict) -> None:
        with fitting(f"the newest checkpoint of super-net {self.supernet_id}"):
            self._restore(state)

    def _restore(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.sampler.rng.bit_generator.state = state["sampler_rng"]
        self.data_generator.set_state(state["data_rng"])
        if "sampler_order" in state:  # checkpoints written before the factors of Yu et al. lack these
            self.sampler.restore_order(state["sampler_order"])
            self.factor_generator.set_state(state["factor_rng"])
        if self.architecture is not None:
            self.architecture.load_state_dict(state["architecture"])
            self.search_generator.set_state(state["search_rng"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.training_seconds = float(state.get("training_seconds", 0.0))

    # --- training -------------------------------------------------------------------------

    def train_step(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step; returns the mean loss and accuracy over its cells as tensors on
        the device (read once per epoch: no synchronisation per step on a GPU)."""
        if self.architecture is not None:
            return self.search_train_step(indices)
        cells = self.sampler.next_group()
        x, y = self.data.training_batch(indices, self.data_generator)
        redraw_channel_orders(self.channel_orders, self.factor_generator)
        self.usage.clear()
        loss_sum = correct = 0
        with recording(self.usage), regularising(self.dropout):
            for cell in cells:
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
                    logits = self.model(x, cell)
                    loss = F.cross_entropy(logits.float(), y)
                (loss / len(cells)).backward()
                loss_sum = loss_sum + loss.detach()
                correct = correct + (logits.argmax(1) == y).sum()
        self.optimizer.step(learning_rate(self.config, self.step, self.total_steps), self.usage)
        self.model.zero_grad(set_to_none=True)
        self.step += 1
        self.score_step()
        return loss_sum / len(cells), correct / (len(cells) * len(y))

    def search_train_step(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A differentiable method's step (trainers/differentiable.py), then the weights' step."""
        progress = self.step / max(1, self.total_steps)
        weight_batch = self.data.training_batch(self._indices(self.weight_indices, positions), self.data_generator)
        architecture_batch = None
        if self.architecture_indices is not None:
            drawn = torch.randint(len(self.architecture_indices), (len(positions),), generator=self.data_generator)
            architecture_batch = self.data.training_batch(self.architecture_indices[drawn], self.data_generator)
        self.usage.clear()
        with recording(self.usage), regularising(self.dropout):
            loss, correct = search_step(self.model, self.architecture, weight_batch, architecture_batch, progress,
                                        self.search_generator)
        self.optimizer.step(learning_rate(self.config, self.step, self.total_steps), self.usage)
        self.model.zero_grad(set_to_none=True)
        self.step += 1
        self.score_step()
        return loss, correct / len(positions)

    def score_step(self) -> None:
        """evaluate_last_steps (Zhang et al. 2020, Deeper Insights, section 4.1): after each of the
        last k steps, every architecture of the (sub)space is scored (no-ft: the weights and
        running statistics as they are) and stored under a file-less checkpoint step-N, which
        the stability_checkpoints analysis reads as GT-Tau-Mean-k / GT-Tau-Std-k. A step
        already stored (a resumed run recomputes the same) is left as it is."""
        if not self.step_cells or self.step <= self.total_steps - self.config.evaluate_last_steps:
            return
        label = f"step-{self.step}"
        if records.has_checkpoint(self.url, self.supernet_id, label):
            return
        scored = [(a, self.step_evaluator.score(cell, a)) for a, cell in self.step_cells]
        self.model.train()
        checkpoint_id = uuid.uuid4().hex
        with warehouse(self.url) as engine, engine.begin() as connection:
            ensure_protocol(connection, STEP_PROTOCOL)
            records.add_checkpoint_row(connection, checkpoint_id, self.supernet_id, label, None, self.step)
            store_scores(connection, checkpoint_id, STEP_PROTOCOL.id, scored)

    @staticmethod
    def _indices(subset: torch.Tensor | None, positions: torch.Tensor) -> torch.Tensor:
        return positions if subset is None else subset[positions]

    def train_epoch(self) -> dict:
        self.model.train()
        examples = len(self.data.train) if self.weight_indices is None else len(self.weight_indices)
        order = torch.randperm(examples, generator=self.data_generator)
        started = time.perf_counter()
        loss_total = accuracy_total = 0
        with progress_bar(self.steps_per_epoch, "step", f"epoch {self.epoch + 1}/{self.config.epochs}",
                          self.options.progress) as bar:
            for k in range(self.steps_per_epoch):
                check_keep_going(self.options.keep_going)
                loss, accuracy = self.train_step(order[k * self.batch_size:(k + 1) * self.batch_size])
                loss_total = loss_total + loss
                accuracy_total = accuracy_total + accuracy
                bar.update(1)
        self.epoch += 1
        seconds = time.perf_counter() - started
        self.training_seconds += seconds
        return {"loss": float(loss_total) / self.steps_per_epoch,
                "accuracy": float(accuracy_total) / self.steps_per_epoch, "seconds": seconds,
                "images_per_second": self.steps_per_epoch * self.batch_size / seconds}

    def save(self) -> None:
        check_keep_going(self.options.keep_going)
        label = f"epoch-{self.epoch}"
        uri = f"{location_uri(self.options.checkpoint_dir or DEFAULT_CHECKPOINT_DIR)}/{self.supernet_id}/{label}.pt"
        sha256, size = save_checkpoint(uri, self.state())
        records.add_checkpoint(self.url, uuid.uuid4().hex, self.supernet_id, label, self.epoch, self.step, uri, sha256, size,
                               self.search_record())

    def search_record(self) -> dict | None:
        """θ and β as the space writes them in rows, the derived architecture and the method's name, for the warehouse."""
        if self.architecture is None:
            return None
        theta = self.architecture.theta().detach().cpu()
        beta = self.architecture.edge_weights()
        beta = None if beta is None else beta.detach().cpu()
        method = ("gaea-" if self.config.architecture_update == "exponentiated" else "") + self.config.search
        theta_rows, beta_rows = self.space.search_rows(theta, beta)
        return {"theta": theta_rows, "beta": beta_rows,
                "derived": self.space.derive(theta, beta), "method": method,
                "training_seconds": self.training_seconds}

    def run(self) -> str:
        """Train to the configured epochs (or `stop_after_epochs` more); returns the status."""
        started = time.perf_counter()
        done_here = 0
        while self.epoch < self.config.epochs:
            if self.options.stop_after_epochs is not None and done_here >= self.options.stop_after_epochs:
                return "stopped"
            figures = self.train_epoch()
            done_here += 1
            if self.epoch % self.config.checkpoint_every == 0 or self.epoch == self.config.epochs:
                self.save()
            remaining = (time.perf_counter() - started) / done_here * (self.config.epochs - self.epoch)
            if self.options.progress:
                print(f"epoch {self.epoch}/{self.config.epochs}  loss {figures['loss']:.4f}  "
                      f"accuracy {figures['accuracy']:.4f}  {figures['images_per_second']:.0f} img/s  "
                      f"ETA {_clock(remaining)}", file=sys.stderr)
        return "finished"


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _run_and_record(url: str, trainer_factory, supernet_id: str) -> str:
    """Build and run a trainer; the super-net row says how it ended (failed: with the error)."""
    started = time.perf_counter()
    try:
        trainer = trainer_factory()
        status = trainer.run()
    except RunInterrupted:
        raise
    except BaseException as error:
        message = f"{type(error).__name__}: {error}"
        records.update_supernet(url, supernet_id, status="failed", error=message[:2000], finished_at=utcnow())
        raise
    values = {"status": status, "error": None}
    if status == "finished":
        values["finished_at"] = utcnow()
    elapsed = time.perf_counter() - started
    records.update_supernet(url, supernet_id, training_seconds=sa.func.coalesce(Supernet.training_seconds, 0.0) + elapsed,
                            **values)
    return supernet_id


def run_supernet(url: str, config: TrainingConfig, seed: int = 0, name: str | None = None,
                 options: RunOptions | None = None, supernet_id: str | None = None, seeds: Seeds | None = None) -> str:
    """Register a super-net (under a given id, e.g. one a training job chose at submission)
    and train it; returns its id. `seeds` sets the initialisation, sampling and data seeds
    apart (each defaults to `seed`). Everything a user can get wrong (the sub-space, the data,
    the checkpoint folder) is checked before the super-net is registered: a mistake leaves no row."""
    seeds = seeds or Seeds.of(seed)
    options = options or RunOptions()
    config = resolve_subspace(url, config)
    device = pick_device(options.device)
    supernet_id = supernet_id or uuid.uuid4().hex
    trainer = Trainer(url, supernet_id, config, seed, options, device, seeds)
    check_location(options.checkpoint_dir or DEFAULT_CHECKPOINT_DIR)
    records.register_supernet(url, supernet_id, config.space, config.subspace, name, config.as_json(), seed, device,
                              _absolute(options.data_dir), seeds)
    return _run_and_record(url, lambda: trainer, supernet_id)


def resume_supernet(url: str, supernet: str, options: RunOptions | None = None, force: bool = False) -> str:
    """Continue a stopped or failed run from its newest checkpoint (sha256 verified).

    Checkpoints go where the super-net's checkpoints are, unless options name a location.
    A super-net marked running is resumed only with `force` (its process may still be
    alive); the row is claimed atomically, so of two resumes at once one goes on.
    """
    options = options or RunOptions()
    with warehouse(url) as engine, engine.connect() as connection:
        row = lookup.supernet(connection, supernet)
        if row.origin != "trained":
            raise WsdbError(f"super-net {row.id} was imported, not trained here: nothing to resume")
        if row.status == "finished":
            raise WsdbError(f"super-net {row.id} has finished training: nothing to resume")
        if row.status == "running" and not force:
            since = f"{row.started_at:%Y-%m-%d %H:%M} UTC" if row.started_at else "an unknown time"
            raise WsdbError(f"super-net {row.id} is marked running (on {row.host}, since {since}): another process "
                            "may be training it; if that run died (killed, machine lost), resume it with --force")
        newest = (records.checkpoints_of(connection, row.id) or [None])[-1]
        seeds = records.seeds_of(connection, row.id, row.seed)
    if options.checkpoint_dir is None and newest is not None:
        options = replace(options, checkpoint_dir=checkpoint_location(newest.uri, row.id))
    if options.data_dir is None and row.data_dir is not None:
        options = replace(options, data_dir=row.data_dir)
    config, device = TrainingConfig.from_json(row.config_json), pick_device(options.device)
    state = load_checkpoint(newest.uri, newest.sha256, f"super-net {row.id}") if newest else None
    records.claim_supernet(url, row, host=socket.gethostname(), device=records.describe_device(device))

    def make() -> Trainer:
        trainer = Trainer(url, row.id, config, row.seed or 0, options, device, seeds)
        if state is not None:
            trainer.restore(state)
        return trainer

    return _run_and_record(url, make, row.id)


def _absolute(data_dir: str | None) -> str | None:
    """A data location as stored: local paths absolute (a later command may run elsewhere)."""
    if data_dir is None or "://" in data_dir:
        return data_dir
    return str(Path(data_dir).resolve())


def checkpoint_location(uri: str, supernet_id: str) -> str:
    """The location a checkpoint URI was saved under (<location>/<super-net id>/<label>.pt)."""
    folder, _, _ = uri.rpartition("/")
    location, _, owner = folder.rpartition("/")
    if owner != supernet_id or not location:
        raise WsdbError(f"checkpoint {uri} is not laid out as <location>/{supernet_id}/<label>.pt: "
                        "give --checkpoint-dir")
    return location
