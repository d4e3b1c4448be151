"""`wsdb evaluate`: score architectures with a trained super-net under a protocol.

Protocols (Pourchot et al. 2020 section 4.1, Yu et al. 2020):
- no-ft: the super-net's weights and running batch-norm statistics as they are;
- bns-ft[:B[xS]]: batch-norm statistics re-estimated for the architecture as the exact average
  over B training batches (default 4) of S images (default: the training batch size; Zhang,
  Zhang, Yang 2020 calibrate on 25 batches of 400: bns-ft:25x400), weights untouched;
- ft[:S]: S steps of SGD (lr 0.01, momentum 0.9) on the architecture alone, then validate.
Every protocol works on a copy of the state it changes: the stored super-net, and the
model in memory between two architectures, are never altered (tests check it).

Scores land in proxy_scores (validation_accuracy and validation_loss, elapsed seconds)
under the checkpoint and protocol; what is already scored is skipped, so a rerun is a
no-op and an interrupted evaluation continues where it stopped. `save_predictions` writes
each image's predicted class and loss to an HDF5 file (prediction_files table).
"""

from __future__ import annotations

import io
import json
import re
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa
import torch
import torch.nn.functional as F

from wsdb.warehouse import lookup
from wsdb.spaces import darts as darts_space
from wsdb.spaces import registry
from wsdb.warehouse.bulk import insert_new_rows
from wsdb.warehouse.catalog import store_architectures
from wsdb.warehouse.db import warehouse
from wsdb.base.errors import WsdbError
from wsdb.warehouse.schema import (
    ArchitectureSample,
    ArchitectureSampleMember,
    EvaluationProtocol,
    PredictionFile,
    ProxyScore,
    utcnow,
)
from wsdb.trainers import records
from wsdb.trainers.checkpoints import fitting, load_checkpoint, write_bytes
from wsdb.trainers.config import TrainingConfig
from wsdb.trainers.data import Dataset, load_dataset
from wsdb.trainers.layers import ParameterUsage, batchnorm_layers, recording
from wsdb.trainers.optim import MaskedOptimizer
from wsdb.trainers.sampling import load_pool
from wsdb.trainers.spaces import OneShot1Training, supernet_space, training_space
from wsdb.trainers.runtime import RunInterrupted, check_keep_going, pick_device

FINE_TUNING = {"optimizer": "sgd", "learning_rate": 0.01, "momentum": 0.9, "weight_decay": 0.0}
# Scores reach the warehouse after every architecture that took FLUSH_SECONDS or more since
# the last write, at most FLUSH_EVERY architectures apart (fast ones: one transaction per batch),
# and before an interrupt ends the run: a rerun loses at most the architecture in progress.
FLUSH_EVERY = 25
FLUSH_SECONDS = 2.0


@dataclass(frozen=True)
class Protocol:
    id: str
    name: str
    parameters: dict = field(default_factory=dict)

    @property
    def description(self) -> str:
        if self.name == "no-ft":
            return "use the super-net's running batch-norm statistics as they are"
        if self.name == "architecture-weights":
            return ("the log-likelihood of the architecture's operations under the checkpoint's architecture weights "
                    "(differentiable methods; no data, no forward pass)")
        if self.name == "bns-ft":
            size = self.parameters.get("batch_size")
            return (f"re-estimate batch-norm statistics as a cumulative average over {self.parameters['batches']} "
                    f"training batches{f' of {size} images' if size else ''}, then validate")
        return f"fine-tune the architecture's weights for {self.parameters['steps']} SGD steps, then validate"


ARCHITECTURE_WEIGHTS = Protocol("architecture-weights", "architecture-weights")
LOG_LIKELIHOOD = "architecture_log_likelihood"


