"""`wsdb ingest ...`: the files users download, turned into warehouse rows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from wsdb.warehouse import db as database
from wsdb.cli.options import GROUP_SETTINGS, DbOption, JsonOption
from wsdb.analyses.output import emit_record

ingest_app = typer.Typer(
    help="Turn downloaded benchmark and publication files into warehouse rows.\n\nEvery ingester is idempotent (a "
    "rerun adds nothing), checks every value, commits in batches, and stops at the first bad record with its "
    "file, position and field.",
    **GROUP_SETTINGS,
)


def _report(summary, as_json: bool) -> None:
    if as_json:
        emit_record(summary.as_dict(), as_json=True)
    else:
        typer.echo(summary.line())


@ingest_app.command("nasbench101")
def nasbench101(
    path: Annotated[str, typer.Argument(metavar="FILE", help="nasbench_only108.tfrecord or nasbench_full.tfrecord")],
    db: DbOption = None,
    workers: Annotated[Optional[int], typer.Option(min=1, metavar="N", help="Decoding processes (default: all "
                                                   "cores).")] = None,
    batch_records: Annotated[int, typer.Option(min=1, metavar="N", help="Records per committed batch.")] = 30_000,
    as_json: JsonOption = False,
) -> None:
    """The official NAS-Bench-101 TFRecord files (Ying et al. 2019).

    Read without TensorFlow.

    Checksums are verified and every module hash is recomputed; every run and evaluation point is stored. A record does not say which repeat it is: runs are identified by their content, so overlapping files store each run once. Download: https://storage.googleapis.com/nasbench/nasbench_only108.tfrecord (499 MB) or nasbench_full.tfrecord (1.95 GB).

    \b
    Example:
      wsdb ingest nasbench101 nasbench_only108.tfrecord --db study.duckdb
    """
    from wsdb.ingest.nb101 import ingest_nb101

    with database.warehouse(database.resolve_url(db)) as engine:
        summary = ingest_nb101(engine, Path(path), workers=workers, block_records=batch_records)
    _report(summary, as_json)


@ingest_app.command("to-share")
def to_share(
    path: Annotated[str, typer.Argument(metavar="PATH", help="A folder of <method>/<space>/<seed>/eval_results.pkl, "
                                        "or one such file")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The published super-nets of Pourchot et al. 2020 (To Share or Not To Share).

    Pourchot, Ducarouge, Sigaud 2020, "To Share or Not To Share: An Extensive Appraisal of Weight-Sharing" (arXiv:2002.04289).

    One imported super-net per <method>/<space>/<seed>: its configuration from the method name (baseline, pro-rata, avg-3, single-k, s-k+p-r; _ft_bn = BNS-FT, _no_ft = NO-FT), its 1,000 architectures as a named sample, their proxy accuracies, and their NB101 ground truth. The pickles load through an allow-list (numpy arrays and builtins): a pickle that reaches for anything else is refused, never executed. Download: the results_paper folder of https://github.com/apourchot/to_share_or_not_to_share.

    \b
    Example:
      wsdb ingest to-share to_share_or_not_to_share/results_paper
    """
    from wsdb.ingest.to_share import ingest_to_share

    with database.warehouse(database.resolve_url(db)) as engine:
        summary = ingest_to_share(engine, Path(path))
    _report(summary, as_json)


