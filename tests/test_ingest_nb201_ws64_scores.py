"""NB201 (NATS files, official .pth, table), ws64 (Table 5, repository CSV, trajectory) and
generic score files, on the real samples in ../shared/data."""

import bz2
import csv
import pickle
import statistics

import pytest
import sqlalchemy as sa

from conftest import run_cli
from wsdb.warehouse import db as database
from wsdb.base.errors import BadFile
from wsdb.ingest.common import IngestError
from wsdb.ingest.nb201 import ingest_nats, ingest_nb201_pth, ingest_nb201_table
from wsdb.ingest.scores import ingest_scores
from wsdb.ingest.ws64 import ingest_ws64_ground_truth, ingest_ws64_trajectory

NATS = "nb201/nats_tss_simple_3archs"


@pytest.fixture
def warehouse_url(duckdb_url):
    database.init_database(duckdb_url)
    return duckdb_url


def query(url, sql, **params):
    with database.warehouse(url) as engine, engine.connect() as connection:
        return connection.execute(sa.text(sql), params).all()


def test_nats_files_agree_with_the_published_200_epoch_means(warehouse_url, shared_data):
    with database.warehouse(warehouse_url) as engine:
        first = ingest_nats(engine, shared_data / NATS, show_progress=False)
        again = ingest_nats(engine, shared_data / NATS, show_progress=False)
    assert first.records_read == 3 and first.new_results > 7000 and again.new_results == 0
    table = {int(r["arch_index"]): r for r in csv.DictReader(open(shared_data / "nb201/nb201_all15625.csv"))}
    for index in (0, 11, 284):
        accuracies = [a for (a,) in query(
            warehouse_url,
            "SELECT validation_accuracy FROM ground_truth_results WHERE benchmark_arch_id = :i "
            "AND dataset = 'cifar10-valid' AND epoch_budget = 200 AND evaluation_point = 'final'", i=str(index))]
        assert len(accuracies) == 3  # seeds 777, 888, 999
        assert statistics.mean(accuracies) * 100 == pytest.approx(float(table[index]["val_acc_200ep_cifar10valid"]), abs=1e-9)
    seeds = {r for (r,) in query(warehouse_url, "SELECT DISTINCT repeat FROM ground_truth_results WHERE epoch_budget = 200")}
    assert seeds == {777, 888, 999}
    # every epoch is a row; training time accumulates
    curve = query(warehouse_url, "SELECT epoch, training_seconds FROM ground_truth_results WHERE benchmark_arch_id = '284' "
                  "AND dataset = 'cifar100' AND epoch_budget = 200 AND repeat = 777 ORDER BY epoch")
    assert [e for e, _ in curve] == list(range(1, 201))
    assert all(a < b for (_, a), (_, b) in zip(curve, curve[1:]))


def _tiny_official_file(shared_data, path):
    """The three NATS samples in the official single-file layout, saved with torch."""
    import torch

    meta = pickle.load(bz2.open(shared_data / NATS / "meta.pickle.pbz2"))
    infos = {}
    for index in (0, 11, 284):
        states = pickle.load(bz2.open(shared_data / NATS / f"{index:06d}.pickle.pbz2"))
        infos[index] = {"less": states["12"], "full": states["200"]}
    torch.save({"meta_archs": meta["meta_archs"], "arch2infos": infos, "evaluated_indexes": [0, 11, 284]}, path)
    return path


def test_official_pth_needs_trust_and_gives_the_same_rows_as_nats(tmp_path, warehouse_url, shared_data, duckdb_url):
    pth = _tiny_official_file(shared_data, tmp_path / "NAS-Bench-201-tiny.pth")
    result = run_cli("ingest", "nasbench201", str(pth), "--db", warehouse_url.removeprefix("duckdb:///"))
    assert result.returncode == 1 and "pass --trust if you trust this file" in result.stderr
    with database.warehouse(warehouse_url) as engine:
        from_pth = ingest_nb201_pth(engine, pth, trust=True, show_progress=False)
        from_nats = ingest_nats(engine, shared_data / NATS, show_progress=False)
    assert from_pth.new_results > 7000 and from_nats.new_results == 0  # the same rows


def test_nats_final_only_and_a_foreign_pickle(tmp_path, warehouse_url, shared_data):
    with database.warehouse(warehouse_url) as engine:
        summary = ingest_nats(engine, shared_data / NATS / "000284.pickle.pbz2", final_only=True, show_progress=False)
        assert summary.new_results == 4 * 3 + 5  # hp 200: 4 datasets x 3 seeds; hp 12: 5 runs
        bad = tmp_path / "000001.pickle.pbz2"
        bad.write_bytes(bz2.compress(pickle.dumps({"12": __import__("fractions").Fraction(1, 3)})))
        with pytest.raises(BadFile, match="refusing to load fractions.Fraction"):
            ingest_nats(engine, bad, show_progress=False)


