"""Super-net models: parameter counts of the benchmarks' networks, super-net = standalone
network with the same weights, masked updates, TF-RMSProp, BNS-FT as a true average."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wsdb.spaces import nb101 as nb101_space
from wsdb.spaces import nb201 as nb201_space
from wsdb.spaces import ws64 as ws64_space
from wsdb.trainers import nb101, nb201, ws64
from wsdb.trainers.config import make_config
from wsdb.trainers.data import load_dataset
from wsdb.trainers.evaluate import Evaluator, parse_protocol
from wsdb.trainers.layers import BatchNormSettings, ParameterUsage, recording
from wsdb.trainers.optim import MaskedOptimizer
from wsdb.trainers.spaces import training_space


def _cell(adjacency: str, operations: str):
    return tuple(tuple(int(c) for c in row) for row in adjacency.split("|")), tuple(operations.split(","))


def _parameters(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_vertex_channels_published_vectors():
    cases = [
        (8, 15, [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], [8, 8, 7, 15]),
        (8, 8, [[0, 1, 1, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0] * 5], [8, 3, 3, 2, 8]),
        (8, 9, [[0, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0] * 5], [8, 5, 5, 4, 9]),
        (8, 15, [[0, 1, 0, 1, 0], [0, 0, 1, 0, 1], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0] * 5], [8, 8, 7, 7, 15]),
    ]
    for c_in, c_out, matrix, expected in cases:
        assert nb101.vertex_channels(c_in, c_out, matrix) == expected


def test_nb101_parameter_counts_equal_the_official_ones(shared_data):
    import pyarrow.parquet as pq

    table = pq.read_table(shared_data / "nb101" / "archs_151644.parquet",
                          columns=["adjacency", "operations", "trainable_parameters"]).to_pydict()
    rows = random.Random(5).sample(range(len(table["adjacency"])), 2000)
    for k, i in enumerate(rows):
        cell = _cell(table["adjacency"][i], table["operations"][i])
        official = table["trainable_parameters"][i]
        assert nb101.parameter_count(cell) == official, cell
        if k < 300:  # the network itself (on the meta device: no memory) agrees with the closed form
            with torch.device("meta"):
                assert _parameters(nb101.NB101Network(cell)) == official, cell


def test_nb201_parameter_counts_equal_the_benchmark_for_all_architectures(shared_data):
    import csv

    with open(shared_data / "nb201" / "nb201_all15625.csv") as f:
        rows = [(r["arch_str"], int(r["num_params"])) for r in csv.DictReader(f)]
    assert len(rows) == 15625
    for k, (arch, official) in enumerate(rows):
        cell = nb201_space.parse_arch_str(arch)
        assert nb201.parameter_count(cell) == official, arch
        if k % 50 == 0:
            with torch.device("meta"):
                assert _parameters(nb201.NB201Network(cell)) == official, arch


def _random_nb101_cells(count: int, seed: int = 0):
    space = training_space("nb101")
    rng = np.random.default_rng(seed)
    return [space.random_cell(rng, "FULL") for _ in range(count)]


SUPERNETS = {
    "nb101-first": lambda: (nb101.NB101Supernet(nb101.Macro(8, 3, 1)), _random_nb101_cells(6)),
    "nb101-interpolate": lambda: (nb101.NB101Supernet(nb101.Macro(8, 3, 1), "interpolate"), _random_nb101_cells(4, 1)),
    "nb101-single-k": lambda: (nb101.NB101Supernet(nb101.Macro(8, 3, 1), single_kernel=True), _random_nb101_cells(4, 2)),
    "nb201": lambda: (nb201.NB201Supernet(nb201.Macro(4, 1)),
                      [nb201_space.parse_arch_str(nb201_space.arch_str_of_index(i)) for i in (0, 11, 284, 15624)]),
    "ws64": lambda: (ws64.WS64Supernet(ws64.Macro(8, 4, 2)), [ws64_space.parse_label(x) for x in ("111", "234", "443")]),
}


@pytest.mark.parametrize("kind", SUPERNETS)
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_supernet_equals_standalone_network_with_its_weights(kind, mode):
    torch.manual_seed(0)
    supernet, cells = SUPERNETS[kind]()
    # Give batch-norm statistics and affine parameters non-trivial values.
    with torch.no_grad():
        for name, tensor in supernet.state_dict().items():
            if name.endswith(("running_mean", "bias")):
                tensor.copy_(torch.randn_like(tensor) * 0.1)
            elif name.endswith(("running_var",)) or (name.endswith("weight") and tensor.dim() == 1):
                tensor.copy_(torch.rand_like(tensor) + 0.5)
    x = torch.randn(6, 3, 16, 16)
    for cell in cells:
        standalone = supernet.standalone(cell)
        getattr(supernet, mode)()
        getattr(standalone, mode)()
        with torch.no_grad():
            expected = standalone(x)
            actual = supernet(x, cell)
        torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)


def test_unused_parameters_get_no_update_and_no_optimizer_state():
    torch.manual_seed(1)
    macro = nb101.Macro(8, 3, 1)
    supernet = nb101.NB101Supernet(macro)
    config = make_config({"space": "nb101", "optimizer": "rmsprop", "weight_decay": 1e-2})
    optimizer = MaskedOptimizer(supernet.named_parameters(), config)
    # input -> conv3x3 -> output: vertex 1 only, with the full width; then a narrow vertex
    cell = ((( 0, 1, 0), (0, 0, 1), (0, 0, 0))), ("input", nb101_space.CONV3X3, "output")
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    usage = ParameterUsage()
    with recording(usage):
        F.cross_entropy(supernet(torch.randn(4, 3, 8, 8), cell), torch.tensor([0, 1, 2, 3])).backward()
    optimizer.step(0.1, usage)
    after = supernet.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k]) and "running" not in k and "num_batches" not in k}
    assert "cells.0.vertices.0.conv3x3.conv.weight" in changed
    assert "cells.0.vertices.0.projection.conv.weight" in changed
    assert not any(k.startswith("cells.0.vertices.1.") for k in changed)  # other vertices
    assert not any(".conv1x1." in k for k in changed)  # the unused operation of vertex 1
    assert "cells.0.output_projection.conv.weight" not in changed  # no input->output edge
    assert set(optimizer.state) == {k for k, p in supernet.named_parameters() if k in changed}

    # A narrower vertex: only its first c channels move, state included.
    cell = (((0, 1, 1, 0), (0, 0, 0, 1), (0, 0, 0, 1), (0, 0, 0, 0)),
            ("input", nb101_space.CONV3X3, nb101_space.CONV1X1, "output"))
    c = nb101.vertex_channels(8, 8, cell[0])[1]
    before = supernet.cells[0].vertices[0].conv3x3.conv.weight.detach().clone()
    state_before = optimizer.state["cells.0.vertices.0.conv3x3.conv.weight"]["mean_square"].clone()
    usage.clear()
    supernet.zero_grad(set_to_none=True)
    with recording(usage):
        F.cross_entropy(supernet(torch.randn(4, 3, 8, 8), cell), torch.tensor([0, 1, 2, 3])).backward()
    optimizer.step(0.1, usage)
    weight = supernet.cells[0].vertices[0].conv3x3.conv.weight.detach()
    state = optimizer.state["cells.0.vertices.0.conv3x3.conv.weight"]["mean_square"]
    assert not torch.equal(weight[:c, :c], before[:c, :c])
    assert torch.equal(weight[c:], before[c:]) and torch.equal(weight[:, c:], before[:, c:])
    assert torch.equal(state[c:], state_before[c:]) and not torch.equal(state[:c, :c], state_before[:c, :c])


def test_rmsprop_follows_tensorflow_convention():
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    config = make_config({"space": "nb101", "optimizer": "rmsprop", "momentum": 0.9, "epsilon": 1.0,
                          "weight_decay": 1e-4, "rms_decay": 0.9})
    optimizer = MaskedOptimizer([("p", p)], config)
    ms, mom, value = np.ones(2), np.zeros(2), np.array([1.0, -2.0])
    for lr, grad in ((0.2, [0.5, 0.1]), (0.1, [-0.3, 0.2])):
        p.grad = torch.tensor(grad)
        optimizer.step(lr, ParameterUsage())
        g = np.array(grad) + 1e-4 * value
        ms = 0.9 * ms + 0.1 * g * g
        mom = 0.9 * mom + lr * g / np.sqrt(ms + 1.0)
        value = value - mom
        np.testing.assert_allclose(p.detach().numpy(), value, rtol=1e-6)


def test_gradient_clipping_scales_the_global_norm_before_weight_decay():
    """Zhang, Zhang, Yang 2020 clip the gradient at 5: g <- g * 5 / ||g|| when ||g|| > 5 (norm over
    every used parameter together), then SGD with weight decay as before; under 5 nothing changes."""
    a, b = torch.nn.Parameter(torch.tensor([1.0, -2.0])), torch.nn.Parameter(torch.tensor([0.5]))
    unused = torch.nn.Parameter(torch.tensor([3.0]))
    config = make_config({"space": "ws64", "optimizer": "sgd", "momentum": 0.0, "weight_decay": 1e-3,
                          "gradient_clip": 5.0})
    optimizer = MaskedOptimizer([("a", a), ("b", b), ("unused", unused)], config)
    for grad_a, grad_b in (([6.0, -8.0], [2.0]), ([0.3, 0.4], [1.0])):
        before_a, before_b = a.detach().numpy().copy(), b.detach().numpy().copy()
        a.grad, b.grad = torch.tensor(grad_a), torch.tensor(grad_b)
        norm = np.sqrt(np.sum(np.square(grad_a)) + np.sum(np.square(grad_b)))
        scale = min(1.0, 5.0 / (norm + 1e-6))
        optimizer.step(0.1, ParameterUsage())
        np.testing.assert_allclose(a.detach().numpy(), before_a - 0.1 * (scale * np.array(grad_a) + 1e-3 * before_a),
                                   rtol=1e-6)
        np.testing.assert_allclose(b.detach().numpy(), before_b - 0.1 * (scale * np.array(grad_b) + 1e-3 * before_b),
                                   rtol=1e-6)
    assert unused.item() == 3.0
    with pytest.raises(Exception, match="gradient_clip must be in"):
        make_config({"space": "ws64", "gradient_clip": 0})


def test_bns_ft_calibrates_on_its_own_batch_size():
    """bns-ft:BxS: B batches of S images whatever the training batch size (Zhang, Zhang, Yang
    2020: 25 batches of 400); the statistics are their exact average."""
    torch.manual_seed(2)
    config = make_config({"space": "nb201", "dataset": "synthetic", "synthetic_images": 64, "batch_size": 16,
                          "initial_channels": 4, "cells_per_stack": 1})
    data = load_dataset("synthetic", None, torch.device("cpu"), synthetic_images=64)
    training = training_space("nb201")
    model = training.build_supernet(config, data.num_classes)
    cell = training.random_cell(np.random.default_rng(0), "FULL")
    protocol = parse_protocol("bns-ft:3x40")
    assert (protocol.id, protocol.parameters) == ("bns-ft:3x40", {"batches": 3, "batch_size": 40})
    assert "3 training batches of 40 images" in protocol.description
    evaluator = Evaluator(model, data, config, protocol, torch.device("cpu"), seed=7)
    batches = list(evaluator._training_batches(3, architecture_id=5))
    assert [len(x) for x, _ in batches] == [40, 40, 40]
    with torch.no_grad():
        means = [model.stem[0](x).mean(dim=(0, 2, 3)) for x, _ in batches]
    evaluator._reestimate_batch_norm(cell, architecture_id=5)
    torch.testing.assert_close(model.stem[1].running_mean, torch.stack(means).mean(0), rtol=1e-4, atol=1e-5)
    for bad in ("bns-ft:0x400", "bns-ft:4x0", "ft:4x10", "no-ft:1x2"):
        with pytest.raises(Exception, match="expected no-ft"):
            parse_protocol(bad)


@pytest.mark.parametrize("space", ["nb101", "nb201"])
def test_bns_ft_is_the_average_over_batches_and_leaves_the_supernet_unchanged(space):
    torch.manual_seed(2)
    config = make_config({"space": space, "dataset": "synthetic", "synthetic_images": 64, "batch_size": 16,
                          "initial_channels": 4, "cells_per_stack": 1})
    data = load_dataset("synthetic", None, torch.device("cpu"), synthetic_images=64)
    training = training_space(space)
    model = training.build_supernet(config, data.num_classes)
    cell = training.random_cell(np.random.default_rng(0), "FULL")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    evaluator = Evaluator(model, data, config, parse_protocol("bns-ft:3"), torch.device("cpu"), seed=7)

    # What the stem's batch norm sees in the 3 batches: their per-channel means, averaged.
    stem_conv = model.stem.conv if space == "nb101" else model.stem[0]
    means = []
    for x, _ in evaluator._training_batches(3, architecture_id=42):
        with torch.no_grad():
            out = stem_conv(x, 4) if space == "nb101" else stem_conv(x)
        means.append(out.mean(dim=(0, 2, 3)))
    evaluator._reestimate_batch_norm(cell, architecture_id=42)
    stem_bn = model.stem.bn if space == "nb101" else model.stem[1]
    torch.testing.assert_close(stem_bn.running_mean[:4], torch.stack(means).mean(0), rtol=1e-4, atol=1e-5)
    assert not torch.allclose(stem_bn.running_mean[:4], means[-1])  # not the last batch's values

    model.load_state_dict(before)
    evaluator.score(cell, architecture_id=42)
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_fairnas_groups_use_every_operation_once_per_edge():
    rng = np.random.default_rng(3)
    for name, ops in (("nb201", nb201_space.OPERATIONS), ("ws64", ws64_space.OPERATIONS)):
        group = training_space(name).fair_group(rng, "FULL")
        assert len(group) == len(ops)
        for edge in range(len(group[0])):
            assert sorted(cell[edge] for cell in group) == sorted(ops)
    group = training_space("nb101").fair_group(rng, "FULL")
    assert len(group) == 3
    counts = [sum(cell[1].count(op) for cell in group) for op in nb101_space.OPERATIONS]
    assert len(set(counts)) == 1  # each operation equally often over the group


def test_uniform_nb101_sampling_respects_the_subspace():
    space, rng = training_space("nb101"), np.random.default_rng(4)
    for subspace, check in (("A2", lambda f: f["num_output_inputs"] == 2),
                            ("RES", lambda f: f["has_input_output_edge"])):
        for _ in range(20):
            matrix, ops = space.random_cell(rng, subspace)
            assert check(nb101_space.features(matrix, ops))


def test_batch_norm_settings_reach_the_layers():
    bn = BatchNormSettings(momentum=0.3, affine=False, track_running_stats=False)
    net = nb201.NB201Supernet(nb201.Macro(4, 1, bn=bn))
    layers = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert layers and all(m.weight is None and m.running_mean is None and m.momentum == 0.3 for m in layers)