def parse_protocol(text: str) -> Protocol:
    if text.strip() == ARCHITECTURE_WEIGHTS.id:
        return ARCHITECTURE_WEIGHTS
    match = re.fullmatch(r"(no-ft|bns-ft|ft)(?::(\d+)(?:x(\d+))?)?", text.strip())
    if (not match or (match[1] == "no-ft" and match[2]) or (match[1] != "bns-ft" and match[3])
            or any(n is not None and int(n) < 1 for n in match.groups()[1:])):
        raise WsdbError(f"--protocol {text!r}: expected no-ft, bns-ft[:BATCHES[xSIZE]], ft[:STEPS] or "
                        "architecture-weights (counts of at least 1)")
    name, count, size = match[1], match[2], match[3]
    if name == "no-ft":
        return Protocol("no-ft", "no-ft")
    if name == "bns-ft":
        batches = int(count or 4)
        if size is None:
            return Protocol(f"bns-ft:{batches}", "bns-ft", {"batches": batches})
        return Protocol(f"bns-ft:{batches}x{int(size)}", "bns-ft", {"batches": batches, "batch_size": int(size)})
    steps = int(count or 100)
    return Protocol(f"ft:{steps}", "ft", {"steps": steps, **FINE_TUNING})


@dataclass
class Score:
    accuracy: float
    loss: float
    seconds: float
    predictions: np.ndarray | None = None
    losses: np.ndarray | None = None


class Evaluator:
    """Scores cells with one super-net state in memory."""

    def __init__(self, model: torch.nn.Module, data: Dataset, config: TrainingConfig, protocol: Protocol,
                 device: torch.device, seed: int, batch_size: int = 1000) -> None:
        self.model, self.data, self.config, self.protocol = model, data, config, protocol
        self.device, self.seed, self.batch_size = device, seed, batch_size
        self._validation: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    def _training_batches(self, count: int, architecture_id: int):
        """Fixed training batches for one architecture (same ones at every rerun)."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + architecture_id)
        size = self.protocol.parameters.get("batch_size") or self.config.batch_size  # bns-ft:BxS
        n, size = len(self.data.train), min(size, len(self.data.train))
        for _ in range(count):
            indices = torch.randint(0, n, (size,), generator=generator)
            yield self.data.training_batch(indices, generator)

    def _reestimate_batch_norm(self, cell, architecture_id: int) -> None:
        layers = batchnorm_layers(self.model)
        momenta = [layer.momentum for layer in layers]
        for layer in layers:
            layer.reset_running_stats()
            layer.momentum = None  # the exact average over the batches since the reset
        self.model.train()
        try:
            with torch.no_grad():
                for x, _ in self._training_batches(self.protocol.parameters["batches"], architecture_id):
                    self.model(x, cell)
        finally:
            for layer, momentum in zip(layers, momenta):
                layer.momentum = momentum

    def _fine_tune(self, cell, architecture_id: int, after_step=None) -> None:
        """S steps of SGD on the architecture; `after_step(s)` runs after step s (a curve)."""
        optimizer = MaskedOptimizer(self.model.named_parameters(), TrainingConfig(space=self.config.space, **FINE_TUNING))
        usage = ParameterUsage()
        self.model.train()
        for step, (x, y) in enumerate(self._training_batches(self.protocol.parameters["steps"], architecture_id), 1):
            usage.clear()
            with recording(usage):
                F.cross_entropy(self.model(x, cell), y).backward()
            optimizer.step(FINE_TUNING["learning_rate"], usage)
            self.model.zero_grad(set_to_none=True)
            if after_step is not None:
                after_step(step)
                self.model.train()

    def _changed_by_protocol(self) -> list[torch.Tensor]:
        """The tensors the protocol overwrites: batch-norm buffers (bns-ft), or everything (ft)."""
        if self.protocol.name == "bns-ft":
            return list(self.model.buffers())
        if self.protocol.name == "ft":
            return list(self.model.state_dict().values())
        return []

    def _validation_batches(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The normalized validation set, made once: every architecture sees the same images."""
        if self._validation is None:
            self._validation = list(self.data.validation_batches(self.batch_size))
        return self._validation

    def _validate(self, cell, keep_predictions: bool = False) -> Score:
        self.model.eval()
        losses, predictions = [], []
        with torch.inference_mode():
            for x, y in self._validation_batches():
                logits = self.model(x, cell).float()
                losses.append(F.cross_entropy(logits, y, reduction="none"))
                predictions.append(logits.argmax(1))
        losses_t, predictions_t = torch.cat(losses), torch.cat(predictions)
        accuracy = float((predictions_t == self.data.valid.labels).float().mean())
        score = Score(accuracy, float(losses_t.mean()), 0.0)
        if keep_predictions:
            score.predictions = predictions_t.cpu().numpy().astype(np.int16)
            score.losses = losses_t.cpu().numpy().astype(np.float32)
        return score

    @contextmanager
    def _on_a_copy(self):
        """Whatever the protocol overwrites is put back afterwards, error or not."""
        changed = self._changed_by_protocol()
        saved = [t.clone() for t in changed]
        try:
            yield
        finally:
            with torch.no_grad():
                for tensor, copy in zip(changed, saved):
                    tensor.copy_(copy)

    def score(self, cell, architecture_id: int, keep_predictions: bool = False) -> Score:
        started = time.perf_counter()
        with self._on_a_copy():
            if self.protocol.name == "bns-ft":
                self._reestimate_batch_norm(cell, architecture_id)
            elif self.protocol.name == "ft":
                self._fine_tune(cell, architecture_id)
            score = self._validate(cell, keep_predictions)
        score.seconds = time.perf_counter() - started
        return score

    def score_curve(self, cell, architecture_id: int) -> list[Score]:
        """ft:S scored after each of its S steps (Zhang et al. 2020, Deeper Insights, Figure 4):
        the score after step s is what ft:s gives, since ft:s fine-tunes on the first s of the
        same batches. Seconds are cumulative (fine-tuning and every validation so far)."""
        started = time.perf_counter()
        curve: list[Score] = []

        def after_step(step: int) -> None:
            curve.append(self._validate(cell))
            curve[-1].seconds = time.perf_counter() - started

        with self._on_a_copy():
            self._fine_tune(cell, architecture_id, after_step)
        return curve


