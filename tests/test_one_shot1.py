"""NAS-Bench-1Shot1's one-shot model (Zela, Siems, Hutter 2020) and a search on it scored by
NAS-Bench-101 ground truth: the model against a plain transcription of its cell, the derivation
rule against a direct one, the NB101 class of a derived configuration against the sub-space's
construction, the search settings as published, and the whole study through the commands."""

from __future__ import annotations

import base64
import importlib.util
import itertools
import json
import math

import numpy as np
import pytest
import sqlalchemy as sa
import torch
import torch.nn.functional as F
from scipy.special import entr

from conftest import SHARED_DATA, run_cli
from wsdb.spaces import constructions, nb101
from wsdb.spaces.one_shot1 import OPERATIONS, OneShot1Space
from wsdb.trainers.checkpoints import load_checkpoint
from wsdb.trainers.config import make_config
from wsdb.trainers.differentiable import ArchitectureWeights, Mixture
from wsdb.trainers.spaces import supernet_space
from wsdb.trainers.train import RunOptions, resume_supernet, run_supernet
from wsdb.warehouse import subspaces
from wsdb.warehouse.db import init_database, warehouse

TOOL = SHARED_DATA.parent / "tools" / "make_nb101_tfrecord.py"


def _random_simplex_weights(space: OneShot1Space, rng: np.random.Generator):
    theta = torch.tensor(rng.dirichlet(np.ones(3), space.vertices), dtype=torch.float32)
    beta = torch.ones(len(space.candidate_edges()))
    for group in space.choice_groups():
        beta[group] = torch.tensor(rng.dirichlet(np.ones(len(group))), dtype=torch.float32)
    return theta, beta


def _reference_forward(model, space: OneShot1Space, theta, beta, x):
    """The one-shot model written out from 1Shot1's description, reusing only the model's layers:
    block v = Σ_o θ_vo·o(Σ_u β_uv·s_u) with s_0 the block's projection of the cell input, the
    output the concatenation of β_u,out·s_u (s_0: the output's projection)."""
    weight = {edge: beta[i] for i, edge in enumerate(space.candidate_edges())}
    x = model.stem(x)
    for cell, down in zip(model.cells, model.downsample):
        if down:
            x = F.max_pool2d(x, kernel_size=2, stride=2, padding=1)
        states = {}
        for v in range(1, space.vertices + 1):
            summed = sum(weight[(u, v)] * (cell.projections[v - 1](x) if u == 0 else states[u]) for u in range(v))
            states[v] = sum(theta[v - 1, o] * cell.blocks[v - 1][op](summed) for o, op in enumerate(OPERATIONS))
        out = space.output
        x = torch.cat([weight[(0, out)] * cell.projections[-1](x)]
                      + [weight[(u, out)] * states[u] for u in range(1, out)], dim=1)
    return model.classifier(model.postprocess(x).mean(dim=(2, 3)))


@pytest.mark.parametrize("number", [1, 2, 3])
def test_the_one_shot_model_computes_the_weighted_cell_1shot1_describes(number):
    config = make_config({"space": "nb101", "search": "darts", "subspace": f"1SHOT1-SS{number}",
                          "initial_channels": 4, "cells_per_stack": 1})
    training = supernet_space(config)
    torch.manual_seed(0)
    model = training.build_supernet(config, 10).eval()
    space = training.configurations
    theta, beta = _random_simplex_weights(space, np.random.default_rng(number))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        got = model(x, Mixture(theta, OPERATIONS, edge_weights=beta))
        assert torch.allclose(got, _reference_forward(model, space, theta, beta, x), atol=1e-5)
        # the cell output holds the input's projection and every block: C x (V + 1) channels, and
        # the downsampling max-pool pads by one (32 -> 17 -> 9 pixels)
        shapes = []
        model.cells[-1].register_forward_hook(lambda module, args, out: shapes.append(tuple(out.shape)))
        model(x, Mixture(theta, OPERATIONS, edge_weights=beta))
    assert shapes == [(2, 16 * (space.vertices + 1), 9, 9)]
    # GDAS: only the drawn operation runs; with its one-hot weights that is the same network
    drawn = [int(i) for i in np.random.default_rng(9).integers(0, 3, space.vertices)]
    one_hot = F.one_hot(torch.tensor(drawn), 3).float()
    with torch.no_grad():
        assert torch.allclose(model(x, Mixture(one_hot, OPERATIONS, drawn=drawn, edge_weights=beta)),
                              _reference_forward(model, space, one_hot, beta, x), atol=1e-5)


