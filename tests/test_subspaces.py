"""Sub-spaces as stored objects: the published constructions with their counts, seeded random
and best-by-ground-truth subsets, member lists, training restricted to them, and the report
in the layout of Zhang, Zhang, Yang 2020 (Figures 2 and 5)."""

from __future__ import annotations

import itertools
import json
import math
import shutil

import numpy as np
import pytest
import sqlalchemy as sa
from scipy import stats

from conftest import run_cli
from wsdb.warehouse import subspaces
from wsdb.warehouse.db import create_engine, warehouse
from wsdb.base.errors import WsdbError
from wsdb.spaces import constructions, nb101, nb201
from wsdb.trainers.config import TrainingConfig
from wsdb.trainers.sampling import ArchitectureSampler, load_pool
from wsdb.trainers.spaces import training_space


def _rows(url: str, sql: str, **params) -> list[tuple]:
    with warehouse(url, read_only=True) as engine, engine.connect() as connection:
        return [tuple(r) for r in connection.execute(sa.text(sql), params)]


def _member_keys(url: str, space: str, name: str) -> list[str]:
    return [k for (k,) in _rows(url, "SELECT a.canonical_key FROM architecture_subspaces s JOIN architectures a "
                                     "ON a.id = s.architecture_id WHERE s.search_space = :sp AND s.subspace = :n "
                                     "ORDER BY 1", sp=space, n=name)]


# --- constructions: counts -------------------------------------------------------------------


def test_zhang_zhang_yang_space_has_their_95985_cells_and_42228_classes():
    built = constructions.zhang_zhang_yang_nb101()
    assert (built.num_cells, len(built.classes)) == (95_985, 42_228)
    for arch in built.classes[:: 997]:  # every class: 7 vertices, output fed by 2, no input->output edge
        matrix, _ = nb101.decode(arch.canonical_encoding)
        assert len(matrix) == 7 and arch.features["num_output_inputs"] == 2
        assert not arch.features["has_input_output_edge"] and arch.features["num_edges"] == 9


def test_one_shot1_spaces_count_every_configuration_of_their_configuration_space():
    """14,580 and 29,160 configurations = parent choices x 3^4 operations; 29,160 is the figure
    published for space 2. The classes are checked by brute force on space 1: every
    configuration canonicalised through the official pruning and hash."""
    one, two = constructions.one_shot1(1), constructions.one_shot1(2)
    assert (one.num_cells, len(one.classes)) == (14_580, 2_685)
    assert (two.num_cells, len(two.classes)) == (29_160, 7_773)
    brute = set()
    choices = [[(0,)], [(0, 1)], *[list(itertools.combinations(range(v), 2)) for v in (3, 4, 5)]]
    for parents in itertools.product(*choices):
        matrix = [[0] * 7 for _ in range(7)]
        for vertex, chosen in zip((1, 2, 3, 4, 6), parents):  # vertex 5 is 1Shot1's unused padding
            for parent in chosen:
                matrix[6 if parent == 5 else parent][vertex] = 1
        for labels in itertools.product(nb101.OPERATIONS, repeat=4):
            brute.add(nb101.canonicalize(matrix, ["input", *labels, nb101.CONV1X1, "output"]).canonical_key)
    assert brute == {a.canonical_key for a in one.classes}


@pytest.mark.slow
def test_one_shot1_space_3():
    three = constructions.one_shot1(3)
    assert (three.num_cells, len(three.classes)) == (1_312_200, 55_854)


def test_nb201_valid_excludes_the_341_disconnected_cells():
    valid = constructions.nb201_valid()
    assert valid.num_cells == 15_625 - 341
    connected = {nb201.canonicalize(t).canonical_key for t in nb201.official_index_order()
                 if constructions.nb201_connects(nb201.parse_arch_str(t))}
    assert {a.canonical_key for a in valid.classes} == connected and len(connected) == 6_461
    assert not constructions.nb201_connects(nb201.parse_arch_str(
        "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"))


