"""Differentiable weight sharing (DARTS, GDAS, PC-DARTS, their GAEA variants): each method's
computation, exact resume with θ, θ and the derived architecture in the warehouse, and the
CLI on DuckDB and PostgreSQL."""

from __future__ import annotations

import copy
import math
import json

import pytest
import sqlalchemy as sa
import torch
import torch.nn.functional as F

from conftest import run_cli
from wsdb.warehouse.db import init_database, warehouse
from wsdb.spaces import nb201 as nb201_space
from wsdb.trainers import nb201
from wsdb.trainers.checkpoints import load_checkpoint
from wsdb.trainers.config import make_config
from wsdb.trainers.differentiable import ArchitectureWeights, exponentiated_step, search_step
from wsdb.trainers.layers import BatchNormSettings
from wsdb.trainers.spaces import training_space
from wsdb.trainers.train import RunOptions, resume_supernet, run_supernet

TINY = ["--dataset", "synthetic", "--synthetic-images", "32", "--epochs", "2", "--batch-size", "16", "--channels",
        "4", "--cells", "1", "--quiet"]


def _supernet(config) -> torch.nn.Module:
    torch.manual_seed(0)
    k = config.partial_channels if config.search == "pc-darts" else 1
    return nb201.NB201Supernet(nb201.Macro(4, 1, 10, BatchNormSettings()), k)


def _weights(config) -> ArchitectureWeights:
    torch.manual_seed(1)
    space = training_space("nb201")
    return ArchitectureWeights(config, space.num_edges, space.operations, space.edge_decisions(config),
                               torch.device("cpu"))


def _batch(seed: int, n: int = 8):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 8, 8, generator=generator), torch.randint(0, 10, (n,), generator=generator)


def test_the_exponentiated_update_is_the_closed_form_and_stays_on_the_simplex():
    theta = torch.tensor([[0.5, 0.25, 0.25], [0.1, 0.2, 0.7]], dtype=torch.float64)
    gradient = torch.tensor([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]], dtype=torch.float64)
    updated = exponentiated_step(theta, gradient, 0.3)
    expected = theta * torch.exp(-0.3 * gradient)
    expected = expected / expected.sum(dim=1, keepdim=True)
    assert torch.allclose(updated, expected, rtol=1e-12, atol=0)
    assert torch.allclose(updated.sum(1), torch.ones(2, dtype=torch.float64)) and bool((updated > 0).all())
    config = make_config({"space": "nb201", "search": "darts", "architecture_update": "exponentiated",
                          "formulation": "single-level"})
    model, weights = _supernet(config), _weights(config)
    for seed in range(5):  # through real steps of the super-net: every edge stays on the simplex
        search_step(model, weights, _batch(seed), None, 0.0)
        model.zero_grad()
    theta = weights.theta()
    assert torch.allclose(theta.sum(1), torch.ones(6)) and bool((theta > 0).all())
    assert not torch.allclose(theta, torch.full_like(theta, 0.2))


def test_gdas_runs_exactly_one_operation_per_edge_and_alpha_gets_gradient():
    config = make_config({"space": "nb201", "search": "gdas", "formulation": "single-level"})
    model, weights = _supernet(config), _weights(config)
    calls: dict[tuple, int] = {}
    cells = [layer for layer in model.layers if isinstance(layer, nb201.SuperCell201)]
    for c, cell in enumerate(cells):
        for i, edge in enumerate(cell.edges):
            for module in edge.values():
                module.register_forward_hook(lambda *args, key=(c, i): calls.__setitem__(key, calls.get(key, 0) + 1))
    mixture = weights.mixture(0.0, torch.Generator().manual_seed(3))
    assert torch.equal(mixture.weights.detach().sum(1), torch.ones(6))
    drawn = mixture.weights.detach().argmax(1)
    x, y = _batch(0)
    F.cross_entropy(model(x, mixture), y).backward()
    parametric = {(c, i) for c in range(len(cells)) for i in range(6)
                  if nb201_space.OPERATIONS[int(drawn[i])] != nb201_space.NONE}
    assert set(calls) == parametric and all(count == 1 for count in calls.values())  # one op per edge and cell
    assert weights.value.grad is not None and bool(weights.value.grad.abs().sum() > 0)
    assert weights.temperature(0.0) == 10.0 and weights.temperature(1.0) == pytest.approx(0.1)


