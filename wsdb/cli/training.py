"""`wsdb run-supernet`, `wsdb evaluate`, `wsdb simulate`: producing results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from wsdb.warehouse import db as database
from wsdb.base.errors import WsdbError
from wsdb.base.interrupts import safe_points
from wsdb.cli.options import (GROUP_SETTINGS, ArchStrOption, BenchmarkOption, CsvOption, DbOption, EpochBudgetOption,
                              GenotypeOption, IndexOption, JsonOption, LabelOption, MatrixOption, OpsOption,
                              ParquetOption, SpaceOption, TruthDatasetOption, yaml_values)
from wsdb.analyses.output import emit, emit_record

QuietOption = Annotated[bool, typer.Option("--quiet", help="No progress output.")]
DeviceOption = Annotated[Optional[str], typer.Option(metavar="DEVICE", help="cpu, cuda, cuda:1 (default: CUDA when "
                                                     "available).")]


def run_supernet(
    space: Annotated[Optional[str], typer.Option("--space", metavar="SPACE", help="nb101, nb201, ws64 or darts")] = None,
    subspace: Annotated[Optional[str], typer.Option(metavar="NAME", help="Train on this sub-space only: nb101 A1-A4, "
                                                    "RES, NRES, FULL, or any `wsdb spaces list` shows (derived and "
                                                    "constructed ones draw from their members).")] = None,
    sampler: Annotated[Optional[str], typer.Option(metavar="NAME", help="uniform (over encodings, SPOS), random-a "
                       "(over canonical architectures), fairnas, pro-rata (to the parameter count).")] = None,
    avg: Annotated[Optional[int], typer.Option("--avg", min=1, metavar="K", help="AVG-k: architectures per batch, "
                                               "losses averaged.")] = None,
    slicing: Annotated[Optional[str], typer.Option(metavar="KIND", help="nb101 dynamic channels: first (the first c), "
                                                   "interpolate or shuffle.")] = None,
    single_kernel: Annotated[Optional[bool], typer.Option("--single-kernel/--no-single-kernel",
                             help="nb101 SINGLE-K: the 1x1 kernel is the centre of the 3x3.")] = None,
    epochs: Annotated[Optional[int], typer.Option(min=1, metavar="N", help="Training epochs.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1, metavar="N", help="Batch size.")] = None,
    learning_rate: Annotated[Optional[float], typer.Option("--lr", metavar="RATE", help="Initial learning "
                                                           "rate.")] = None,
    channels: Annotated[Optional[int], typer.Option(min=1, metavar="N", help="Initial channels (nb101 stem, nb201 C, "
                                                    "ws64 cell, darts C).")] = None,
    cells: Annotated[Optional[int], typer.Option(min=1, metavar="N", help="Cells per stack (nb101), per stage (nb201), "
                                                 "in all (ws64, darts).")] = None,
    train_portion: Annotated[Optional[float], typer.Option(metavar="FRACTION", help="The portion of the training "
                                                           "split used.")] = None,
    gradient_clip: Annotated[Optional[float], typer.Option(metavar="NORM", help="Scale the gradient to this global "
                             "L2 norm when it is longer (Zhang, Zhang, Yang 2020: 5).")] = None,
    dataset: Annotated[Optional[str], typer.Option(metavar="NAME", help="cifar10, cifar10-valid, cifar100, "
                                                   "ImageNet16-120, npz, synthetic.")] = None,
    synthetic_images: Annotated[Optional[int], typer.Option(min=1, metavar="N", help="With --dataset synthetic: "
                                                            "training images (smoke runs, tests).")] = None,
    checkpoint_every: Annotated[Optional[int], typer.Option(min=1, metavar="N", help="A checkpoint every N epochs "
                                                            "(and at the end).")] = None,
    super_kernel: Annotated[Optional[str], typer.Option(metavar="KIND", help="ofa: smaller kernels are learned "
                            "maps of the largest kernel's centre (nb101 conv1x1, nb201 nor_conv_1x1, ws64 "
                            "sep_conv_3x3).")] = None,
    wsbn: Annotated[Optional[bool], typer.Option("--wsbn/--no-wsbn", help="One batch norm per incoming edge of a "
                    "node-shared operation (needs --sharing node).")] = None,
    global_dropout: Annotated[Optional[float], typer.Option(metavar="P", help="Dropout before global "
                              "pooling.")] = None,
    path_dropout: Annotated[Optional[float], typer.Option(metavar="P", help="Drop each incoming edge of a node with "
                            "probability P (never all of them).")] = None,
    sharing: Annotated[Optional[str], typer.Option(metavar="KIND", help="nb201, ws64: operation weights per edge or "
                       "per node.")] = None,
    sharing_groups: Annotated[Optional[int], typer.Option(min=1, metavar="M", help="ws64: M groups of "
                              "architectures, each with its own copy of the weights (M divides 64).")] = None,
    grouping: Annotated[Optional[str], typer.Option(metavar="KIND", help="With --sharing-groups: similarity "
                        "(slices of 111..444) or random (seeded by --grouping-seed).")] = None,
    grouping_seed: Annotated[Optional[int], typer.Option(metavar="N", help="The seed of a random grouping.")] = None,
    prefix_sharing: Annotated[Optional[int], typer.Option(min=0, metavar="K", help="ws64: share the stem and the "
                              "first K cells only; every architecture keeps its own copy of the rest.")] = None,
    sampling_order: Annotated[Optional[str], typer.Option(metavar="KIND", help="nb201, ws64: random (i.i.d.), fixed "
                              "(one seeded order, repeated) or fixed-shuffled (a new order every pass).")] = None,
    evaluate_last_steps: Annotated[Optional[int], typer.Option(min=0, metavar="K", help="Score every architecture "
                                   "after each of the last K steps (file-less checkpoints step-N).")] = None,
    search: Annotated[Optional[str], typer.Option(metavar="METHOD", help="Differentiable weight sharing instead of "
                      "sampling (nb201, ws64, darts; nb101 with --subspace 1SHOT1-SS1..3: NAS-Bench-1Shot1's one-shot "
                      "model): darts, gdas or pc-darts.")] = None,
    architecture_update: Annotated[Optional[str], typer.Option(metavar="RULE", help="With --search: adam on the "
                                   "logits, or exponentiated on theta (GAEA).")] = None,
    formulation: Annotated[Optional[str], typer.Option(metavar="KIND", help="With --search: bilevel (theta on a "
                           "held-out half of the training split) or single-level (GAEA's ERM).")] = None,
    architecture_lr: Annotated[Optional[float], typer.Option(metavar="RATE", help="With --search: the architecture "
                               "step size (default: the method's published one).")] = None,
    architecture_weight_decay: Annotated[Optional[float], typer.Option(metavar="DECAY", help="With --search and "
                                         "adam: weight decay of the logits.")] = None,
    gdas_tau_max: Annotated[Optional[float], typer.Option(metavar="TAU", help="GDAS: the Gumbel-softmax temperature "
                            "at the start (annealed linearly).")] = None,
    gdas_tau_min: Annotated[Optional[float], typer.Option(metavar="TAU", help="GDAS: the temperature at the "
                            "end.")] = None,
    partial_channels: Annotated[Optional[int], typer.Option(min=1, metavar="K", help="PC-DARTS: 1/K of the channels "
                                "go through the mixed operations.")] = None,
    config_file: Annotated[Optional[Path], typer.Option("--config", metavar="YAML", help="A file of configuration "
                           "keys (README: every key); options given here override it.")] = None,
    seed: Annotated[int, typer.Option(metavar="N", help="Seed of weights, sampling and data order (kept outside the "
                                      "configuration).")] = 0,
    init_seed: Annotated[Optional[int], typer.Option(min=0, metavar="N", help="Seed of the weight initialisation "
                         "alone (default --seed).")] = None,
    sampling_seed: Annotated[Optional[int], typer.Option(min=0, metavar="N", help="Seed of the architecture draws and "
                             "their fixed order alone (default --seed).")] = None,
    data_seed: Annotated[Optional[int], typer.Option(min=0, metavar="N", help="Seed of data order, augmentation and "
                         "dropout alone (default --seed).")] = None,
    name: Annotated[Optional[str], typer.Option(metavar="NAME", help="A name for the super-net (unique names help "
                                                "later commands).")] = None,
    resume: Annotated[Optional[str], typer.Option("--resume", metavar="NAME|ID", help="Continue this super-net from "
                                                  "its newest checkpoint, whose sha256 must match.")] = None,
    force: Annotated[bool, typer.Option("--force", help="With --resume: resume a super-net marked running (its "
                                        "process died without saying so).")] = False,
    checkpoint_dir: Annotated[Optional[str], typer.Option(metavar="PATH|URI", help="Where checkpoint files go: a "
                              "folder or fsspec URI (default ./checkpoints; with --resume, where the super-net's "
                              "checkpoints are).")] = None,
    data_dir: Annotated[Optional[str], typer.Option(metavar="PATH", help="Where the dataset lies (an .npz file for "
                                                    "--dataset npz); recorded, so evaluation finds it.")] = None,
    device: DeviceOption = None,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Train a super-net, with a checkpoint every N epochs.

    Checkpoint files live outside the warehouse, which records each one's URI and sha256.

    The super-net row holds the full configuration, the seed, where the data lay, host, device and code version; a failed run is marked failed with its error. Checkpoints load back only through torch's weights-only allow-list and only if their sha256 matches.

    \b
    Examples:
      wsdb run-supernet --space nb101 --subspace A3 --sampler pro-rata --epochs 432
      wsdb run-supernet --space nb201 --dataset synthetic --epochs 2 --channels 4 --cells 1
      wsdb run-supernet --space nb201 --search darts --architecture-update exponentiated --epochs 50
      wsdb run-supernet --space darts --search pc-darts --architecture-update exponentiated
      wsdb run-supernet --space nb101 --subspace 1SHOT1-SS3 --search darts --epochs 50
      wsdb run-supernet --space ws64 --sharing-groups 8 --grouping similarity --evaluate-last-steps 64
      wsdb run-supernet --space nb201 --sharing node --wsbn --path-dropout 0.2
      wsdb run-supernet --space ws64 --sampling-order fixed --init-seed 0 --sampling-seed 3
      wsdb run-supernet --resume my-net
    """
    from wsdb.trainers import records
    from wsdb.trainers.config import options_config
    from wsdb.trainers.seeds import Seeds
    from wsdb.trainers.train import RunOptions, resume_supernet, run_supernet as train

    url = database.resolve_url(db)
    if resume:
        if (init_seed, sampling_seed, data_seed) != (None, None, None):
            raise WsdbError("--init-seed, --sampling-seed and --data-seed start a run: a resumed run keeps its seeds")
    else:
        config = options_config(config_file, {
            "space": space, "subspace": subspace, "sampler": sampler, "architectures_per_batch": avg,
            "slicing": slicing, "single_kernel": single_kernel, "epochs": epochs, "batch_size": batch_size,
            "learning_rate": learning_rate, "initial_channels": channels, "cells_per_stack": cells,
            "train_portion": train_portion, "gradient_clip": gradient_clip, "dataset": dataset, "synthetic_images": synthetic_images,
            "checkpoint_every": checkpoint_every, "search": search, "architecture_update": architecture_update,
            "formulation": formulation, "architecture_lr": architecture_lr,
            "architecture_weight_decay": architecture_weight_decay, "gdas_tau_max": gdas_tau_max,
            "gdas_tau_min": gdas_tau_min, "partial_channels": partial_channels, "super_kernel": super_kernel,
            "wsbn": wsbn, "global_dropout": global_dropout, "path_dropout": path_dropout, "sharing": sharing,
            "sharing_groups": sharing_groups, "grouping": grouping, "grouping_seed": grouping_seed,
            "prefix_sharing": prefix_sharing, "sampling_order": sampling_order,
            "evaluate_last_steps": evaluate_last_steps})
        seeds = Seeds.of(seed, init_seed, sampling_seed, data_seed)
    # Ctrl-C stops the run between two steps, never inside a write
    with safe_points("the super-net keeps its checkpoints, marked failed; `wsdb run-supernet --resume NAME|ID` "
                     "continues it") as interrupt:
        options = RunOptions(checkpoint_dir, data_dir, device, progress=not quiet, keep_going=interrupt.keep_going)
        supernet_id = (resume_supernet(url, resume, options, force=force) if resume
                       else train(url, config, seed, name, options, seeds=seeds))
    record = records.run_summary(url, supernet_id)
    if as_json:
        emit_record(record, as_json=True)
    else:
        typer.echo(f"super-net {record['id']}{' (' + record['name'] + ')' if record['name'] else ''}: "
                   f"{record['status']}, {record['checkpoints']} checkpoint(s), {record['training_seconds']:.1f} s")


