"""The full configuration of a super-net training run, validated once here.

Defaults follow the papers: nb101 as Pourchot et al. 2020 (RMSProp in TensorFlow convention, lr 0.2
cosine to 0, momentum 0.9, epsilon 1, weight decay 1e-4, batch 256, 16 initial channels, BN
momentum 0.003 = TF's 0.997), ws64 as Zhang et al. 2020 (Deeper Insights) (SGD lr 0.025 cosine to 0.001, momentum
0.9, weight decay 1e-3, BN momentum 0.4), nb201 as the NAS-Bench-201 paper's one-shot
baselines (SGD lr 0.025 cosine to 0.001, momentum 0.9, weight decay 5e-4), darts as DARTS' CIFAR-10 search (Liu et al. 2019: SGD lr 0.025 cosine
to 0.001, momentum 0.9, weight decay 3e-4, batch 64, 50 epochs, 8 cells of 16 channels, batch
norm without affine parameters, gradients clipped to norm 5); a search on nb101 (NAS-Bench-1Shot1's
one-shot model) as Zela, Siems, Hutter 2020's DARTS setup (SGD lr 0.025 cosine to 0.001, momentum
0.9, weight decay 3e-4, batch 96, 50 epochs, 9 cells of 16 channels, gradients clipped to norm 5,
NAS-Bench-101's batch norm: momentum 0.003 = TF's 0.997). The seed is kept
out of the configuration (super-nets of one configuration differ only by seed, which is
what the analyses group by).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

from wsdb.base.errors import WsdbError
from wsdb.base.files import regular_input
from wsdb.spaces.one_shot1 import SUBSPACES as ONE_SHOT1_SUBSPACES

SPACES = ("nb101", "nb201", "ws64", "darts")
SAMPLERS = ("uniform", "random-a", "fairnas", "pro-rata")
OPTIMIZERS = ("rmsprop", "sgd")
DATASETS = ("cifar10", "cifar10-valid", "cifar10-full", "cifar100", "ImageNet16-120", "synthetic", "npz")
SCHEDULES = ("cosine", "constant")
SEARCHES = ("darts", "gdas", "pc-darts")
SLICINGS = ("first", "interpolate", "shuffle")
SAMPLING_ORDERS = ("random", "fixed", "fixed-shuffled")
# Architecture learning rates: DARTS and GDAS 3e-4, PC-DARTS 6e-4 (Adam, their papers' CIFAR
# setups); the exponentiated update's step size is wsdb's default, 0.1 (GAEA tunes it per
# space: set architecture_lr).
ARCHITECTURE_LR = {("darts", "adam"): 3e-4, ("gdas", "adam"): 3e-4, ("pc-darts", "adam"): 6e-4}
EXPONENTIATED_LR = 0.1

SPACE_DEFAULTS: dict[str, dict] = {
    "nb101": {"optimizer": "rmsprop", "learning_rate": 0.2, "lr_min": 0.0, "weight_decay": 1e-4, "epochs": 432,
              "epsilon": 1.0, "bn_momentum": 0.003, "initial_channels": 16, "cells_per_stack": 3,
              "dataset": "cifar10"},
    "nb201": {"optimizer": "sgd", "learning_rate": 0.025, "lr_min": 0.001, "weight_decay": 5e-4, "epochs": 250,
              "bn_momentum": 0.1, "initial_channels": 16, "cells_per_stack": 5, "dataset": "cifar10-valid"},
    "ws64": {"optimizer": "sgd", "learning_rate": 0.025, "lr_min": 0.001, "weight_decay": 1e-3, "epochs": 200,
             "bn_momentum": 0.4, "initial_channels": 16, "cells_per_stack": 4, "dataset": "cifar10"},
    "darts": {"optimizer": "sgd", "learning_rate": 0.025, "lr_min": 0.001, "weight_decay": 3e-4, "epochs": 50,
              "batch_size": 64, "bn_momentum": 0.1, "bn_affine": False, "gradient_clip": 5.0,
              "initial_channels": 16, "cells_per_stack": 8, "dataset": "cifar10"},
}

# A search on nb101 trains NAS-Bench-1Shot1's one-shot model (their experiments/configs/darts_config.yaml)
ONE_SHOT1_DEFAULTS = {"optimizer": "sgd", "learning_rate": 0.025, "lr_min": 0.001, "weight_decay": 3e-4,
                      "epochs": 50, "batch_size": 96, "gradient_clip": 5.0, "epsilon": 1.0}


@dataclass(frozen=True)
class TrainingConfig:
    space: str
    subspace: str = "FULL"
    sampler: str = "uniform"
    architectures_per_batch: int = 1  # AVG-k: losses of k architectures averaged per step
    slicing: str = "first"  # nb101 dynamic channels: first c, "interpolate" or "shuffle" (Yu et al. 2020)
    single_kernel: bool = False  # nb101 SINGLE-K: 1x1 kernel = centre of the 3x3 kernel
    # The factors of Yu et al. 2020's Table 4 (trainers/layers.py, trainers/sharing.py)
    super_kernel: str | None = None  # "ofa": smaller kernels are learned maps of the largest's centre
    wsbn: bool = False  # one batch norm per incoming edge of a node-shared operation
    global_dropout: float = 0.0  # dropout before global pooling
    path_dropout: float = 0.0  # drop each incoming edge of a node (never all of them)
    sharing: str = "edge"  # nb201/ws64: operation weights per edge, or per node
    # The degree of sharing of Zhang et al. 2020 (Deeper Insights), ws64
    sharing_groups: int = 1  # m copies of the weights, each trained by its group of architectures
    grouping: str = "similarity"  # how the 64 split into groups: similarity or random
    grouping_seed: int = 0  # the seed of a random grouping (the same partition for every run seed)
    groups: list | None = None  # the partition itself, recorded (derived from the three keys above)
    prefix_sharing: int | None = None  # only the stem and the first k cells are shared
    sampling_order: str = "random"  # random (i.i.d.), fixed (one seeded order repeated), fixed-shuffled
    evaluate_last_steps: int = 0  # score every architecture after each of the last k steps (step-N)
    initial_channels: int = 16  # nb101 stem / nb201 C / ws64 cell channels / darts C
    cells_per_stack: int = 3  # nb101 cells per stack, nb201 N, ws64 number of cells, darts cells (layers)
    node_merge: str = "concat"  # ws64 cell output
    bn_momentum: float = 0.1  # PyTorch convention
    bn_eps: float = 1e-5
    bn_affine: bool = True
    bn_track_running_stats: bool = True
    optimizer: str = "sgd"
    learning_rate: float = 0.025
    lr_min: float = 0.0
    lr_schedule: str = "cosine"
    momentum: float = 0.9
    epsilon: float = 1.0  # RMSProp, inside the square root (TensorFlow)
    rms_decay: float = 0.9
    weight_decay: float = 1e-4
    gradient_clip: float | None = None  # the gradient's global L2 norm at most this (Zhang, Zhang, Yang 2020: 5)
    batch_size: int = 256
    epochs: int = 432
    train_portion: float = 1.0
    dataset: str = "cifar10"
    synthetic_images: int = 2048  # synthetic dataset: training images (validation: a quarter)
    checkpoint_every: int = 1  # epochs
    # differentiable weight sharing (trainers/differentiable.py); search None = sampling
    search: str | None = None  # darts, gdas, pc-darts
    architecture_update: str = "adam"  # adam on alpha, or exponentiated on theta (GAEA)
    formulation: str = "bilevel"  # bilevel (first order, DARTS) or single-level (GAEA's ERM)
    architecture_lr: float | None = None  # None: the method's published default (ARCHITECTURE_LR)
    architecture_weight_decay: float = 1e-3  # DARTS, GDAS, PC-DARTS
    gdas_tau_max: float = 10.0  # GDAS on NAS-Bench-201 (Dong & Yang 2019)
    gdas_tau_min: float = 0.1
    partial_channels: int = 4  # PC-DARTS' K
    extra: dict = field(default_factory=dict)  # free-form notes kept with the configuration

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def as_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "TrainingConfig":
        return make_config(json.loads(text))


# The range of every numeric key: (lowest, highest, whether the ends are allowed), one rule for
# values from options, YAML files, sweeps and stored configurations. NaN and infinities are
# never a setting.
RANGES = {
    "architectures_per_batch": (1, None), "global_dropout": (0, 1, "[)"), "path_dropout": (0, 1, "[)"),
    "sharing_groups": (1, 64), "grouping_seed": (0, None), "prefix_sharing": (0, None), "evaluate_last_steps": (0, None),
    "initial_channels": (1, None), "cells_per_stack": (1, None), "bn_momentum": (0, 1), "bn_eps": (0, None, "()"),
    "learning_rate": (0, None, "()"), "lr_min": (0, None), "momentum": (0, 1, "[)"), "epsilon": (0, None, "()"),
    "rms_decay": (0, 1, "[)"), "weight_decay": (0, None), "gradient_clip": (0, None, "()"), "batch_size": (1, None),
    "epochs": (1, None), "train_portion": (0, 1, "(]"), "synthetic_images": (1, None), "checkpoint_every": (1, None),
    "architecture_lr": (0, None, "()"), "architecture_weight_decay": (0, None), "gdas_tau_max": (0, None, "()"),
    "gdas_tau_min": (0, None, "()"), "partial_channels": (1, None),
}


def number_problem(dataclass_value, ranges: dict) -> str | None:
    """The first numeric field of a dataclass (a configuration, a recipe) whose value is not a
    finite number of its type in its range (`ranges`: name -> (low, high[, ends]))."""
    for f in fields(dataclass_value):
        if f.name not in ranges:
            continue
        value = getattr(dataclass_value, f.name)
        if value is None and "None" in str(f.type):
            continue
        whole = str(f.type).startswith("int")
        if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
            return f"{f.name} must be {'a whole number' if whole else 'a number'}, not {value!r}"
        if not math.isfinite(value):
            return f"{f.name} must be a finite number, not {value!r}"
        low, high, *ends = ranges[f.name]
        ends = ends[0] if ends else "[]"
        if (value < low or (ends[0] == "(" and value == low)
                or (high is not None and (value > high or (ends[1] == ")" and value == high)))):
            shown = f"{ends[0]}{low}, {'inf' if high is None else high}{ends[1] if high is not None else ')'}"
            return f"{f.name} must be in {shown}, not {value!r}"
    return None


def _combination_problem(config: TrainingConfig) -> str | None:
    """Keys that the rest of the configuration would ignore are refused, not dropped."""
    if config.search is None:
        given = [name for name, value, default in (
            ("architecture_lr", config.architecture_lr, None),
            ("architecture_update", config.architecture_update, "adam"),
            ("formulation", config.formulation, "bilevel")) if value != default]
        if given:
            return f"{', '.join(given)} set the architecture weights of a search: they need search (darts, gdas, pc-darts)"
    else:
        if config.sampler != "uniform" or config.architectures_per_batch != 1:
            return (f"search {config.search} weighs every operation at once: sampler and architectures_per_batch "
                    "apply to sampling (leave them out)")
    if config.search != "pc-darts" and config.partial_channels != 4:
        return "partial_channels is PC-DARTS' K: it needs search pc-darts"
    return None


def _problem(config: TrainingConfig) -> str | None:
    problem = number_problem(config, RANGES) or _combination_problem(config)
    if problem:
        return problem
    checks = [
        (config.space in SPACES, f"space must be one of {', '.join(SPACES)}, not {config.space!r}"),
        (config.sampler in SAMPLERS, f"sampler must be one of {', '.join(SAMPLERS)}, not {config.sampler!r}"),
        (config.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {config.optimizer!r}"),
        (config.dataset in DATASETS, f"dataset must be one of {', '.join(DATASETS)}, not {config.dataset!r}"),
        (config.lr_schedule in SCHEDULES, f"lr_schedule must be one of {', '.join(SCHEDULES)}"),
        (config.slicing in SLICINGS, f"slicing must be one of {', '.join(SLICINGS)}, not {config.slicing!r}"),
        (config.node_merge in ("concat", "sum"), "node_merge must be 'concat' or 'sum'"),
        (config.architectures_per_batch >= 1, "architectures_per_batch must be at least 1"),
        (config.epochs >= 1 and config.batch_size >= 1, "epochs and batch_size must be positive"),
        (0.0 < config.train_portion <= 1.0, "train_portion must be in (0, 1]"),
        (config.checkpoint_every >= 1, "checkpoint_every must be at least 1"),
        (config.initial_channels >= 1 and config.cells_per_stack >= 1, "channels and cells must be positive"),
        (not (config.sampler == "fairnas" and config.architectures_per_batch > 1),
         "fairnas trains its own group of architectures per step: leave architectures_per_batch at 1"),
        (not (config.single_kernel and config.space != "nb101"), "single_kernel applies to nb101 only"),
        (not (config.slicing != "first" and config.space != "nb101"), "slicing applies to nb101 only"),
        (config.search is None or config.search in SEARCHES,
         f"search must be one of {', '.join(SEARCHES)} (or absent: sampling), not {config.search!r}"),
        (config.search is None or config.space != "nb101" or config.subspace.upper() in ONE_SHOT1_SUBSPACES,
         "search on nb101 trains NAS-Bench-1Shot1's one-shot model of one of its search spaces: set subspace "
         f"{', '.join(ONE_SHOT1_SUBSPACES)} (Zela, Siems, Hutter 2020)"),
        (config.search is None or config.space != "nb101" or not (
            config.slicing != "first" or config.single_kernel or config.super_kernel or config.path_dropout
            or config.global_dropout or config.evaluate_last_steps),
         "NAS-Bench-1Shot1's one-shot model (search on nb101) has no slicing, single_kernel, super_kernel, "
         "path_dropout, global_dropout or evaluate_last_steps: those belong to nb101's sampled super-net"),
        (config.space != "darts" or config.sampler in ("uniform", "fairnas"),
         f"sampler {config.sampler} draws from the stored classes of an enumerated space; the DARTS space "
         "cannot be enumerated: use uniform (random search with weight sharing) or fairnas"),
        (config.space != "darts" or config.cells_per_stack >= 3,
         "darts needs at least 3 cells (cells_per_stack): reductions sit at 1/3 and 2/3 of the depth"),
        (config.space != "darts" or config.evaluate_last_steps == 0,
         "evaluate_last_steps scores every architecture of the space; the DARTS space cannot be enumerated"),
        (config.architecture_update in ("adam", "exponentiated"), "architecture_update must be adam or exponentiated"),
        (config.formulation in ("bilevel", "single-level"), "formulation must be bilevel or single-level"),
        (config.architecture_lr is None or config.architecture_lr > 0, "architecture_lr must be positive"),
        (0 < config.gdas_tau_min <= config.gdas_tau_max, "gdas_tau_min and gdas_tau_max need 0 < min <= max"),
        (config.partial_channels >= 1 and (config.search != "pc-darts"
                                           or config.initial_channels % config.partial_channels == 0),
         f"partial_channels ({config.partial_channels}) must divide the channels ({config.initial_channels})"),
    ]
    return next((message for ok, message in checks if not ok), None) or _sharing_problem(config)


def _sharing_problem(config: TrainingConfig) -> str | None:
    """The factors of Yu et al. 2020 and Zhang et al. 2020 (Deeper Insights): each message names
    the keys that clash."""
    edge_space = config.space in ("nb201", "ws64")
    cells = config.cells_per_stack
    checks = [
        (config.super_kernel in (None, "ofa"), f"super_kernel must be ofa (or absent), not {config.super_kernel!r}"),
        (not (config.super_kernel and config.single_kernel),
         "super_kernel and single_kernel both derive the 1x1 kernel from the 3x3: choose one"),
        (config.sharing in ("edge", "node"), f"sharing must be edge or node, not {config.sharing!r}"),
        (config.sharing == "edge" or edge_space,
         "sharing: node applies to nb201 and ws64 (nb101 shares per node by construction)"),
        (not config.wsbn or edge_space,
         "wsbn needs a space whose operations sit on edges (nb201, ws64): nb101 applies each vertex's operation "
         "to the sum of its inputs"),
        (not config.wsbn or config.sharing == "node",
         "wsbn keeps one batch norm per incoming edge of an operation shared by a node's edges: set sharing: node "
         "(with sharing: edge every edge owns its operation and batch norm already)"),
        (0.0 <= config.global_dropout < 1.0 and 0.0 <= config.path_dropout < 1.0,
         "global_dropout and path_dropout are probabilities in [0, 1)"),
        (config.sharing_groups >= 1, "sharing_groups must be at least 1"),
        (config.sharing_groups == 1 or config.space == "ws64",
         "sharing_groups applies to ws64, the space Zhang et al. split into groups"),
        (config.sharing_groups == 1 or 64 % config.sharing_groups == 0,
         f"sharing_groups ({config.sharing_groups}) must divide the 64 architectures of ws64 (1, 2, 4, ..., 64)"),
        (config.grouping in ("similarity", "random"), f"grouping must be similarity or random, not {config.grouping!r}"),
        (config.prefix_sharing is None or config.space == "ws64", "prefix_sharing applies to ws64"),
        (config.prefix_sharing is None or 0 <= config.prefix_sharing <= cells,
         f"prefix_sharing ({config.prefix_sharing}) must be between 0 and the number of cells, "
         f"cells_per_stack ({cells})"),
        (config.prefix_sharing is None or config.sharing_groups == 1,
         "sharing_groups and prefix_sharing are two ways to reduce sharing: use one"),
        (config.sampling_order in SAMPLING_ORDERS,
         f"sampling_order must be one of {', '.join(SAMPLING_ORDERS)}, not {config.sampling_order!r}"),
        (config.sampling_order == "random" or edge_space,
         "sampling_order fixed/fixed-shuffled cycles through an enumerated space: nb201 or ws64"),
        (config.sampling_order == "random" or config.sampler in ("uniform", "random-a"),
         f"sampling_order {config.sampling_order} replaces the sampler's draws: it needs sampler uniform or "
         f"random-a, not {config.sampler}"),
        (config.evaluate_last_steps >= 0, "evaluate_last_steps must be 0 or more"),
        (config.search is None or (config.sharing_groups == 1 and config.prefix_sharing is None
                                   and config.sampling_order == "random"),
         "search (differentiable weight sharing) trains one super-net on every operation at once: "
         "sharing_groups, prefix_sharing and sampling_order apply to sampling"),
    ]
    return next((message for ok, message in checks if not ok), None)


def make_config(values: dict) -> TrainingConfig:
    """Configuration from plain values (YAML file, CLI options): space defaults first."""
    values = {k: v for k, v in values.items() if v is not None}
    space = values.get("space")
    if space not in SPACES:
        raise WsdbError(f"space must be one of {', '.join(SPACES)}, not {space!r}")
    known = {f.name for f in fields(TrainingConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise WsdbError(f"unknown configuration key(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    searched_nb101 = space == "nb101" and values.get("search") is not None
    config = TrainingConfig(**{**SPACE_DEFAULTS[space], **(ONE_SHOT1_DEFAULTS if searched_nb101 else {}), **values})
    problem = _problem(config)
    if problem:
        raise WsdbError(f"configuration: {problem}")
    config = _with_groups(config)
    if config.search is not None and config.architecture_lr is None:
        default = (EXPONENTIATED_LR if config.architecture_update == "exponentiated"
                   else ARCHITECTURE_LR[(config.search, config.architecture_update)])
        config = dataclasses.replace(config, architecture_lr=default)
    return config


def _with_groups(config: TrainingConfig) -> TrainingConfig:
    """The partition of a grouped run, recorded in its configuration; a configuration read back
    (or written by hand) must hold the partition its keys describe."""
    from wsdb.spaces import ws64

    expected = (ws64.groups(config.sharing_groups, config.grouping, config.grouping_seed)
                if config.sharing_groups > 1 else None)
    if config.groups is not None and [sorted(map(str, g)) for g in config.groups] != expected:
        raise WsdbError("configuration: groups is recorded from sharing_groups, grouping and grouping_seed and "
                        "disagrees with them: leave groups out")
    return dataclasses.replace(config, groups=expected)


def read_config_file(path: Path) -> dict:
    """A YAML (or JSON) file of configuration keys."""
    import yaml

    try:
        values = yaml.safe_load(regular_input(path, "configuration").read_text())
    except UnicodeDecodeError:
        raise WsdbError(f"{path}: not a text file") from None
    except yaml.YAMLError as error:
        raise WsdbError(f"{path}: not valid YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(values, dict):
        raise WsdbError(f"{path}: expected a mapping of configuration keys")
    return values


def options_config(config_file: Path | None, options: dict) -> TrainingConfig:
    """A configuration from an optional YAML file and command-line options (options win)."""
    values = read_config_file(config_file) if config_file else {}
    values.update({k: v for k, v in options.items() if v is not None})
    return make_config(values)