def test_bilevel_trains_theta_on_the_held_out_batch_and_the_weights_on_the_training_batch():
    config = make_config({"space": "nb201", "search": "darts", "architecture_update": "exponentiated",
                          "architecture_lr": 0.5})
    model, weights = _supernet(config), _weights(config)
    reference_model, reference_weights = copy.deepcopy(model), _weights(config)
    train, held_out = _batch(1), _batch(2)
    search_step(model, weights, train, held_out, 0.0)
    # by hand: θ moves by the gradient of the held-out loss alone ...
    theta = reference_weights.theta().detach().clone().requires_grad_()
    mix = reference_weights.mixture(0.0)
    mix.weights = theta
    F.cross_entropy(reference_model(held_out[0], mix), held_out[1]).backward()
    expected_theta = exponentiated_step(theta.detach(), theta.grad, 0.5)
    assert torch.allclose(weights.theta(), expected_theta, atol=1e-7)
    # ... and the weights take the gradient of the training loss under the updated θ
    reference_model.zero_grad()
    mix.weights = expected_theta
    F.cross_entropy(reference_model(train[0], mix), train[1]).backward()
    for (name, p), (_, q) in zip(model.named_parameters(), reference_model.named_parameters()):
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            assert torch.allclose(p.grad, q.grad, atol=1e-6), name
    assert weights.value.grad is None  # the training loss left nothing on θ


def test_pc_darts_sends_one_kth_of_the_channels_through_the_mixed_operations():
    config = make_config({"space": "nb201", "search": "pc-darts", "partial_channels": 2, "formulation": "single-level"})
    model, weights = _supernet(config), _weights(config)
    seen = []
    conv = model.layers[0].edges[0][nb201_space.CONV3X3]
    conv.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].shape[1]))
    mixture = weights.mixture(0.0)
    x, y = _batch(0)
    out = model(x, mixture)
    assert seen == [2] and out.shape == (8, 10)  # 4 channels, K = 2
    edge_weights = mixture.edge_weights.detach()
    for group in training_space("nb201").edges_into_nodes():
        assert float(edge_weights[group].sum()) == pytest.approx(1.0 if len(group) > 1 else edge_weights[group[0]])
    F.cross_entropy(out, y).backward()
    assert weights.edge_value.grad is not None


def test_gaea_pc_darts_moves_beta_by_the_exponentiated_rule_on_each_nodes_simplex():
    """GAEA replaces every softmax-parameterised architecture weight: PC-DARTS' β too. One
    single-level step, recomputed by hand: β ⊙ exp(-η ∇β) renormalised over each node's edges."""
    config = make_config({"space": "nb201", "search": "pc-darts", "partial_channels": 2, "formulation": "single-level",
                          "architecture_update": "exponentiated", "architecture_lr": 0.5})
    model, weights = _supernet(config), _weights(config)
    reference_model, reference_weights = copy.deepcopy(model), _weights(config)
    groups = [g for g in training_space("nb201").edges_into_nodes() if len(g) > 1]
    beta = reference_weights.edge_weights().detach().clone()
    assert all(torch.allclose(beta[g], torch.full((len(g),), 1 / len(g))) for g in groups)
    batch = _batch(4)
    search_step(model, weights, batch, None, 0.0)
    # by hand, in numpy terms: the loss's gradient on β, then the closed form per node
    beta_leaf = beta.clone().requires_grad_()
    mix = reference_weights.mixture(0.0)
    mix.edge_weights = beta_leaf
    F.cross_entropy(reference_model(batch[0], mix), batch[1]).backward()
    expected = beta.clone()
    for g in groups:
        moved = beta[g] * torch.exp(-0.5 * beta_leaf.grad[g])
        expected[g] = moved / moved.sum()
    learned = weights.edge_weights().detach()
    assert torch.allclose(learned, expected, atol=1e-6)
    assert not torch.allclose(learned, beta)  # β learns (it stayed uniform before)
    for _ in range(3):
        search_step(model, weights, _batch(5), None, 0.0)
    learned = weights.edge_weights().detach()
    assert all(float(learned[g].sum()) == pytest.approx(1.0) and bool((learned[g] > 0).all()) for g in groups)
    # β goes into the checkpoint state and comes back from it
    restored = _weights(config)
    restored.load_state_dict(weights.state_dict())
    assert torch.equal(restored.edge_weights(), weights.edge_weights())


