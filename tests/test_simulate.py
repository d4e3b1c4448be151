"""Search simulations: time accounting and regret on hand-made spaces with known answers,
valid mutations, storage, reports."""

import math
import random

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import run_cli
from wsdb.warehouse import db as database
from wsdb.search.evolution import Space, alias_table, nb101_cells, nb201_operations
from wsdb.search.simulate import GroundTruth, random_search, regularized_evolution, trajectory
from wsdb.spaces import nb101, nb201


def hand_made():
    """Four architectures, two repeats: validation, seconds, and mean test accuracy."""
    return GroundTruth(
        "nb101", np.array([10, 11, 12, 13]), ["", "", "", ""],
        validation=np.array([[0.90, 0.90], [0.80, 0.80], [0.95, 0.95], [0.85, np.nan]]),
        seconds=np.array([[100.0, 100.0], [10.0, 30.0], [50.0, 50.0], [5.0, np.nan]]),
        test_mean=np.array([0.89, 0.95, 0.88, 0.84]),
    )


def test_time_accounting_and_regret_by_hand():
    gt = hand_made()
    assert gt.best_test == 0.95
    result = trajectory(gt, np.array([1, 0, 3, 2]), np.random.default_rng(0), "mean", start_time=1000.0)
    # times: 1000 + 20 (mean of 10, 30), + 100, + 5 (the only repeat), + 50
    assert result["time"].tolist() == [1020.0, 1120.0, 1125.0, 1175.0]
    # best by validation so far: arch 1 (0.80), arch 0 (0.90), still arch 0 (0.85 < 0.90), arch 2 (0.95)
    assert result["regret"] == pytest.approx([0.0, 0.06, 0.06, 0.07])


def test_random_repeats_never_pick_a_missing_one():
    gt = hand_made()
    rng = np.random.default_rng(1)
    validation, cost = gt.draw(np.array([3] * 200), rng, "random")
    assert (validation == 0.85).all() and (cost == 5.0).all()
    _, cost = gt.draw(np.array([1] * 400), rng, "random")
    assert set(cost) == {10.0, 30.0}


def test_random_search_queries_each_architecture_once():
    results = random_search(hand_made(), runs=5, queries=100, rng=np.random.default_rng(2), repeat="mean")
    assert all(sorted(r["rows"].tolist()) == [0, 1, 2, 3] for r in results)
    assert all(r["regret"][-1] == pytest.approx(0.07) for r in results)  # the 0.95-validation arch tests 0.88


def _nb201_space():
    classes = sorted({nb201.canonicalize(ops).canonical_encoding for ops in nb201.all_ops()})
    # stand-alone accuracy grows with the number of 3x3 convolutions: the best is all conv3x3
    validation = np.array([[nb201.parse_arch_str(c).count(nb201.CONV3X3) / 10] for c in classes])
    return GroundTruth("nb201", np.arange(len(classes)), classes, validation, None, validation[:, 0] * 1.0)


def test_nb201_evolution_finds_the_best_cell_and_mutates_one_edge():
    gt = _nb201_space()
    space = Space("nb201", gt.canonical_encodings)
    parents, _ = space.random(20_000, np.random.default_rng(3))
    children, rows = space.mutate(parents, np.random.default_rng(4))
    changed = nb201_operations(children) != nb201_operations(parents)
    assert (changed.sum(axis=1) == 1).all() and (rows >= 0).all()
    # the edge uniformly, the new operation uniformly among the four others
    assert np.allclose(changed.mean(axis=0), 1 / 6, atol=0.015)
    new_ops = nb201_operations(children)[changed]
    assert np.allclose(np.bincount(new_ops, minlength=5) / len(new_ops), 1 / 5, atol=0.015)
    results = regularized_evolution(gt, runs=4, queries=300, rng=np.random.default_rng(5), repeat="mean")
    assert all(len(r["rows"]) == 300 for r in results)
    assert all(r["regret"][-1] == 0.0 for r in results)  # all-conv3x3 found
    assert gt.time_unit == "queries" and results[0]["time"][-1] == 300


def test_alias_tables_hold_their_distribution_exactly():
    for probabilities in (np.array([0.5, 0.25, 0.25]), np.random.default_rng(0).random(243), np.ones(1)):
        acceptance, alias = alias_table(probabilities)
        implied = acceptance.copy()
        np.add.at(implied, alias, 1 - acceptance)
        assert implied / len(probabilities) == pytest.approx(probabilities / probabilities.sum(), abs=1e-12)


