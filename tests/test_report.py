"""`wsdb report table1` (on the analysis correlation_summary) against the published Table 1
of ../seeds/000, and the interval conventions against numpy/scipy."""

import math
import shutil

import numpy as np
import pytest
from scipy import stats

from conftest import run_cli
from wsdb.analyses import runner as analysis
from wsdb.warehouse import db as database
from wsdb.analyses import duck
from wsdb.ingest.to_share import ingest_to_share
from wsdb.analyses.report import layout, summary

# ../seeds/000 Table 1: (sub-space, column) -> (mean, half width, left-out mark)
PUBLISHED = {
    ("A4", "NO-FT"): (0.08, 0.17, False), ("A4", "BNS-FT"): (0.64, 0.03, False), ("A4", "PRO-RATA"): (0.68, 0.03, False),
    ("A3", "NO-FT"): (0.12, 0.15, False), ("A3", "BNS-FT"): (0.59, 0.03, False), ("A3", "PRO-RATA"): (0.63, 0.02, False),
    ("A2", "NO-FT"): (0.24, 0.03, False), ("A2", "BNS-FT"): (0.60, 0.04, False), ("A2", "PRO-RATA"): (0.64, 0.02, False),
    ("A1", "NO-FT"): (0.32, 0.05, False), ("A1", "BNS-FT"): (0.68, 0.02, False), ("A1", "PRO-RATA"): (0.75, 0.02, False),
    ("FULL", "NO-FT"): (0.24, 0.05, False), ("FULL", "BNS-FT"): (0.56, 0.04, False), ("FULL", "PRO-RATA"): (0.59, 0.03, False),
    ("NRES", "NO-FT"): (0.11, 0.05, True), ("NRES", "BNS-FT"): (0.46, 0.06, True), ("NRES", "PRO-RATA"): (0.56, 0.03, False),
    ("RES", "NO-FT"): (0.34, 0.10, False), ("RES", "BNS-FT"): (0.71, 0.02, False), ("RES", "PRO-RATA"): (0.72, 0.02, False),
}
FOLDERS = {"A4": "4", "A3": "3", "A2": "2", "A1": "1", "FULL": "full", "NRES": "full_0", "RES": "full_1"}


def _warehouse(tmp_path, url, shared_data, subspaces):
    root = tmp_path / "results"
    for method in ("baseline_ft_bn", "baseline_no_ft", "pro-rata_ft_bn"):
        for subspace in subspaces:
            source = shared_data / "nb101/to_share_or_not_to_share" / method / FOLDERS[subspace]
            shutil.copytree(source, root / method / FOLDERS[subspace])
    database.init_database(url)
    with database.warehouse(url) as engine:
        ingest_to_share(engine, root, show_progress=False)


def _check(rows, subspaces):
    cells = {(r["subspace"], r["column"]): r for r in rows}
    for (subspace, column), (mean, half, starred) in PUBLISHED.items():
        if subspace not in subspaces:
            continue
        cell = cells[(subspace, column)]
        assert abs(cell["mean_spearman"] - mean) <= 0.01, (subspace, column, cell["mean_spearman"])
        assert abs(cell["spearman_ci95_normal"] - half) <= 0.01, (subspace, column, cell["spearman_ci95_normal"])
        assert bool(cell["supernets_left_out"]) == starred


