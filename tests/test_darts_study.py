"""The DARTS space end to end: its networks (parameter counts against the published ones, the
super-net's mixture against the sampled genotype), the stand-alone recipes as published, and a
whole study on CPU: GAEA PC-DARTS search -> derived genotype -> stand-alone ground truth ->
correlation of a sampled super-net's scores and the differentiable report."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sqlalchemy as sa
import torch

from conftest import run_cli
from wsdb.spaces import darts as space
from wsdb.spaces import nb101 as nb101_space
from wsdb.spaces import nb201 as nb201_space
from wsdb.spaces import ws64 as ws64_space
from wsdb.trainers import darts, nb101
from wsdb.trainers.checkpoints import load_checkpoint
from wsdb.trainers.config import make_config
from wsdb.trainers.differentiable import ArchitectureWeights, Mixture
from wsdb.trainers.spaces import training_space
from wsdb.trainers.data import load_dataset
from wsdb.trainers.runtime import RunInterrupted
from wsdb.trainers.standalone import (RECIPES, StandaloneOptions, build_network, cutout, recipe, train_network,
                                      train_standalone, trainable_parameters)
from wsdb.warehouse.db import init_database, warehouse

# The genotypes as their authors released them (DARTS' genotypes.py; PC-DARTS' genotypes.py;
# GDAS_V1 from D-X-Y's NAS-Projects), with the parameter counts their papers and code print.
GENOTYPES = {
    "DARTS_V1": "Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), ('sep_conv_3x3', 1), "
                "('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2)], "
                "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
                "('max_pool_3x3', 0), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
                "('avg_pool_3x3', 0)], reduce_concat=[2, 3, 4, 5])",
    "DARTS_V2": "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
                "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
                "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
                "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
                "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])",
    "PC_DARTS": "Genotype(normal=[('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 0), ('dil_conv_3x3', 1), "
                "('sep_conv_5x5', 0), ('sep_conv_3x3', 1), ('avg_pool_3x3', 0), ('dil_conv_3x3', 1)], "
                "normal_concat=range(2, 6), reduce=[('sep_conv_5x5', 1), ('max_pool_3x3', 0), ('sep_conv_5x5', 1), "
                "('sep_conv_5x5', 2), ('sep_conv_3x3', 0), ('sep_conv_3x3', 3), ('sep_conv_3x3', 1), "
                "('sep_conv_3x3', 2)], reduce_concat=range(2, 6))",
    "GDAS_V1": "Genotype(normal=[('skip_connect', 0), ('skip_connect', 1), ('skip_connect', 0), ('sep_conv_5x5', 2), "
               "('sep_conv_3x3', 3), ('skip_connect', 0), ('sep_conv_5x5', 4), ('sep_conv_3x3', 3)], "
               "normal_concat=range(2, 6), reduce=[('sep_conv_5x5', 0), ('sep_conv_3x3', 1), ('sep_conv_5x5', 2), "
               "('sep_conv_5x5', 1), ('dil_conv_5x5', 2), ('sep_conv_3x3', 1), ('sep_conv_5x5', 0), "
               "('sep_conv_5x5', 1)], reduce_concat=range(2, 6))",
}


def _count(genotype_text: str) -> int:
    with torch.device("meta"):
        return darts.parameter_count(darts.DartsNetwork(space.parse_genotype(genotype_text)))


def test_published_genotypes_have_their_published_parameter_counts():
    counts = {name: _count(text) for name, text in GENOTYPES.items()}
    assert counts["DARTS_V2"] == 3_349_342  # DARTS' train.py log: "param size = 3.349342MB"
    assert round(counts["PC_DARTS"] / 1e6, 2) == 3.63  # PC-DARTS: 3.63M
    assert round(counts["GDAS_V1"] / 1e6, 1) == 3.4  # GDAS (Dong & Yang 2019, Table 3): 3.4M
    for name, text in GENOTYPES.items():  # the closed form stored with every class agrees with the network
        assert space.canonicalize(text).trainable_parameters == counts[name], name


def test_closed_form_parameter_count_equals_the_network_on_random_genotypes():
    rng = np.random.default_rng(3)
    for _ in range(25):
        genotype = space.random_genotype(rng)
        with torch.device("meta"):
            assert space.evaluation_parameters(*genotype) == darts.parameter_count(darts.DartsNetwork(genotype))


def test_recipe_networks_are_the_benchmarks_networks(shared_data):
    """nb201-200 and nb101-108 build exactly the benchmark's network: the parameter counts
    the benchmarks publish (NB201's table, NB101's records) on a few published cells."""
    import csv

    import pyarrow.parquet as pq

    with open(shared_data / "nb201" / "nb201_all15625.csv") as f:
        rows = list(csv.DictReader(f))
    for row in rows[:: len(rows) // 7]:
        with torch.device("meta"):
            net = build_network(recipe("nb201-200"), nb201_space.parse_arch_str(row["arch_str"]), 10)
        assert trainable_parameters(net) == int(row["num_params"]), row["arch_str"]
    table = pq.read_table(shared_data / "nb101" / "archs_151644.parquet",
                          columns=["adjacency", "operations", "trainable_parameters"]).slice(0, 5).to_pylist()
    for row in table:
        cell = nb101_space.decode(nb101_space.canonicalize(nb101_space.parse_matrix(row["adjacency"]),
                                                           row["operations"].split(",")).canonical_encoding)
        with torch.device("meta"):
            assert trainable_parameters(build_network(recipe("nb101-108"), cell, 10)) == row["trainable_parameters"]
            assert trainable_parameters(build_network(recipe("nb101-108"), cell, 10)) == nb101.parameter_count(cell)


def test_recipes_hold_the_published_settings():
    darts_eval = RECIPES["darts-cifar10"]  # DARTS' train.py defaults with --auxiliary --cutout
    assert (darts_eval.epochs, darts_eval.batch_size, darts_eval.learning_rate, darts_eval.momentum,
            darts_eval.weight_decay, darts_eval.channels, darts_eval.cells, darts_eval.auxiliary_weight,
            darts_eval.cutout, darts_eval.drop_path, darts_eval.gradient_clip, darts_eval.lr_min) == (
        600, 96, 0.025, 0.9, 3e-4, 36, 20, 0.4, 16, 0.2, 5.0, 0.0)
    nb201_recipe = RECIPES["nb201-200"]  # NAS-Bench-201 section 3: Nesterov SGD, lr 0.1 cosine to 0, wd 5e-4
    assert (nb201_recipe.epochs, nb201_recipe.batch_size, nb201_recipe.learning_rate, nb201_recipe.nesterov,
            nb201_recipe.weight_decay, nb201_recipe.lr_min, nb201_recipe.channels, nb201_recipe.cells) == (
        200, 256, 0.1, True, 5e-4, 0.0, 16, 5)
    nb101_recipe = RECIPES["nb101-108"]  # NAS-Bench-101 section 2.3: RMSProp lr 0.2 cosine, wd 1e-4, BN 0.997
    assert (nb101_recipe.epochs, nb101_recipe.optimizer, nb101_recipe.learning_rate, nb101_recipe.weight_decay,
            nb101_recipe.momentum, nb101_recipe.epsilon, nb101_recipe.bn_momentum, nb101_recipe.channels) == (
        108, "rmsprop", 0.2, 1e-4, 0.9, 1.0, 0.003, 128)
    ws64_recipe = RECIPES["ws64-200"]  # Deeper Insights section 3: SGD 0.9, wd 1e-3, lr 0.025 -> 0.001, 256, 200
    assert (ws64_recipe.epochs, ws64_recipe.batch_size, ws64_recipe.learning_rate, ws64_recipe.lr_min,
            ws64_recipe.weight_decay, ws64_recipe.bn_momentum) == (200, 256, 0.025, 0.001, 1e-3, 0.4)


def test_supernet_mixture_at_a_vertex_is_the_sampled_genotype():
    """θ one-hot on the genotype's operation on its edges and on `none` elsewhere makes the
    DARTS mixture compute exactly the network the sampled genotype runs."""
    torch.manual_seed(0)
    net = darts.DartsSupernet(channels=4, layers=3).eval()
    genotype = space.random_genotype(np.random.default_rng(7))
    sampler = training_space("darts")
    theta = torch.zeros(sampler.num_edges, len(space.SEARCH_OPERATIONS))
    theta[:, 0] = 1.0  # none
    for edge, op in sampler.theta_edges(genotype):
        theta[edge] = 0.0
        theta[edge, space.SEARCH_OPERATIONS.index(op)] = 1.0
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(net(x, Mixture(theta, space.SEARCH_OPERATIONS)), net(x, genotype), atol=1e-5)


def test_pc_darts_derivation_weighs_operations_by_edge_weights():
    """PC-DARTS' genotype(): an edge's strength is its best operation (not none) times its β."""
    sampler = training_space("darts")
    theta = torch.full((sampler.num_edges, 8), 1 / 8)
    theta[0, 4] = theta[1, 4] = 0.5  # node 2: edges from 0 and 1 prefer sep_conv_3x3
    theta[2, 5] = 0.9  # node 3's edge from input 0 is the strongest by θ alone
    beta = torch.ones(sampler.num_edges)
    beta[2:5] = torch.tensor([0.05, 0.5, 0.45])  # ... but β moves node 3 to inputs 1 and 2
    pooled = [("max_pool_3x3", 0), ("max_pool_3x3", 1)]  # uniform rows: ties to the first inputs and operation
    def expected(node_3):
        normal = [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), *node_3, *pooled, *pooled]
        return space.canonicalize_cells(space._cell(normal, "normal"), space._cell(pooled * 4, "reduce")).canonical_key

    assert sampler.derive(theta, beta).canonical_key == expected([("max_pool_3x3", 1), ("max_pool_3x3", 2)])
    assert sampler.derive(theta).canonical_key == expected([("sep_conv_5x5", 0), ("max_pool_3x3", 1)])


def test_fairnas_on_darts_gives_every_chosen_edge_each_operation_once():
    group = training_space("darts").fair_group(np.random.default_rng(1), "FULL")
    assert len(group) == len(space.OPERATIONS)
    for c in range(2):
        for n in range(space.NODES):
            for k in range(2):
                assert len({genotype[c][n][k][0] for genotype in group}) == 1  # one input for every member
                assert sorted(genotype[c][n][k][1] for genotype in group) == sorted(space.OPERATIONS)


def test_cutout_zeroes_one_square_per_image():
    x = torch.ones(64, 3, 32, 32)
    out = cutout(x, 16, torch.Generator().manual_seed(0))
    zeroed = (out[:, 0] == 0).sum(dim=(1, 2))
    assert int(zeroed.max()) == 256 and int(zeroed.min()) >= 64  # a 16x16 square, clipped at most to its quarter
    assert bool((out[:, 0] == out[:, 1]).all())  # the same square on every channel


def test_drop_path_zeroes_whole_examples_at_its_rate_and_rises_linearly_over_training():
    """DARTS' drop_path: per example, the edge's output is zeroed with probability p and kept ones
    scaled by 1/(1-p); never the identity, never in evaluation."""
    torch.manual_seed(0)
    edge = darts.DropPath(torch.nn.Conv2d(1, 1, 1, bias=False))
    torch.nn.init.ones_(edge.module.weight)
    edge.rate = 0.3
    out = edge(torch.ones(20_000, 1, 2, 2))
    kept = out.flatten(1).amax(1)
    assert bool((out.flatten(1) == kept[:, None]).all())  # whole examples, not pixels
    assert kept.unique().tolist() == pytest.approx([0.0, 1 / 0.7])
    assert abs(float((kept == 0).float().mean()) - 0.3) < 0.02
    assert torch.equal(edge.eval()(torch.ones(3, 1, 2, 2)), torch.ones(3, 1, 2, 2))
    identity = darts.DropPath(torch.nn.Identity())
    identity.rate = 0.9
    assert torch.equal(identity(torch.ones(5, 1, 2, 2)), torch.ones(5, 1, 2, 2))
    # the trainer raises the rate linearly per epoch: epoch e of E trains at drop_path * e / E
    chosen = recipe("darts-cifar10", {"epochs": 4, "channels": 4, "cells": 3, "dataset": "synthetic",
                                      "synthetic_images": 16, "batch_size": 16, "auxiliary_weight": 0.0})
    model = build_network(chosen, space.parse_genotype(GENOTYPES["DARTS_V2"]), 10)
    data = load_dataset("synthetic", None, torch.device("cpu"), synthetic_images=16)
    rates = []
    train_network(model, chosen, data, None, 0, StandaloneOptions(progress=False), torch.device("cpu"),
                  lambda state: rates.append({m.rate for m in model.modules() if isinstance(m, darts.DropPath)}))
    assert [r.pop() for r in rates] == pytest.approx([0.0, 0.05, 0.1, 0.15]) and all(not r for r in rates)


def test_darts_configuration_refuses_what_cannot_apply():
    from wsdb.base.errors import WsdbError

    for bad in ({"sampler": "random-a"}, {"evaluate_last_steps": 5}, {"cells_per_stack": 2}):
        with pytest.raises(WsdbError):
            make_config({"space": "darts", **bad})
    config = make_config({"space": "darts", "search": "pc-darts", "architecture_update": "exponentiated"})
    weights = ArchitectureWeights(config, 28, space.SEARCH_OPERATIONS, training_space("darts").edge_decisions(config),
                                  torch.device("cpu"))
    assert torch.allclose(weights.edge_weights()[:5], torch.tensor([0.5, 0.5, 1 / 3, 1 / 3, 1 / 3]))


def test_recipe_overrides_are_checked(tmp_path):
    db = str(tmp_path / "w.duckdb")
    assert run_cli("init", "--db", db).returncode == 0
    for settings, expected in ((["--set", "epochs=0"], "epochs must be in"), (["--set", "space=nb201"], "not a setting"),
                               (["--set", "dataset=mnist"], "dataset must be one of"),
                               (["--set", "drop_path=.nan"], "drop_path must be a finite number")):
        result = run_cli("train-standalone", "--recipe", "ws64-200", "--space", "ws64", "--label", "111", *settings,
                         "--db", db)
        assert result.returncode == 1 and expected in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    bad = run_cli("train-standalone", "--recipe", "darts-cifar10", "--space", "darts", "--genotype",
                  "Genotype(normal=[('conv_7x7', 0)])", "--db", db)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr


TINY_DARTS = ["--set", "epochs=1", "--set", "channels=4", "--set", "cells=3", "--set", "dataset=synthetic",
              "--set", "synthetic_images=32", "--set", "batch_size=16"]
TINY_SUPERNET = ["--space", "darts", "--dataset", "synthetic", "--synthetic-images", "64", "--batch-size", "16",
                 "--channels", "4", "--cells", "3", "--quiet"]
TRUTH = ["--param", "benchmark=wsdb-standalone", "--param", "dataset=synthetic", "--param", "epoch_budget=1"]


def test_a_whole_darts_study_runs_on_cpu(tmp_path):
    db = str(tmp_path / "w.duckdb")
    ckpt = str(tmp_path / "ckpt")
    assert run_cli("init", "--db", db).returncode == 0
    # GAEA PC-DARTS search: its derived genotype stored per checkpoint
    searched = run_cli("run-supernet", *TINY_SUPERNET, "--search", "pc-darts", "--architecture-update", "exponentiated",
                       "--formulation", "single-level", "--epochs", "2", "--name", "gaea", "--checkpoint-dir", ckpt,
                       "--db", db)
    assert searched.returncode == 0, searched.stderr
    derived = json.loads(run_cli("sql", "SELECT a.canonical_encoding FROM derived_architectures d JOIN checkpoints c "
                                 "ON c.id = d.checkpoint_id JOIN architectures a ON a.id = d.architecture_id "
                                 "ORDER BY c.epoch DESC LIMIT 1", "--json", "--db", db).stdout)[0]["canonical_encoding"]
    # its parameter-free share: pooling and skip_connect among the 16 edges of both cells
    (newest,) = [r for r in json.loads(run_cli("query", "architecture_weights", "--json", "--db", db).stdout)
                 if r["epoch"] == 2]
    free = [op for cell in training_space("darts").decode(derived) for node in cell for _, op in node
            if op in ("max_pool_3x3", "avg_pool_3x3", "skip_connect")]
    assert newest["derived_architecture"] == derived and newest["parameter_free_share"] == len(free) / 16
    assert free, "a derived genotype without parameter-free operations would not test the share"
    # the derived genotype and six sampled ones trained stand-alone, through the command and the queue
    trained = run_cli("train-standalone", "--recipe", "darts-cifar10", "--space", "darts", "--genotype", derived,
                      *TINY_DARTS, "--checkpoint-dir", ckpt, "--quiet", "--json", "--db", db)
    assert trained.returncode == 0, trained.stderr
    run = json.loads(trained.stdout)[0]
    assert run["status"] == "finished" and run["trainable_parameters"] > 0
    queued = run_cli("submit", "standalone", "--recipe", "darts-cifar10", "--n", "6", *TINY_DARTS,
                     "--checkpoint-dir", ckpt, "--db", db)
    assert queued.returncode == 0 and "6 standalone" in queued.stdout, queued.stderr
    worked = run_cli("worker", "--drain", "--db", db)
    assert worked.returncode == 0, worked.stderr
    truth = json.loads(run_cli("sql", "SELECT architecture_id, epoch, evaluation_point, train_accuracy, "
                               "validation_accuracy, test_accuracy FROM ground_truth_results "
                               "WHERE benchmark = 'wsdb-standalone'", "--json", "--db", db).stdout)
    assert len(truth) == 7 and {row["evaluation_point"] for row in truth} == {"final"}
    assert all(row["validation_accuracy"] is not None and row["test_accuracy"] is not None for row in truth)
    runs = json.loads(run_cli("sql", "SELECT status, checkpoint_sha256, recipe_json FROM standalone_runs", "--json",
                              "--db", db).stdout)
    assert len(runs) == 7 and all(r["status"] == "finished" and len(r["checkpoint_sha256"]) == 64 for r in runs)
    assert json.loads(runs[0]["recipe_json"])["epochs"] == 1
    # a super-net by random search with weight sharing, scored on the six sampled genotypes
    assert run_cli("run-supernet", *TINY_SUPERNET, "--epochs", "1", "--name", "rsws", "--checkpoint-dir", ckpt,
                   "--db", db).returncode == 0
    scored = run_cli("evaluate", "--supernet", "rsws", "--protocol", "bns-ft:2", "--n", "6", "--quiet", "--db", db)
    assert scored.returncode == 0, scored.stderr
    correlation = run_cli("query", "correlation", "--param", "supernet=rsws", *TRUTH, "--json", "--db", db)
    assert correlation.returncode == 0, correlation.stderr
    (row,) = [r for r in json.loads(correlation.stdout) if r["protocol_id"] == "bns-ft:2"]
    assert row["n"] == 6
    report = run_cli("report", "differentiable", *TRUTH[:2], *TRUTH[4:], "--json", "--db", db)
    assert report.returncode == 0, report.stderr
    methods = {r["method"] for r in json.loads(report.stdout)}
    assert any("gaea-pc-darts" in m for m in methods), methods
    layout = run_cli("report", "differentiable", *TRUTH[:2], *TRUTH[4:], "--db", db).stdout
    assert "best trained" in layout and "optimum" not in layout  # no benchmark covers the DARTS space


def test_an_interrupted_standalone_run_continues_exactly_where_it_stopped(tmp_path):
    """Ctrl-C (or a lost worker) in epoch 2 of 3: asking for the same run again continues from
    epoch 1's state, to the same figures and weights as a run never interrupted, and keeps only
    the newest epoch's file."""
    arch = ws64_space.canonicalize("123")
    settings = {"epochs": 3, "dataset": "synthetic", "synthetic_images": 32, "batch_size": 16, "channels": 4}
    urls = [f"duckdb:///{tmp_path / name}.duckdb" for name in ("straight", "interrupted")]
    for url in urls:
        init_database(url)
    folder = tmp_path / "ck"
    train_standalone(urls[0], arch, "ws64-200", settings, 4, StandaloneOptions(str(folder / "a"), progress=False))
    calls = iter(range(100))
    stop = StandaloneOptions(str(folder / "b"), progress=False, keep_going=lambda: next(calls) < 3)  # 2 steps an epoch
    with pytest.raises(RunInterrupted):
        train_standalone(urls[1], arch, "ws64-200", settings, 4, stop)
    steps = []
    resumed = train_standalone(urls[1], arch, "ws64-200", settings, 4, StandaloneOptions(
        str(folder / "b"), progress=False, keep_going=lambda: steps.append(1) or True))
    assert resumed["status"] == "finished" and len(steps) == 4  # epochs 2 and 3 only
    rows, files = [], []
    for url in urls:
        with warehouse(url) as engine, engine.connect() as connection:
            rows.append([r[:-1] for r in connection.execute(sa.text(
                "SELECT epoch, train_accuracy, train_loss, validation_accuracy, validation_loss, training_seconds "
                "FROM ground_truth_results ORDER BY epoch"))])
            files.append(connection.execute(sa.text(
                "SELECT checkpoint_uri, checkpoint_sha256, status FROM standalone_runs")).all())
    assert rows[0] == rows[1] and len(rows[0]) == 3
    assert len(files[1]) == 1 and files[1][0][2] == "finished"  # one run, continued under its id
    weights = [load_checkpoint(uri, sha, "test")["model"] for ((uri, sha, _),) in files]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert sorted(p.name for p in (folder / "b" / "standalone").rglob("*.pt")) == ["epoch-3.pt"]


