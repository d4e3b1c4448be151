"""The super-net factors of Yu et al. 2020 and the degree of sharing of Zhang et al. 2020 (Deeper
Insights): each factor's computation, exact resume, per-step scores and fine-tuning curves,
the factor report against scipy, invalid combinations, and the README's sweeps."""

from __future__ import annotations

import itertools
import json
import math
import re
import statistics
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
import torch
import torch.nn.functional as F
from scipy import stats

from conftest import run_cli
from wsdb.warehouse.db import init_database, warehouse
from wsdb.spaces import nb101 as nb101_space
from wsdb.spaces import nb201 as nb201_space
from wsdb.spaces import ws64 as ws64_space
from wsdb.trainers import nb101, nb201, ws64
from wsdb.trainers.checkpoints import load_checkpoint
from wsdb.trainers.config import make_config
from wsdb.trainers.evaluate import Evaluator, parse_protocol
from wsdb.trainers.data import load_dataset
from wsdb.trainers.layers import (BatchNormSettings, Dropout, EdgeBatchNorm, ParameterUsage, channel_orders,
                                  drop_features, drop_paths, recording, redraw_channel_orders, regularising)
from wsdb.trainers.optim import MaskedOptimizer
from wsdb.trainers.sampling import ArchitectureSampler
from wsdb.trainers.spaces import training_space
from wsdb.trainers.train import RunOptions, resume_supernet, run_supernet

README = Path(__file__).resolve().parents[1] / "README.md"
TINY_WS64 = {"space": "ws64", "dataset": "synthetic", "synthetic_images": 64, "batch_size": 16, "initial_channels": 4,
             "cells_per_stack": 2, "epochs": 2}


def _rows(url: str, sql: str, **params) -> list[dict]:
    with warehouse(url) as engine, engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(sa.text(sql), params)]


