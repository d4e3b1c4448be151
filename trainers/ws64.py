"""Networks of the 64-architecture space of Zhang et al. 2020 (Deeper Insights).

Zhang et al. 2020 (Deeper Insights), appendix A: two 3x3 convolutions expand the image to 48 channels; four cells
follow, no reduction. Each cell compresses its input to 16 channels (ReLU-1x1 conv-BN, as
DARTS preprocesses), computes x1 = O(0,1)(x0) and x2 = O(0,2)(x0) + O(1,2)(x1), and
concatenates x1 and x2 (32 channels; the paper's body says "sum", `node_merge="sum"` gives
that variant). Global average pooling and a linear classifier end the network. The
operations are DARTS's: 3x3 max-pool, separable 3x3/5x5 (twice ReLU-depthwise-pointwise-BN),
dilated 5x5 (ReLU-depthwise dilation 2-pointwise-BN). BN momentum 0.4 (PyTorch convention).

The super-net holds all four operations on each of the three edges; a sampled cell picks one
per edge, or a differentiable method's Mixture weighs them (trainers/differentiable.py).
Yu et al. 2020's factors: node sharing (the edges into x2 share one set of operations; WSBN
gives each its own batch norms), OFA's super-kernel (sep_conv_3x3 derived from sep_conv_5x5),
path dropout on x2's two inputs and global dropout before the pooling. Zhang et al.'s prefix
sharing is `WS64PrefixSupernet`; their groups are trainers/sharing.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from wsdb.spaces import ws64 as space
from wsdb.trainers.differentiable import edge_output
from wsdb.trainers.layers import (BatchNormSettings, EdgeChoiceSupernet, batch_norm, drop_features, drop_paths,
                                  shared_operations, transformed_centre)

Cell = tuple[str, str, str]  # operations of O(0,1), O(0,2), O(1,2)
NODE_MERGES = ("concat", "sum")


@dataclass(frozen=True)
class Macro:
    stem_channels: int = 48
    channels: int = 16
    cells: int = 4
    num_classes: int = 10
    node_merge: str = "concat"
    bn: BatchNormSettings = field(default_factory=lambda: BatchNormSettings(momentum=0.4))

    @property
    def cell_output_channels(self) -> int:
        return 2 * self.channels if self.node_merge == "concat" else self.channels


def _depthwise_pointwise(c: int, kernel: int, dilation: int, norm) -> list[nn.Module]:
    padding = dilation * (kernel - 1) // 2
    return [
        nn.ReLU(),
        nn.Conv2d(c, c, kernel, 1, padding, dilation, groups=c, bias=False),
        nn.Conv2d(c, c, 1, bias=False),
        norm(c),
    ]


class MaxPool3x3(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, 3, 1, 1)


def make_operation(op: str, c: int, bn: BatchNormSettings, norm=None) -> nn.Module:
    """One operation; `norm`: channels -> its batch norm (layers.norm_factory), plain by default."""
    norm = norm or (lambda channels: batch_norm(channels, bn))
    if op == "max_pool_3x3":
        return MaxPool3x3()
    if op == "dil_conv_5x5":
        return nn.Sequential(*_depthwise_pointwise(c, 5, 2, norm))
    kernel = 3 if op == "sep_conv_3x3" else 5
    return nn.Sequential(*_depthwise_pointwise(c, kernel, 1, norm), *_depthwise_pointwise(c, kernel, 1, norm))


class TransformedSepConv(nn.Module):
    """sep_conv_3x3 under OFA's super-kernel (Cai et al. 2020; Yu et al. 2020, Table 4): its
    depthwise 3x3 kernels are the centres of sep_conv_5x5's 5x5 kernels through a learned 9x9
    map per depthwise layer (initialised to the identity), its pointwise convolutions are
    sep_conv_5x5's; its batch norms are its own."""

    def __init__(self, source: nn.Sequential, c: int, norm) -> None:
        super().__init__()
        self.source = source
        self.transforms = nn.ParameterList(nn.Parameter(torch.eye(9)) for _ in range(2))
        self.norms = nn.ModuleList(norm(c) for _ in range(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for half in range(2):
            depthwise, pointwise = self.source[4 * half + 1], self.source[4 * half + 2]
            kernel = transformed_centre(depthwise.weight, 3, self.transforms[half])
            x = F.conv2d(F.relu(x), kernel, padding=1, groups=x.shape[1])
            x = self.norms[half](F.conv2d(x, pointwise.weight))
        return x


def edge_operations(c: int, bn: BatchNormSettings, norm=None, super_kernel: str | None = None) -> nn.ModuleDict:
    """The four operations of one edge (or node); OFA derives sep_conv_3x3 from sep_conv_5x5."""
    operations = nn.ModuleDict({op: make_operation(op, c, bn, norm) for op in space.OPERATIONS})
    if super_kernel == "ofa":
        operations["sep_conv_3x3"] = TransformedSepConv(operations["sep_conv_5x5"], c,
                                                        norm or (lambda channels: batch_norm(channels, bn)))
    return operations


def merge(nodes: list[torch.Tensor], how: str) -> torch.Tensor:
    return torch.cat(nodes, dim=1) if how == "concat" else nodes[0] + nodes[1]


class _CellBase(nn.Module):
    def __init__(self, c_in: int, macro: Macro) -> None:
        super().__init__()
        self.preprocess = nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, macro.channels, 1, bias=False),
                                        batch_norm(macro.channels, macro.bn))
        self.node_merge = macro.node_merge

    def run(self, x: torch.Tensor, edge) -> torch.Tensor:
        x0 = self.preprocess(x)
        x1 = edge(0, x0)
        x2a, x2b = drop_paths([edge(1, x0), edge(2, x1)])
        return merge([x1, x2a + x2b], self.node_merge)