# --- derived sub-spaces -----------------------------------------------------------------------


def _init(path) -> str:
    """`wsdb init`: the schema, and every class of nb201 and ws64."""
    assert run_cli("init", "--db", str(path)).returncode == 0
    return f"duckdb:///{path}"


@pytest.fixture
def nb201_url(tmp_path) -> str:
    return _init(tmp_path / "w.duckdb")


def test_a_random_down_scale_is_reproducible_and_holds_ceil_n_over_k(nb201_url, tmp_path):
    record = subspaces.define(nb201_url, "random/nb201/8/3")
    assert record["members"] == math.ceil(6466 / 8) and record["new"]
    again = subspaces.define(nb201_url, "random/nb201/8/3")
    assert not again["new"] and again["members"] == record["members"]
    other = _init(tmp_path / "other.duckdb")
    subspaces.define(other, "random/nb201/8/3")
    subspaces.define(other, "random/nb201/8/4")
    keys = _member_keys(nb201_url, "nb201", "random/nb201/8/3")
    assert keys == _member_keys(other, "nb201", "random/nb201/8/3")  # another warehouse, the same draw
    assert keys != _member_keys(other, "nb201", "random/nb201/8/4")
    nested = subspaces.define(nb201_url, "random/random/nb201/8/3/3/0")  # a down-scale of a down-scale
    assert nested["members"] == math.ceil(record["members"] / 3)
    assert set(_member_keys(nb201_url, "nb201", nested["name"])) <= set(keys)
    assert subspaces.define(nb201_url, "random/nb201/1/0")["members"] == 6466


def test_a_best_subset_holds_the_true_top_k_and_states_ties(tmp_path):
    url = _init(tmp_path / "w.duckdb")
    result = run_cli("ingest", "ws64", "--db", str(tmp_path / "w.duckdb"))  # the paper's Table 5
    assert result.returncode == 0, result.stderr
    benchmark, dataset = _rows(url, "SELECT DISTINCT benchmark, dataset FROM ground_truth_results")[0]
    record = subspaces.define(url, f"best/ws64/5/{benchmark}/{dataset}/validation_accuracy")
    assert record["members"] == math.ceil(64 / 5) == 13
    direct = [k for k, _ in _rows(url, "SELECT a.canonical_key, f.validation_accuracy FROM ground_truth_final f "
                                       "JOIN architectures a ON a.id = f.architecture_id WHERE f.benchmark = :b "
                                       "ORDER BY f.validation_accuracy DESC, a.canonical_key LIMIT 13", b=benchmark)]
    assert sorted(direct) == _member_keys(url, "ws64", record["name"])
    shown = subspaces.show(url, record["name"])
    values = sorted((v for (v,) in _rows(url, "SELECT validation_accuracy FROM ground_truth_final WHERE benchmark = :b",
                                         b=benchmark)), reverse=True)
    tied = sum(v == values[12] for v in values)
    assert shown["parameters"]["cut_value"] == values[12]
    assert shown["parameters"]["tied_at_cut"] == (tied if tied > sum(v == values[12] for v in values[:13]) else 0)


