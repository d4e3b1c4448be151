"""PNG figures (matplotlib, headless).

- scatter: one super-net's proxy score against the mean stand-alone accuracy of the same
  architectures, points coloured by a feature, with both marginal distributions (the
  figures of Pourchot et al. 2020);
- correlation: the Table 1 cells as mean Spearman rho with 95% intervals per sub-space and
  configuration;
- subspaces: WS and RS top-k and Kendall's tau against the down-scale k of derived sub-spaces
  (Zhang, Zhang, Yang 2020, Figures 2 and 5).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from wsdb.analyses import duck  # noqa: E402

from wsdb.warehouse import lookup  # noqa: E402
from wsdb.base.errors import WsdbError  # noqa: E402
from wsdb.base.files import atomic_output  # noqa: E402
from wsdb.analyses.report import check_convention, half_width, layout, summary  # noqa: E402

FEATURES = ("has_input_output_edge", "num_output_inputs", "num_vertices", "num_edges", "depth",
            "num_conv3x3", "num_conv1x1", "num_maxpool3x3", "num_skip", "num_none", "num_avgpool3x3")


def scatter_points(con, supernet: str, metric: str = "validation_accuracy", protocol: str | None = None,
                   benchmark: str | None = None, dataset: str | None = None, epoch_budget: int | None = None,
                   color_by: str = "has_input_output_edge") -> dict:
    """What `scatter` draws: one super-net's scores of one metric and protocol, each next to
    the mean final ground truth of its architecture (the space's own unless benchmark,
    dataset or epoch_budget say otherwise) and the colouring feature."""
    if color_by not in FEATURES:
        raise WsdbError(f"--color-by must be one of {', '.join(FEATURES)}")
    row = lookup.supernet(con, supernet)
    name = row.name or row.id[:12]
    truth = lookup.ground_truth_choice(con, row.search_space, benchmark, dataset, epoch_budget)
    protocol = lookup.protocol(con, protocol) if protocol is not None else None
    metrics = [m for (m,) in con.execute("SELECT DISTINCT p.metric FROM proxy_scores p JOIN checkpoints c "
                                         "ON c.id = p.checkpoint_id WHERE c.supernet_id = $s ORDER BY 1",
                                         {"s": row.id}).fetchall()]
    if metric not in metrics:
        raise WsdbError(f"super-net {name} has no {metric} scores; "
                        f"{'it has: ' + ', '.join(metrics) if metrics else 'it has no proxy scores'} (--metric)")
    rows = con.execute(
        f"""
        SELECT p.value, t.validation_accuracy, a.{color_by}, p.protocol_id
        FROM proxy_scores p JOIN checkpoints c ON c.id = p.checkpoint_id
        JOIN architectures a ON a.id = p.architecture_id
        JOIN ground_truth_final t ON t.architecture_id = p.architecture_id AND t.benchmark = $benchmark
         AND t.dataset = $dataset AND t.epoch_budget = $budget
        WHERE c.supernet_id = $supernet AND p.metric = $metric AND t.validation_accuracy IS NOT NULL
          AND ($protocol IS NULL OR p.protocol_id = $protocol)
        """,  # color_by is checked against FEATURES above; values are bound
        {"supernet": row.id, "metric": metric, "protocol": protocol, "benchmark": truth["benchmark"],
         "dataset": truth["dataset"], "budget": truth["epoch_budget"]},
    ).fetchall()
    if not rows:
        raise WsdbError(f"super-net {name}: no {metric} scores of architectures with {truth['benchmark']} "
                        f"{truth['dataset']} {truth['epoch_budget']}-epoch ground truth")
    protocols = sorted({r[3] for r in rows})
    if len(protocols) > 1:
        raise WsdbError(f"super-net {name} has scores under {', '.join(protocols)}: choose one with --protocol")
    return {"name": name, "metric": metric, "protocol": protocols[0], "dataset": truth["dataset"],
            "proxy": [r[0] for r in rows], "truth": [r[1] for r in rows], "groups": [str(r[2]) for r in rows]}


def scatter(url: str, supernet: str, out: Path, color_by: str = "has_input_output_edge",
            protocol: str | None = None, dataset: str | None = None, epoch_budget: int | None = None,
            metric: str = "validation_accuracy", benchmark: str | None = None) -> Path:
    """Proxy score vs mean stand-alone accuracy of one super-net's architectures (scatter_points)."""
    with duck.connect(url) as con:
        points = scatter_points(con, supernet, metric, protocol, benchmark, dataset, epoch_budget, color_by)
    name, protocol_id, dataset_name = points["name"], points["protocol"], points["dataset"]
    proxy = np.array(points["proxy"], dtype=float)
    truth = np.array(points["truth"], dtype=float) * 100
    groups = np.array(points["groups"])

    figure = plt.figure(figsize=(7.5, 7))
    grid = figure.add_gridspec(2, 2, width_ratios=(4, 1), height_ratios=(1, 4), wspace=0.05, hspace=0.05)
    main = figure.add_subplot(grid[1, 0])
    top = figure.add_subplot(grid[0, 0], sharex=main)
    right = figure.add_subplot(grid[1, 1], sharey=main)
    for value in sorted(set(groups)):
        chosen = groups == value
        main.scatter(truth[chosen], proxy[chosen], s=8, alpha=0.6, label=f"{color_by} = {value}")
        top.hist(truth[chosen], bins=40, alpha=0.5)
        right.hist(proxy[chosen], bins=40, alpha=0.5, orientation="horizontal")
    rho = spearmanr(proxy, truth).statistic if np.ptp(proxy) > 0 else float("nan")
    main.set_xlabel(f"stand-alone validation accuracy (%), mean over repeats ({dataset_name})")
    main.set_ylabel(f"super-net {metric.replace('_', ' ')} ({protocol_id})")
    main.legend(loc="best", fontsize=8, markerscale=2)
    top.set_title(f"{name}: {len(proxy)} architectures, Spearman rho = {rho:.2f}", fontsize=10)
    top.set_ylabel("count")
    right.set_xlabel("count")
    plt.setp(top.get_xticklabels(), visible=False)
    plt.setp(right.get_yticklabels(), visible=False)
    return _save(figure, out)


