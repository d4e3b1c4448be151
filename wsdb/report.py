"""`wsdb report table1`: the layout of Table 1 of ../seeds/000, from whatever the warehouse holds.

Rows are sub-spaces, columns training variant x evaluation protocol, cells the mean Spearman
rho over the super-nets of that configuration with a 95% confidence interval. Super-nets
whose proxy is constant (diverged) are left out and the cell is marked *. The per-super-net
correlations come from the `correlation` analysis (queries/correlation.sql); only the
aggregation over super-nets, which needs t quantiles, is Python.

Interval conventions (selectable, stated in the output):
  seed000    1.96 x population standard deviation / sqrt(n), what Table 1 reports;
  student-t  t(0.975, n-1) x sample standard deviation / sqrt(n).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy import stats

from wsdb import analysis, duck
from wsdb.errors import WsdbError

CONVENTIONS = ("seed000", "student-t")
ROW_ORDER = ("A4", "A3", "A2", "A1", "FULL", "NRES", "RES")
# (training variant, protocol) -> column title of ../seeds/000 Table 1
COLUMN_TITLES = {
    ("baseline", "no-ft"): "NO-FT",
    ("baseline", "bns-ft:4"): "BNS-FT",
    ("single-k", "bns-ft:4"): "SINGLE-K",
    ("pro-rata", "bns-ft:4"): "PRO-RATA",
    ("avg-3", "bns-ft:4"): "AVG-3",
    ("s-k+p-r", "bns-ft:4"): "S-K + P-R",
}


@dataclass
class Cell:
    values: list[float]
    left_out: int

    def interval(self, convention: str) -> tuple[float, float]:
        kept = np.asarray(self.values, dtype=float)
        n = len(kept)
        if n == 0:
            return math.nan, math.nan
        mean = float(kept.mean())
        if n == 1:
            return mean, math.nan
        if convention == "seed000":
            return mean, float(1.96 * kept.std(ddof=0) / math.sqrt(n))
        return mean, float(stats.t.ppf(0.975, n - 1) * kept.std(ddof=1) / math.sqrt(n))


def _column(config: dict, protocol: str) -> str:
    variant = config.get("variant") or config.get("sampler") or "custom"
    return COLUMN_TITLES.get((variant, protocol), f"{variant} / {protocol}")


def table1(url: str, params: dict[str, str] | None = None) -> dict[tuple[str, str], Cell]:
    """(sub-space, column) -> the cell's per-super-net Spearman values."""
    correlation = analysis.load("correlation")
    con = duck.connect(url)
    try:
        rows = duck.run(con, correlation.sql, correlation.bind(params or {})).to_pylist()
        configs = dict(con.execute("SELECT id, config_json FROM supernets").fetchall())
    finally:
        con.close()
    cells: dict[tuple[str, str], Cell] = defaultdict(lambda: Cell([], 0))
    for row in rows:
        if row["checkpoint_label"] not in ("final",) and not row["checkpoint_label"].startswith("epoch-"):
            continue
        key = (row["subspace"] or "FULL", _column(json.loads(configs[row["supernet_id"]]), row["protocol_id"]))
        if row["proxy_is_constant"]:
            cells[key].left_out += 1
        else:
            cells[key].values.append(row["spearman"])
    return dict(cells)


def layout(cells: dict[tuple[str, str], Cell], convention: str) -> list[dict]:
    """Rows of the table as dicts: subspace, then one formatted cell per column."""
    if convention not in CONVENTIONS:
        raise WsdbError(f"--ci must be one of {', '.join(CONVENTIONS)}")
    known = list(COLUMN_TITLES.values())
    columns = [c for c in known if any(k[1] == c for k in cells)] + sorted({k[1] for k in cells} - set(known))
    subspaces = [s for s in ROW_ORDER if any(k[0] == s for k in cells)] + sorted({k[0] for k in cells} - set(ROW_ORDER))
    rows = []
    for subspace in subspaces:
        row = {"subspace": subspace}
        for column in columns:
            cell = cells.get((subspace, column))
            if cell is None:
                row[column] = ""
                continue
            mean, half = cell.interval(convention)
            star = "* " if cell.left_out else ""
            row[column] = f"{star}{mean:.2f} ± {half:.2f}" if not math.isnan(half) else f"{star}{mean:.2f}"
        rows.append(row)
    return rows


def long_rows(cells: dict[tuple[str, str], Cell], convention: str) -> list[dict]:
    """One row per cell with its numbers (for CSV)."""
    out = []
    for (subspace, column), cell in sorted(cells.items()):
        mean, half = cell.interval(convention)
        out.append({"subspace": subspace, "column": column, "supernets_kept": len(cell.values),
                    "supernets_left_out": cell.left_out, "mean_spearman": mean, "ci95_half_width": half,
                    "convention": convention})
    return out


def markdown(rows: list[dict], convention: str) -> str:
    if not rows:
        return "(no super-nets with proxy scores and ground truth)\n"
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(r[h]) for h in header) + " |" for r in rows]
    note = ("95% CI: 1.96 x population sd / sqrt(n) (../seeds/000)" if convention == "seed000"
            else "95% CI: Student t")
    return "\n".join(lines) + f"\n\nSpearman rho, mean over super-nets; {note}; * = a diverged super-net was left out.\n"
