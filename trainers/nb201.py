"""NAS-Bench-201 networks: the benchmark's network of one cell, and the super-net.

The network (NAS-Bench-201 paper, xautodl `TinyNetwork`): a 3x3 conv-BN stem with C
channels; three stages of N cells at C, 2C, 4C channels with a residual reduction block
between stages (ReLU-conv3x3/2-BN, ReLU-conv3x3-BN, shortcut avg-pool/2 + 1x1 conv); BN,
ReLU, global average pooling, a linear classifier. A cell's node j sums op(node i) over its
edges i -> j; nor_conv is ReLU-conv-BN, avg_pool a 3x3 average (padding not counted),
skip_connect the identity, none the zero map.

The super-net holds every operation on every edge (5 per edge); the sampled cell picks one,
or a differentiable method's Mixture weighs them all (trainers/differentiable.py; with
partial channels the operations are built for 1/K of the channels). With node sharing (Yu et
al. 2020, "Op-Node") the edges into a node share one set of operations, and WSBN gives each of
those edges its own batch norm; OFA's super-kernel derives nor_conv_1x1 from nor_conv_3x3. Path dropout drops incoming edges of each node, global
dropout acts before the pooling (training only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from wsdb.spaces import nb201 as space
from wsdb.trainers.differentiable import edge_output
from wsdb.trainers.layers import (BatchNormSettings, EdgeChoiceSupernet, batch_norm, drop_features, drop_paths,
                                  shared_operations, transformed_centre)

Cell = tuple[str, ...]  # the 6 edge operations in space.EDGES order
CONV_KERNEL = {space.CONV1X1: 1, space.CONV3X3: 3}


@dataclass(frozen=True)
class Macro:
    channels: int = 16
    cells_per_stage: int = 5
    num_classes: int = 10
    bn: BatchNormSettings = field(default_factory=BatchNormSettings)


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, bn: BatchNormSettings, norm=None) -> None:
        norm = norm or (lambda c: batch_norm(c, bn))
        super().__init__(nn.ReLU(), nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False), norm(c_out))


class AvgPool3x3(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


class Skip(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def make_operation(op: str, c: int, bn: BatchNormSettings, norm=None) -> nn.Module | None:
    """The module of one edge; None for 'none' (the edge contributes nothing). `norm`: channels
    -> its batch norm (layers.norm_factory), plain by default."""
    if op in CONV_KERNEL:
        return ReLUConvBN(c, c, CONV_KERNEL[op], 1, bn, norm)
    if op == space.AVGPOOL3X3:
        return AvgPool3x3()
    if op == space.SKIP:
        return Skip()
    return None


class TransformedConv1x1(nn.Module):
    """nor_conv_1x1 under OFA's super-kernel (Yu et al. 2020, Table 4): ReLU, a 1x1 convolution
    whose kernel is the centre of the edge's nor_conv_3x3 kernel through a learned 1x1 map
    (initialised to 1), and a batch norm of its own."""

    def __init__(self, source: ReLUConvBN, c: int, bn: BatchNormSettings, norm=None) -> None:
        super().__init__()
        self.source = source
        self.transform = nn.Parameter(torch.eye(1))
        self.norm = (norm or (lambda channels: batch_norm(channels, bn)))(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(F.conv2d(F.relu(x), transformed_centre(self.source[1].weight, 1, self.transform)))


def edge_operations(c: int, bn: BatchNormSettings, norm=None, super_kernel: str | None = None) -> nn.ModuleDict:
    """The operations of one edge (or node) with weights; OFA derives nor_conv_1x1 from nor_conv_3x3."""
    operations = nn.ModuleDict({op: make_operation(op, c, bn, norm) for op in space.OPERATIONS if op != space.NONE})
    if super_kernel == "ofa":
        operations[space.CONV1X1] = TransformedConv1x1(operations[space.CONV3X3], c, bn, norm)
    return operations


def run_cell(x: torch.Tensor, edge) -> torch.Tensor:
    """edge(i, node_i) -> the edge's output or None (a 'none' edge)."""
    nodes = [x]
    for target in (1, 2, 3):
        terms = [edge(i, nodes[s]) for i, (s, t) in enumerate(space.EDGES) if t == target]
        terms = drop_paths([term for term in terms if term is not None])
        nodes.append(sum(terms[1:], terms[0]) if terms else torch.zeros_like(x))
    return nodes[3]