def _direct_derivation(space: OneShot1Space, theta: np.ndarray, beta: np.ndarray):
    """1Shot1's rule with numpy: argmax operation, top-k parents (stable: ties to the lower index)."""
    ops = [OPERATIONS[int(np.argmax(row))] for row in theta]
    edges = space.candidate_edges()
    parents = {}
    for v in range(1, space.output + 1):
        indices = [i for i, (_, target) in enumerate(edges) if target == v]
        order = np.argsort(-beta[indices], kind="stable")[: space.parents[v - 1]]
        parents[v] = sorted(edges[indices[i]][0] for i in order)
    return parents, ops


@pytest.mark.parametrize("number", [1, 2])
def test_a_derived_configuration_is_the_nb101_class_of_its_space_that_1shot1_queries(number):
    space = OneShot1Space(number)
    classes = {a.canonical_key for a in constructions.one_shot1(number).classes}
    rng = np.random.default_rng(number)
    for _ in range(200):
        theta, beta = (w.numpy() for w in _random_simplex_weights(space, rng))
        parents, ops = _direct_derivation(space, theta, beta)
        derived = space.derive(theta.tolist(), beta.tolist())
        assert derived == (tuple(tuple(parents[v]) for v in range(1, space.output + 1)), tuple(ops))
        # 1Shot1's NB101 matrix: vertex 5 an unused conv1x1, the output vertex 6
        matrix = [[0] * 7 for _ in range(7)]
        for v, chosen in parents.items():
            for u in chosen:
                matrix[u][6 if v == space.output else v] = 1
        arch = space.canonical(derived)
        assert arch.canonical_key == nb101.canonicalize(matrix, ["input", *ops, nb101.CONV1X1, "output"]).canonical_key
        assert arch.canonical_key in classes
    # ties: the lower index wins, for operations and for parents
    uniform = space.derive([[1 / 3] * 3] * space.vertices, [0.5] * len(space.candidate_edges()))
    assert uniform[1] == (OPERATIONS[0],) * space.vertices
    assert uniform[0][-1] == tuple(range(space.parents[-1]))


def test_search_settings_are_1shot1s_darts_setup_and_the_sampled_super_nets_keys_are_refused():
    config = make_config({"space": "nb101", "search": "darts", "subspace": "1shot1-ss3"})
    # experiments/configs/darts_config.yaml of automl/nasbench-1shot1; batch norm as NAS-Bench-101's
    assert (config.batch_size, config.learning_rate, config.lr_min, config.momentum, config.weight_decay) == (
        96, 0.025, 0.001, 0.9, 3e-4)
    assert (config.epochs, config.gradient_clip, config.initial_channels, 3 * config.cells_per_stack) == (50, 5.0, 16, 9)
    assert (config.architecture_lr, config.architecture_weight_decay, config.bn_momentum) == (3e-4, 1e-3, 0.003)
    assert make_config({"space": "nb101"}).learning_rate == 0.2  # sampling keeps Pourchot et al.'s setup
    for bad, said in (({}, "set subspace 1SHOT1-SS1"), ({"subspace": "A3"}, "set subspace 1SHOT1-SS1"),
                      ({"subspace": "1SHOT1-SS1", "slicing": "shuffle"}, "no slicing"),
                      ({"subspace": "1SHOT1-SS1", "path_dropout": 0.2}, "path_dropout")):
        with pytest.raises(Exception, match=said):
            make_config({"space": "nb101", "search": "gdas", **bad})


def test_architecture_weights_of_1shot1_hold_one_simplex_per_decision():
    config = make_config({"space": "nb101", "search": "pc-darts", "subspace": "1SHOT1-SS2",
                          "architecture_update": "exponentiated", "initial_channels": 8})
    training = supernet_space(config)
    weights = ArchitectureWeights(config, training.num_edges, training.operations, training.edge_decisions(config),
                                  torch.device("cpu"))
    theta, beta = weights.theta().detach(), weights.edge_weights().detach()
    rows, beta_rows = training.search_rows(theta, beta)
    assert beta_rows == []
    simplices = {}
    for edge, op, weight in rows:
        simplices.setdefault(edge, []).append((op, weight))
    # space 2: 4 operation simplices, parent choices of vertices 2, 3, 4 (1 of 2, 2 of 3, 2 of 4) and the output
    assert [len(simplices[e]) for e in sorted(simplices)] == [3, 3, 3, 3, 2, 3, 4, 5]
    assert [op for op, _ in simplices[7]] == [f"parent-{u}" for u in range(5)]
    assert all(math.isclose(sum(w for _, w in s), 1.0, rel_tol=1e-6) for s in simplices.values())