def _loss(model, cell, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(4, 3, 8, 8, generator=g), torch.randint(0, 10, (4,), generator=g)
    return F.cross_entropy(model(x, cell), y)


# --- Yu et al. 2020: dynamic channels, super-kernel, WSBN, dropout, node sharing ------------------


def test_shuffle_slicing_takes_c_channels_of_a_permutation_and_matches_its_standalone_network():
    torch.manual_seed(0)
    net = nb101.NB101Supernet(nb101.Macro(8, 1, 1, 10, BatchNormSettings()), slicing="shuffle")
    redraw_channel_orders(channel_orders(net), torch.Generator().manual_seed(3))
    layer = net.cells[0].vertices[0].conv3x3
    order = layer.channel_order
    assert sorted(order.tolist()) == list(range(8)) and order.tolist() != list(range(8))
    index = order[:3]
    assert torch.equal(layer.conv.effective_weight(3, 3, 3, index), layer.conv.weight[index][:, :3])
    cell = nb101_space.decode(nb101_space.canonicalize(
        [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], ["input", "conv3x3-bn-relu", "conv1x1-bn-relu",
                                                                 "output"]).canonical_encoding)
    net.eval()
    x = torch.randn(2, 3, 8, 8)
    standalone = net.standalone(cell).eval()
    assert torch.allclose(net(x, cell), standalone(x), atol=1e-5)
    # training updates the running statistics of the permuted channels only
    bn = layer.bn
    before = bn.running_mean.clone()
    net.train()
    layer(torch.randn(4, 8, 4, 4), 3, 3)
    changed = (bn.running_mean != before).nonzero().squeeze(1).tolist()
    assert sorted(changed) == sorted(index.tolist())


def test_ofa_super_kernel_maps_the_centre_of_the_larger_kernel_through_a_learned_transform():
    torch.manual_seed(0)
    net = nb101.NB101Supernet(nb101.Macro(4, 1, 1, 10, BatchNormSettings()), super_kernel="ofa")
    vertex = net.cells[0].vertices[0]
    transform = vertex.conv1x1.conv.transform
    with torch.no_grad():
        transform.fill_(0.5)
    centre = vertex.conv3x3.conv.weight[:3, :3, 1:2, 1:2]
    assert torch.equal(vertex.conv1x1.conv.effective_weight(3, 3, 1), 0.5 * centre)
    # ws64: sep_conv_3x3 is sep_conv_5x5's depthwise centre through a 9x9 map, its pointwise weights
    operations = ws64.edge_operations(4, BatchNormSettings(), super_kernel="ofa")
    small, large = operations["sep_conv_3x3"], operations["sep_conv_5x5"]
    assert small.source is large
    reference = torch.nn.Sequential(*ws64.make_operation("sep_conv_3x3", 4, BatchNormSettings()))
    with torch.no_grad():
        for half in range(2):
            reference[4 * half + 1].weight.copy_(large[4 * half + 1].weight[:, :, 1:4, 1:4])
            reference[4 * half + 2].weight.copy_(large[4 * half + 2].weight)
    x = torch.randn(2, 4, 6, 6)
    assert torch.allclose(small(x), reference(x), atol=1e-6)  # identity transforms: plain centre sharing
    small(x).sum().backward()
    assert small.transforms[0].grad.abs().sum() > 0 and large[1].weight.grad[:, :, 0].abs().sum() == 0
    assert large[1].weight.grad[:, :, 1:4, 1:4].abs().sum() > 0
    # nb201: nor_conv_1x1 is ReLU, the centre of the edge's nor_conv_3x3 kernel times a learned scalar, its own BN
    operations = nb201.edge_operations(4, BatchNormSettings(), super_kernel="ofa")
    small, large = operations["nor_conv_1x1"], operations["nor_conv_3x3"]
    with torch.no_grad():
        small.transform.fill_(-2.0)
    small.eval()
    expected = small.norm(F.conv2d(F.relu(x), -2.0 * large[1].weight[:, :, 1:2, 1:2]))
    assert torch.allclose(small(x), expected, atol=1e-6) and small.norm is not large[2]


def test_wsbn_keeps_one_batch_norm_per_incoming_edge_of_a_node_shared_operation():
    torch.manual_seed(0)
    net = nb201.NB201Supernet(nb201.Macro(4, 1, 10, BatchNormSettings()), sharing="node", wsbn=True)
    cell = net.layers[0]
    # node 3 (edges 3, 4, 5 in NB201's order) holds one conv per operation, used by its three edges
    node3 = cell.edges[cell.owner[3]]
    assert cell.owner[3] == cell.owner[4] == cell.owner[5] != cell.owner[0]
    norm = node3["nor_conv_3x3"][2]
    assert isinstance(norm, EdgeBatchNorm) and sorted(norm.norms) == ["3", "4", "5"]
    net.train()
    arch = ("none", "none", "none", "nor_conv_3x3", "nor_conv_3x3", "none")  # edges 0->3 and 1->3 convolve
    net(torch.randn(4, 3, 8, 8), arch)
    means = {e: norm.norms[e].running_mean for e in ("3", "4", "5")}
    assert not torch.equal(means["3"], means["4"])  # separate statistics per edge
    assert torch.equal(means["5"], torch.zeros(4))  # edge 2->3 did not run a conv: untouched
    assert not torch.equal(norm.norms["3"].weight, norm.norms["4"].weight) or True
    conv = node3["nor_conv_3x3"][1]
    _loss(net, arch).backward()
    assert conv.weight.grad is not None and norm.norms["5"].weight.grad is None
    # edge sharing: every edge its own operation
    plain = nb201.NB201Supernet(nb201.Macro(4, 1, 10, BatchNormSettings()))
    assert plain.layers[0].owner == [0, 1, 2, 3, 4, 5]


def test_path_dropout_never_drops_every_edge_and_rescales_the_kept_ones():
    generator = torch.Generator().manual_seed(0)
    terms = [torch.ones(2000, 2, 1, 1), 2 * torch.ones(2000, 2, 1, 1), 3 * torch.ones(2000, 2, 1, 1)]
    assert drop_paths(terms) is terms  # outside training: untouched
    with regularising(Dropout(0.8, 0.0, generator)):
        dropped = drop_paths(terms)
        single = drop_paths(terms[:1])
    kept = torch.stack([(d[:, 0, 0, 0] != 0) for d in dropped], dim=1)
    assert kept.any(dim=1).all()  # never all of them
    for k, d in enumerate(dropped):
        assert all(v == pytest.approx(0.0) or v == pytest.approx((k + 1) / 0.2) for v in d[:, 0, 0, 0].unique().tolist())
    assert abs(kept.float().mean().item() - 0.2 - 0.8 ** 3 / 3) < 0.03  # p(keep) = 0.2 + rescues
    assert single[0] is terms[0]  # a single incoming edge is never dropped
    x = torch.ones(200, 4, 5, 5)
    with regularising(Dropout(0.0, 0.25, generator)):
        y = drop_features(x)
    assert abs((y == 0).float().mean().item() - 0.25) < 0.01 and y.unique().tolist() == pytest.approx([0.0, 1 / 0.75])


def test_node_sharing_shares_operations_among_the_edges_into_a_node():
    torch.manual_seed(0)
    net = ws64.WS64Supernet(ws64.Macro(8, 4, 1), ws64.Sharing(sharing="node"))
    cell = net.cells[0]
    assert cell.owner == [0, 1, 1] and len(cell.edges) == 2
    _loss(net, ("sep_conv_3x3", "dil_conv_5x5", "dil_conv_5x5")).backward()
    # edges 0->2 and 1->2 both ran the shared dil_conv_5x5 of node 2
    assert cell.edges[1]["dil_conv_5x5"][1].weight.grad.abs().sum() > 0


# --- Zhang et al. 2020 (Deeper Insights): groups, prefix sharing, sampling orders ------------------


@pytest.mark.parametrize("grouping", ["similarity", "random"])
def test_each_group_trains_its_own_copy_of_the_weights(grouping):
    config = make_config({**TINY_WS64, "sharing_groups": 4, "grouping": grouping, "grouping_seed": 5})
    assert sorted(itertools.chain(*config.groups)) == ws64_space.all_labels()
    if grouping == "similarity":
        assert config.groups[1][0] == "211" and config.groups[1][-1] == "244"
    else:
        assert config.groups == make_config({**TINY_WS64, "sharing_groups": 4, "grouping": "random",
                                             "grouping_seed": 5}).groups != make_config(
            {**TINY_WS64, "sharing_groups": 4, "grouping": "random", "grouping_seed": 6}).groups
    torch.manual_seed(0)
    model = training_space("ws64").build_supernet(config, 10)
    label = config.groups[2][0]
    cell = ws64_space.parse_label(label)
    assert model.group_of[label] == 2
    optimizer = MaskedOptimizer(model.named_parameters(), config)
    before = [[p.clone() for p in copy.parameters()] for copy in model.copies]
    usage = ParameterUsage()
    with recording(usage):
        _loss(model, cell).backward()
    optimizer.step(0.1, usage)
    for g, copy in enumerate(model.copies):
        moved = any(not torch.equal(p, q) for p, q in zip(copy.parameters(), before[g]))
        assert moved == (g == 2), g
    # an architecture is scored by its own group's copy
    x = torch.randn(2, 3, 8, 8)
    model.eval()
    assert torch.equal(model(x, cell), model.copies[2](x, cell))


def test_prefix_sharing_shares_exactly_the_first_k_cells():
    torch.manual_seed(0)
    macro = ws64.Macro(8, 4, 3)
    for k in (0, 1, 3):
        net = ws64.WS64PrefixSupernet(macro, k)
        assert len(net.cells) == k and all(len(h["cells"]) == 3 - k for h in net.heads.values())
        assert len(net.heads) == 64
    net = ws64.WS64PrefixSupernet(macro, 1)
    a, b = ws64_space.parse_label("123"), ws64_space.parse_label("432")
    _loss(net, a).backward()
    assert net.cells[0].edges[0]["max_pool_3x3"] is not None
    assert all(p.grad is not None for p in net.heads["123"].parameters())
    assert all(p.grad is None for p in net.heads["432"].parameters())
    assert net.stem[0].weight.grad is not None
    net.zero_grad(set_to_none=True)
    _loss(net, b).backward()
    assert all(p.grad is None for p in net.heads["123"].parameters())


@pytest.mark.parametrize("order", ["fixed", "fixed-shuffled"])
def test_sampling_orders_cycle_through_the_space(order):
    config = make_config({**TINY_WS64, "sampling_order": order})
    space = training_space("ws64")
    sampler = ArchitectureSampler(space, config, np.random.Generator(np.random.PCG64(3)))
    passes = [[sampler.next_group()[0] for _ in range(64)] for _ in range(3)]
    for drawn in passes:
        assert sorted(drawn) == sorted(space.all_cells())  # each pass: every architecture once
    assert (passes[0] == passes[1] == passes[2]) == (order == "fixed")
    # resuming mid-pass draws what the uninterrupted sampler draws
    resumed = ArchitectureSampler(space, config, np.random.Generator(np.random.PCG64(0)))
    state = sampler.order_state()
    resumed.rng.bit_generator.state = sampler.rng.bit_generator.state
    resumed.restore_order(json.loads(json.dumps(state)))
    assert [resumed.next_group() for _ in range(100)] == [sampler.next_group() for _ in range(100)]


def test_a_resumed_run_with_every_random_factor_equals_an_uninterrupted_one(tmp_path):
    """Shuffle slicing and both dropouts on nb101; a fixed-shuffled order with dropout on ws64."""
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    init_database(url)
    configs = [
        make_config({"space": "nb101", "dataset": "synthetic", "synthetic_images": 64, "epochs": 3, "batch_size": 32,
                     "initial_channels": 4, "cells_per_stack": 1, "slicing": "shuffle", "path_dropout": 0.3,
                     "global_dropout": 0.2}),
        make_config({**TINY_WS64, "epochs": 3, "sampling_order": "fixed-shuffled", "path_dropout": 0.5,
                     "sharing": "node", "wsbn": True, "super_kernel": "ofa"}),
    ]
    for config in configs:
        options = RunOptions(checkpoint_dir=str(tmp_path / "ck"), progress=False)
        straight = run_supernet(url, config, seed=4, options=options)
        interrupted = run_supernet(url, config, seed=4, options=RunOptions(str(tmp_path / "ck"), progress=False,
                                                                           stop_after_epochs=1))
        resume_supernet(url, interrupted, RunOptions(checkpoint_dir=str(tmp_path / "ck"), progress=False))
        a, b = (load_checkpoint(r["uri"], r["sha256"], "test") for r in (
            _rows(url, "SELECT uri, sha256 FROM checkpoints WHERE supernet_id = :s ORDER BY epoch DESC LIMIT 1", s=s)[0]
            for s in (straight, interrupted)))
        assert a["step"] == b["step"] and a["sampler_order"] == b["sampler_order"]
        assert torch.equal(a["factor_rng"], b["factor_rng"])
        for name, tensor in a["model"].items():
            assert torch.equal(tensor, b["model"][name]), (config.space, name)
        if config.slicing == "shuffle":
            orders = [v for k, v in a["model"].items() if k.endswith("channel_order")]
            assert orders and all(sorted(o.tolist()) == list(range(len(o))) for o in orders)


# --- per-step scores and fine-tuning curves ---------------------------------------------------------


def test_per_step_evaluation_writes_k_step_checkpoints_that_stability_reads(tmp_path):
    db = str(tmp_path / "w.duckdb")
    url = f"duckdb:///{db}"
    init_database(url)
    assert run_cli("spaces", "populate", "ws64", "--db", db).returncode == 0
    assert run_cli("ingest", "ws64", "--db", db).returncode == 0
    tiny = ["--dataset", "synthetic", "--synthetic-images", "32", "--batch-size", "16", "--channels", "4", "--cells",
            "1", "--epochs", "2", "--quiet", "--checkpoint-dir", str(tmp_path / "ck"), "--db", db]
    result = run_cli("run-supernet", "--space", "ws64", "--evaluate-last-steps", "3", "--sharing-groups", "8",
                     "--name", "none-shared", *tiny)
    assert result.returncode == 0, result.stderr
    steps = _rows(url, "SELECT label, step, uri, epoch FROM checkpoints WHERE label LIKE 'step-%' ORDER BY step")
    assert [s["label"] for s in steps] == ["step-2", "step-3", "step-4"]
    assert all(s["uri"] is None and s["epoch"] is None for s in steps)
    counts = _rows(url, "SELECT c.label, COUNT(*) AS n FROM proxy_scores p JOIN checkpoints c ON c.id = p.checkpoint_id "
                        "WHERE p.metric = 'validation_accuracy' AND p.protocol_id = 'no-ft' GROUP BY c.label")
    assert sorted((c["label"], c["n"]) for c in counts) == [("step-2", 64), ("step-3", 64), ("step-4", 64)]
    stability = json.loads(run_cli("query", "stability_checkpoints", "--param", "last_k=3", "--json", "--db", db).stdout)
    correlation = json.loads(run_cli("query", "correlation", "--json", "--db", db).stdout)
    taus = [r["kendall"] for r in correlation if r["checkpoint_label"].startswith("step-")]
    assert stability[0]["checkpoints"] == 3
    assert stability[0]["gt_tau_mean"] == pytest.approx(statistics.fmean(taus))
    assert stability[0]["gt_tau_std"] == pytest.approx(statistics.pstdev(taus))
    # the step scores are the model of that step: the last one equals scoring the final checkpoint
    evaluated = run_cli("evaluate", "--supernet", "none-shared", "--protocol", "no-ft", "--n", "64", "--quiet",
                        "--db", db)
    assert evaluated.returncode == 0, evaluated.stderr
    last = {r["architecture_id"]: r["value"] for r in _rows(
        url, "SELECT p.architecture_id, p.value, c.label FROM proxy_scores p JOIN checkpoints c ON c.id = p.checkpoint_id"
             " WHERE p.metric = 'validation_accuracy' AND c.label IN ('step-4', 'epoch-2')") if r}
    by_label = {}
    for r in _rows(url, "SELECT p.architecture_id, p.value, c.label FROM proxy_scores p JOIN checkpoints c "
                        "ON c.id = p.checkpoint_id WHERE p.metric = 'validation_accuracy'"):
        by_label.setdefault(r["label"], {})[r["architecture_id"]] = r["value"]
    assert last and by_label["step-4"] == by_label["epoch-2"]


def test_a_fine_tuning_curve_scores_after_each_step_what_ft_s_gives():
    torch.manual_seed(0)
    config = make_config({**TINY_WS64, "synthetic_images": 32})
    data = load_dataset("synthetic", None, torch.device("cpu"), 1.0, 32)
    model = training_space("ws64").build_supernet(config, data.num_classes)
    cell = ws64_space.parse_label("234")
    curve = Evaluator(model, data, config, parse_protocol("ft:3"), torch.device("cpu"), 0).score_curve(cell, 7)
    assert len(curve) == 3
    for steps in (1, 3):
        alone = Evaluator(model, data, config, parse_protocol(f"ft:{steps}"), torch.device("cpu"), 0).score(cell, 7)
        assert (curve[steps - 1].accuracy, curve[steps - 1].loss) == pytest.approx((alone.accuracy, alone.loss))
    untouched = Evaluator(model, data, config, parse_protocol("no-ft"), torch.device("cpu"), 0).score(cell, 7)
    assert untouched.loss != pytest.approx(curve[0].loss)  # fine-tuning changed the copy, not the model


# --- invalid combinations ------------------------------------------------------------------------------


@pytest.mark.parametrize("options, keys", [
    (["--space", "nb101", "--wsbn"], "wsbn"),
    (["--space", "nb201", "--wsbn"], "sharing: node"),
    (["--space", "ws64", "--prefix-sharing", "5"], "prefix_sharing (5)"),
    (["--space", "ws64", "--sharing-groups", "3"], "sharing_groups (3) must divide"),
    (["--space", "nb201", "--sharing-groups", "4"], "sharing_groups applies to ws64"),
    (["--space", "ws64", "--sharing-groups", "4", "--prefix-sharing", "1"], "sharing_groups and prefix_sharing"),
    (["--space", "nb101", "--sampling-order", "fixed"], "sampling_order"),
    (["--space", "ws64", "--sampling-order", "fixed", "--sampler", "fairnas"], "sampler"),
    (["--space", "nb201", "--super-kernel", "ofb"], "super_kernel must be ofa"),
    (["--space", "nb101", "--super-kernel", "ofa", "--single-kernel"], "super_kernel and single_kernel"),
    (["--space", "nb201", "--path-dropout", "1.0"], "path_dropout"),
    (["--space", "ws64", "--search", "darts", "--sharing-groups", "2"], "sharing_groups, prefix_sharing"),
    (["--space", "nb101", "--slicing", "shuffled"], "slicing must be one of first, interpolate, shuffle"),
])
def test_invalid_combinations_are_one_line_naming_the_keys(tmp_path, options, keys):
    db = str(tmp_path / "w.duckdb")
    init_database(f"duckdb:///{db}")
    result = run_cli("run-supernet", *options, "--dataset", "synthetic", "--db", db, "--quiet")
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and keys in result.stderr, result.stderr
    assert _rows(f"duckdb:///{db}", "SELECT COUNT(*) AS n FROM supernets")[0]["n"] == 0
    assert not (tmp_path / "checkpoints").exists()


def test_a_recorded_partition_must_match_its_keys():
    values = {**TINY_WS64, "sharing_groups": 2, "grouping": "random"}
    config = make_config(values)
    with pytest.raises(Exception, match="groups is recorded"):
        make_config({**values, "groups": config.groups[::-1][:1] + [config.groups[0]]})
    assert make_config(json.loads(config.as_json())) == config


# --- the README's sweeps, tiny, through the queue, and the factor report ------------------------------


def _readme_sweep(name: str) -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.S)
    (block,) = [b for b in blocks if re.search(rf"^name: {name}\s*$", b, re.M)]
    return block


