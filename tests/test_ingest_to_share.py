"""`wsdb ingest to-share`: the published results of ../seeds/000, loaded through an
allow-list unpickler."""

import json
import os
import pickle
import shutil

import pytest
import sqlalchemy as sa
from scipy.stats import spearmanr

from conftest import run_cli
from wsdb.warehouse import db as database
from wsdb.base.errors import BadFile
from wsdb.ingest.common import IngestError
from wsdb.base.safe_pickle import load_numpy_pickle
from wsdb.ingest.to_share import TRAINING_VARIANTS, ingest_to_share, parse_method

PUBLISHED = "nb101/to_share_or_not_to_share"


@pytest.fixture
def warehouse_url(duckdb_url):
    database.init_database(duckdb_url)
    return duckdb_url


def copy_results(shared_data, target, pairs):
    """Copy published pickles into a <method>/<space>/<seed> tree under `target`."""
    for source, destination in pairs:
        path = target / destination / "eval_results.pkl"
        path.parent.mkdir(parents=True)
        shutil.copy(shared_data / PUBLISHED / source / "eval_results.pkl", path)
    return target


def test_one_supernet_per_directory_with_sample_scores_and_ground_truth(tmp_path, warehouse_url, shared_data):
    root = copy_results(shared_data, tmp_path / "results", [("baseline_ft_bn/full/0", "baseline_ft_bn/full/0"),
                                                            ("baseline_no_ft/1/2", "baseline_no_ft/1/2")])
    with database.warehouse(warehouse_url) as engine:
        summary = ingest_to_share(engine, root, show_progress=False)
        again = ingest_to_share(engine, root, show_progress=False)
        with engine.connect() as connection:
            supernets = connection.execute(sa.text(
                "SELECT name, subspace, seed, status, origin, config_json FROM supernets ORDER BY name")).all()
            members = connection.execute(sa.text(
                "SELECT sample_name, COUNT(*) FROM architecture_sample_members GROUP BY 1 ORDER BY 1")).all()
            scores = connection.execute(sa.text(
                "SELECT protocol_id, COUNT(*) FROM proxy_scores GROUP BY 1 ORDER BY 1")).all()
            pairs = connection.execute(sa.text(
                "SELECT proxy_value, truth_validation_accuracy FROM proxy_vs_truth v JOIN supernets s "
                "ON s.id = v.supernet_id WHERE s.name = 'to-share/baseline_ft_bn/full/0' AND v.epoch_budget = 108"
            )).all()
    assert summary.records_read == 2000 and again.new_results == 0 and again.new_architectures == 0
    assert [(n, sub, seed, st, o) for n, sub, seed, st, o, _ in supernets] == [
        ("to-share/baseline_ft_bn/full/0", "FULL", 0, "imported", "imported"),
        ("to-share/baseline_no_ft/1/2", "A1", 2, "imported", "imported"),
    ]
    config = json.loads(supernets[0][5])
    assert config["sampler"] == "uniform" and config["evaluation_protocol"] == "bns-ft:4" and config["epochs"] == 432
    assert members == [("to-share/baseline_ft_bn/full/0", 1000), ("to-share/baseline_no_ft/1/2", 1000)]
    assert scores == [("bns-ft:4", 1000), ("no-ft", 1000)]
    # seed 000 Table 1, FULL / BNS-FT, super-net 0 of 5 (mean 0.56 over the five)
    assert spearmanr(*zip(*pairs)).statistic == pytest.approx(0.59, abs=0.005)


def test_all_six_published_methods_are_understood():
    expected = {
        "avg-3_ft_bn": ("uniform", False, 3, "bns-ft:4"),
        "baseline_ft_bn": ("uniform", False, 1, "bns-ft:4"),
        "baseline_no_ft": ("uniform", False, 1, "no-ft"),
        "pro-rata_ft_bn": ("pro-rata", False, 1, "bns-ft:4"),
        "s-k+p-r_ft_bn": ("pro-rata", True, 1, "bns-ft:4"),
        "single-k_ft_bn": ("uniform", True, 1, "bns-ft:4"),
    }
    for method, (sampler, single_kernel, per_batch, protocol) in expected.items():
        variant, got_protocol = parse_method(method)
        assert (variant["sampler"], variant["single_kernel"], variant["architectures_per_batch"], got_protocol) == (
            sampler, single_kernel, per_batch, protocol)
    assert set(TRAINING_VARIANTS) == {"baseline", "pro-rata", "avg-3", "single-k", "s-k+p-r"}