def test_a_resumed_1shot1_search_equals_an_uninterrupted_one(tmp_path):
    """PC-DARTS under Adam on space 2: θ, β, their optimizer and the weights all resume exactly."""
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    init_database(url)
    subspaces.define(url, "1SHOT1-SS2")
    config = make_config({"space": "nb101", "subspace": "1SHOT1-SS2", "search": "pc-darts", "dataset": "synthetic",
                          "synthetic_images": 32, "epochs": 2, "batch_size": 16, "initial_channels": 4,
                          "cells_per_stack": 1})
    folder = str(tmp_path / "ck")
    straight = run_supernet(url, config, seed=5, options=RunOptions(checkpoint_dir=folder, progress=False))
    interrupted = run_supernet(url, config, seed=5, options=RunOptions(checkpoint_dir=folder, progress=False,
                                                                      stop_after_epochs=1))
    resume_supernet(url, interrupted, RunOptions(checkpoint_dir=folder, progress=False))
    with warehouse(url) as engine, engine.connect() as connection:
        a, b = (load_checkpoint(*connection.execute(sa.text(
            "SELECT uri, sha256 FROM checkpoints WHERE supernet_id = :s AND label = 'epoch-2'"), {"s": s}).one(), "test")
            for s in (straight, interrupted))
    assert a["architecture"]["edge_value"].shape == (15,)  # every candidate edge of space 2
    for key in ("value", "edge_value"):
        assert torch.equal(a["architecture"][key], b["architecture"][key]), key
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name