def correlation(url: str, out: Path, convention: str = "normal", params: dict | None = None) -> Path:
    convention = check_convention(convention)
    rows = summary(url, params)
    table = layout(rows, convention)  # fixes the order of sub-spaces and columns
    subspaces = [r["subspace"] for r in table]
    columns = [c for c in table[0] if c != "subspace"]
    cells = {(r["subspace"], r["column"]): r for r in rows}
    figure, axis = plt.subplots(figsize=(max(6, 1.2 * len(subspaces) * len(columns) / 2), 4.5))
    width = 0.8 / len(columns)
    for offset, column in enumerate(columns):
        chosen = [(index, cells[(s, column)]) for index, s in enumerate(subspaces)
                  if (s, column) in cells and cells[(s, column)]["mean_spearman"] is not None]
        xs = [index + (offset - (len(columns) - 1) / 2) * width for index, _ in chosen]
        means = [row["mean_spearman"] for _, row in chosen]
        halves = [0 if np.isnan(h := half_width(row, convention)) else h for _, row in chosen]
        axis.errorbar(xs, means, yerr=halves, fmt="o", capsize=3, label=column)
    axis.set_xticks(range(len(subspaces)), subspaces)
    axis.set_xlabel("sub-space")
    axis.set_ylabel("Spearman rho, mean over super-nets")
    interval = "1.96 x population sd / sqrt(n)" if convention == "normal" else "Student t"
    axis.set_title(f"Spearman rho, proxy vs stand-alone accuracy (95% CI: {interval})")
    axis.axhline(0, color="grey", linewidth=0.5)
    axis.legend(title="training x evaluation", fontsize=8)
    return _save(figure, out)


def regret(url: str, out: Path, search_space: str = "nb101", subspace: str | None = None, top_k: str = "1,10,20") -> Path:
    """Mean test regret vs simulated time (log-log) per algorithm with 95% bands and the
    TOP-k budget lines (Pourchot et al. 2020, Figure 2)."""
    from wsdb.analyses import runner as analysis

    with duck.connect(url) as con:
        rows = analysis.run(con, "regret_curve", {"search_space": search_space,
                                                  **({"subspace": subspace} if subspace else {})}).to_pylist()
        budget_rows = analysis.run(con, "regret_at_budgets", {"search_space": search_space, "top_k": top_k}).to_pylist()
    rows = [r for r in rows if r["subspace"] == subspace]
    if not rows:
        raise WsdbError(f"no simulations of {search_space}{'/' + subspace if subspace else ''}: run `wsdb simulate` first")
    figure, axis = plt.subplots(figsize=(8, 5))
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["algorithm"], row["supernet_name"]), []).append(row)
    names = {"rs": "random search", "re": "regularized evolution", "ws": "WS-guided"}
    for (algorithm, supernet), points in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        time = np.array([p["time"] for p in points])
        mean = np.array([p["mean_regret"] for p in points]) * 100
        half = np.array([p["ci95"] for p in points]) * 100
        label = names.get(algorithm, algorithm) + (f" ({supernet})" if supernet else "") + f", {max(p['runs'] for p in points)} runs"
        line, = axis.plot(time, mean, label=label)
        axis.fill_between(time, np.maximum(mean - half, 1e-6), mean + half, alpha=0.2, color=line.get_color())
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel(f"simulated time ({rows[0]['time_unit']})")
    axis.set_ylabel("test regret (percentage points)")
    budgets = sorted({(r["top_k"], r["budget"]) for r in budget_rows if r["subspace"] == subspace})
    for _, budget in budgets:
        axis.axvline(budget, color="grey", linestyle="--", linewidth=0.8)
    label_rows = _budget_labels(figure, axis, budgets)
    axis.set_title(f"{search_space}{' / ' + subspace if subspace else ''}: mean test regret, 95% bands",
                   pad=6 + 13 * label_rows)
    axis.legend(fontsize=8, loc="lower left")
    return _save(figure, out)


