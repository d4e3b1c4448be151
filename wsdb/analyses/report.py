"""`wsdb report ...`: the layouts of Tables 1 and 2 of Pourchot et al. 2020, of Yu et al. 2020's and
Zhang et al. 2020 (Deeper Insights)'s factor tables
and of Figures 2 and 5 of Zhang, Zhang, Yang 2020, from whatever the warehouse holds.

Rows are sub-spaces, columns training variant x evaluation protocol, cells the mean Spearman
rho over the super-nets of that configuration with a 95% confidence interval, `*` where a
diverged super-net (constant proxy) was left out. The numbers come from the analysis
`correlation_summary` (queries/correlation_summary.sql); this module only lays them out.

Interval conventions (selectable, stated in the output):
  normal     1.96 x population standard deviation / sqrt(n), what Pourchot et al.'s Table 1
             reports;
  student-t  t(0.975, n-1) x sample standard deviation / sqrt(n).
"""

from __future__ import annotations

import json
import math
import warnings

from wsdb.analyses import runner as analysis

from wsdb.analyses import duck

from wsdb.spaces import registry
from wsdb.warehouse import lookup
from wsdb.base.errors import WsdbError
from wsdb.base.papers import POURCHOT_2020, YU_2020, ZHANG_2020_DEEPER, ZHANG_ZHANG_YANG_2020

CONVENTIONS = {"normal": "spearman_ci95_normal", "student-t": "spearman_ci95_student_t"}
ROW_ORDER = ("A4", "A3", "A2", "A1", "FULL", "NRES", "RES")
# (training variant, protocol) -> column title of Pourchot et al. 2020, Table 1
COLUMN_TITLES = {
    ("baseline", "no-ft"): "NO-FT",
    ("baseline", "bns-ft:4"): "BNS-FT",
    ("single-k", "bns-ft:4"): "SINGLE-K",
    ("pro-rata", "bns-ft:4"): "PRO-RATA",
    ("avg-3", "bns-ft:4"): "AVG-3",
    ("s-k+p-r", "bns-ft:4"): "S-K + P-R",
}


def report_rows(url: str, name: str, params: dict | None = None, why=None) -> list[dict]:
    """Rows of an analysis for a report; none is an error saying why (`why(con, values)`, else
    the analysis' own explanation)."""
    with duck.connect(url) as con:
        item = analysis.load(name)
        values = analysis.bound(con, item, params)
        rows = analysis.execute(con, item, values).to_pylist()
        if not rows:
            reason = why(con, values) if why else analysis.explain_empty(con, item, values)
            raise WsdbError(f"nothing to report: {reason}")
    return rows


def summary(url: str, params: dict[str, str] | None = None) -> list[dict]:
    """Rows of correlation_summary, each with its Table 1 column title; an error saying why
    when there are none."""
    rows = report_rows(url, "correlation_summary", params)
    for row in rows:
        row["column"] = COLUMN_TITLES.get((row["training_variant"], row["protocol_id"]),
                                          f"{row['training_variant']} / {row['protocol_id']}")
        row["subspace"] = row["subspace"] or "FULL"
    return rows


def check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise WsdbError(f"--ci must be one of {', '.join(CONVENTIONS)}")
    return convention


def half_width(row: dict, convention: str) -> float:
    """The 95% half width of a cell; NaN where it is undefined (a single super-net)."""
    value = row[CONVENTIONS[check_convention(convention)]]
    return math.nan if value is None or row["supernets_kept"] < 2 else value


def layout(rows: list[dict], convention: str) -> list[dict]:
    """One dict per sub-space: the sub-space, then one formatted cell per column."""
    known = list(COLUMN_TITLES.values())
    present = {r["column"] for r in rows}
    columns = [c for c in known if c in present] + sorted(present - set(known))
    subspaces = {r["subspace"] for r in rows}
    ordered = [s for s in ROW_ORDER if s in subspaces] + sorted(subspaces - set(ROW_ORDER))
    cells = {(r["subspace"], r["column"]): r for r in rows}
    table = []
    for subspace in ordered:
        line = {"subspace": subspace}
        for column in columns:
            row = cells.get((subspace, column))
            if row is None or row["mean_spearman"] is None:
                line[column] = ""
                continue
            half = half_width(row, convention)
            star = "* " if row["supernets_left_out"] else ""
            mean = row["mean_spearman"]
            if row["supernets_kept"] < 2:  # one super-net has no spread: no interval, and it says so
                line[column] = f"{star}{mean:.2f} (n=1)"
            else:
                line[column] = f"{star}{mean:.2f} ± {half:.2f}" if not math.isnan(half) else f"{star}{mean:.2f}"
        table.append(line)
    return table


