"""`wsdb report html`: a study as one self-contained HTML file a reviewer opens in a browser.

Everything is inline (plotly.js, styles, data; no fonts or files are fetched), so the page
opens offline. Sections: what the warehouse holds, the super-nets with their configuration
and provenance, Table 1 of Pourchot et al. 2020 (mean Spearman rho per configuration), the
correlations per checkpoint, proxy-vs-truth scatter plots per super-net (a tooltip names each
architecture: encoding, canonical key, truth, proxy), regret curves of the search
simulations, bias and stability tables. Under each section stands the `wsdb` command that
prints the same numbers; every number comes from the same analyses the CLI runs.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from wsdb.analyses import runner as analysis

from wsdb.warehouse import catalog

from wsdb.analyses import duck

from wsdb.warehouse import lookup

from wsdb.analyses import report
from wsdb.warehouse.db import describe_url, duckdb_path
from wsdb.base.errors import WsdbError
from wsdb.base.files import atomic_output, check_output

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.number { text-align: right; font-variant-numeric: tabular-nums; }
pre.reproduce { background: #f7f7f7; border-left: 3px solid #888; padding: 0.5em; font-size: 0.85em; overflow-x: auto; }
.note { color: #666; font-size: 0.9em; } .scroll { max-height: 28em; overflow-y: auto; }
td[data-column="configuration"], td[data-column="source"] { max-width: 28em; font-size: 0.75em; word-break: break-word; }
"""


def _cell(column: str, value) -> str:
    if isinstance(value, float):
        shown = "" if math.isnan(value) else f"{value:.4f}"
        return f'<td class="number" data-column="{html.escape(column)}" data-value="{value!r}">{shown}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="number" data-column="{html.escape(column)}" data-value="{value}">{value:,}</td>'
    text = "" if value is None else str(value)
    return f'<td data-column="{html.escape(column)}">{html.escape(text)}</td>'


def _table(rows: list[dict], table_id: str, columns: list[str] | None = None) -> str:
    if not rows:
        return '<p class="note">(no rows)</p>'
    columns = columns or list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(c, r.get(c)) for c in columns) + "</tr>" for r in rows)
    return f'<div class="scroll"><table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _section(section_id: str, title: str, content: str, command: str) -> str:
    return (f'<section id="{section_id}"><h2>{html.escape(title)}</h2>{content}'
            f'<pre class="reproduce">{html.escape(command)}</pre></section>')


def _query(con, name: str, params: dict | None = None) -> tuple[list[dict], str | None]:
    """An analysis' rows, or no rows and why."""
    item = analysis.load(name)
    values = analysis.bound(con, item, params)
    rows = analysis.execute(con, item, values).to_pylist()
    return rows, (None if rows else analysis.explain_empty(con, item, values))