def test_the_readme_sweeps_run_tiny_and_the_factor_report_agrees_with_scipy(tmp_path):
    import yaml

    db = str(tmp_path / "w.duckdb")
    url = f"duckdb:///{db}"
    init_database(url)
    for space in ("ws64", "nb201"):
        assert run_cli("spaces", "populate", space, "--db", db).returncode == 0
    assert run_cli("ingest", "ws64", "--db", db).returncode == 0
    # Zhang et al.'s Table 3 and Yu et al.'s Table 4 as the README has them, shrunk
    table3 = yaml.safe_load(_readme_sweep("zhang-table3"))
    assert table3["grid"]["sharing_groups"] == [1, 2, 4, 8, 16, 32, 64] and len(table3["grid"]["seed"]) == 10
    table3["grid"].update(sharing_groups=[4], seed=[0, 1])
    table3["base"].update(dataset="synthetic", synthetic_images=32, batch_size=16, initial_channels=4,
                          cells_per_stack=1, epochs=1, evaluate_last_steps=1)
    table4 = yaml.safe_load(_readme_sweep("yu-table4-nb201"))
    assert {"wsbn", "global-dropout", "path-dropout", "op-node", "ofa"} <= set(table4["variants"])
    for yu in (table4, yaml.safe_load(_readme_sweep("yu-table4-nb101"))):  # their setup, section 4.1
        assert {k: yu["base"][k] for k in ("learning_rate", "lr_schedule", "epochs", "batch_size",
                                           "bn_track_running_stats")} == {
            "learning_rate": 0.025, "lr_schedule": "cosine", "epochs": 400, "batch_size": 256,
            "bn_track_running_stats": False}
        assert yu["evaluate"] == [{"protocol": "no-ft", "n": 200, "seed": 0}]  # one seeded sample of 200
    table4["grid"].update(seed=[0])
    table4["variants"] = {k: table4["variants"][k] for k in ("baseline", "wsbn")}
    table4["base"].update(dataset="synthetic", synthetic_images=32, batch_size=16, initial_channels=4,
                          cells_per_stack=1, epochs=1)
    table4["evaluate"] = [{**table4["evaluate"][0], "n": 6}]
    for sweep in (table3, table4):
        path = tmp_path / f"{sweep['name']}.yaml"
        path.write_text(yaml.safe_dump(sweep))
        submitted = run_cli("submit", "train", str(path), "--db", db, "--checkpoint-dir", str(tmp_path / "ck"))
        assert submitted.returncode == 0, submitted.stderr
    drained = run_cli("worker", "--db", db, "--drain", "--device", "cpu", "--quiet")
    assert drained.returncode == 0, drained.stderr
    assert _rows(url, "SELECT COUNT(*) AS n FROM jobs WHERE status <> 'done'")[0]["n"] == 0

    report = json.loads(run_cli("report", "factors", "--sweep", "zhang-table3", "--json", "--db", db).stdout)
    assert {r["grouping"] for r in report} == {"random", "similarity"} and "sharing_groups" not in report[0]
    rows = json.loads(run_cli("query", "factors", "--param", "sweep=zhang-table3", "--json", "--db", db).stdout)
    for line in report:
        members = [r for r in rows if json.loads(r["configuration"])["grouping"] == line["grouping"]]
        assert line["supernets"] == len(members) == 2
        for column in ("kendall", "gt_tau_mean", "final_accuracy"):
            values = [m[column] for m in members]
            assert line[f"{column}_mean"] == pytest.approx(statistics.fmean(values))
            expected = stats.t.ppf(0.975, 1) * stats.sem(values)
            assert line[f"{column}_ci95"] == pytest.approx(expected) or math.isnan(expected)
            assert line[f"{column}_std"] == pytest.approx(np.std(values))  # numpy's: Zhang et al.'s ±
    spread = run_cli("report", "factors", "--sweep", "zhang-table3", "--spread", "std", "--markdown", "--db", db)
    assert spread.returncode == 0 and "Mean ± population standard deviation" in spread.stdout
    # made-up NB201 ground truth (the benchmark's file is not needed to check the layout)
    rng = np.random.default_rng(0)
    table = tmp_path / "nb201-made-up.csv"
    table.write_text("arch_index,arch_str,val_acc_200ep_cifar10valid\n" + "".join(
        f"{i},{a},{rng.uniform(10, 95):.2f}\n" for i, a in enumerate(nb201_space.official_index_order())))
    assert run_cli("ingest", "nb201-table", str(table), "--db", db).returncode == 0
    markdown = run_cli("report", "factors", "--sweep", "yu-table4-nb201", "--markdown", "--db", db)
    assert markdown.returncode == 0, markdown.stderr
    markdown = markdown.stdout
    assert "| sharing=edge, wsbn=false | no-ft |" in markdown and "| sharing=node, wsbn=true | no-ft |" in markdown
    empty = run_cli("report", "factors", "--sweep", "yu-table4-nb101", "--db", db)
    assert empty.returncode == 1 and "no super-net of sweep 'yu-table4-nb101'" in empty.stderr