def long_rows(rows: list[dict], convention: str) -> list[dict]:
    """One row per cell with its numbers (for CSV)."""
    return [
        {"subspace": r["subspace"], "column": r["column"], "supernets_kept": r["supernets_kept"],
         "supernets_left_out": r["supernets_left_out"], "mean_spearman": r["mean_spearman"],
         "ci95_half_width": half_width(r, convention), "convention": convention}
        for r in rows
    ]


def markdown_table(table: list[dict]) -> str:
    """Rows of one shape as a Markdown table (the columns of the first row)."""
    header = list(table[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(r[h]) for h in header) + " |" for r in table])


def markdown(table: list[dict], convention: str) -> str:
    if not table:
        return "(no super-nets with proxy scores and ground truth)\n"
    note = (f"95% CI: 1.96 x population sd / sqrt(n), as {POURCHOT_2020.short}"
            if check_convention(convention) == "normal" else "95% CI: Student t")
    return (markdown_table(table) + f"\n\nSpearman rho, mean over super-nets; {note};\n"
            "* = a diverged super-net was left out.\n")


# --- Table 2 of Pourchot et al. 2020: regret differences at the TOP-k budgets ----------------


def _difference(first: list[float], second: list[float]) -> dict:
    """mean(first) - mean(second), x100, with a 95% CI (Student, pooled variance), the
    independent two-sample t-test p-value, and Cohen's d with the pooled standard deviation."""
    import numpy as np
    from scipy import stats

    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    n1, n2 = len(a), len(b)
    if n1 < 2 or n2 < 2:
        return {"difference": math.nan, "ci95": math.nan, "p_value": math.nan, "cohens_d": math.nan}
    pooled = math.sqrt(((n1 - 1) * a.var(ddof=1) + (n2 - 1) * b.var(ddof=1)) / (n1 + n2 - 2))
    difference = a.mean() - b.mean()
    half = stats.t.ppf(0.975, n1 + n2 - 2) * pooled * math.sqrt(1 / n1 + 1 / n2)
    if pooled <= 1e-12 * max(1.0, abs(a.mean()), abs(b.mean())):
        p_value = math.nan  # every run of both has the same regret (both found the optimum): t is undefined
    else:
        with warnings.catch_warnings():  # scipy's precision note for nearly equal samples: the value stands
            warnings.simplefilter("ignore", RuntimeWarning)
            p_value = stats.ttest_ind(a, b, equal_var=True).pvalue
    return {"difference": 100 * difference, "ci95": 100 * half, "p_value": float(p_value),
            "cohens_d": difference / pooled if pooled > 0 else math.nan}


def table2(url: str, search_space: str = "nb101", top_k: str = "1,10") -> list[dict]:
    """Per sub-space and TOP-k: RS - RE and RS - WS regret differences (x100)."""
    with duck.connect(url) as con:
        rows = analysis.run(con, "regret_at_budgets", {"search_space": search_space, "top_k": top_k}).to_pylist()
        if not rows:
            stored = sorted(a for (a,) in lookup.rows(con, "SELECT DISTINCT algorithm FROM search_runs "
                                                          "WHERE search_space = :s", {"s": search_space}))
            raise WsdbError(f"nothing to report: Table 2 compares WS-guided runs with random search and regularized "
                            f"evolution of the same space, and {search_space} has "
                            f"{'runs of ' + ', '.join(stored) + ' only' if stored else 'no simulations'}: "
                            "run `wsdb simulate` first")
    groups: dict[tuple, dict[str, list[float]]] = {}
    for row in rows:
        if row["regret"] is not None:
            groups.setdefault((row["subspace"] or "FULL", row["top_k"]), {}).setdefault(row["algorithm"], []).append(row["regret"])
    out = []
    for (subspace, k), regrets in sorted(groups.items(), key=lambda item: (ROW_ORDER.index(item[0][0])
                                                                           if item[0][0] in ROW_ORDER else 99, item[0][1])):
        for other in ["re", "ws", *sorted(set(regrets) - {"rs", "re", "ws"})]:  # then differentiable methods
            if "rs" in regrets and other in regrets:
                out.append({"subspace": subspace, "top_k": k, "comparison": f"RS - {other.upper()}",
                            "rs_runs": len(regrets["rs"]), "other_runs": len(regrets[other]),
                            **_difference(regrets["rs"], regrets[other])})
    return out


