"""`wsdb report ...`, `wsdb plot ...`, `wsdb demo`: the papers' tables and figures."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from wsdb.warehouse import db as database
from wsdb.cli.options import (GROUP_SETTINGS, BenchmarkOption, CsvOption, DbOption, EpochBudgetOption, JsonOption, ParamOption,
                              ParquetOption,
                              TruthDatasetOption, key_values, positive_integers)
from wsdb.analyses.output import emit

report_app = typer.Typer(help="Reports in the layouts of the papers' tables.", **GROUP_SETTINGS)
plot_app = typer.Typer(help="PNG figures (headless matplotlib).", **GROUP_SETTINGS)

CiOption = Annotated[str, typer.Option("--ci", metavar="KIND", help="The 95% interval: normal (1.96 x population "
                                       "sd / sqrt(n), as Pourchot et al. 2020 report) or student-t.")]
MarkdownOption = Annotated[bool, typer.Option("--markdown", help="Print a Markdown table.")]
TopKOption = Annotated[str, typer.Option("--top-k", metavar="K,K", help="The k of the TOP-k budgets, comma-separated.")]


SpaceOption = Annotated[str, typer.Option("--space", metavar="SPACE", help="The search space.")]


@report_app.command("table1")
def table1(db: DbOption = None, space: SpaceOption = "nb101", ci: CiOption = "normal", param: ParamOption = None,
           markdown: MarkdownOption = False, csv_file: CsvOption = None, as_json: JsonOption = False,
           parquet_file: ParquetOption = None) -> None:
    """Table 1 of Pourchot et al. 2020: mean Spearman rho per configuration.

    Rows are sub-spaces, columns training variant x evaluation protocol, cells the mean Spearman rho over the super-nets of that configuration with a 95% interval; * marks cells where a diverged super-net (constant proxy) was left out. --param passes parameters to the correlation analysis (truth, dataset, epoch_budget, metric). --csv, --json and --parquet write one row per cell with its numbers.

    \b
    Examples:
      wsdb report table1 --markdown
      wsdb report table1 --ci student-t --csv cells.csv
    """
    from wsdb.analyses import report

    convention = report.check_convention(ci)
    cells = report.summary(database.resolve_url(db), {**key_values(param, "--param"), "search_space": space})
    if csv_file or as_json or parquet_file:
        emit(report.long_rows(cells, convention), csv_file=csv_file, as_json=as_json, parquet_file=parquet_file)
    elif markdown:
        typer.echo(report.markdown(report.layout(cells, convention), convention), nl=False)
    else:
        emit(report.layout(cells, convention), title="Spearman rho between proxy and stand-alone accuracy")


@report_app.command("table2")
def table2(db: DbOption = None, space: SpaceOption = "nb101",
           top_k: TopKOption = "1,10", markdown: MarkdownOption = False, csv_file: CsvOption = None,
           as_json: JsonOption = False, parquet_file: ParquetOption = None) -> None:
    """Table 2 of Pourchot et al. 2020: regret differences at TOP-k budgets.

    Per sub-space and TOP-k budget: the mean test-regret difference RS - RE and RS - WS (x100) with a 95% interval, the t-test p-value and Cohen's d. Needs WS-guided, random-search and evolution runs of the space (`wsdb simulate`).

    \b
    Examples:
      wsdb report table2 --markdown
      wsdb report table2 --top-k 1,10,20 --csv table2.csv
    """
    from wsdb.analyses import report

    rows = report.table2(database.resolve_url(db), space, positive_integers(top_k, "--top-k"))
    for note in report.table2_notes(rows):
        typer.echo(f"wsdb: note: {note}", err=True)
    if csv_file or as_json or parquet_file:
        emit(rows, csv_file=csv_file, as_json=as_json, parquet_file=parquet_file)
    elif markdown:
        typer.echo(report.table2_markdown(rows), nl=False)
    else:
        emit(rows, title="Regret differences at the TOP-k budgets (x100)")


@report_app.command("subspaces")
def subspaces(db: DbOption = None, param: ParamOption = None, markdown: MarkdownOption = False,
              csv_file: CsvOption = None, as_json: JsonOption = False, parquet_file: ParquetOption = None) -> None:
    """Weight sharing vs random search on down-scaled sub-spaces (Zhang, Zhang, Yang 2020, Figures 2 and 5).

    For each family of derived sub-spaces (random/PARENT/K/SEED or best/PARENT/K/...) and each down-scale K: the super-nets trained on them (runs), the best ground truth among the 10 architectures each ranks best (WS top-10), the expected best of 10 uniform draws from the same sub-space (RS top-10, computed exactly), and Kendall's tau, as mean [min, max] over runs. --param passes parameters to the analysis subspace_runs (k, truth, benchmark, dataset, protocol); --csv writes the numbers, one row per family, K and protocol.

    \b
    Examples:
      wsdb report subspaces --markdown
      wsdb report subspaces --param dataset=cifar100 --param k=5 --csv subspaces.csv
    """
    from wsdb.analyses import report

    params = key_values(param, "--param")
    summary = report.subspace_summary(report.subspace_runs(database.resolve_url(db), params))
    k = int(params.get("k", 10))
    if csv_file or as_json or parquet_file:
        emit(summary, csv_file=csv_file, as_json=as_json, parquet_file=parquet_file)
    elif markdown:
        typer.echo(report.subspace_markdown(report.subspace_layout(summary, k), k), nl=False)
    else:
        emit(report.subspace_layout(summary, k), title=f"WS vs RS top-{k} (x100) and Kendall tau, mean [min, max]")


@report_app.command("differentiable")
def differentiable(db: DbOption = None, param: ParamOption = None, markdown: MarkdownOption = False,
                   csv_file: CsvOption = None, as_json: JsonOption = False, parquet_file: ParquetOption = None) -> None:
    """What differentiable methods find, per dataset (the layout of Li, Khodak, Balcan, Talwalkar 2021, Figure 5).

    Rows are methods (darts, gdas, pc-darts, gaea-...) with their formulation per space (or sub-space: NAS-Bench-1Shot1's searches), then its optimum ("best with ground truth" where some of its architectures have none, "best trained" on darts); columns the datasets of the space's benchmark; cells the accuracy of the architecture the newest checkpoint derives, mean ± standard deviation over super-nets (seeds) with their count. --param passes benchmark or epoch_budget to the analysis derived_accuracy; --csv writes the numbers.

    \b
    Examples:
      wsdb report differentiable --markdown
      wsdb report differentiable --csv methods.csv
    """
    from wsdb.analyses import report

    summary = report.differentiable(database.resolve_url(db), key_values(param, "--param"))
    if csv_file or as_json or parquet_file:
        emit(summary, csv_file=csv_file, as_json=as_json, parquet_file=parquet_file)
        return
    table = report.differentiable_layout(summary)
    if markdown:
        typer.echo(report.markdown_table(table) + "\n\nAccuracy x100 of the derived architecture, mean ± std over super-nets (n).")
    else:
        emit(table, title="Derived architectures' accuracy x100, mean ± std (n), per dataset")


@report_app.command("factors")
def factors(db: DbOption = None,
            sweep: Annotated[Optional[str], typer.Option(metavar="NAME", help="The super-nets of this sweep (named "
                                                         "NAME/...).")] = None,
            supernet: Annotated[Optional[list[str]], typer.Option(metavar="NAME|ID", help="These super-nets "
                                                                 "(repeat the option); with --sweep: of the sweep, "
                                                                 "these.")] = None,
            param: ParamOption = None,
            spread: Annotated[str, typer.Option(metavar="KIND", help="What ± shows: student-t (95% half width "
                                                "over seeds) or std (population standard deviation, as Zhang et al. "
                                                "2020, Deeper Insights).")] = "student-t",
            markdown: MarkdownOption = False, csv_file: CsvOption = None, as_json: JsonOption = False,
            parquet_file: ParquetOption = None) -> None:
    """Super-net factors side by side (Yu et al. 2020, Tables 3-4; Zhang et al. 2020, Deeper Insights, Table 3).

    Rows are the values of the configuration keys that differ between the chosen super-nets (any key: slicing, wsbn, sharing_groups with grouping, prefix_sharing, sampler, ...) and the evaluation protocol; columns the super-net accuracy (mean proxy accuracy), sparse Kendall tau, Kendall tau, the final search performance (mean ground truth of the 3 best picks, Yu et al.'s final searched model), P>R and, for runs scored after each of their last steps, GT-Tau-Mean and GT-Tau-Std; each a mean ± Student t 95% half width over the super-nets (seeds), or ± the population standard deviation with --spread std. --param passes parameters to the analysis factors (k, sample, population, truth, benchmark, dataset, protocol).

    \b
    Examples:
      wsdb report factors --sweep yu-table4-nb201 --markdown
      wsdb report factors --sweep zhang-table3 --param protocol=no-ft --csv table3.csv
      wsdb report factors --supernet fixed-seed0 --supernet shuffle-seed0
      wsdb report factors --sweep zhang-table3 --spread std --markdown
    """
    from wsdb.analyses import report

    report.check_spread(spread)
    varying, summary = report.factors(database.resolve_url(db), sweep, supernet, key_values(param, "--param"))
    if csv_file or as_json or parquet_file:
        emit(report.factor_long_rows(varying, summary), csv_file=csv_file, as_json=as_json, parquet_file=parquet_file)
    elif markdown:
        typer.echo(report.factor_markdown(varying, summary, spread), nl=False)
    else:
        emit(report.factor_layout(varying, summary, spread),
             title=f"Factors: mean ± {report.SPREADS[spread][1]} over seeds (accuracy and final x100)")


@report_app.command("html")
def html_report(
    out: Annotated[Path, typer.Option("--out", metavar="FILE", help="The HTML file to write.")] = Path("study.html"),
    supernet: Annotated[Optional[list[str]], typer.Option("--supernet", metavar="NAME|ID", help="Only these "
                        "super-nets (repeatable; default: all).")] = None,
    db: DbOption = None,
) -> None:
    """A self-contained HTML report of the study, to open in any browser (no network needed).

    Sections: what the warehouse holds, the super-nets with configuration and provenance, Table 1 of Pourchot et al. 2020, correlations per checkpoint, proxy-vs-truth scatter plots (a tooltip names each architecture), regret curves, bias and stability tables; under each, the wsdb command that prints the same numbers. Scripts (plotly.js), styles and data are inline: the file is about 5 MB.

    \b
    Examples:
      wsdb report html --out study.html
      wsdb report html --out one.html --supernet to-share/baseline_ft_bn/full/0
    """
    from wsdb.analyses import html_report

    path = html_report.build(database.resolve_url(db), out, supernet)
    typer.echo(f"wrote {path}")


OutOption = Annotated[str, typer.Option("--out", metavar="PNG", help="The file to write.")]


@plot_app.command("scatter")
def scatter(
    supernet: Annotated[str, typer.Option("--supernet", metavar="NAME|ID", help="The super-net (name or id)")],
    out: OutOption = "scatter.png",
    metric: Annotated[str, typer.Option(metavar="METRIC", help="The proxy metric on the y axis.")]
        = "validation_accuracy",
    color_by: Annotated[str, typer.Option("--color-by", metavar="FEATURE", help="The architecture feature that "
                                          "colours the points.")] = "has_input_output_edge",
    protocol: Annotated[Optional[str], typer.Option(metavar="PROTOCOL", help="The evaluation protocol, when the "
                                                    "super-net has several.")] = None,
    benchmark: BenchmarkOption = None,
    dataset: TruthDatasetOption = None,
    epoch_budget: EpochBudgetOption = None,
    db: DbOption = None,
) -> None:
    """Proxy score vs stand-alone accuracy of one super-net's architectures.

    One metric on the y axis (--metric) and the ground truth of the super-net's search space unless --benchmark, --dataset or --epoch-budget say otherwise.

    \b
    Example:
      wsdb plot scatter --supernet to-share/baseline_ft_bn/full/0 --out full0.png
    """
    from wsdb.analyses import plots

    path = plots.scatter(database.resolve_url(db), supernet, Path(out), color_by, protocol, dataset, epoch_budget,
                         metric, benchmark)
    typer.echo(f"wrote {path}")


@plot_app.command("regret")
def regret(
    out: OutOption = "regret.png",
    space: SpaceOption = "nb101",
    subspace: Annotated[Optional[str], typer.Option(metavar="NAME", help="A sub-space (default: the whole "
                                                    "space).")] = None,
    top_k: TopKOption = "1,10,20",
    db: DbOption = None,
) -> None:
    """Mean test regret vs simulated time, per search algorithm.

    Log-log, with 95% bands and the TOP-k budget lines.

    \b
    Example:
      wsdb plot regret --space nb101 --out regret.png
    """
    from wsdb.analyses import plots

    path = plots.regret(database.resolve_url(db), Path(out), space, subspace, positive_integers(top_k, "--top-k"))
    typer.echo(f"wrote {path}")


@plot_app.command("correlation")
def correlation(out: OutOption = "correlation.png", space: SpaceOption = "nb101", ci: CiOption = "normal",
                param: ParamOption = None, db: DbOption = None) -> None:
    """Table 1 as a figure: mean Spearman rho with 95% intervals.

    \b
    Example:
      wsdb plot correlation --out correlation.png
    """
    from wsdb.analyses import plots

    path = plots.correlation(database.resolve_url(db), Path(out), ci,
                             {**key_values(param, "--param"), "search_space": space})
    typer.echo(f"wrote {path}")


@plot_app.command("subspaces")
def plot_subspaces(
    out: OutOption = "subspaces.png",
    family: Annotated[Optional[str], typer.Option(metavar="FAMILY", help="random/PARENT or best/PARENT/BENCHMARK/"
                                                  "DATASET/METRIC, as `wsdb report subspaces` lists them.")] = None,
    param: ParamOption = None,
    db: DbOption = None,
) -> None:
    """WS and RS top-10 and Kendall tau against the down-scale K (Zhang, Zhang, Yang 2020, Figures 2 and 5).

    \b
    Example:
      wsdb plot subspaces --family random/nb201 --out downscaled.png
    """
    from wsdb.analyses import plots

    path = plots.subspaces(database.resolve_url(db), Path(out), family, key_values(param, "--param"))
    typer.echo(f"wrote {path}")


def demo(
    db: Annotated[str, typer.Option("--db", metavar="PATH", help="The demo warehouse to create (must not exist).")]
        = "demo.duckdb",
    out: Annotated[str, typer.Option("--out", metavar="FOLDER", help="Where the CSV and PNG files go.")] = ".",
) -> None:
    """Build a warehouse from the shipped sample and run the headline analyses.

    The sample: ten published FULL-space super-nets of Pourchot et al. 2020 with the NB101 ground truth of their architectures, and the published ws64 super-net trajectory of Zhang et al. 2020 (Deeper Insights). Prints the Table 1 row they give and writes correlations and top-10 (CSV) and a scatter plot (PNG).

    \b
    Example:
      wsdb demo --db demo.duckdb --out .
    """
    from wsdb.cli.demo import build

    files = build(Path(db), Path(out), say=typer.echo)
    typer.echo("\nWrote:")
    typer.echo(f"  {db}  (the warehouse)")
    for path in files.values():
        typer.echo(f"  {path}")
    bin_dir = Path(sys.executable).parent  # the environment wsdb runs in (.venv after `make demo`)
    typer.echo("\nOpen the warehouse, for example:")
    typer.echo(f"  {bin_dir / 'wsdb'} sql \"SELECT * FROM proxy_vs_truth LIMIT 5\" --db {db}")
    typer.echo(f"  {bin_dir / 'python'} -c \"import wsdb; wsdb.connect('{db}').sql('FROM ground_truth_final "
               "LIMIT 5').show()\"")