def test_nb201_table_and_its_training_free_scores(warehouse_url, shared_data):
    with database.warehouse(warehouse_url) as engine:
        summary = ingest_nb201_table(engine, shared_data / "nb201/nb201_all15625.csv", source="monet")
    assert summary.records_read == 15625 and summary.new_architectures == 6466
    counts = dict(query(warehouse_url, "SELECT epoch_budget, COUNT(*) FROM ground_truth_results GROUP BY 1"))
    assert counts[200] == 15625 * 3
    (row,) = query(warehouse_url, "SELECT validation_accuracy FROM ground_truth_results WHERE benchmark_arch_id = '1' "
                   "AND dataset = 'cifar10-valid' AND epoch_budget = 200")
    assert row[0] == pytest.approx(0.9076933332438152)
    scores = dict(query(warehouse_url, "SELECT metric, COUNT(*) FROM zero_cost_scores WHERE dataset = 'cifar10-valid' GROUP BY 1"))
    rows = list(csv.DictReader(open(shared_data / "nb201/nb201_all15625.csv")))
    assert scores == {m: sum(1 for r in rows if r[f"{m}_score_cifar10valid"]) for m in ("ntk", "nasi", "naswot")}
    assert scores["ntk"] == 15625


def test_ws64_paper_repository_and_trajectory(warehouse_url, shared_data):
    with database.warehouse(warehouse_url) as engine:
        paper = ingest_ws64_ground_truth(engine)
        repository = ingest_ws64_ground_truth(engine, shared_data / "ws64/ground_truth_64.csv")
        trajectory = ingest_ws64_trajectory(engine, shared_data / "ws64/supernet_last128_steps.csv")
        again = ingest_ws64_trajectory(engine, shared_data / "ws64/supernet_last128_steps.csv")
    assert (paper.new_results, repository.new_results) == (64, 64)
    assert trajectory.new_results == 128 * 64 and again.new_results == 0
    (best,) = query(warehouse_url, "SELECT a.canonical_key, m.validation_accuracy, m.validation_accuracy_std "
                    "FROM ground_truth_mean m JOIN architectures a ON a.id = m.architecture_id "
                    "WHERE m.benchmark = 'ws64-paper' ORDER BY m.validation_accuracy DESC LIMIT 1")
    assert best == ("434", pytest.approx(0.8523), pytest.approx(0.0017))  # Table 5: rank 1, 85.23 +- 0.17
    assert query(warehouse_url, "SELECT COUNT(*) FROM checkpoints") == [(128,)]


def test_ws64_bad_rows(tmp_path, warehouse_url):
    bad = tmp_path / "gt.csv"
    bad.write_text("label,gt_acc_mean,gt_acc_std\n111,0.7,0.01\n511,0.8,0.01\n")
    with database.warehouse(warehouse_url) as engine:
        with pytest.raises(IngestError, match=r"gt.csv: line 3: ws64 labels are three digits"):
            ingest_ws64_ground_truth(engine, bad)
        bad.write_text("label,gt_acc_mean,gt_acc_std\n111,high,0.01\n")
        with pytest.raises(IngestError, match="line 2: column gt_acc_mean is 'high', not a number"):
            ingest_ws64_ground_truth(engine, bad)
    assert query(warehouse_url, "SELECT COUNT(*) FROM ground_truth_results") == [(0,)]


def test_naslib_scores_land_duplicates_on_one_architecture(warehouse_url, shared_data):
    with database.warehouse(warehouse_url) as engine:
        nb101 = ingest_scores(engine, shared_data / "nb101/naslib_zero_cost_500.csv", "nb101", "naslib", "cifar10")
        nb201 = ingest_scores(engine, shared_data / "nb201/naslib_zero_cost_725.csv", "nb201", "naslib")
        again = ingest_scores(engine, shared_data / "nb101/naslib_zero_cost_500.csv", "nb101", "naslib", "cifar10")
    assert (nb101.records_read, nb101.new_architectures) == (500, 292) and again.new_results == 0
    (row,) = query(warehouse_url, "SELECT COUNT(DISTINCT encoding), COUNT(DISTINCT architecture_id) FROM zero_cost_scores "
                   "WHERE encoding_kind = 'naslib-nb101-tuple' AND metric = 'synflow'")
    assert row == (500, 292)
    hashes = {r["module_hash_computed"] for r in csv.DictReader(open(shared_data / "nb101/naslib_zero_cost_500.csv"))}
    stored = {k for (k,) in query(warehouse_url, "SELECT DISTINCT a.canonical_key FROM zero_cost_scores z JOIN architectures a "
                                  "ON a.id = z.architecture_id WHERE a.search_space = 'nb101'")}
    assert stored == hashes
    timed = query(warehouse_url, "SELECT COUNT(*) FROM zero_cost_scores WHERE source = 'naslib' AND dataset = 'cifar100' "
                  "AND metric = 'synflow' AND elapsed_seconds > 0")
    assert timed == [(725,)] and nb201.new_architectures > 0


def test_scores_file_for_the_wrong_space(tmp_path, warehouse_url, shared_data):
    with database.warehouse(warehouse_url) as engine:
        with pytest.raises(IngestError, match="cannot read the architecture"):
            ingest_scores(engine, shared_data / "nb201/naslib_zero_cost_725.csv", "nb101", "naslib")
        with pytest.raises(IngestError, match="no encoding column for nb201"):
            (tmp_path / "s.csv").write_text("name,score\na,1\n")
            ingest_scores(engine, tmp_path / "s.csv", "nb201", "x", "cifar10")