# --- the warehouse side ------------------------------------------------------------------


def ensure_protocol(connection: sa.Connection, protocol: Protocol) -> None:
    insert_new_rows(connection, EvaluationProtocol.__table__, {
        "id": [protocol.id], "name": [protocol.name], "parameters_json": [json.dumps(protocol.parameters, sort_keys=True)],
        "description": [protocol.description],
    })


def random_sample(connection: sa.Connection, space: str, subspace: str, n: int, seed: int) -> str:
    """The sample of n distinct canonical architectures of the (sub)space drawn with `seed`
    from what the warehouse holds (from the space's own sampler where it cannot be enumerated:
    DARTS, whose draws are stored as they come); made once, reused afterwards."""
    name = f"random/{space}/{subspace}/{n}/{seed}"
    exists = connection.execute(sa.select(ArchitectureSample.name).where(ArchitectureSample.name == name)).all()
    if exists:
        return name
    rng = np.random.default_rng(seed)
    if registry.get_space(space).enumerable:
        pool = load_pool(connection, space, subspace)
        chosen = [pool.architecture_ids[i] for i in rng.choice(len(pool), size=min(n, len(pool)), replace=False)]
        origin = f"drawn uniformly with seed {seed} from the {len(pool)} the warehouse held"
    else:
        chosen = _drawn_from_sampler(connection, space, subspace, n, rng)
        origin = f"drawn with seed {seed} by the space's sampler (uniform over raw genotypes), duplicates redrawn"
    insert_new_rows(connection, ArchitectureSample.__table__, {
        "name": [name], "search_space": [space], "subspace": [subspace], "seed": [seed], "created_at": [utcnow()],
        "description": [f"{len(chosen)} canonical {space} architectures of {subspace} {origin}"],
    })
    insert_new_rows(connection, ArchitectureSampleMember.__table__, {
        "sample_name": [name] * len(chosen), "position": list(range(len(chosen))), "architecture_id": chosen,
    })
    return name