def test_a_standalone_run_marked_running_continues_only_with_force(tmp_path):
    db = str(tmp_path / "w.duckdb")
    assert run_cli("init", "--db", db).returncode == 0
    settings = {"epochs": 2, "dataset": "synthetic", "synthetic_images": 32, "batch_size": 16, "channels": 4}
    calls = iter(range(100))
    with pytest.raises(RunInterrupted):
        train_standalone(f"duckdb:///{db}", ws64_space.canonicalize("123"), "ws64-200", settings, 0,
                         StandaloneOptions(str(tmp_path / "ck"), progress=False, keep_going=lambda: next(calls) < 3))
    # the process died without saying so: the row still says running
    with warehouse(f"duckdb:///{db}") as engine, engine.begin() as connection:
        connection.execute(sa.text("UPDATE standalone_runs SET status = 'running'"))
    args = ["train-standalone", "--recipe", "ws64-200", "--space", "ws64", "--label", "123",
            *[f"--set={k}={v}" for k, v in settings.items()], "--checkpoint-dir", str(tmp_path / "ck"), "--quiet",
            "--db", db]
    refused = run_cli(*args)
    assert refused.returncode == 1 and "is marked running" in refused.stderr and "--force" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    forced = run_cli(*args, "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    (run,) = json.loads(forced.stdout)
    assert run["status"] == "finished"