@pytest.mark.slow  # 25-35 s of ingesting pickles; the demo test checks the FULL row by default; CI runs both
def test_full_and_nres_rows_match_the_published_table(tmp_path, duckdb_url, shared_data):
    _warehouse(tmp_path, duckdb_url, shared_data, ("FULL", "NRES"))
    rows = summary(duckdb_url)
    _check(rows, ("FULL", "NRES"))
    table = {r["subspace"]: r for r in layout(rows, "normal")}
    assert table["NRES"]["NO-FT"] == "* 0.11 ± 0.05" and table["FULL"]["BNS-FT"] == "0.56 ± 0.04"
    markdown = run_cli("report", "table1", "--db", duckdb_url.removeprefix("duckdb:///"), "--markdown")
    assert "| NRES | * 0.11 ± 0.05 | * 0.46 ± 0.06 | 0.56 ± 0.03 |" in markdown.stdout

    # the summary's intervals, recomputed from the per-super-net correlations
    con = duck.connect(duckdb_url)
    per_supernet = duck.run(con, analysis.load("correlation").sql, analysis.load("correlation").bind({})).to_pylist()
    con.close()
    for row in rows:
        values = [r["spearman"] for r in per_supernet if r["subspace"] == row["subspace"] and r["protocol_id"] == row["protocol_id"]
                  and r["supernet_name"].split("/")[1].startswith(row["training_variant"]) and r["spearman"] is not None]
        n = len(values)
        assert row["supernets_kept"] == n
        assert row["spearman_ci95_normal"] == pytest.approx(1.96 * np.std(values) / math.sqrt(n))
        low, high = stats.t.interval(0.95, n - 1, loc=np.mean(values), scale=stats.sem(values))
        assert row["spearman_ci95_student_t"] == pytest.approx((high - low) / 2)


@pytest.mark.slow
def test_every_published_cell(tmp_path, duckdb_url, shared_data):
    _warehouse(tmp_path, duckdb_url, shared_data, tuple(FOLDERS))
    _check(summary(duckdb_url), tuple(FOLDERS))


def test_the_html_reports_table1_never_mixes_search_spaces(demo_warehouse, tmp_path):
    """The demo holds nb101 super-nets and a ws64 trajectory: the page lays out one Table 1 per
    space with exactly the columns `wsdb report table1 --space SPACE` prints, and a cell resting
    on one super-net shows no interval (it showed '± 0.00')."""
    import re

    db = str(demo_warehouse[0] / "demo.duckdb")
    page = tmp_path / "r.html"
    assert run_cli("report", "html", "--out", str(page), "--db", db).returncode == 0
    text = page.read_text()
    for space in ("nb101", "ws64"):
        table = re.search(rf'<table id="table1-{space}">(.*?)</table>', text, re.S).group(1)
        shown = re.findall(r"<th>(.*?)</th>", table)
        markdown = run_cli("report", "table1", "--space", space, "--markdown", "--db", db).stdout
        header = [c.strip() for c in markdown.splitlines()[0].strip("|").split("|")]
        assert shown == header, space
        if space == "ws64":  # one published trajectory: one super-net per cell
            assert "(n=1)" in table and "± 0.00" not in table
    assert "table1-nb201" not in text


def test_the_std_spread_is_zhang_et_als_convention_on_a_published_cell():
    """Deeper Insights, Table 2, "Different seeds" T3R: 17.6000±0.4899 over 10 instances; ranks are
    whole numbers, so the ten values are six 18s and four 17s, whose population standard deviation
    is 0.4899 (the sample one would be 0.5164). `--spread std` shows that number."""
    from wsdb.analyses.report import factor_layout

    values = [18] * 6 + [17] * 4
    line = {"factors": {}, "protocol_id": "no-ft", "supernets": 10}
    from wsdb.analyses.report import FACTOR_STATISTICS

    for column, _, _ in FACTOR_STATISTICS:
        line[column] = {"n": 0, "mean": None, "sd": None, "std": None, "ci95": None}
    line["kendall"] = {"n": 10, "mean": float(np.mean(values)), "sd": float(np.std(values, ddof=1)),
                       "std": float(np.std(values)), "ci95": 1.0}
    (row,) = factor_layout([], [line], "std")
    assert row["KdT"] == "17.600 ± 0.490" and f"{np.std(values):.4f}" == "0.4899"
    assert factor_layout([], [line], "student-t")[0]["KdT"] == "17.600 ± 1.000"