def _scatter(con, supernet: dict) -> str:
    rows = con.execute("""
        WITH newest AS (
            SELECT id FROM checkpoints WHERE supernet_id = $s
            ORDER BY step DESC NULLS LAST, epoch DESC NULLS LAST, created_at DESC LIMIT 1)
        SELECT p.protocol_id, a.canonical_encoding, a.canonical_key, AVG(p.value) AS proxy,
               ANY_VALUE(t.validation_accuracy) AS truth
        FROM proxy_scores p JOIN newest n ON n.id = p.checkpoint_id
        JOIN architectures a ON a.id = p.architecture_id
        JOIN search_spaces sp ON sp.name = a.search_space
        JOIN ground_truth_final t ON t.architecture_id = a.id AND t.benchmark = sp.default_benchmark
         AND t.dataset = sp.default_dataset AND t.epoch_budget = sp.default_epoch_budget
        WHERE p.metric = 'validation_accuracy' AND t.validation_accuracy IS NOT NULL
        GROUP BY p.protocol_id, a.canonical_encoding, a.canonical_key ORDER BY a.canonical_key""",
                       {"s": supernet["id"]}).fetchall()
    if not rows:
        return f'<p class="note">{html.escape(supernet["label"])}: no validation-accuracy scores with ground truth.</p>'
    protocol = sorted({r[0] for r in rows})[0]
    rows = [r for r in rows if r[0] == protocol]
    figure = go.Figure(go.Scatter(  # SVG: WebGL needs a GPU some viewers lack
        x=[r[4] * 100 for r in rows], y=[r[3] * 100 for r in rows], mode="markers", marker={"size": 4, "opacity": 0.6},
        customdata=[[r[1], r[2]] for r in rows],
        hovertemplate="encoding %{customdata[0]}<br>key %{customdata[1]}<br>truth %{x:.2f}<br>proxy %{y:.2f}"
                      "<extra></extra>"))
    figure.update_layout(title=f"{supernet['label']} ({protocol}, newest checkpoint, {len(rows)} architectures)",
                         xaxis_title="stand-alone validation accuracy (%)", yaxis_title="proxy validation accuracy (%)",
                         height=420, margin={"t": 50, "l": 60, "r": 20, "b": 50})
    return pio.to_html(figure, include_plotlyjs=False, full_html=False, div_id=f"scatter-{supernet['id'][:12]}",
                       config={"displaylogo": False, "responsive": True})


def _regret(con) -> str:
    rows, why = _query(con, "regret_curve")
    if not rows:
        return f'<p class="note">{html.escape(why or "no simulations")}</p>'
    figure = go.Figure()
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["search_space"], row["subspace"] or "FULL", row["algorithm"], row["supernet_name"] or ""),
                          []).append(row)
    for (space, subspace, algorithm, supernet), points in sorted(groups.items()):
        figure.add_trace(go.Scatter(x=[p["time"] for p in points], y=[p["mean_regret"] * 100 for p in points],
                                    mode="lines", name=f"{space}/{subspace} {algorithm} {supernet}".strip()))
    figure.update_layout(xaxis_type="log", yaxis_type="log", xaxis_title="simulated time",
                         yaxis_title="mean test regret (points)", height=420)
    return pio.to_html(figure, include_plotlyjs=False, full_html=False, div_id="regret-curves",
                       config={"displaylogo": False, "responsive": True})


def _table1_per_space(url: str, db_option: str) -> str:
    """Table 1 for each search space with scored super-nets, as `wsdb report table1 --space`
    prints it: a table never mixes the columns of two spaces."""
    with duck.connect(url) as con:
        spaces = [s for (s,) in con.execute("SELECT DISTINCT search_space FROM supernets ORDER BY 1").fetchall()]
    parts, errors = [], []
    for space in spaces:
        try:
            cells = report.summary(url, {"search_space": space})
        except WsdbError as error:
            errors.append(f"{space}: {error}")
            continue
        parts.append(f"<h3>{html.escape(space)}</h3>" + _table(report.layout(cells, "normal"), f"table1-{space}")
                     + f'<p class="note">wsdb report table1 --space {html.escape(space)}{html.escape(db_option)}; '
                       "95% CI: 1.96 x population sd / sqrt(n); n=1: a single super-net, no interval</p>")
    if not parts:
        return f'<p class="note">{html.escape("; ".join(errors) or "the warehouse holds no super-nets")}</p>'
    return "".join(parts)


def _chosen_supernets(con, supernets: list[str] | None) -> list[dict]:
    """The super-nets the report covers (all, or the named ones), each with a label."""
    chosen = [lookup.supernet(con, s).id for s in supernets or []]
    rows = con.execute("SELECT id, name, search_space, subspace, status, origin, source, config_json, seed "
                       "FROM supernets ORDER BY name, id").fetchall()
    nets = [dict(zip(("id", "name", "search_space", "subspace", "status", "origin", "source", "config", "seed"), r))
            for r in rows if not chosen or r[0] in chosen]
    if not nets:
        raise WsdbError("nothing to report: the warehouse holds no super-nets")
    for net in nets:
        net["label"] = net["name"] or net["id"][:12]
    return nets