class Cell64(_CellBase):
    def __init__(self, cell: Cell, c_in: int, macro: Macro) -> None:
        super().__init__(c_in, macro)
        self.edges = nn.ModuleList(make_operation(op, macro.channels, macro.bn) for op in cell)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x, lambda i, t: self.edges[i](t))


@dataclass(frozen=True)
class Sharing:
    """How a super-cell shares its operations (Yu et al. 2020's factors; defaults: the paper's)."""

    partial_channels: int = 1
    sharing: str = "edge"
    wsbn: bool = False
    super_kernel: str | None = None


class SuperCell64(_CellBase):
    def __init__(self, c_in: int, macro: Macro, how: Sharing = Sharing()) -> None:
        super().__init__(c_in, macro)
        c = macro.channels // how.partial_channels
        self.edges, self.owner = shared_operations(
            space.EDGES, lambda norm: edge_operations(c, macro.bn, norm, how.super_kernel), how.sharing, how.wsbn,
            macro.bn)

    def forward(self, x: torch.Tensor, cell) -> torch.Tensor:
        return self.run(x, lambda i, t: edge_output(cell, i, t, self.edges[self.owner[i]]))


class _Skeleton(nn.Module):
    def __init__(self, macro: Macro, make_cell) -> None:
        super().__init__()
        if macro.node_merge not in NODE_MERGES:
            raise ValueError(f"node_merge must be one of {NODE_MERGES}, not {macro.node_merge!r}")
        s = macro.stem_channels
        self.stem = nn.Sequential(
            nn.Conv2d(3, s, 3, padding=1, bias=False), batch_norm(s, macro.bn), nn.ReLU(),
            nn.Conv2d(s, s, 3, padding=1, bias=False), batch_norm(s, macro.bn),
        )
        c_in = [s] + [macro.cell_output_channels] * (macro.cells - 1)
        self.cells = nn.ModuleList(make_cell(c) for c in c_in)
        self.classifier = nn.Linear(macro.cell_output_channels, macro.num_classes)
        self.macro = macro

    def _run(self, x: torch.Tensor, cell_call) -> torch.Tensor:
        x = self.stem(x)
        for layer in self.cells:
            x = cell_call(layer, x)
        return self.classifier(drop_features(x).mean(dim=(2, 3)))


class WS64Network(_Skeleton):
    def __init__(self, cell: Cell, macro: Macro = Macro()) -> None:
        super().__init__(macro, lambda c: Cell64(cell, c, macro))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, lambda layer, t: layer(t))


class WS64Supernet(EdgeChoiceSupernet, _Skeleton):
    standalone_network = WS64Network

    def __init__(self, macro: Macro = Macro(), how: Sharing = Sharing()) -> None:
        super().__init__(macro, lambda c: SuperCell64(c, macro, how))


def label(cell: Cell) -> str:
    """The three-digit name of a cell (111..444)."""
    return "".join(str(space.OPERATIONS.index(op) + 1) for op in cell)


class WS64PrefixSupernet(nn.Module):
    """Prefix sharing (Zhang et al. 2020, Deeper Insights, section 4.3): the stem and the first
    `shared` cells are one super-net; every architecture keeps its own copy of the remaining
    cells (its own operations only) and of the classifier. shared = 0: the stem alone is
    shared; shared = cells: everything but the classifiers."""

    def __init__(self, macro: Macro, shared: int, how: Sharing = Sharing()) -> None:
        super().__init__()
        trunk = WS64Supernet(macro, how)
        self.stem, self.cells = trunk.stem, trunk.cells[:shared]
        c_in = [macro.stem_channels] + [macro.cell_output_channels] * (macro.cells - 1)
        self.heads = nn.ModuleDict({
            name: nn.ModuleDict({"cells": nn.ModuleList(Cell64(cell, c_in[k], macro) for k in range(shared, macro.cells)),
                                 "classifier": nn.Linear(macro.cell_output_channels, macro.num_classes)})
            for name, cell in ((n, space.parse_label(n)) for n in space.all_labels())})

    def forward(self, x: torch.Tensor, cell) -> torch.Tensor:
        x = self.stem(x)
        for layer in self.cells:
            x = layer(x, cell)
        head = self.heads[label(cell)]
        for layer in head["cells"]:
            x = layer(x)
        return head["classifier"](drop_features(x).mean(dim=(2, 3)))
