"""`wsdb demo` from the sample shipped in the package, and the PNG figures."""

import csv

import pytest

from conftest import run_cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def demo(demo_warehouse):
    return demo_warehouse


def test_demo_builds_the_warehouse_and_prints_the_table1_row(demo):
    folder, stdout = demo
    assert "| FULL | 0.24 ± 0.05 | 0.56 ± 0.04 |" in stdout  # Pourchot et al. 2020 Table 1, NO-FT and BNS-FT
    assert "wsdb sql" in stdout and "demo.duckdb" in stdout
    rows = list(csv.DictReader(open(folder / "demo_correlations.csv")))
    assert len([r for r in rows if r["supernet_name"].startswith("to-share/")]) == 10
    assert len(rows) == 10 + 128  # and the ws64 trajectory's checkpoints, against ws64's own ground truth
    assert (folder / "demo_scatter.png").read_bytes().startswith(PNG_SIGNATURE)
    top = list(csv.DictReader(open(folder / "demo_top10.csv")))
    assert len([r for r in top if r["supernet_name"].startswith("to-share/")]) == 10  # the 10 FULL super-nets
    assert len(top) == 10 + 128  # and the ws64 trajectory's 128 checkpoints, against ws64's own ground truth


def test_demo_refuses_to_overwrite(demo):
    folder, _ = demo
    again = run_cli("demo", "--db", str(folder / "demo.duckdb"), "--out", str(folder))
    assert again.returncode == 1 and "exists" in again.stderr


def test_plots_write_pngs_and_reject_bad_arguments(demo, tmp_path, monkeypatch):
    from plotcheck import capture, overlapping_texts

    figures = capture(monkeypatch)
    folder, _ = demo
    db = str(folder / "demo.duckdb")
    scatter = tmp_path / "s.png"
    ok = run_cli("plot", "scatter", "--supernet", "to-share/baseline_no_ft/full/2", "--color-by", "num_vertices",
                 "--out", str(scatter), "--db", db)
    assert ok.returncode == 0, ok.stderr and scatter.read_bytes().startswith(PNG_SIGNATURE)
    figure = tmp_path / "c.png"
    assert run_cli("plot", "correlation", "--out", str(figure), "--db", db).returncode == 0
    assert figure.read_bytes().startswith(PNG_SIGNATURE) and figure.stat().st_size > 10_000
    assert len(figures) == 2 and [overlapping_texts(f) for f in figures] == [[], []]  # readable at the default size
    bad = run_cli("plot", "scatter", "--supernet", "nope", "--out", str(tmp_path / "x.png"), "--db", db)
    assert bad.returncode == 1 and "no super-net with id or name 'nope'; known: to-share/" in bad.stderr
    feature = run_cli("plot", "scatter", "--supernet", "nope", "--color-by", "colour", "--db", db)
    assert feature.returncode == 1 and "--color-by must be one of" in feature.stderr