def table2_notes(rows: list[dict]) -> list[str]:
    """What an empty p-value means, for stderr."""
    same = [f"{r['subspace']} TOP-{r['top_k']} {r['comparison']}" for r in rows
            if math.isnan(r["p_value"]) and r["rs_runs"] > 1 and r["other_runs"] > 1]
    if not same:
        return []
    return [f"no p-value where every run of both searches has the same regret (t is undefined): {', '.join(same[:4])}"
            + (f" and {len(same) - 4} more" if len(same) > 4 else "")]


def table2_markdown(rows: list[dict]) -> str:
    if not rows:
        return "(no WS-guided runs with RS/RE runs of the same space: run `wsdb simulate` first)\n"
    lines = ["| subspace | TOP-k | comparison | difference x100 | p | d |", "|---|---|---|---|---|---|"]
    for r in rows:
        p = "p < 0.01" if r["p_value"] < 0.01 else f"p = {r['p_value']:.2f}"
        lines.append(f"| {r['subspace']} | TOP-{r['top_k']} | {r['comparison']} | {r['difference']:.2f} ± {r['ci95']:.2f} "
                     f"| {p} | {r['cohens_d']:.2f} |")
    return "\n".join(lines) + ("\n\nMean test-regret difference x100 at the TOP-k time budget with a 95% CI (Student, "
                               "pooled variance), independent t-test p-value, Cohen's d with the pooled sd.\n")


# --- Figures 2 and 5 of Zhang, Zhang, Yang 2020: WS vs RS on down-scaled sub-spaces ----------

SUBSPACE_STATISTICS = ("ws_top_k", "rs_top_k", "kendall", "spearman")
DERIVED_KINDS = "('random', 'random-cells', 'best')"


def subspace_runs(url: str, params: dict[str, str] | None = None) -> list[dict]:
    """Rows of the analysis subspace_runs (one per super-net and protocol); an error saying
    why when there are none."""
    def why(con, values) -> str:
        derived = lookup.rows(con, f"SELECT COUNT(*) FROM subspaces WHERE kind IN {DERIVED_KINDS}")[0][0]
        trained = lookup.rows(con, "SELECT COUNT(*) FROM supernets n JOIN subspaces s ON s.search_space = "
                                   f"n.search_space AND s.name = n.subspace WHERE s.kind IN {DERIVED_KINDS}")[0][0]
        if not derived:
            return "no derived sub-space is defined (`wsdb spaces define random/nb201/8/0`)"
        if not trained:
            return (f"{derived} derived sub-spaces are defined but no super-net was trained on one "
                    "(`wsdb run-supernet --subspace random/...`)")
        return (f"the super-nets of derived sub-spaces have no {values['metric']} proxy scores of architectures with "
                f"{values['truth']} ground truth (`wsdb evaluate` scores them; --param truth=..., benchmark=..., "
                "dataset=... choose the ground truth)")

    return report_rows(url, "subspace_runs", params, why)