@ingest_app.command("ws64")
def ws64(
    from_csv: Annotated[Optional[str], typer.Option("--from", metavar="CSV", help="The authors' repository version "
                        "(label, gt_acc_mean, gt_acc_std) instead of the paper's Table 5.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Stand-alone ground truth of the 64-architecture space (ws64).

    From Zhang, Lin, Jiang, Zhang, Wang, Xue, Zhang, Yang 2020, "Deeper Insights into Weight Sharing in Neural Architecture Search" (arXiv:2001.01431).

    Without --from: the paper's Table 5, shipped with wsdb (benchmark ws64-paper). With --from: the authors' repository version (benchmark ws64-repository), e.g. a CSV made from assets/gt_mean.txt and gt_std.txt of https://github.com/ultmaster/deeper-insights-weight-sharing.

    \b
    Examples:
      wsdb ingest ws64
      wsdb ingest ws64 --from ground_truth_64.csv
    """
    from wsdb.ingest.ws64 import ingest_ws64_ground_truth

    with database.warehouse(database.resolve_url(db)) as engine:
        summary = ingest_ws64_ground_truth(engine, Path(from_csv) if from_csv else None)
    _report(summary, as_json)


@ingest_app.command("ws64-trajectory")
def ws64_trajectory(
    path: Annotated[str, typer.Argument(metavar="CSV", help="Columns step, arch_index, supernet_val_acc")],
    name: Annotated[Optional[str], typer.Option(metavar="NAME", help="The super-net's name (default "
                                                "zhang2020/<file stem>).")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """A published ws64 super-net trajectory, one checkpoint per step.

    The 64 validation accuracies of each step become proxy scores (protocol `published`), so the stability analyses (GT-Tau-Mean-k, GT-Tau-Std-k) run on it.

    \b
    Example:
      wsdb ingest ws64-trajectory supernet_last128_steps.csv
    """
    from wsdb.ingest.ws64 import ingest_ws64_trajectory

    with database.warehouse(database.resolve_url(db)) as engine:
        summary = ingest_ws64_trajectory(engine, Path(path), name)
    _report(summary, as_json)


@ingest_app.command("nasbench201")
def nasbench201(
    path: Annotated[str, typer.Argument(metavar="PATH", help="A NATS-tss folder of NNNNNN.pickle.pbz2 files, one "
                                        "such file, or an official NAS-Bench-201-v1_*.pth")],
    trust: Annotated[bool, typer.Option("--trust", help="Unpickle without the allow-list: needed for .pth files "
                                        "(torch pickles can run code while loading). Only for files you trust.")]
        = False,
    final_only: Annotated[bool, typer.Option("--final-only", help="Store only the last epoch of each run (default: "
                                             "every evaluated epoch).")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """NAS-Bench-201 / NATS-Bench topology results.

    The benchmarks of Dong, Yang 2020 and Dong et al. 2021.

    Every dataset, seed, epoch budget (12, 200) and evaluated epoch the files hold, mapped to canonical NB201 architectures. NATS .pickle.pbz2 files are read one at a time through an allow-list (numpy, OrderedDict) and decompressed with a size bound; a .pth is a torch pickle that can execute code, so it needs --trust, and it is read whole. Download: NATS-tss-v1_0-3ffb9-simple.tar from https://github.com/D-X-Y/NATS-Bench, or NAS-Bench-201-v1_1-096897.pth from https://github.com/D-X-Y/NAS-Bench-201.

    \b
    Examples:
      wsdb ingest nasbench201 NATS-tss-v1_0-3ffb9-simple/
      wsdb ingest nasbench201 NAS-Bench-201-v1_1-096897.pth --trust
    """
    from wsdb.ingest.nb201 import ingest_nats, ingest_nb201_pth

    with database.warehouse(database.resolve_url(db)) as engine:
        if path.endswith((".pth", ".pt")):
            summary = ingest_nb201_pth(engine, Path(path), trust, final_only)
        else:
            summary = ingest_nats(engine, Path(path), trust, final_only)
    _report(summary, as_json)


@ingest_app.command("nb201-table")
def nb201_table(
    path: Annotated[str, typer.Argument(metavar="CSV", help="arch_index, arch_str and result or score columns")],
    source: Annotated[str, typer.Option(metavar="NAME", help="Who computed the training-free scores (stored with "
                                        "them).")] = "table",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """A per-architecture NB201 table such as nb201_all15625.csv.

    Columns val_acc_200ep_<dataset> (200-epoch validation accuracy, %, a published mean over seeds), mini_12ep_<dataset>_<split> (12-epoch results), num_params, and <metric>_score_<dataset> training-free scores (stored in zero_cost_scores).

    \b
    Example:
      wsdb ingest nb201-table nb201_all15625.csv --source monet
    """
    from wsdb.ingest.nb201 import ingest_nb201_table

    with database.warehouse(database.resolve_url(db)) as engine:
        summary = ingest_nb201_table(engine, Path(path), source)
    _report(summary, as_json)


@ingest_app.command("scores")
def scores(
    path: Annotated[str, typer.Argument(metavar="CSV", help="Per-architecture scores keyed by an encoding")],
    space: Annotated[str, typer.Option("--space", metavar="SPACE", help="nb101 or nb201")],
    source: Annotated[str, typer.Option(metavar="NAME", help="Who computed the scores (stored with them).")]
        = "naslib",
    dataset: Annotated[Optional[str], typer.Option(metavar="NAME", help="The dataset, when the file has no dataset "
                                                   "column.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Training-free (zero-cost) scores keyed by an encoding.

    NASLib's files, or your own.

    Encodings: NB101 matrix + ops or NASLib tuple; NB201 arch string, index or NASLib tuple. Every other numeric column is a metric; <m>_score with <m>_time gives its elapsed seconds. Isomorphic duplicates stay distinct rows of one architecture.

    \b
    Examples:
      wsdb ingest scores naslib_zero_cost_500.csv --space nb101 --dataset cifar10
      wsdb ingest scores naslib_zero_cost_725.csv --space nb201
    """
    from wsdb.ingest.scores import ingest_scores

    with database.warehouse(database.resolve_url(db)) as engine:
        summary = ingest_scores(engine, Path(path), space, source, dataset)
    _report(summary, as_json)