def _analysis_section(con, section_id: str, title: str, name: str, command: str, covered: set[str] | None,
                      columns: list[str] | None = None) -> str:
    """A section showing an analysis' rows (of the covered super-nets), or why there are none."""
    rows, why = _query(con, name)
    if covered is not None:
        rows = [r for r in rows if r.get("supernet_id") in covered]
    note = f'<p class="note">{html.escape(why)}</p>' if why else ""
    return _section(section_id, title, note + _table(rows, f"{section_id}-table", columns), command)


def build(url: str, out: Path, supernets: list[str] | None = None) -> Path:
    """Write the report for every super-net (or the named ones)."""
    out = check_output(out, "report")
    db = duckdb_path(url)
    db_option = f" --db {db}" if db else ""
    holdings = catalog.summary(url)
    table1_html = _table1_per_space(url, db_option)  # before the connection below: each registers the functions
    with duck.connect(url) as con:
        nets = _chosen_supernets(con, supernets)
        covered = {net["id"] for net in nets}
        configuration = [{"super-net": n["label"], "id": n["id"], "space": n["search_space"],
                          "sub-space": n["subspace"], "status": n["status"], "origin": n["origin"], "seed": n["seed"],
                          "source": n["source"], "configuration": _short_config(n["config"])} for n in nets]
        sections = [
            _section("holdings", "What the warehouse holds", _table(holdings, "holdings-table"),
                     f"wsdb summary{db_option}"),
            _section("supernets", "Super-nets: configuration and provenance", _table(configuration, "supernets-table"),
                     f"wsdb sql \"SELECT * FROM supernets\"{db_option}"),
            _section("table1", "Mean Spearman rho per configuration (layout of Pourchot et al. 2020, Table 1)",
                     table1_html, f"wsdb report table1 --space SPACE{db_option}"),
            _analysis_section(con, "correlation", "Correlation of proxy and ground truth, per checkpoint and protocol",
                              "correlation", f"wsdb query correlation{db_option}", covered,
                              ["supernet_name", "checkpoint_label", "protocol_id", "n", "spearman", "kendall",
                               "sparse_kendall", "pearson", "proxy_is_constant"]),
            _section("scatter", "Proxy against stand-alone accuracy, per super-net",
                     "".join(_scatter(con, net) for net in nets), f"wsdb plot scatter --supernet NAME{db_option}"),
            _section("regret", "Search simulations: mean test regret", _regret(con),
                     f"wsdb query regret_curve{db_option}"),
            _analysis_section(con, "bias", "Bias by architectural feature", "bias_by_feature",
                              f"wsdb query bias_by_feature{db_option}", covered),
            _analysis_section(con, "stability", "Stability over the last checkpoints (GT-Tau-Mean-k / Std-k)",
                              "stability_checkpoints", f"wsdb query stability_checkpoints{db_option}", covered),
            _analysis_section(con, "s-tau", "Agreement between super-nets of one configuration (S-Tau)",
                              "stability_supernets", f"wsdb query stability_supernets{db_option}", None),
        ]
    page = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>wsdb study report</title>"
            f"<style>{STYLE}</style><script type=\"text/javascript\">{get_plotlyjs()}</script></head><body>"
            f"<h1>wsdb study report</h1><p class=\"note\">Warehouse {html.escape(describe_url(url))}; "
            f"{len(nets)} super-nets. Every number below is what the command under its section prints.</p>"
            + "".join(sections) + "</body></html>\n")
    with atomic_output(out, "report") as partial:
        partial.write_text(page, encoding="utf-8")
    return out


def _short_config(config_json: str | None) -> str:
    """A configuration as key=value pairs (JSON text stays in the warehouse)."""
    try:
        config = json.loads(config_json or "{}")
    except json.JSONDecodeError:
        return config_json or ""
    return ", ".join(f"{k}={v}" for k, v in sorted(config.items()) if not isinstance(v, (dict, list)))