def _nb101_space(shared_data, count=3000):
    rows = random.Random(4).sample(pq.read_table(shared_data / "nb101/archs_151644.parquet").to_pylist(), count)
    encodings = [nb101.canonicalize(nb101.parse_matrix(r["adjacency"]), r["operations"].split(",")).canonical_encoding
                 for r in rows]
    rng = np.random.default_rng(6)
    return GroundTruth("nb101", np.arange(count), encodings, rng.random((count, 3)), rng.random((count, 3)) * 1000,
                       rng.random(count))


def test_nb101_mutants_are_valid_cells_and_found_in_the_space(shared_data):
    gt = _nb101_space(shared_data)
    rng = np.random.default_rng(6)
    space = Space("nb101", gt.canonical_encodings)
    parents, _ = space.random(300, rng)
    children, found = space.mutate(parents, rng)
    names = {code: op for op, code in {"conv3x3-bn-relu": 0, "conv1x1-bn-relu": 1, "maxpool3x3": 2}.items()}
    for matrix, codes, row in zip(*nb101_cells(children), found):
        cell = nb101.canonicalize(matrix.tolist(), ["input", *(names[c] for c in codes), "output"])  # valid, or raises
        expected = gt.canonical_encodings.index(cell.canonical_encoding) if cell.canonical_encoding in gt.canonical_encodings else -1
        assert row == expected
    # 3,000 of 423,624 classes held: most mutants fall outside and cost nothing; the step cap
    # (50 x queries) ends runs that cannot reach their budget, with the queries they made
    results = regularized_evolution(gt, runs=3, queries=40, rng=rng, repeat="random")
    assert all(0 < len(r["rows"]) <= 40 and np.all(np.diff(r["time"]) > 0) for r in results)


def test_nb101_mutation_follows_the_reference_rates(shared_data):
    """Each edge flips with probability 1/7 and each operation changes with probability 1/5 to
    either other operation alike; invalid mutants are redrawn. The exact per-edge flip rate
    given validity comes from all 2^21 flip masks weighted by (1/7)^k (6/7)^(21-k)."""
    from wsdb.spaces.nb101_codes import assignments_of, codes_of, topologies

    space = Space("nb101", _nb101_space(shared_data, 10).canonical_encodings)
    matrix = np.zeros((1, 7, 7), dtype=np.uint8)   # a chain plus input -> output: 7 edges
    for i in range(6):
        matrix[0, i, i + 1] = 1
    matrix[0, 0, 6] = 1
    parent_ops = np.array([[0, 1, 2, 0, 1]])
    code = int(codes_of(matrix)[0])
    count = 40_000
    children, _ = space.mutate(np.repeat(code | (int(assignments_of(parent_ops)[0]) << 21), count),
                               np.random.default_rng(7))
    child_matrices, child_ops = nb101_cells(children)
    rows, columns = np.triu_indices(7, 1)
    observed = (child_matrices != matrix)[:, rows, columns].mean(axis=0)
    masks = np.arange(1 << 21)
    bits = (masks[:, None] >> np.arange(21)) & 1
    weight = (1 / 7) ** bits.sum(axis=1) * (6 / 7) ** (21 - bits.sum(axis=1)) * (topologies()[0][code ^ masks] >= 0)
    expected = weight @ bits / weight.sum()
    assert np.abs(observed - expected).max() < 5 * np.sqrt(expected * (1 - expected) / count).max()
    assert expected.min() < 0.13 and expected.max() > 0.15   # validity moves the rates off 1/7 both ways
    changed = child_ops != parent_ops
    assert np.allclose(changed.mean(axis=0), 1 / 5, atol=5 * np.sqrt(0.16 / count))
    to = (child_ops[changed] - np.broadcast_to(parent_ops, child_ops.shape)[changed]) % 3
    assert abs((to == 1).mean() - 0.5) < 5 * np.sqrt(0.25 / changed.sum())