def subspace_summary(rows: list[dict]) -> list[dict]:
    """Per family, down-scale and protocol: runs, and mean/min/max of WS top-k, RS top-k,
    Kendall's tau and Spearman's rho over them (the error bars of Zhang, Zhang, Yang's figures are min/max)."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["family"], row["down_scale"], row["protocol_id"]), []).append(row)
    out = []
    for (family, down_scale, protocol), members in sorted(groups.items()):
        line = {"family": family, "down_scale": down_scale, "protocol_id": protocol, "runs": len(members),
                "members_ranked": max(m["members_ranked"] for m in members)}
        for statistic in SUBSPACE_STATISTICS:
            values = [m[statistic] for m in members if m[statistic] is not None]
            line[f"{statistic}_mean"] = sum(values) / len(values) if values else None
            line[f"{statistic}_min"] = min(values) if values else None
            line[f"{statistic}_max"] = max(values) if values else None
        out.append(line)
    return out


def subspace_layout(summary: list[dict], k: int) -> list[dict]:
    """The summary as a readable table: accuracies x100, mean [min, max]."""
    def cell(row, statistic, scale):
        if row[f"{statistic}_mean"] is None:
            return ""
        mean, low, high = (scale * row[f"{statistic}_{part}"] for part in ("mean", "min", "max"))
        digits = 2 if scale == 100 else 3
        return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"

    return [{"family": r["family"], "1/k": r["down_scale"], "protocol": r["protocol_id"], "runs": r["runs"],
             "classes": r["members_ranked"], f"WS top-{k}": cell(r, "ws_top_k", 100),
             f"RS top-{k}": cell(r, "rs_top_k", 100), "Kendall tau": cell(r, "kendall", 1),
             "Spearman rho": cell(r, "spearman", 1)} for r in summary]


def subspace_markdown(table: list[dict], k: int) -> str:
    return (markdown_table(table) + f"\n\nTop-{k} ground truth x100 (WS: the {k} best by the super-net; RS: expected best of "
            f"{k} uniform draws), Kendall tau and Spearman rho (the statistic of their figures), mean [min, max] over "
            "runs; layout of "
            f"{ZHANG_ZHANG_YANG_2020.short}, Figures 2 and 5.\n")


# --- what differentiable methods find, per dataset (Li, Khodak, Balcan, Talwalkar 2021, Figure 5) --


def differentiable(url: str, params: dict | None = None) -> list[dict]:
    """Per search space (and sub-space: NAS-Bench-1Shot1's searches), method and formulation, and
    dataset: the derived architectures' accuracy, mean and sample standard deviation over the
    super-nets (seeds), then the sub-space's optimum on each dataset."""
    import statistics

    def why(con, values) -> str:
        derived = lookup.rows(con, """
            SELECT a.search_space, COALESCE(:benchmark, sp.default_benchmark), COALESCE(:epoch_budget,
                   sp.default_epoch_budget), a.canonical_encoding
            FROM derived_architectures d JOIN checkpoints c ON c.id = d.checkpoint_id
            JOIN architectures a ON a.id = d.architecture_id JOIN search_spaces sp ON sp.name = a.search_space
            WHERE :supernet IS NULL OR c.supernet_id = :supernet ORDER BY c.created_at DESC LIMIT 1""", values)
        if not derived:
            return "no super-net trained with --search has a checkpoint (train with `wsdb run-supernet --search ...`)"
        space, benchmark, budget, encoding = derived[0]
        return (f"the architectures derived on {space} have no {benchmark} ground truth at {budget} epochs (the "
                f"newest: {encoding}): ingest the space's benchmark, or give --param benchmark=, epoch_budget=")

    rows = report_rows(url, "derived_accuracy", params, why)
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        key = (row["search_space"], row["subspace"], row["method"], row["formulation"], row["dataset"])
        groups.setdefault(key, []).append(row)
    out = []
    for (space, subspace, method, formulation, dataset), members in sorted(groups.items()):
        accuracies = [m["accuracy"] for m in members]
        out.append({"search_space": space, "subspace": subspace, "method": method, "formulation": formulation,
                    "dataset": dataset,
                    "supernets": len(members), "mean": statistics.fmean(accuracies),
                    "std": statistics.stdev(accuracies) if len(accuracies) > 1 else None,
                    "measured_on": members[0]["measured_on"], "optimum": members[0]["optimum"],
                    "optimum_covers": members[0]["optimum_covers"]})
    return out


def differentiable_layout(summary: list[dict]) -> list[dict]:
    """Rows: method (and formulation) per space or sub-space, then its optimum ("best trained" in a
    space that cannot be enumerated, "best with ground truth" where some stored architecture of
    the sub-space has none); columns: datasets, accuracy x100 as mean ± std (n)."""
    datasets = sorted({r["dataset"] for r in summary})
    table: dict[tuple, dict] = {}
    for r in summary:
        space = r["search_space"] if r["subspace"] == "FULL" else f"{r['search_space']}/{r['subspace']}"
        line = table.setdefault((space, r["method"], r["formulation"]),
                                {"space": space, "method": f"{r['method']} ({r['formulation']})"})
        spread = f" ± {100 * r['std']:.2f}" if r["std"] is not None else ""
        line[r["dataset"]] = f"{100 * r['mean']:.2f}{spread} ({r['supernets']})"
        # the best architecture with ground truth is the optimum only where the ground truth covers
        # the (sub-)space; on darts it is the best of those trained
        label = ("best trained" if not registry.get_space(r["search_space"]).enumerable
                 else "optimum" if r["optimum_covers"] else "best with ground truth")
        optimum = table.setdefault((space, "~optimum", ""), {"space": space, "method": label})
        optimum[r["dataset"]] = f"{100 * r['optimum']:.2f}"
    return [{"space": v["space"], "method": v["method"], **{d: v.get(d, "") for d in datasets}}
            for _, v in sorted(table.items())]


# --- the factor studies: Yu et al. 2020, Tables 3-4; Zhang et al. 2020 (Deeper Insights), Table 3 --

FACTOR_STATISTICS = (  # (column of the analysis factors, title, scale)
    ("supernet_accuracy", "accuracy", 100), ("sparse_kendall", "s-KdT", 1), ("kendall", "KdT", 1),
    ("final_accuracy", "final", 100), ("probability_to_surpass_random", "P>R", 1),
    ("gt_tau_mean", "GT-Tau-Mean", 1), ("gt_tau_std", "GT-Tau-Std", 1),
)
# recorded from other keys, free notes, or provenance (the publication an import cites): never a factor
DERIVED_KEYS = ("groups", "extra", "publication", "note")


def factors(url: str, sweep: str | None = None, supernets: list[str] | None = None,
            params: dict | None = None) -> tuple[list[str], list[dict]]:
    """The factor keys (configuration keys whose values differ between the chosen super-nets)
    and one row per (values of those keys, protocol): the super-nets (seeds) and each
    statistic's mean, sample standard deviation, population standard deviation (the ± of
    Zhang et al. 2020, Deeper Insights) and Student t 95% half width."""
    import statistics

    from scipy import stats

    def why(con, values) -> str:
        if sweep:
            named = lookup.rows(con, "SELECT COUNT(*) FROM supernets WHERE name LIKE :s || '/%'", {"s": sweep})[0][0]
            if not named:
                return f"no super-net of sweep {sweep!r} (its super-nets are named {sweep}/...: `wsdb jobs --sweep`)"
        return analysis.explain_empty(con, analysis.load("factors"), values)

    rows = report_rows(url, "factors", {**(params or {}), **({"sweep": sweep} if sweep else {})}, why)
    if supernets:
        with duck.connect(url) as con:
            wanted = {lookup.supernet(con, name).id for name in supernets}
        rows = [r for r in rows if r["supernet_id"] in wanted]
        if not rows:
            raise WsdbError("nothing to report: none of the super-nets named has proxy scores of architectures with "
                            "ground truth (`wsdb evaluate`)")
    configurations = [json.loads(r["configuration"]) for r in rows]
    for row, configuration in zip(rows, configurations):
        configuration["space"] = row["search_space"]  # factors compare super-nets of one space
    varying = []
    for space in sorted({c["space"] for c in configurations}):
        alike = [c for c in configurations if c["space"] == space]
        keys = sorted({k for c in alike for k in c} - set(DERIVED_KEYS))
        varying += [k for k in keys if k not in varying
                    and len({json.dumps(c.get(k), sort_keys=True) for c in alike}) > 1]
    if len({c["space"] for c in configurations}) > 1:
        varying.insert(0, "space")
    groups: dict[tuple, list[dict]] = {}
    for row, configuration in zip(rows, configurations):
        values = tuple(configuration.get(k) for k in varying)
        groups.setdefault((values, row["protocol_id"]), []).append(row)

    def order(item):
        values, protocol = item[0]
        return tuple((v is None, isinstance(v, str), v if isinstance(v, (int, float)) else str(v)) for v in values), protocol

    out = []
    for (values, protocol), members in sorted(groups.items(), key=order):
        line = {"factors": dict(zip(varying, values)), "protocol_id": protocol, "supernets": len(members)}
        for column, _, _ in FACTOR_STATISTICS:
            numbers = [m[column] for m in members if m[column] is not None]
            mean = statistics.fmean(numbers) if numbers else None
            sd = statistics.stdev(numbers) if len(numbers) > 1 else None
            line[column] = {"n": len(numbers), "mean": mean, "sd": sd,
                            "std": statistics.pstdev(numbers) if len(numbers) > 1 else None,
                            "ci95": stats.t.ppf(0.975, len(numbers) - 1) * sd / math.sqrt(len(numbers)) if sd is not None
                            else None}
        out.append(line)
    return varying, out


def factor_long_rows(varying: list[str], summary: list[dict]) -> list[dict]:
    """One flat row per group (CSV, JSON)."""
    return [{**{k: r["factors"][k] for k in varying}, "protocol_id": r["protocol_id"], "supernets": r["supernets"],
             **{f"{column}_{part}": r[column][part] for column, _, _ in FACTOR_STATISTICS
                for part in ("mean", "ci95", "std", "n")}} for r in summary]


# What ± means in a factor table: the Student t 95% half width over seeds, or the population
# standard deviation over them (Zhang et al. 2020, Deeper Insights, Tables 2-3: "the standard
# variance of these 10 numbers", numpy's std; checked on their T3R 17.6 ± 0.4899).
SPREADS = {"student-t": ("ci95", "Student t 95% half width"), "std": ("std", "population standard deviation")}


def check_spread(spread: str) -> str:
    if spread not in SPREADS:
        raise WsdbError(f"--spread must be one of {', '.join(SPREADS)}")
    return spread


def factor_layout(varying: list[str], summary: list[dict], spread: str = "student-t") -> list[dict]:
    """Rows: the factor values; columns: the statistics as mean ± spread (accuracies x100);
    GT-Tau columns only where some super-net was scored step by step."""
    part = SPREADS[check_spread(spread)][0]
    present = [(c, t, s) for c, t, s in FACTOR_STATISTICS if any(r[c]["n"] for r in summary)]

    def cell(value: dict, scale: int) -> str:
        if value["mean"] is None:
            return ""
        digits = 2 if scale == 100 else 3
        shown = f" ± {scale * value[part]:.{digits}f}" if value[part] is not None else ""
        return f"{scale * value['mean']:.{digits}f}{shown}"

    return [{"factor": ", ".join(f"{k}={_as_text(r['factors'][k])}" for k in varying) or "(one configuration)",
             "protocol": r["protocol_id"], "n": r["supernets"],
             **{title: cell(r[column], scale) for column, title, scale in present}} for r in summary]


def _as_text(value) -> str:
    """A configuration value in a row label: strings as they are, the rest as JSON (true, 0.2)."""
    return value if isinstance(value, str) else json.dumps(value)


def factor_markdown(varying: list[str], summary: list[dict], spread: str = "student-t") -> str:
    return (markdown_table(factor_layout(varying, summary, spread)) + f"\n\nMean ± {SPREADS[spread][1]} over "
            "super-nets (seeds); accuracy (mean proxy accuracy) and final (mean ground truth of the top-k picks, "
            f"k = 3 as {YU_2020.short}) x100; layouts of {YU_2020.short}, Tables 3-4, and "
            f"{ZHANG_2020_DEEPER.short}, Table 3 (whose ± is --spread std).\n")