def test_a_method_folder_named_like_an_unpublished_variant_is_imported(tmp_path, warehouse_url, shared_data):
    root = copy_results(shared_data, tmp_path / "r", [("baseline_ft_bn/4/1", "s-k+p-r_ft_bn/4/1")])
    with database.warehouse(warehouse_url) as engine:
        ingest_to_share(engine, root, show_progress=False)
        with engine.connect() as connection:
            config = json.loads(connection.execute(sa.text("SELECT config_json FROM supernets")).scalar_one())
    assert (config["variant"], config["sampler"], config["single_kernel"], config["subspace"]) == (
        "s-k+p-r", "pro-rata", True, "A4")


@pytest.mark.parametrize(
    "folder, message",
    [
        ("magic_ft_bn/full/0", "unknown method 'magic_ft_bn'"),
        ("baseline_ft_bn/full_9/0", "unknown space folder 'full_9'"),
        ("baseline_ft_bn/full/x", "seed folder 'x' is not a number"),
    ],
)
def test_unknown_layouts_are_refused(tmp_path, warehouse_url, shared_data, folder, message):
    root = copy_results(shared_data, tmp_path / "r", [("baseline_ft_bn/full/0", folder)])
    with database.warehouse(warehouse_url) as engine:
        with pytest.raises(IngestError, match=message):
            ingest_to_share(engine, root, show_progress=False)


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_malicious_pickle_is_refused_and_never_executed(tmp_path, warehouse_url):
    marker = tmp_path / "pwned"
    path = tmp_path / "r" / "baseline_ft_bn" / "full" / "0" / "eval_results.pkl"
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps([{"full_metrics": Exploit(marker)}]))
    result = run_cli("ingest", "to-share", str(tmp_path / "r"), "--db", warehouse_url.removeprefix("duckdb:///"))
    assert result.returncode == 1
    assert "unsafe pickle: refusing to load posix.system" in result.stderr
    assert not marker.exists()
    with database.warehouse(warehouse_url) as engine, engine.connect() as connection:
        assert connection.execute(sa.text("SELECT COUNT(*) FROM supernets")).scalar_one() == 0


def test_allow_list_admits_numpy_and_builtins_only(tmp_path):
    import numpy as np

    data = pickle.dumps({"a": np.arange(3, dtype=np.int8), "b": np.float64(0.5), "c": (1, "x", [2.0])})
    loaded = load_numpy_pickle("mem", data)
    assert loaded["a"].tolist() == [0, 1, 2] and loaded["b"] == 0.5
    with pytest.raises(BadFile, match="refusing to load collections.OrderedDict"):
        load_numpy_pickle("mem", pickle.dumps(__import__("collections").OrderedDict()))
    with pytest.raises(BadFile, match="not a readable pickle"):
        load_numpy_pickle("mem", b"\x80\x04garbage")


def test_table1_full_bns_ft_cell_from_the_warehouse(tmp_path, warehouse_url, shared_data):
    """Seed 000 Table 1, A_FULL / BNS-FT: 0.56 +- 0.04 (mean over 5 super-nets, 1.96 sd/sqrt(n))."""
    import numpy as np

    root = copy_results(shared_data, tmp_path / "r", [(f"baseline_ft_bn/full/{s}", f"baseline_ft_bn/full/{s}") for s in range(5)])
    with database.warehouse(warehouse_url) as engine:
        ingest_to_share(engine, root, show_progress=False)
        with engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT supernet_id, proxy_value, truth_validation_accuracy FROM proxy_vs_truth "
                "WHERE epoch_budget = 108 ORDER BY supernet_id")).all()
    by_supernet = {}
    for supernet, proxy, truth in rows:
        by_supernet.setdefault(supernet, []).append((proxy, truth))
    rhos = np.array([spearmanr(*zip(*pairs)).statistic for pairs in by_supernet.values()])
    assert len(rhos) == 5
    assert round(rhos.mean(), 2) == 0.56 and round(1.96 * rhos.std() / np.sqrt(5), 2) == 0.04