def test_a_best_subset_of_incomplete_ground_truth_says_so_in_the_commands_output(nb201_url):
    """3 of VALID's 6,461 classes with CIFAR-100 truth: best/VALID/16 is the best 1/16 of those 3
    (1 class), which the command says on stderr instead of a bare "defined, 1 architectures"."""
    from wsdb.warehouse.bulk import insert_new_rows
    from wsdb.ingest.common import ground_truth_rows
    from wsdb.warehouse.schema import GroundTruthResult

    with warehouse(nb201_url) as engine, engine.begin() as connection:
        ids = [i for (i,) in connection.execute(sa.text(
            "SELECT id FROM architectures WHERE search_space = 'nb201' ORDER BY canonical_key LIMIT 3 OFFSET 100"))]
        insert_new_rows(connection, GroundTruthResult.__table__, ground_truth_rows(
            [{"architecture_id": a, "benchmark_arch_id": str(a), "test_accuracy": 0.5 + 0.1 * k} for k, a in enumerate(ids)],
            benchmark="nasbench201", dataset="cifar100", epoch_budget=200, repeat=777, epoch=200,
            evaluation_point="final"))
    name = "best/VALID/16/nasbench201/cifar100/test_accuracy"
    db = nb201_url.removeprefix("duckdb:///")
    result = run_cli("spaces", "define", name, "--db", db)
    assert result.returncode == 0 and "1 architectures" in result.stdout
    assert "only 3 of the 6,461 classes of nb201/VALID have nasbench201 cifar100 test_accuracy" in result.stderr
    again = run_cli("spaces", "define", name, "--db", db, "--json")  # a stored one too, JSON intact on stdout
    assert "only 3 of the 6,461" in again.stderr and json.loads(again.stdout)["members"] == 1


def test_a_member_list_is_materialised_and_shown(nb201_url, tmp_path):
    listed = tmp_path / "members.txt"
    listed.write_text("# three cells, two of them isomorphic\n0\n|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|"
                      "+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|\n11\n")
    record = subspaces.define(nb201_url, "mine", space="nb201", members_file=listed, description="two cells")
    assert record["members"] == 2 and record["kind"] == "membership"
    assert subspaces.show(nb201_url, "mine")["cells"] == 3
    with pytest.raises(WsdbError, match="never redefined"):
        subspaces.define(nb201_url, "mine", space="nb201", members_file=listed)