def test_initialisation_sampling_and_data_seeds_vary_one_at_a_time(tmp_path):
    """Zhang et al. 2020 (Deeper Insights, Table 1) vary the initialisation ("different seeds") or
    the sampling order ("different orders") with the rest fixed: each seed drives only its own
    source of randomness, the warehouse records them, and S-Tau groups pairs by the seeds that
    differ."""
    from wsdb.trainers.seeds import Seeds
    from wsdb.trainers.train import Trainer

    db = str(tmp_path / "w.duckdb")
    url = f"duckdb:///{db}"
    init_database(url)
    config = make_config({**TINY_WS64, "sampling_order": "fixed", "epochs": 1})
    options = RunOptions(checkpoint_dir=str(tmp_path / "ck"), progress=False)

    def trainer(seeds: Seeds):
        made = Trainer(url, "probe", config, 0, options, torch.device("cpu"), seeds)
        order = [made.sampler.next_group()[0] for _ in range(64)]
        return made.model.state_dict(), order, torch.randperm(64, generator=made.data_generator)

    base = trainer(Seeds(init=0, sampling=1, data=2))
    other_order = trainer(Seeds(init=0, sampling=5, data=2))
    other_init = trainer(Seeds(init=7, sampling=1, data=2))
    other_data = trainer(Seeds(init=0, sampling=1, data=9))
    assert all(torch.equal(v, other_order[0][k]) for k, v in base[0].items())  # same weights ...
    assert base[1] != other_order[1] and torch.equal(base[2], other_order[2])  # ... another order, same data
    assert not all(torch.equal(v, other_init[0][k]) for k, v in base[0].items())
    assert base[1] == other_init[1] and torch.equal(base[2], other_init[2])
    assert base[1] == other_data[1] and not torch.equal(base[2], other_data[2])

    assert run_cli("spaces", "populate", "ws64", "--db", db).returncode == 0
    tiny = ["--dataset", "synthetic", "--synthetic-images", "32", "--batch-size", "16", "--channels", "4", "--cells",
            "1", "--epochs", "1", "--sampling-order", "fixed", "--evaluate-last-steps", "1", "--quiet",
            "--checkpoint-dir", str(tmp_path / "ck"), "--db", db]
    for name, seeds in (("a", ["--init-seed", "0", "--sampling-seed", "1"]),
                        ("b", ["--init-seed", "0", "--sampling-seed", "2"]),
                        ("c", ["--init-seed", "3", "--sampling-seed", "1"])):
        result = run_cli("run-supernet", "--space", "ws64", "--name", name, "--seed", "1", *seeds, *tiny)
        assert result.returncode == 0, result.stderr
    stored = {r["name"]: (r["init_seed"], r["sampling_seed"], r["data_seed"]) for r in _rows(
        url, "SELECT s.name, r.* FROM supernets s JOIN run_seeds r ON r.supernet_id = s.id")}
    assert stored == {"a": (0, 1, 1), "b": (0, 2, 1), "c": (3, 1, 1)}
    rows = {r["varied_seeds"]: r for r in json.loads(
        run_cli("query", "stability_supernets", "--json", "--db", db).stdout)}
    assert set(rows) == {"sampling", "init", "init,sampling"}
    scores = {}
    for r in _rows(url, "SELECT s.name, p.architecture_id, p.value FROM proxy_scores p JOIN checkpoints c "
                        "ON c.id = p.checkpoint_id JOIN supernets s ON s.id = c.supernet_id "
                        "WHERE p.metric = 'validation_accuracy'"):
        scores.setdefault(r["name"], {})[r["architecture_id"]] = r["value"]
    ids = sorted(scores["a"])
    for varied, (x, y) in {"sampling": ("a", "b"), "init": ("a", "c"), "init,sampling": ("b", "c")}.items():
        expected = stats.kendalltau([scores[x][i] for i in ids], [scores[y][i] for i in ids]).statistic
        assert rows[varied]["pairs"] == 1
        assert rows[varied]["s_tau"] == pytest.approx(expected)
    refused = run_cli("run-supernet", "--resume", "a", "--init-seed", "4", "--db", db)
    assert refused.returncode == 1 and "a resumed run keeps its seeds" in refused.stderr