def test_a_resumed_search_equals_an_uninterrupted_one_theta_included(tmp_path):
    """GDAS: θ, its optimizer and the Gumbel generator all resume exactly."""
    search = "gdas"
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    init_database(url)
    config = make_config({"space": "nb201", "search": search, "dataset": "synthetic", "synthetic_images": 32,
                          "epochs": 3, "batch_size": 16, "initial_channels": 4, "cells_per_stack": 1})
    options = RunOptions(checkpoint_dir=str(tmp_path / "ck"), progress=False)
    straight = run_supernet(url, config, seed=5, options=options)
    interrupted = run_supernet(url, config, seed=5, options=RunOptions(checkpoint_dir=str(tmp_path / "ck"),
                                                                      progress=False, stop_after_epochs=1))
    resume_supernet(url, interrupted, RunOptions(checkpoint_dir=str(tmp_path / "ck"), progress=False))
    states = []
    with warehouse(url) as engine, engine.connect() as connection:
        for supernet in (straight, interrupted):
            uri, sha = connection.execute(sa.text("SELECT uri, sha256 FROM checkpoints WHERE supernet_id = :s AND "
                                                  "label = 'epoch-3'"), {"s": supernet}).one()
            states.append(load_checkpoint(uri, sha, "test"))
    a, b = states
    assert torch.equal(a["architecture"]["value"], b["architecture"]["value"])
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    assert torch.equal(a["search_rng"], b["search_rng"])


def _check_search_rows(db: str, space: str, method: str) -> None:
    rows = json.loads(run_cli("sql", "SELECT c.label, w.edge, SUM(w.weight) AS total FROM architecture_weights w "
                                     "JOIN checkpoints c ON c.id = w.checkpoint_id JOIN supernets s ON s.id = c.supernet_id "
                                     f"WHERE s.name = '{method}' GROUP BY ALL ORDER BY 1, 2", "--json", "--db", db).stdout)
    edges = 6 if space == "nb201" else 3
    assert len(rows) == 2 * edges and all(abs(r["total"] - 1) < 1e-5 for r in rows), method
    derived = json.loads(run_cli("sql", "SELECT d.method FROM derived_architectures d JOIN checkpoints c ON "
                                        f"c.id = d.checkpoint_id JOIN supernets s ON s.id = c.supernet_id WHERE s.name = "
                                        f"'{method}'", "--json", "--db", db).stdout)
    assert [d["method"] for d in derived] == [method, method]
    beta = json.loads(run_cli("sql", "SELECT c.label, e.edge, e.weight FROM edge_weights e JOIN checkpoints c "
                                     "ON c.id = e.checkpoint_id JOIN supernets s ON s.id = c.supernet_id "
                                     f"WHERE s.name = '{method}' ORDER BY 1, 2", "--json", "--db", db).stdout)
    assert len(beta) == (2 * edges if method.endswith("pc-darts") else 0), method
    if method == "gaea-pc-darts":  # nb201's nodes 2 and 3 take edges 1-2 and 3-5: each on its simplex, learnt
        for label in ("epoch-1", "epoch-2"):
            weights = [r["weight"] for r in beta if r["label"] == label]
            assert sum(weights[1:3]) == pytest.approx(1) and sum(weights[3:6]) == pytest.approx(1)
            assert weights[3:6] != pytest.approx([1 / 3] * 3)


METHODS = (("darts", "adam", "nb201"), ("gaea-gdas", "exponentiated", "ws64"), ("pc-darts", "adam", "ws64"),
           ("gaea-pc-darts", "exponentiated", "nb201"))


def _train_each_method(db: str, tmp_path) -> None:
    assert run_cli("init", "--populate", "", "--db", db).returncode == 0
    for name, update, space in METHODS:
        result = run_cli("run-supernet", "--space", space, "--search", name.removeprefix("gaea-"),
                         "--architecture-update", update, *TINY, "--name", name,
                         "--checkpoint-dir", str(tmp_path / "ck"), "--db", db)
        assert result.returncode == 0, result.stderr


def test_each_method_through_the_cli_stores_theta_and_the_derived_architecture(tmp_path):
    db = str(tmp_path / "w.duckdb")
    _train_each_method(db, tmp_path)
    for name, _, space in METHODS:
        _check_search_rows(db, space, name)


@pytest.mark.postgres
def test_each_method_on_postgresql(tmp_path, postgres_url):
    _train_each_method(postgres_url, tmp_path)
    local = _pulled(postgres_url, tmp_path)
    for name, _, space in METHODS:
        _check_search_rows(local, space, name)