def _budget_labels(figure, axis, budgets: list[tuple[int, float]]) -> int:
    """TOP-k over its budget line, above the plot; labels whose boxes would touch go one row
    higher (TOP-10 and TOP-20 stand close on a log axis). Returns the rows used."""
    figure.canvas.draw()  # the final limits and scales place the labels
    rows: list[list] = []
    for k, budget in budgets:
        x = axis.transData.transform((budget, 1))[0]
        x_axes = axis.transAxes.inverted().transform((x, 0))[0]
        for row, placed in enumerate([*rows, []]):
            text = axis.text(x_axes, 1.01 + 0.045 * row, f"TOP-{k}", transform=axis.transAxes, ha="center",
                             va="bottom", fontsize=8, color="grey")
            box = text.get_window_extent(renderer=figure.canvas.get_renderer()).expanded(1.1, 1.0)
            if not any(box.overlaps(other) for other in placed):
                if row == len(rows):
                    rows.append([])
                rows[row].append(box)
                break
            text.remove()
    return len(rows)


def subspaces(url: str, out: Path, family: str | None = None, params: dict | None = None) -> Path:
    """Top-k ground truth of WS and RS (mean, min/max band) and Kendall's tau (right axis)
    against the down-scale k of one family of derived sub-spaces."""
    from wsdb.analyses.report import subspace_runs, subspace_summary

    summary = subspace_summary(subspace_runs(url, params))
    families = sorted({r["family"] for r in summary})
    if family is None and len(families) > 1:
        raise WsdbError(f"--family: the warehouse has {len(families)} families of derived sub-spaces: "
                        f"{', '.join(families)}")
    family = family or families[0]
    rows = [r for r in summary if r["family"] == family]
    if not rows:
        raise WsdbError(f"--family {family!r}: no super-nets on it; known: {', '.join(families)}")
    if len({r["protocol_id"] for r in rows}) > 1:
        raise WsdbError(f"{family} is scored under several protocols: choose one with --param protocol=...")
    k = int((params or {}).get("k", 10))
    x = np.array([r["down_scale"] for r in rows])
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for statistic, label, color in (("ws_top_k", f"weight sharing top-{k}", "tab:blue"),
                                    ("rs_top_k", f"random search top-{k}", "tab:red")):
        mean = np.array([r[f"{statistic}_mean"] for r in rows], dtype=float) * 100
        low = np.array([r[f"{statistic}_min"] for r in rows], dtype=float) * 100
        high = np.array([r[f"{statistic}_max"] for r in rows], dtype=float) * 100
        axis.plot(x, mean, marker="o", color=color, label=label)
        axis.fill_between(x, low, high, color=color, alpha=0.2)
    axis.set_xscale("log", base=2)
    axis.set_xlabel("down-scale k (the sub-space holds 1/k of its parent)")
    axis.set_ylabel("top-k ground truth (%)")
    right = axis.twinx()
    tau = np.array([np.nan if r["kendall_mean"] is None else r["kendall_mean"] for r in rows], dtype=float)
    right.plot(x, tau, marker="s", color="black", label="Kendall tau")
    right.set_ylabel("Kendall tau")
    lines = axis.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    labels = axis.get_legend_handles_labels()[1] + right.get_legend_handles_labels()[1]
    axis.legend(lines, labels, fontsize=8, loc="lower left")
    axis.set_title(f"{family}: weight sharing vs random search, min/max over runs\n"
                   "(layout of Zhang, Zhang, Yang 2020, Figures 2 and 5)", fontsize=10)
    return _save(figure, out)


def _save(figure, out: Path) -> Path:
    out = Path(out)
    try:
        with atomic_output(out, "plot") as partial:
            figure.savefig(partial, dpi=120, bbox_inches="tight", format=out.suffix.lstrip(".").lower() or "png")
    finally:
        plt.close(figure)
    return out