def scoring_space(config: TrainingConfig, supernet_id: str):
    """The space of a super-net that scores architectures; NAS-Bench-1Shot1's one-shot model
    scores none (an NB101 class stands for many of its configurations)."""
    space = supernet_space(config)
    if isinstance(space, OneShot1Training):
        raise WsdbError(f"super-net {supernet_id} is NAS-Bench-1Shot1's one-shot model: an NB101 class stands for "
                        "many of its configurations, so it scores none; each checkpoint stores its derived "
                        "architecture (wsdb report differentiable, wsdb query derived_accuracy)")
    return space


def _drawn_from_sampler(connection: sa.Connection, space: str, subspace: str, n: int, rng) -> list[int]:
    """n distinct classes from a space's sampler, stored (with their drawn encodings)."""
    if subspace != "FULL":
        raise WsdbError(f"{space} cannot be enumerated: random samples are drawn from its whole space, not {subspace}")
    sampler = training_space(space)
    archs: dict[str, object] = {}
    encodings = []
    while len(archs) < n:
        cell = sampler.random_cell(rng, subspace)
        arch = sampler.canonical(cell)
        archs.setdefault(arch.canonical_key, arch)
        encodings.append(("darts-genotype", darts_space.genotype_text(*cell), arch.canonical_key))
    ids, _, _ = store_architectures(connection, list(archs.values()), encodings)
    return [ids[key] for key in archs]


def sample_architectures(connection: sa.Connection, name: str, space: str) -> list[tuple[int, str]]:
    """(architecture id, canonical encoding) of a sample, first occurrence order, distinct."""
    sample = connection.execute(sa.select(ArchitectureSample.search_space).where(ArchitectureSample.name == name)).all()
    if not sample:
        raise WsdbError(f"no architecture sample named {name!r} (wsdb sql \"SELECT name FROM architecture_samples\")")
    if sample[0][0] != space:
        raise WsdbError(f"sample {name!r} holds {sample[0][0]} architectures, the super-net is {space}")
    rows = connection.execute(sa.text(
        "SELECT m.architecture_id, a.canonical_encoding FROM architecture_sample_members m "
        "JOIN architectures a ON a.id = m.architecture_id WHERE m.sample_name = :name ORDER BY m.position"
    ), {"name": name}).all()
    return list(dict.fromkeys((r[0], r[1]) for r in rows))


def _select_checkpoints(checkpoints: list, which: str) -> list:
    if not checkpoints:
        return []
    if which == "latest":
        return [checkpoints[-1]]
    if which == "all":
        return checkpoints
    chosen = [c for c in checkpoints if c.label == which or (which.isdigit() and c.epoch == int(which))]
    if not chosen:
        raise WsdbError(f"--checkpoint {which!r}: no such checkpoint; have {', '.join(c.label for c in checkpoints)}")
    return chosen


@dataclass
class EvaluationSummary:
    supernet_id: str
    sample: str
    protocol: str
    checkpoints: int = 0
    scored: int = 0
    skipped: int = 0
    seconds: float = 0.0
    prediction_files: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"super-net {self.supernet_id}, sample {self.sample}, protocol {self.protocol}: "
                f"{self.checkpoints} checkpoint(s), {self.scored} architectures scored, {self.skipped} already scored, "
                f"{self.seconds:.1f} s")


def _already_scored(connection, checkpoint_id: str, protocol_id: str) -> set[int]:
    return {r[0] for r in connection.execute(
        sa.select(ProxyScore.architecture_id).where(
            ProxyScore.checkpoint_id == checkpoint_id, ProxyScore.protocol_id == protocol_id,
            ProxyScore.metric == "validation_accuracy", ProxyScore.evaluation_repeat == 0))}


