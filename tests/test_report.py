"""`wsdb report table1` against the published Table 1 of ../seeds/000."""

import math
import shutil

import numpy as np
import pytest
from scipy import stats

from conftest import run_cli
from wsdb import db as database
from wsdb.ingest.to_share import ingest_to_share
from wsdb.report import Cell, layout, table1

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


def _check(cells, subspaces):
    for (subspace, column), (mean, half, starred) in PUBLISHED.items():
        if subspace not in subspaces:
            continue
        cell = cells[(subspace, column)]
        got_mean, got_half = cell.interval("seed000")
        assert abs(got_mean - mean) <= 0.01 and abs(got_half - half) <= 0.01, (subspace, column, got_mean, got_half)
        assert bool(cell.left_out) == starred


def test_full_and_nres_rows_match_the_published_table(tmp_path, duckdb_url, shared_data):
    _warehouse(tmp_path, duckdb_url, shared_data, ("FULL", "NRES"))
    cells = table1(duckdb_url)
    _check(cells, ("FULL", "NRES"))
    rows = {r["subspace"]: r for r in layout(cells, "seed000")}
    assert rows["NRES"]["NO-FT"].startswith("* 0.11 ± 0.05") and rows["FULL"]["BNS-FT"] == "0.56 ± 0.04"
    markdown = run_cli("report", "table1", "--db", duckdb_url.removeprefix("duckdb:///"), "--markdown")
    assert "| NRES | * 0.11 ± 0.05 | * 0.46 ± 0.06 | 0.56 ± 0.03 |" in markdown.stdout


@pytest.mark.slow
def test_every_published_cell(tmp_path, duckdb_url, shared_data):
    _warehouse(tmp_path, duckdb_url, shared_data, tuple(FOLDERS))
    _check(table1(duckdb_url), tuple(FOLDERS))


def test_interval_conventions_against_scipy():
    values = [0.59, 0.55, 0.49, 0.64, 0.56]
    cell = Cell(values, 0)
    mean, half = cell.interval("seed000")
    assert mean == pytest.approx(np.mean(values)) and half == pytest.approx(1.96 * np.std(values) / math.sqrt(5))
    low, high = stats.t.interval(0.95, 4, loc=np.mean(values), scale=stats.sem(values))
    assert cell.interval("student-t")[1] == pytest.approx((high - low) / 2)
