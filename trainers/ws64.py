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
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from wsdb.spaces import ws64 as space
from wsdb.trainers.differentiable import Mixture
from wsdb.trainers.layers import BatchNormSettings, EdgeChoiceSupernet, batch_norm

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


def _depthwise_pointwise(c: int, kernel: int, dilation: int, bn: BatchNormSettings) -> list[nn.Module]:
    padding = dilation * (kernel - 1) // 2
    return [
        nn.ReLU(),
        nn.Conv2d(c, c, kernel, 1, padding, dilation, groups=c, bias=False),
        nn.Conv2d(c, c, 1, bias=False),
        batch_norm(c, bn),
    ]


class MaxPool3x3(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, 3, 1, 1)


def make_operation(op: str, c: int, bn: BatchNormSettings) -> nn.Module:
    if op == "max_pool_3x3":
        return MaxPool3x3()
    if op == "dil_conv_5x5":
        return nn.Sequential(*_depthwise_pointwise(c, 5, 2, bn))
    kernel = 3 if op == "sep_conv_3x3" else 5
    return nn.Sequential(*_depthwise_pointwise(c, kernel, 1, bn), *_depthwise_pointwise(c, kernel, 1, bn))


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
        x2 = edge(1, x0) + edge(2, x1)
        return merge([x1, x2], self.node_merge)


class Cell64(_CellBase):
    def __init__(self, cell: Cell, c_in: int, macro: Macro) -> None:
        super().__init__(c_in, macro)
        self.edges = nn.ModuleList(make_operation(op, macro.channels, macro.bn) for op in cell)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x, lambda i, t: self.edges[i](t))


class SuperCell64(_CellBase):
    def __init__(self, c_in: int, macro: Macro, partial_channels: int = 1) -> None:
        super().__init__(c_in, macro)
        self.edges = nn.ModuleList(
            nn.ModuleDict({op: make_operation(op, macro.channels // partial_channels, macro.bn) for op in space.OPERATIONS})
            for _ in space.EDGES
        )

    def forward(self, x: torch.Tensor, cell) -> torch.Tensor:
        if isinstance(cell, Mixture):
            return self.run(x, lambda i, t: cell.edge(i, t, lambda op: self.edges[i][op]))
        return self.run(x, lambda i, t: self.edges[i][cell[i]](t))


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
        return self.classifier(x.mean(dim=(2, 3)))


class WS64Network(_Skeleton):
    def __init__(self, cell: Cell, macro: Macro = Macro()) -> None:
        super().__init__(macro, lambda c: Cell64(cell, c, macro))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, lambda layer, t: layer(t))


class WS64Supernet(EdgeChoiceSupernet, _Skeleton):
    standalone_network = WS64Network

    def __init__(self, macro: Macro = Macro(), partial_channels: int = 1) -> None:
        super().__init__(macro, lambda c: SuperCell64(c, macro, partial_channels))