def _has_prediction_file(connection, checkpoint_id: str, protocol_id: str, sample: str) -> bool:
    return connection.execute(sa.select(PredictionFile.id).where(
        PredictionFile.checkpoint_id == checkpoint_id, PredictionFile.protocol_id == protocol_id,
        PredictionFile.sample_name == sample)).all() != []


def store_scores(connection: sa.Connection, checkpoint_id: str, protocol_id: str,
                 scored: list[tuple[int, Score]]) -> None:
    """Validation accuracy and loss of each (architecture id, score) as proxy scores."""
    now = utcnow()
    rows = [(a, metric, value, s.seconds) for a, s in scored
            for metric, value in (("validation_accuracy", s.accuracy), ("validation_loss", s.loss))]
    insert_new_rows(connection, ProxyScore.__table__, {
        "checkpoint_id": [checkpoint_id] * len(rows), "architecture_id": [r[0] for r in rows],
        "protocol_id": [protocol_id] * len(rows), "metric": [r[1] for r in rows],
        "evaluation_repeat": [0] * len(rows), "value": [r[2] for r in rows],
        "elapsed_seconds": [r[3] for r in rows], "evaluated_at": [now] * len(rows),
    })


def _write_predictions(url: str, checkpoint, protocol_id: str, sample: str, labels: np.ndarray,
                       scored: list[tuple[int, Score]]) -> str:
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.attrs["checkpoint_id"], f.attrs["protocol"], f.attrs["sample"] = checkpoint.id, protocol_id, sample
        f.create_dataset("architecture_ids", data=np.array([a for a, _ in scored], dtype=np.int64))
        f.create_dataset("labels", data=labels.astype(np.int16))
        f.create_dataset("predictions", data=np.stack([s.predictions for _, s in scored]), compression="gzip")
        f.create_dataset("losses", data=np.stack([s.losses for _, s in scored]), compression="gzip")
    safe_sample = re.sub(r"[^A-Za-z0-9._-]+", "_", sample)
    uri = f"{checkpoint.uri.rsplit('/', 1)[0]}/predictions/{checkpoint.label}.{protocol_id.replace(':', '-')}.{safe_sample}.h5"
    sha256, size = write_bytes(uri, buffer.getvalue())
    with warehouse(url) as engine, engine.begin() as connection:
        insert_new_rows(connection, PredictionFile.__table__, {
            "id": [uuid.uuid4().hex], "checkpoint_id": [checkpoint.id], "protocol_id": [protocol_id],
            "sample_name": [sample], "uri": [uri], "sha256": [sha256], "size_bytes": [size],
            "architectures": [len(scored)], "images": [len(labels)], "created_at": [utcnow()],
        })
    return uri


def _fitted_model(space, config: TrainingConfig, data: Dataset, device: torch.device, ckpt, supernet_id: str):
    """The super-net with a checkpoint's weights (its sha256 verified, its tensors fitting)."""
    what = f"checkpoint {ckpt.label} of super-net {supernet_id}"
    state = load_checkpoint(ckpt.uri, ckpt.sha256, what)
    model = space.build_supernet(config, data.num_classes).to(device)
    with fitting(what):
        model.load_state_dict(state["model"])
    return model.to(memory_format=torch.channels_last)