def _tfrecord_lines(encoding: str, accuracies: list[float]) -> bytes:
    """Official NB101 records (the format of ../shared/tools/make_nb101_tfrecord.py) for one cell."""
    spec = importlib.util.spec_from_file_location("make_nb101_tfrecord", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    matrix, ops = nb101.decode(encoding)
    out = b""
    for accuracy in accuracies:
        proto = tool.model_metrics(227_274, (100.0, 0.8, 0.79, 0.78), (200.0, 1.0, accuracy + 0.01, accuracy))
        row = [nb101.module_hash(matrix, ops), 108, "".join(str(b) for r in matrix for b in r), ",".join(ops),
               base64.b64encode(proto).decode("ascii")]
        out += tool.frame(json.dumps(row).encode("utf-8"))
    return out


def test_a_1shot1_search_derives_an_architecture_scored_by_nb101_ground_truth(tmp_path):
    if not TOOL.exists():
        pytest.skip("../shared/tools/make_nb101_tfrecord.py not found")
    db, ckpt = str(tmp_path / "w.duckdb"), str(tmp_path / "ckpt")
    assert run_cli("init", "--db", db).returncode == 0
    searched = run_cli("run-supernet", "--space", "nb101", "--subspace", "1SHOT1-SS1", "--search", "darts",
                       "--architecture-update", "exponentiated", "--dataset", "synthetic", "--synthetic-images", "64",
                       "--batch-size", "16", "--channels", "4", "--cells", "1", "--epochs", "2", "--name", "gaea",
                       "--checkpoint-dir", ckpt, "--quiet", "--db", db)
    assert "1SHOT1-SS1" in searched.stderr and "spaces define" in searched.stderr  # the sub-space must be defined
    assert run_cli("spaces", "define", "1SHOT1-SS1", "--db", db).returncode == 0
    searched = run_cli("run-supernet", "--space", "nb101", "--subspace", "1SHOT1-SS1", "--search", "darts",
                       "--architecture-update", "exponentiated", "--dataset", "synthetic", "--synthetic-images", "64",
                       "--batch-size", "16", "--channels", "4", "--cells", "1", "--epochs", "2", "--name", "gaea",
                       "--checkpoint-dir", ckpt, "--quiet", "--db", db)
    assert searched.returncode == 0, searched.stderr
    derived = json.loads(run_cli("sql", "SELECT a.canonical_encoding, c.epoch FROM derived_architectures d JOIN "
                                 "checkpoints c ON c.id = d.checkpoint_id JOIN architectures a ON a.id = "
                                 "d.architecture_id ORDER BY c.epoch", "--json", "--db", db).stdout)
    assert [r["epoch"] for r in derived] == [1, 2]
    newest = derived[-1]["canonical_encoding"]
    members = json.loads(run_cli("sql", "SELECT a.canonical_encoding FROM architecture_subspaces m JOIN architectures "
                                 "a ON a.id = m.architecture_id WHERE m.subspace = '1SHOT1-SS1'", "--json",
                                 "--db", db).stdout)
    assert newest in {m["canonical_encoding"] for m in members}
    # without ground truth the report says which architecture lacks it
    empty = run_cli("report", "differentiable", "--db", db)
    assert empty.returncode == 1 and "no nasbench101 ground truth" in empty.stderr and newest in empty.stderr
    # NB101 ground truth in the official format: the derived classes and a better member of the space
    first = derived[0]["canonical_encoding"]
    other = next(m["canonical_encoding"] for m in members if m["canonical_encoding"] not in (newest, first))
    records = tmp_path / "truth.tfrecord"
    records.write_bytes(_tfrecord_lines(newest, [0.90, 0.91, 0.92]) + _tfrecord_lines(other, [0.94, 0.94, 0.94])
                        + (_tfrecord_lines(first, [0.5, 0.5, 0.5]) if first != newest else b""))
    assert run_cli("ingest", "nasbench101", str(records), "--db", db).returncode == 0
    report = json.loads(run_cli("report", "differentiable", "--json", "--db", db).stdout)
    (row,) = report
    assert (row["subspace"], row["method"], row["formulation"]) == ("1SHOT1-SS1", "gaea-darts", "bilevel")
    assert row["mean"] == pytest.approx(0.91) and row["optimum"] == pytest.approx(0.94)
    assert row["measured_on"] == "test" and row["optimum_covers"] is False
    layout = run_cli("report", "differentiable", "--db", db).stdout
    assert "nb101/1SHOT1-SS1" in layout and "best with ground truth" in layout
    # the search trajectory as a search run, its regret within the sub-space searched
    assert run_cli("simulate", "--space", "nb101", "--algorithm", "derived", "--supernet", "gaea", "--db",
                   db).returncode == 0
    trace = json.loads(run_cli("sql", "SELECT r.subspace, r.best_test_accuracy, t.step, t.regret FROM search_runs r "
                               "JOIN search_traces t ON t.run_id = r.id ORDER BY t.step", "--json", "--db", db).stdout)
    assert [r["subspace"] for r in trace] == ["1SHOT1-SS1"] * 2 and trace[0]["best_test_accuracy"] == pytest.approx(0.94)
    assert trace[-1]["regret"] == pytest.approx(0.94 - 0.91)
    # GAEA's Figure 4 on 1Shot1: the mean normalised entropy over every simplex, against scipy
    stored = json.loads(run_cli("sql", "SELECT c.epoch, w.edge, w.weight FROM architecture_weights w JOIN checkpoints c "
                                "ON c.id = w.checkpoint_id ORDER BY c.epoch, w.edge, w.operation", "--json",
                                "--db", db).stdout)
    figure = {r["epoch"]: r for r in json.loads(run_cli("query", "architecture_weights", "--json", "--db", db).stdout)}
    for epoch, rows in itertools.groupby(stored, key=lambda r: r["epoch"]):
        simplices = [[r["weight"] for r in group] for _, group in itertools.groupby(rows, key=lambda r: r["edge"])]
        assert figure[epoch]["edges"] == 7  # 4 operations; parents of vertices 3, 4 and the output
        assert figure[epoch]["entropy"] == pytest.approx(
            np.mean([entr(s).sum() / math.log(len(s)) for s in simplices]), rel=1e-9)
    # a class stands for many configurations of the one-shot model: it scores none, and says so
    refused = run_cli("evaluate", "--supernet", "gaea", "--protocol", "no-ft", "--n", "3", "--db", db)
    assert refused.returncode == 1 and "NAS-Bench-1Shot1's one-shot model" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