class Cell201(nn.Module):
    def __init__(self, cell: Cell, c: int, bn: BatchNormSettings) -> None:
        super().__init__()
        self.edges = nn.ModuleList(make_operation(op, c, bn) or nn.Identity() for op in cell)
        self.live = [op != space.NONE for op in cell]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return run_cell(x, lambda i, t: self.edges[i](t) if self.live[i] else None)


class ResidualReduction(nn.Module):
    def __init__(self, c_in: int, c_out: int, bn: BatchNormSettings) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, bn)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, bn)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class _Skeleton(nn.Module):
    """Stem, stages with reductions, head; `make_cell(c)` builds each cell."""

    def __init__(self, macro: Macro, make_cell) -> None:
        super().__init__()
        c = macro.channels
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), batch_norm(c, macro.bn))
        layers: list[nn.Module] = []
        for stage in range(3):
            if stage > 0:
                layers.append(ResidualReduction(c, 2 * c, macro.bn))
                c *= 2
            layers.extend(make_cell(c) for _ in range(macro.cells_per_stage))
        self.layers = nn.ModuleList(layers)
        self.head = nn.Sequential(batch_norm(c, macro.bn), nn.ReLU())
        self.classifier = nn.Linear(c, macro.num_classes)
        self.macro = macro

    def _run(self, x: torch.Tensor, cell_call) -> torch.Tensor:
        x = self.stem(x)
        for layer in self.layers:
            x = layer(x) if isinstance(layer, ResidualReduction) else cell_call(layer, x)
        return self.classifier(drop_features(self.head(x)).mean(dim=(2, 3)))


class NB201Network(_Skeleton):
    """The benchmark network of one cell (C=16, N=5: num_params of the benchmark)."""

    def __init__(self, cell: Cell, macro: Macro = Macro()) -> None:
        super().__init__(macro, lambda c: Cell201(cell, c, macro.bn))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, lambda layer, t: layer(t))


class SuperCell201(nn.Module):
    def __init__(self, c: int, bn: BatchNormSettings, partial_channels: int = 1, sharing: str = "edge",
                 wsbn: bool = False, super_kernel: str | None = None) -> None:
        super().__init__()
        self.edges, self.owner = shared_operations(
            space.EDGES, lambda norm: edge_operations(c // partial_channels, bn, norm, super_kernel), sharing, wsbn, bn)

    def forward(self, x: torch.Tensor, cell) -> torch.Tensor:
        return run_cell(x, lambda i, t: edge_output(cell, i, t, self.edges[self.owner[i]]))


class NB201Supernet(EdgeChoiceSupernet, _Skeleton):
    standalone_network = NB201Network

    def __init__(self, macro: Macro = Macro(), partial_channels: int = 1, sharing: str = "edge",
                 wsbn: bool = False, super_kernel: str | None = None) -> None:
        super().__init__(macro, lambda c: SuperCell201(c, macro.bn, partial_channels, sharing, wsbn, super_kernel))


def parameter_count(cell: Cell, macro: Macro = Macro()) -> int:
    """Trainable parameters of the benchmark network, in closed form."""
    bn = 2 if macro.bn.affine else 0
    c = macro.channels
    total = 27 * c + bn * c
    per_cell = lambda c: sum(c * c * CONV_KERNEL[op] ** 2 + bn * c for op in cell if op in CONV_KERNEL)  # noqa: E731
    for stage in range(3):
        if stage > 0:
            total += 9 * c * 2 * c + bn * 2 * c + 9 * 4 * c * c + bn * 2 * c + 2 * c * c
            c *= 2
        total += macro.cells_per_stage * per_cell(c)
    return total + bn * c + c * macro.num_classes + macro.num_classes