def evaluate_supernet(url: str, supernet: str, protocol_text: str, sample: str | None = None, n: int | None = None,
                      seed: int = 0, checkpoint: str = "latest", save_predictions: bool = False,
                      data_dir: str | None = None, device: str | None = None, batch_size: int = 1000,
                      progress: bool = True, keep_going=None, curve: bool = False) -> EvaluationSummary:
    """Score a sample (or N random architectures) with checkpoints of a trained super-net.
    `keep_going` is asked before each architecture (a worker's lease); False raises
    RunInterrupted (scores are stored as they come, see FLUSH_SECONDS; a rerun skips them).
    With `curve` (protocol ft:S only) each architecture is scored after each of the S steps,
    under protocols ft:1 ... ft:S."""
    protocol = parse_protocol(protocol_text)
    if curve and (protocol.name != "ft" or save_predictions):
        raise WsdbError(f"--curve scores fine-tuning step by step: it needs --protocol ft:STEPS (not {protocol.id}) "
                        "and no --save-predictions")
    if protocol is ARCHITECTURE_WEIGHTS:
        return score_by_architecture_weights(url, supernet, sample, n, seed, checkpoint)
    if (sample is None) == (n is None):
        raise WsdbError("give exactly one of --sample NAME or --n COUNT")
    steps = [parse_protocol(f"ft:{s}") for s in range(1, protocol.parameters["steps"] + 1)] if curve else [protocol]
    # Everything that can be wrong is checked before anything is written: the super-net, its
    # checkpoints (the first one read and fitted), the data; then the protocol and the sample.
    with warehouse(url, read_only=True) as engine, engine.connect() as connection:
        row = lookup.supernet(connection, supernet)
        if row.origin != "trained":
            raise WsdbError(f"super-net {row.id} was imported without weights: it cannot evaluate")
        checkpoints = _select_checkpoints(records.checkpoints_of(connection, row.id), checkpoint)
    if not checkpoints:
        raise WsdbError(f"super-net {row.id} has no checkpoint yet")
    config = TrainingConfig.from_json(row.config_json)
    data_dir = data_dir or row.data_dir  # the data the super-net was trained on, unless told otherwise
    torch_device = pick_device(device)
    space = scoring_space(config, row.id)
    data = load_dataset(config.dataset, data_dir, torch_device, config.train_portion, config.synthetic_images)
    first = {checkpoints[0].id: _fitted_model(space, config, data, torch_device, checkpoints[0], row.id)}
    with warehouse(url) as engine, engine.begin() as connection:
        for each in steps:
            ensure_protocol(connection, each)
        sample = sample or random_sample(connection, row.search_space, row.subspace or "FULL", n, seed)
        architectures = sample_architectures(connection, sample, row.search_space)
    summary = EvaluationSummary(row.id, sample, protocol.id)
    started = time.perf_counter()
    for ckpt in checkpoints:
        summary.checkpoints += 1
        with warehouse(url) as engine, engine.connect() as connection:
            done = _already_scored(connection, ckpt.id, steps[-1].id)
            want_file = save_predictions and not _has_prediction_file(connection, ckpt.id, protocol.id, sample)
        todo = [(a, e) for a, e in architectures if want_file or a not in done]
        summary.skipped += len(architectures) - len(todo)
        if not todo:
            continue
        model = first.pop(ckpt.id, None) or _fitted_model(space, config, data, torch_device, ckpt, row.id)
        evaluator = Evaluator(model, data, config, protocol, torch_device, row.seed or 0, batch_size)
        pending, kept = [], []
        last_write = time.perf_counter()

        def flush() -> None:
            nonlocal pending, last_write
            if pending:
                with warehouse(url) as engine, engine.begin() as connection:
                    for k, each in enumerate(steps):  # the last protocol last: what a rerun checks
                        store_scores(connection, ckpt.id, each.id, [(a, s[k]) for a, s in pending])
                summary.scored += len(pending)
            pending, last_write = [], time.perf_counter()

        try:
            for i, (architecture_id, encoding) in enumerate(todo, start=1):
                check_keep_going(keep_going)
                if curve:
                    scores = evaluator.score_curve(space.decode(encoding), architecture_id)
                else:
                    scores = [evaluator.score(space.decode(encoding), architecture_id, keep_predictions=want_file)]
                score = scores[-1]
                if architecture_id not in done:
                    pending.append((architecture_id, scores))
                if want_file:
                    kept.append((architecture_id, score))
                if (len(pending) >= FLUSH_EVERY or i == len(todo)
                        or time.perf_counter() - last_write >= FLUSH_SECONDS):
                    flush()
                if progress and (sys.stderr.isatty() or i % 100 == 0 or i == len(todo)):
                    print(f"{ckpt.label}: {i}/{len(todo)} architectures, last {score.accuracy:.4f} in "
                          f"{score.seconds:.2f} s", end="\r" if sys.stderr.isatty() and i < len(todo) else "\n",
                          file=sys.stderr)
        except (RunInterrupted, KeyboardInterrupt):
            flush()  # what was scored is kept
            raise
        if want_file:
            summary.prediction_files.append(
                _write_predictions(url, ckpt, protocol.id, sample, data.valid.labels.cpu().numpy(), kept))
    summary.seconds = time.perf_counter() - started
    return summary