def _pulled(url: str, tmp_path) -> str:
    target = tmp_path / "pulled.duckdb"
    assert run_cli("pull", "--from", url, "--to", str(target)).returncode == 0
    return str(target)


def test_bad_search_settings_are_one_line_and_register_nothing(tmp_path):
    db = str(tmp_path / "w.duckdb")
    assert run_cli("init", "--populate", "", "--db", db).returncode == 0
    for args, message in ((["--space", "nb101", "--search", "darts"], "set subspace 1SHOT1-SS1"),
                          (["--space", "nb201", "--search", "enas"], "search must be one of"),
                          (["--space", "ws64", "--search", "pc-darts", "--partial-channels", "3"],
                           "partial_channels (3) must divide the channels (4)"),
                          (["--space", "nb201", "--search", "darts", "--architecture-update", "sgd"],
                           "architecture_update must be")):
        result = run_cli("run-supernet", *args, *TINY, "--db", db)
        assert result.returncode == 1 and message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
    assert json.loads(run_cli("sql", "SELECT COUNT(*) AS n FROM supernets", "--json", "--db", db).stdout) == [{"n": 0}]


def test_architecture_weights_scores_are_the_log_likelihoods_under_theta(tmp_path):
    db = str(tmp_path / "w.duckdb")
    assert run_cli("init", "--populate", "ws64", "--db", db).returncode == 0
    assert run_cli("ingest", "ws64", "--db", db).returncode == 0  # the paper's ground truth
    assert run_cli("run-supernet", "--space", "ws64", "--search", "darts", *TINY, "--name", "d",
                   "--checkpoint-dir", str(tmp_path / "ck"), "--db", db).returncode == 0
    scored = run_cli("evaluate", "--supernet", "d", "--protocol", "architecture-weights", "--checkpoint", "all",
                     "--db", db)
    assert scored.returncode == 0, scored.stderr
    theta = {(r["label"], r["edge"], r["operation"]): r["weight"] for r in json.loads(run_cli(
        "sql", "SELECT c.label, w.edge, w.operation, w.weight FROM architecture_weights w JOIN checkpoints c "
               "ON c.id = w.checkpoint_id", "--json", "--db", db).stdout)}
    scores = json.loads(run_cli("sql", "SELECT c.label, a.canonical_encoding AS label_digits, p.metric, p.value "
                                       "FROM proxy_scores p JOIN checkpoints c ON c.id = p.checkpoint_id JOIN "
                                       "architectures a ON a.id = p.architecture_id", "--json", "--db", db).stdout)
    assert len(scores) == 2 * 64 and {s["metric"] for s in scores} == {"architecture_log_likelihood"}
    operations = training_space("ws64").operations
    for s in scores:
        expected = sum(math.log(theta[(s["label"], edge, operations[int(digit) - 1])])
                       for edge, digit in enumerate(s["label_digits"]))
        assert s["value"] == pytest.approx(expected, rel=1e-9)
    rho = json.loads(run_cli("query", "correlation", "--param", "metric=architecture_log_likelihood", "--param",
                             "protocol=architecture-weights", "--json", "--db", db).stdout)
    assert len(rho) == 2 and all(r["n"] == 64 for r in rho)  # the analyses take θ's scores unchanged
    # θ's entropy and sparsity over training (analysis architecture_weights) against scipy
    from scipy.special import entr  # -x log x, elementwise

    rows = json.loads(run_cli("query", "architecture_weights", "--param", "sparse_at=0.3", "--json", "--db", db).stdout)
    assert [r["checkpoint_label"] for r in rows] == ["epoch-1", "epoch-2"]
    for r in rows:
        per_edge = [[theta[(r["checkpoint_label"], edge, op)] for op in operations] for edge in range(3)]
        assert r["entropy"] == pytest.approx(sum(entr(w).sum() / math.log(4) for w in per_edge) / 3, rel=1e-9)
        assert r["sparse_edges"] == pytest.approx(sum(max(w) >= 0.3 for w in per_edge) / 3)
        assert r["method"] == "darts" and r["parameter_free_share"] == r["derived_architecture"].count("1") / 3