def test_bad_definitions_are_one_line_and_write_nothing(nb201_url):
    before = _rows(nb201_url, "SELECT COUNT(*) FROM subspaces")
    for name, message in (("random/nb201/0/1", "k must be a whole number >= 1"),
                          ("random/nope/2/1", "parent 'nope'"),
                          ("random/random/nb201/2/x/2/1", "the seed must be a whole number"),
                          ("best/nb201/4/nasbench201/cifar100/test_accuracy", "no ground truth of benchmark"),
                          ("best/nb201/4/b/d/loss", "metric must be one of"),
                          ("SOMETHING", "no sub-space 'SOMETHING'")):
        result = run_cli("spaces", "define", name, "--db", nb201_url.removeprefix("duckdb:///"))
        assert result.returncode == 1 and message in result.stderr, (name, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
    assert _rows(nb201_url, "SELECT COUNT(*) FROM subspaces") == before
    query = run_cli("query", "correlation", "--param", "subspace=random/nb201/4/0", "--db", nb201_url.removeprefix("duckdb:///"))
    assert query.returncode == 1 and "wsdb spaces define random/nb201/4/0" in query.stderr


# --- training and evaluation restricted to a derived sub-space ---------------------------------


def test_training_in_a_derived_subspace_draws_only_its_members(nb201_url):
    subspaces.define(nb201_url, "random/nb201/64/0")
    with warehouse(nb201_url) as engine, engine.connect() as connection:
        pool = load_pool(connection, "nb201", "random/nb201/64/0")
    config = TrainingConfig(space="nb201", subspace="random/nb201/64/0")
    sampler = ArchitectureSampler(training_space("nb201"), config, np.random.default_rng(0), pool, restricted=True)
    members = {nb201.canonicalize(nb201.arch_str(nb201.parse_arch_str(e))).canonical_key for e in pool.encodings}
    drawn = [nb201.canonicalize(nb201.arch_str(sampler.next_group()[0])).canonical_key for _ in range(3000)]
    assert set(drawn) <= members and len(pool) == 102
    counts = np.bincount([sorted(members).index(k) for k in drawn], minlength=len(members))
    assert stats.chisquare(counts).pvalue > 1e-4  # uniform over the members
    assert len(set(drawn)) == len(members)


def test_a_down_scale_over_cells_draws_cells_as_zhang_zhang_yang_and_spos_keeps_their_duplicates(nb201_url):
    """NB201 at 1/64: 245 of the 15,625 cells (their "244 different architectures"), not 102 of
    6,466 classes; the drawn cells are numpy's PCG64 choice over the sorted arch strings, and SPOS
    samples them uniformly, so a class drawn twice comes twice as often."""
    record = subspaces.define(nb201_url, "random-cells/nb201/64/0")
    assert record["kind"] == "random-cells" and record["cells"] == 245
    every = sorted(nb201.official_index_order())
    chosen = np.random.Generator(np.random.PCG64(0)).choice(len(every), 245, replace=False)
    stored = [e for (e,) in _rows(nb201_url, "SELECT encoding FROM subspace_cells WHERE subspace = :n ORDER BY 1",
                                  n="random-cells/nb201/64/0")]
    assert stored == sorted(every[i] for i in chosen)
    classes = {nb201.canonicalize(e).canonical_key for e in stored}
    assert record["members"] == len(classes) < 245
    assert subspaces.show(nb201_url, "random-cells/nb201/64/0")["parameters"]["unit"] == "cells"
    assert subspaces.define(nb201_url, "random/nb201/64/0")["members"] == 102  # wsdb's default: classes
    with warehouse(nb201_url) as engine, engine.connect() as connection:
        pool = load_pool(connection, "nb201", "random-cells/nb201/64/0")
    config = TrainingConfig(space="nb201", subspace="random-cells/nb201/64/0")
    sampler = ArchitectureSampler(training_space("nb201"), config, np.random.default_rng(1), pool, restricted=True)
    drawn = [nb201.arch_str(sampler.next_group()[0]) for _ in range(9800)]
    assert set(drawn) == set(stored)  # the cells themselves, as drawn
    counts = np.array([drawn.count(e) for e in stored])
    assert stats.chisquare(counts).pvalue > 1e-4  # uniform over cells: classes weighted by their drawn cells
    random_a = ArchitectureSampler(training_space("nb201"), TrainingConfig(space="nb201", sampler="random-a",
                                   subspace="random-cells/nb201/64/0"), np.random.default_rng(1), pool, restricted=True)
    keys = [nb201.canonicalize(nb201.arch_str(random_a.next_group()[0])).canonical_key for _ in range(4000)]
    assert stats.chisquare([keys.count(k) for k in sorted(classes)]).pvalue > 1e-4  # Random-A: uniform over classes
    refused = run_cli("spaces", "define", "random-cells/A2/4/0", "--db", nb201_url.removeprefix("duckdb:///"))
    assert refused.returncode == 1 and "stores classes only" in refused.stderr


def test_run_evaluate_and_report_on_down_scaled_spaces(demo_warehouse, tmp_path, monkeypatch):
    """Through the CLI on ws64 (the demo holds its published ground truth): define, train tiny
    super-nets on synthetic data, evaluate, report; the report's numbers checked by hand."""
    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_warehouse[0] / "demo.duckdb", db)
    tiny = ["--dataset", "synthetic", "--synthetic-images", "64", "--epochs", "1", "--batch-size", "32", "--channels",
            "4", "--cells", "1", "--quiet", "--checkpoint-dir", str(tmp_path / "ckpt"), "--db", str(db)]
    for name, k, seed in (("r1", 1, 0), ("r2a", 2, 0), ("r2b", 2, 1)):
        subspace = f"random/ws64/{k}/{seed}"
        assert run_cli("spaces", "define", subspace, "--db", str(db)).returncode == 0
        trained = run_cli("run-supernet", "--space", "ws64", "--subspace", subspace, "--name", name, *tiny)
        assert trained.returncode == 0, trained.stderr
        scored = run_cli("evaluate", "--supernet", name, "--protocol", "no-ft", "--n", str(64 // k), "--db", str(db))
        assert scored.returncode == 0, scored.stderr
    url = f"duckdb:///{db}"
    outside = _rows(url, """SELECT COUNT(*) FROM proxy_scores p JOIN checkpoints c ON c.id = p.checkpoint_id
                            JOIN supernets n ON n.id = c.supernet_id WHERE p.architecture_id NOT IN
                            (SELECT architecture_id FROM architecture_subspaces s WHERE s.subspace = n.subspace)""")
    assert outside == [(0,)]
    report = run_cli("report", "subspaces", "--csv", "-", "--db", str(db))
    assert report.returncode == 0, report.stderr
    lines = report.stdout.strip().splitlines()
    assert lines[0].startswith("family,down_scale,protocol_id,runs") and len(lines) == 3
    runs = json.loads(run_cli("query", "subspace_runs", "--json", "--db", str(db)).stdout)
    assert {r["supernet_name"] for r in runs} == {"r1", "r2a", "r2b"}
    for run in runs:  # each number against a direct computation
        pairs = _rows(url, """SELECT AVG(p.value), MAX(f.validation_accuracy) FROM proxy_scores p
                              JOIN checkpoints c ON c.id = p.checkpoint_id
                              JOIN ground_truth_final f ON f.architecture_id = p.architecture_id
                              WHERE c.supernet_id = :s AND p.metric = 'validation_accuracy'
                              GROUP BY p.architecture_id ORDER BY p.architecture_id""", s=run["supernet_id"])
        proxy, truth = np.array(pairs).T
        assert run["kendall"] == pytest.approx(stats.kendalltau(proxy, truth).statistic)
        assert run["spearman"] == pytest.approx(stats.spearmanr(proxy, truth).statistic)  # their figures' statistic
        order = sorted(range(len(proxy)), key=lambda i: -proxy[i])  # ties: lowest architecture id first
        assert run["ws_top_k"] == pytest.approx(max(truth[i] for i in order[:10]))
        values = sorted(truth)
        n = len(values)
        expected = sum(values[i - 1] * math.comb(i - 1, 9) / math.comb(n, 10) for i in range(10, n + 1))
        assert run["rs_top_k"] == pytest.approx(expected)
    from plotcheck import capture, overlapping_texts

    figures = capture(monkeypatch)
    plot = run_cli("plot", "subspaces", "--out", str(tmp_path / "s.png"), "--db", str(db))
    assert plot.returncode == 0 and (tmp_path / "s.png").stat().st_size > 10_000
    assert overlapping_texts(figures[0]) == []


@pytest.mark.postgres
def test_definitions_agree_between_duckdb_and_postgresql(tmp_path, postgres_url):
    nb201_url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    for url in (nb201_url, postgres_url):  # VALID stores the NB201 classes it holds
        assert run_cli("init", "--populate", "", "--db", url).returncode == 0
        assert subspaces.define(url, "random/VALID/16/2")["members"] == math.ceil(6461 / 16)
    assert _member_keys(nb201_url, "nb201", "random/VALID/16/2") == _member_keys(postgres_url, "nb201", "random/VALID/16/2")
    assert subspaces.show(postgres_url, "VALID")["cells"] == 15_284


def test_migration_0006_keeps_the_predicates_and_round_trips(any_url):
    from conftest import migrate

    assert run_cli("init", "--populate", "ws64", "--db", any_url).returncode == 0
    subspaces.define(any_url, "random/ws64/4/0")
    migrate(any_url, "downgrade", "0005")
    engine = create_engine(any_url)  # no revision check: the warehouse is at 0005 now
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT COUNT(*) FROM subspaces")).scalar() == 9  # the predicates of 0001
        assert connection.execute(sa.text("SELECT COUNT(*) FROM architecture_subspaces WHERE subspace = 'FULL'")
                                  ).scalar() == 64
    engine.dispose()
    migrate(any_url, "upgrade", "head")
    assert _rows(any_url, "SELECT DISTINCT kind FROM subspaces") == [("predicate",)]
    assert subspaces.define(any_url, "random/ws64/4/0")["new"]