def evaluate(
    supernet: Annotated[str, typer.Option(metavar="NAME|ID", help="The super-net (name or id).")],
    protocol: Annotated[str, typer.Option(metavar="PROTOCOL", help="no-ft, bns-ft[:BATCHES[xSIZE]] (default 4 "
                                          "batches of the training batch size; bns-ft:25x400: 25 of 400), ft[:STEPS] (default 100), or architecture-weights (differentiable "
                                          "super-nets: every class of the space by its log-likelihood under theta, "
                                          "no data needed).")] = "bns-ft:4",
    sample: Annotated[Optional[str], typer.Option(metavar="NAME", help="Score this named architecture sample.")]
        = None,
    n: Annotated[Optional[int], typer.Option("--n", min=1, metavar="N", help="Score N canonical architectures drawn "
                 "uniformly from the super-net's (sub)space (saved as sample random/<space>/<subspace>/<N>/<seed>).")]
        = None,
    seed: Annotated[int, typer.Option(metavar="N", help="Seed of the --n draw.")] = 0,
    checkpoint: Annotated[str, typer.Option(metavar="WHICH", help="latest, all, a label (epoch-12) or an epoch "
                                            "number.")] = "latest",
    save_predictions: Annotated[bool, typer.Option("--save-predictions", help="Also write every image's prediction "
                                "and loss to an HDF5 file beside the checkpoint.")] = False,
    data_dir: Annotated[Optional[str], typer.Option(metavar="PATH", help="Where the dataset lies (default: where the "
                                                    "super-net's training found it).")] = None,
    device: DeviceOption = None,
    batch_size: Annotated[int, typer.Option(min=1, metavar="N", help="Validation batch size.")] = 1000,
    curve: Annotated[bool, typer.Option("--curve", help="With --protocol ft:S: score after each of the S steps, "
                                        "under protocols ft:1 ... ft:S.")] = False,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Score architectures with a trained super-net (proxy scores).

    The validation accuracy and loss of each architecture become proxy scores.

    Scores belong to a checkpoint and a protocol; already scored architectures are skipped, so a rerun is a no-op. The dataset and its location are the super-net's unless --data-dir says otherwise. Checkpoint files must match their sha256 and load through torch's weights-only allow-list.

    \b
    Examples:
      wsdb evaluate --supernet my-net --protocol bns-ft:4 --n 1000
      wsdb evaluate --supernet my-net --protocol no-ft --sample my-sample --checkpoint all
      wsdb evaluate --supernet my-darts --protocol architecture-weights --checkpoint all
      wsdb evaluate --supernet my-net --protocol ft:64 --curve --checkpoint epoch-100 --n 64
    """
    from wsdb.trainers.evaluate import evaluate_supernet

    # Ctrl-C stops between two architectures, never inside a write
    with safe_points("the scores stored so far are kept; the same command again scores the rest") as interrupt:
        summary = evaluate_supernet(database.resolve_url(db), supernet, protocol, sample, n, seed, checkpoint,
                                    save_predictions, data_dir, device, batch_size, progress=not quiet,
                                    keep_going=interrupt.keep_going, curve=curve)
    if as_json:
        emit_record(dict(vars(summary)), as_json=True)
    else:
        typer.echo(summary.line())
        for uri in summary.prediction_files:
            typer.echo(f"predictions: {uri}")


def simulate(
    space: Annotated[str, typer.Option("--space", metavar="SPACE", help="nb101 or nb201 (derived: ws64 too)")],
    algorithm: Annotated[str, typer.Option("--algorithm", metavar="NAME", help="rs (random search), re (regularized "
                         "evolution), ws (weight-sharing-guided), derived (the architectures a differentiable "
                         "super-net derived, checkpoint by checkpoint; stored under its method's name)")],
    subspace: Annotated[Optional[str], typer.Option(metavar="NAME", help="Search within this sub-space (e.g. A2, "
                                                    "RES; derived: default the super-net's).")] = None,
    runs: Annotated[int, typer.Option(min=1, metavar="N", help="Independent runs.")] = 100,
    queries: Annotated[int, typer.Option(min=1, metavar="N", help="Queries per run (rs, re); ws queries its whole "
                                         "sample.")] = 10_000,
    repeat: Annotated[str, typer.Option(metavar="KIND", help="The ground truth of a query: random (a random repeat, "
                                        "like the official API) or mean (over repeats).")] = "random",
    seed: Annotated[int, typer.Option(metavar="N", help="Random seed; the same seed and settings reproduce (and "
                                      "skip) runs.")] = 0,
    supernet: Annotated[Optional[str], typer.Option(metavar="NAME|ID", help="ws, derived: the super-net.")] = None,
    protocol: Annotated[Optional[str], typer.Option(metavar="PROTOCOL", help="ws: the evaluation protocol of its "
                                                    "scores.")] = None,
    sample: Annotated[Optional[str], typer.Option(metavar="NAME", help="ws: the named sample to order (default: the "
                                                  "sample named like the super-net).")] = None,
    supernet_seconds: Annotated[Optional[float], typer.Option(metavar="S", help="ws: the super-net's training time, "
                                "when the warehouse does not record it (imported super-nets).")] = None,
    evaluation_seconds: Annotated[Optional[float], typer.Option(metavar="S", help="ws: the time to score the sample, "
                                  "when not recorded.")] = None,
    benchmark: BenchmarkOption = None,
    dataset: TruthDatasetOption = None,
    epoch_budget: EpochBudgetOption = None,
    db: DbOption = None,
) -> None:
    """Simulate searches (RS, RE, WS-guided, differentiable trajectories) on the stored ground truth.

    Runs go to search_runs and search_traces: the regret after each query against the best mean test accuracy of the (sub)space (Pourchot et al. 2020, sections 4.2 and 5.2).

    \b
    Examples:
      wsdb simulate --space nb101 --algorithm re --runs 500 --queries 10000
      wsdb simulate --space nb101 --algorithm ws --supernet to-share/baseline_ft_bn/full/0 \\
          --protocol bns-ft:4 --supernet-seconds 180000 --evaluation-seconds 5000 --runs 30
      wsdb simulate --space nb201 --algorithm derived --supernet my-darts
    """
    from wsdb.search.simulate import run

    done = run(database.resolve_url(db), space, algorithm, subspace, runs, queries, repeat, seed, supernet, protocol,
               sample, supernet_seconds, evaluation_seconds, benchmark, dataset, epoch_budget)
    where = f"{done['search_space']}{'/' + done['subspace'] if done['subspace'] else ''}"
    typer.echo(f"{done['algorithm']} on {where}: {done['runs']} runs ({done['new_runs']} new, {done['trace_rows']:,} "
               f"trace rows), {done['architectures']:,} architectures searched, best mean {done['regret_on']} accuracy "
               f"{done['best'] * 100:.2f}%, final mean {done['regret_on']} regret "
               f"{done['final_mean_regret'] * 100:.3f} points, time in {done['time_unit']}")


RecipeOption = Annotated[str, typer.Option(metavar="NAME", help="The recipe (`wsdb recipes` lists them): "
                                           "darts-cifar10, nb201-200, nb101-108 or ws64-200.")]
RecipeSettingsOption = Annotated[Optional[list[str]], typer.Option("--set", metavar="KEY=VALUE", help="Override a "
                                 "setting of the recipe (repeatable), e.g. --set epochs=2 --set batch_size=64.")]
SampleOption = Annotated[Optional[str], typer.Option(metavar="NAME", help="Train every architecture of this "
                                                     "architecture sample instead of one given by its options.")]


def train_standalone(
    recipe: RecipeOption,
    space: SpaceOption = None,
    matrix: MatrixOption = None,
    ops: OpsOption = None,
    arch_str: ArchStrOption = None,
    index: IndexOption = None,
    label: LabelOption = None,
    genotype: GenotypeOption = None,
    sample: SampleOption = None,
    n: Annotated[Optional[int], typer.Option("--n", min=1, metavar="N", help="Train N architectures drawn uniformly "
                                             "(the sample random/SPACE/FULL/N/DRAW_SEED, made once, as `wsdb "
                                             "evaluate --n` makes it).")] = None,
    draw_seed: Annotated[int, typer.Option(min=0, max=2**31 - 1, metavar="N", help="With --n: the seed of the "
                                           "draw.")] = 0,
    settings: RecipeSettingsOption = None,
    seed: Annotated[int, typer.Option(min=0, max=2**31 - 1, metavar="N", help="Seed of the weights, data order and "
                                      "augmentation (stored as the ground truth's repeat).")] = 0,
    checkpoint_dir: Annotated[str, typer.Option(metavar="PATH|URI", help="Where each epoch's state and the final "
                              "weights go (a folder or fsspec URI; recorded with their sha256).")] = "checkpoints",
    data_dir: Annotated[Optional[str], typer.Option(metavar="PATH", help="Where the dataset lies.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Continue a run of the same architecture, settings and seed "
                                        "marked running (its process died without saying so).")] = False,
    device: DeviceOption = None,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Train architectures from scratch under a published recipe and store the results as ground truth.

    Each run adds, per epoch, train/validation/test accuracy and loss and the training time as ground truth of the benchmark wsdb-standalone (repeat = the seed), joined by analyses like any ingested benchmark; `standalone_runs` keeps the recipe and every setting, seed, code version, host, device and the final weights by URI and sha256. Ground truth of an architecture, recipe length, dataset and seed is stored once: another seed is another repeat (a sample trained again skips its architectures already stored). Every epoch's state is kept (the newest only), so a run interrupted by Ctrl-C or a failure continues where it stopped when the same command runs again.

    \b
    Examples:
      wsdb train-standalone --recipe darts-cifar10 --space darts --genotype "Genotype(...)"
      wsdb train-standalone --recipe nb201-200 --space nb201 --index 284 --seed 777
      wsdb train-standalone --recipe ws64-200 --n 64 --seed 1
      wsdb train-standalone --recipe darts-cifar10 --n 100 --draw-seed 0 --set epochs=20
    """
    from wsdb.trainers import standalone
    from wsdb.trainers.standalone import StandaloneOptions

    url = database.resolve_url(db)
    overrides = yaml_values(settings, "--set")
    archs = architectures_named(url, sample, n, draw_seed, recipe, overrides, space, matrix, ops, arch_str, index, label,
                                genotype)
    several = sample is not None or n is not None  # a sample trained again skips what it stored already
    # Ctrl-C stops the run between two steps, never inside a write
    with safe_points("the run keeps its newest epoch, marked failed; the same command again continues it") as interrupt:
        options = StandaloneOptions(checkpoint_dir, data_dir, device, progress=not quiet,
                                    keep_going=interrupt.keep_going)
        results = [standalone.train_standalone(url, arch, recipe, overrides, seed, options, skip_stored=several,
                                               force=force) for arch in archs]
    emit(results, as_json=as_json)


def architectures_named(url: str, sample: str | None, n: int | None, draw_seed: int, recipe: str, overrides: dict,
                        space, matrix, ops, arch_str, index, label, genotype):
    """The architectures a stand-alone command names: one by its options, a sample's members, or
    N drawn uniformly (stored as a sample: only once the recipe and its overrides are checked)."""
    from wsdb.spaces import registry
    from wsdb.trainers.evaluate import random_sample, sample_architectures
    from wsdb.trainers.standalone import recipe as chosen_recipe

    trains = chosen_recipe(recipe, overrides).space
    if space is not None and space != trains:  # refused before a sample is drawn and stored
        raise WsdbError(f"recipe {recipe} trains {trains} architectures, not --space {space}")
    space = trains
    if sample is None and n is None:
        return [registry.from_options(space, matrix, ops, arch_str, index, label, genotype)]
    if sample is not None and n is not None:
        raise WsdbError("give --sample or --n, not both")
    if any(v is not None for v in (matrix, ops, arch_str, index, label, genotype)):
        raise WsdbError("--sample and --n train several architectures: leave out the options of a single one")
    with database.warehouse(url, read_only=n is None) as engine, engine.begin() as connection:
        members = sample_architectures(connection, sample or random_sample(connection, space, "FULL", n, draw_seed),
                                       space)
    return [registry.canonicalize(registry.CANONICAL_ENCODING_KIND[space], encoding) for _, encoding in members]


recipes_app = typer.Typer(help="Stand-alone training recipes: list (the default) and show.",
                          **{**GROUP_SETTINGS, "no_args_is_help": False}, invoke_without_command=True)


@recipes_app.callback()
def recipes_list(ctx: typer.Context, as_json: JsonOption = False, csv_file: CsvOption = None,
                 parquet_file: ParquetOption = None) -> None:
    """The recipes `wsdb train-standalone` follows, each as its paper published it.

    \b
    Examples:
      wsdb recipes
      wsdb recipes show darts-cifar10
    """
    if ctx.invoked_subcommand is None:
        from wsdb.trainers.standalone import listing

        emit(listing(), as_json=as_json, csv_file=csv_file, parquet_file=parquet_file)


@recipes_app.command("show")
def recipes_show(name: Annotated[str, typer.Argument(metavar="NAME", help="A recipe name.")],
                 as_json: JsonOption = False) -> None:
    """Every setting of a recipe (override any with `--set KEY=VALUE`).

    \b
    Examples:
      wsdb recipes show nb201-200 --json
    """
    from wsdb.trainers.standalone import show

    emit_record(show(name), as_json=as_json)