def test_simulate_store_report_and_plot(tmp_path, duckdb_url, shared_data, monkeypatch):
    import shutil

    from plotcheck import capture, overlapping_texts

    root = tmp_path / "r" / "baseline_ft_bn" / "full" / "0"
    root.mkdir(parents=True)
    shutil.copy(shared_data / "nb101/to_share_or_not_to_share/baseline_ft_bn/full/0/eval_results.pkl", root)
    database.init_database(duckdb_url)
    db = duckdb_url.removeprefix("duckdb:///")
    assert run_cli("ingest", "to-share", str(tmp_path / "r"), "--db", db).returncode == 0
    for args in (("--algorithm", "rs", "--runs", "20", "--queries", "300"),
                 ("--algorithm", "re", "--runs", "20", "--queries", "300"),
                 ("--algorithm", "ws", "--runs", "20", "--supernet", "to-share/baseline_ft_bn/full/0",
                  "--protocol", "bns-ft:4", "--supernet-seconds", "20000", "--evaluation-seconds", "100")):
        result = run_cli("simulate", "--space", "nb101", *args, "--db", db)
        assert result.returncode == 0, result.stderr
        assert "1,000 architectures searched" in result.stdout  # the sample held by the warehouse
        assert "best mean test accuracy" in result.stdout and "time in seconds" in result.stdout
    again = run_cli("simulate", "--space", "nb101", "--algorithm", "rs", "--runs", "20", "--queries", "300", "--db", db)
    assert "(0 new, 0 trace rows)" in again.stdout
    missing = run_cli("simulate", "--space", "nb101", "--algorithm", "ws", "--supernet", "to-share/baseline_ft_bn/full/0",
                      "--protocol", "bns-ft:4", "--db", db)
    assert missing.returncode == 1 and "pass --supernet-seconds" in missing.stderr
    table = run_cli("report", "table2", "--db", db, "--markdown")
    assert "| FULL | TOP-1 | RS - RE |" in table.stdout and "| FULL | TOP-10 | RS - WS |" in table.stdout
    assert "Warning" not in table.stderr and all(line.startswith("wsdb: ") for line in table.stderr.splitlines())
    png = tmp_path / "regret.png"
    figures = capture(monkeypatch)
    assert run_cli("plot", "regret", "--db", db, "--out", str(png)).returncode == 0  # TOP-1, TOP-10, TOP-20
    assert png.read_bytes().startswith(b"\x89PNG")
    axis = figures[0].axes[0]
    labels = [t.get_text() for t in axis.texts]
    assert labels == ["TOP-1", "TOP-10", "TOP-20"] and overlapping_texts(figures[0]) == []
    top = axis.get_window_extent().y1  # above the curves, readable, never on them
    assert all(t.get_window_extent().y0 >= top for t in axis.texts)


def test_table2_differences_are_quiet_and_say_when_t_is_undefined():
    """Identical regrets (every run of both searches reached the same one, where scipy warns of
    precision loss and returns NaN): no p-value, no warning, and a note saying why; others: scipy's
    p-value."""
    import warnings

    from scipy import stats as scipy_stats

    from wsdb.analyses.report import _difference, table2_notes

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = _difference([0.3] * 5, [0.3] * 5)
        apart = _difference([0.0] * 5, [0.0] * 4 + [0.01])
    assert math.isnan(same["p_value"]) and same["difference"] == 0
    assert apart["p_value"] == pytest.approx(scipy_stats.ttest_ind([0.0] * 5, [0.0] * 4 + [0.01]).pvalue)
    rows = [{"subspace": "FULL", "top_k": 1, "comparison": "RS - RE", "rs_runs": 5, "other_runs": 5, **same}]
    assert table2_notes(rows) == ["no p-value where every run of both searches has the same regret (t is undefined): "
                                  "FULL TOP-1 RS - RE"]


def test_missing_test_accuracies_or_times_switch_the_whole_space(duckdb_url, shared_data):
    """A table of validation accuracies plus three fully recorded NATS runs: regret on
    validation, time in queries, for every architecture alike."""
    from wsdb.ingest.nb201 import ingest_nats, ingest_nb201_table
    from wsdb.search.simulate import load_ground_truth

    database.init_database(duckdb_url)
    with database.warehouse(duckdb_url) as engine:
        ingest_nb201_table(engine, shared_data / "nb201/nb201_all15625.csv")
        ingest_nats(engine, shared_data / "nb201/nats_tss_simple_3archs", show_progress=False)
        with engine.connect() as connection:
            gt = load_ground_truth(connection, "nb201", None, "nasbench201", "cifar10-valid", 200)
    assert (gt.regret_on, gt.time_unit) == ("validation", "queries")
    assert not np.isnan(gt.test_mean).any() and len(gt.architecture_ids) == 6466