def test_derived_architectures_become_a_search_run_and_the_per_dataset_report(tmp_path):
    db = str(tmp_path / "w.duckdb")
    assert run_cli("init", "--populate", "ws64", "--db", db).returncode == 0
    assert run_cli("ingest", "ws64", "--db", db).returncode == 0
    for seed in ("0", "1"):
        assert run_cli("run-supernet", "--space", "ws64", "--search", "gdas", *TINY, "--seed", seed, "--name",
                       f"g{seed}", "--checkpoint-dir", str(tmp_path / "ck"), "--db", db).returncode == 0
    simulated = run_cli("simulate", "--space", "ws64", "--algorithm", "derived", "--supernet", "g0", "--db", db)
    assert simulated.returncode == 0 and simulated.stdout.startswith("gdas on ws64: 1 runs (1 new"), simulated.stderr
    trace = json.loads(run_cli("sql", """SELECT t.step, t.simulated_time, t.regret, d.training_seconds,
        f.validation_accuracy AS truth, (SELECT MAX(validation_accuracy) FROM ground_truth_final) AS best
        FROM search_traces t JOIN search_runs r ON r.id = t.run_id
        JOIN checkpoints c ON c.supernet_id = r.supernet_id AND c.epoch = t.step
        JOIN derived_architectures d ON d.checkpoint_id = c.id AND d.architecture_id = t.architecture_id
        JOIN ground_truth_final f ON f.architecture_id = t.architecture_id ORDER BY t.step""", "--json", "--db", db).stdout)
    assert [r["step"] for r in trace] == [1, 2]
    for r in trace:  # the regret of the architecture derived at that checkpoint, at its training time
        assert r["regret"] == pytest.approx(r["best"] - r["truth"]) and r["simulated_time"] == r["training_seconds"]
    assert trace[0]["simulated_time"] < trace[1]["simulated_time"]
    assert run_cli("plot", "regret", "--space", "ws64", "--out", str(tmp_path / "r.png"), "--db", db).returncode == 0
    summary = json.loads(run_cli("query", "derived_accuracy", "--json", "--db", db).stdout)
    assert {r["supernet_name"] for r in summary} == {"g0", "g1"}
    report = run_cli("report", "differentiable", "--csv", "-", "--db", db)
    row = next(line for line in report.stdout.splitlines() if line.startswith("ws64,FULL,gdas,bilevel,cifar10,2,"))
    mean = float(row.split(",")[6])
    assert mean == pytest.approx(sum(r["accuracy"] for r in summary) / 2)


def test_a_checkpoint_with_nan_theta_or_tensors_of_another_shape_is_refused_on_resume(tmp_path):
    """A resumed run checks what it loads: θ of NaN (it trained on and stored NaN θ) and model
    tensors of another shape (an internal error) are one line naming the checkpoint."""
    import hashlib
    import io

    from wsdb.base.errors import WsdbError
    from wsdb.trainers.checkpoints import FORMAT

    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    init_database(url)
    config = make_config({"space": "nb201", "search": "darts", "architecture_update": "exponentiated",
                          "dataset": "synthetic", "synthetic_images": 32, "epochs": 3, "batch_size": 16,
                          "initial_channels": 4, "cells_per_stack": 1})
    options = RunOptions(checkpoint_dir=str(tmp_path / "ck"), progress=False, stop_after_epochs=1)
    supernet = run_supernet(url, config, seed=1, options=options)
    with warehouse(url) as engine, engine.connect() as connection:
        uri, sha = connection.execute(sa.text("SELECT uri, sha256 FROM checkpoints")).one()
    original = load_checkpoint(uri, sha, "test")

    def tampered(edit) -> None:
        state = copy.deepcopy(original)
        edit(state)
        buffer = io.BytesIO()
        torch.save({**state, "format": FORMAT}, buffer)
        path = uri.removeprefix("file://")
        with open(path, "wb") as handle:
            handle.write(buffer.getvalue())
        with warehouse(url) as engine, engine.begin() as connection:
            connection.execute(sa.text("UPDATE checkpoints SET sha256 = :s"),
                               {"s": hashlib.sha256(buffer.getvalue()).hexdigest()})

    tampered(lambda s: s["architecture"]["value"].fill_(float("nan")))
    with pytest.raises(WsdbError, match="theta holds NaN"):
        resume_supernet(url, supernet, RunOptions(progress=False, stop_after_epochs=1), force=True)
    first = next(iter(original["model"]))
    tampered(lambda s: s["model"].__setitem__(first, torch.zeros(3, 3)))
    with pytest.raises(WsdbError, match="does not fit this super-net"):
        resume_supernet(url, supernet, RunOptions(progress=False, stop_after_epochs=1), force=True)