def score_by_architecture_weights(url: str, supernet: str, sample: str | None, n: int | None, seed: int,
                                  checkpoint: str) -> EvaluationSummary:
    """Protocol architecture-weights: each architecture's score is Σ_e log θ[e, its operation
    on e] under a checkpoint's θ (stored as rows by differentiable training), metric
    architecture_log_likelihood. Every class of the super-net's (sub)space unless a sample or
    --n names fewer; a class is scored through its canonical encoding (NB201 isomorphic cells
    place operations on other edges and can score otherwise)."""
    started = time.perf_counter()
    with warehouse(url) as engine, engine.begin() as connection:
        row = lookup.supernet(connection, supernet)
        config = TrainingConfig.from_json(row.config_json)
        if config.search is None:
            raise WsdbError(f"super-net {row.id} was trained by sampling: it has no architecture weights "
                            "(protocol architecture-weights needs --search darts, gdas or pc-darts)")
        space = scoring_space(config, row.id)
        ensure_protocol(connection, ARCHITECTURE_WEIGHTS)
        subspace = row.subspace or "FULL"
        if sample is None and n is not None:
            sample = random_sample(connection, row.search_space, subspace, n, seed)
        if sample is not None:
            architectures = sample_architectures(connection, sample, row.search_space)
        else:
            pool = load_pool(connection, row.search_space, subspace)
            architectures = list(zip(pool.architecture_ids, pool.encodings))
        checkpoints = _select_checkpoints(records.checkpoints_of(connection, row.id), checkpoint)
        summary = EvaluationSummary(row.id, sample or f"all of {row.search_space}/{subspace}", ARCHITECTURE_WEIGHTS.id)
        for ckpt in checkpoints:
            summary.checkpoints += 1
            theta = {(edge, op): weight for edge, op, weight in connection.execute(sa.text(
                "SELECT edge, operation, weight FROM architecture_weights WHERE checkpoint_id = :c"), {"c": ckpt.id})}
            if not theta:
                raise WsdbError(f"checkpoint {ckpt.label} of super-net {row.id} has no architecture weights stored")
            done = {a for (a,) in connection.execute(sa.select(ProxyScore.architecture_id).where(
                ProxyScore.checkpoint_id == ckpt.id, ProxyScore.protocol_id == ARCHITECTURE_WEIGHTS.id))}
            todo = [(a, e) for a, e in architectures if a not in done]
            summary.skipped += len(architectures) - len(todo)
            values = [sum(np.log(max(theta[(edge, op)], 1e-300)) for edge, op in space.theta_edges(space.decode(encoding)))
                      for _, encoding in todo]
            now = utcnow()
            insert_new_rows(connection, ProxyScore.__table__, {
                "checkpoint_id": [ckpt.id] * len(todo), "architecture_id": [a for a, _ in todo],
                "protocol_id": [ARCHITECTURE_WEIGHTS.id] * len(todo), "metric": [LOG_LIKELIHOOD] * len(todo),
                "evaluation_repeat": [0] * len(todo), "value": [float(v) for v in values],
                "elapsed_seconds": [0.0] * len(todo), "evaluated_at": [now] * len(todo)})
            summary.scored += len(todo)
    if not checkpoints:
        raise WsdbError(f"super-net {row.id} has no checkpoint yet")
    summary.seconds = time.perf_counter() - started
    return summary
