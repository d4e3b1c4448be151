"""NAS-Bench-1Shot1's one-shot model (Zela, Siems, Hutter 2020, after Bender et al. 2018's
Figure 3), for its search spaces 1-3 of NAS-Bench-101 cells.

Stem: 3x3 conv-BN-ReLU to C channels. 9 cells by default (3 stacks of `cells_per_stack`),
channels doubled at 1/3 and 2/3 of the depth, where a 2x2 max-pool with stride 2 and padding
1 comes first (1Shot1's choice: 32 -> 17 -> 9 pixels). A cell has one choice block per
intermediate vertex, all at the stack's C channels (NB101 splits the output channels among
the vertices; the one-shot model does not): block v sums a 1x1 conv-BN-ReLU projection of the
cell input and the outputs of blocks 1..v-1, each weighted by the vertex's parent weights
where its parents are a decision, and applies the mixture of NB101's three operations
(3x3 and 1x1 conv-BN-ReLU, 3x3 max-pool without batch norm). The cell output concatenates a
projection of the cell input and every block, each weighted by the output's parent weights:
C x (V + 1) channels. After the last cell, ReLU-1x1 conv-BN (without affine parameters) back
to C channels, global average pooling, a linear classifier. Every cell uses the same
architecture weights.

Which weights a forward pass uses comes from a `Mixture`: the operation weights of the V
vertices (`operation`), and the parent weights of the candidate edges (`edge_weights`, 1 on
a vertex without a choice). Partial channels (PC-DARTS) apply inside the operation mixture.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wsdb.spaces import nb101 as nb101_space
from wsdb.spaces.one_shot1 import OneShot1Space
from wsdb.trainers.differentiable import Mixture
from wsdb.trainers.layers import BatchNormSettings, batch_norm
from wsdb.trainers.nb101 import KERNEL, ConvBNReLU


def _operations(c: int, bn: BatchNormSettings) -> nn.ModuleDict:
    operations = nn.ModuleDict({op: ConvBNReLU(c, c, KERNEL[op], bn) for op in KERNEL})
    operations[nb101_space.MAXPOOL3X3] = nn.MaxPool2d(3, 1, 1)
    return operations


class OneShot1Cell(nn.Module):
    def __init__(self, space: OneShot1Space, c_in: int, c: int, bn: BatchNormSettings, partial_channels: int) -> None:
        super().__init__()
        self.space = space
        # projections of the cell input into vertices 1..V, then into the output
        self.projections = nn.ModuleList(ConvBNReLU(c_in, c, 1, bn) for _ in range(space.vertices + 1))
        self.blocks = nn.ModuleList(_operations(c // partial_channels, bn) for _ in range(space.vertices))
        edges = space.candidate_edges()
        self.edge_index = {edge: i for i, edge in enumerate(edges)}

    def forward(self, x: torch.Tensor, mixture: Mixture) -> torch.Tensor:
        weights = mixture.edge_weights
        states: list[torch.Tensor] = []
        for v in range(1, self.space.vertices + 1):
            inputs = [self.projections[v - 1](x), *states]  # parents 0..v-1
            total = None
            for u, term in enumerate(inputs):
                term = weights[self.edge_index[(u, v)]] * term
                total = term if total is None else total + term
            states.append(mixture.operation(v - 1, total, self.blocks[v - 1].__getitem__))
        out = self.space.output
        terms = [self.projections[-1](x), *states]
        return torch.cat([weights[self.edge_index[(u, out)]] * term for u, term in enumerate(terms)], dim=1)


class OneShot1Supernet(nn.Module):
    """`forward(x, mixture)`: the one-shot model under a Mixture of its architecture weights."""

    def __init__(self, space: OneShot1Space, initial_channels: int, cells_per_stack: int, num_classes: int,
                 bn: BatchNormSettings, partial_channels: int = 1) -> None:
        super().__init__()
        layers = 3 * cells_per_stack
        self.downsample = [i in (layers // 3, 2 * layers // 3) for i in range(layers)]
        self.stem = ConvBNReLU(3, initial_channels, 3, bn)
        cells, c_in, c = [], initial_channels, initial_channels
        for down in self.downsample:
            c = 2 * c if down else c
            cells.append(OneShot1Cell(space, c_in, c, bn, partial_channels))
            c_in = c * (space.vertices + 1)
        self.cells = nn.ModuleList(cells)
        self.postprocess = nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c, 1, bias=False),
                                         batch_norm(c, BatchNormSettings(bn.momentum, bn.eps, affine=False)))
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor, mixture: Mixture) -> torch.Tensor:
        if not isinstance(mixture, Mixture):
            raise TypeError("NAS-Bench-1Shot1's one-shot model runs under architecture weights (a Mixture)")
        x = self.stem(x)
        for cell, down in zip(self.cells, self.downsample):
            if down:
                x = F.max_pool2d(x, 2, 2, padding=1)
            x = cell(x, mixture)
        return self.classifier(self.postprocess(x).mean(dim=(2, 3)))
