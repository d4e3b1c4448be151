"""Networks of the DARTS CNN search space (Liu, Simonyan, Yang 2019): the search super-net and
the CIFAR-10 evaluation network of one genotype.

Operations (DARTS' `operations.py`, written anew): 3x3 max and average pooling (the average
does not count padding), skip (the identity, or a factorized reduction on a stride-2 edge),
separable 3x3/5x5 convolutions (twice ReLU, depthwise, pointwise, BN; stride on the first),
dilated 3x3/5x5 convolutions (ReLU, depthwise with dilation 2, pointwise, BN) and, in search
only, `none` (zero; subsampled on a stride-2 edge). A cell preprocesses its two inputs with
ReLU-1x1 conv-BN (a factorized reduction for the first when the previous cell reduced), node n
sums its incoming edges, the output concatenates the four intermediate nodes. Edges leaving the
cell inputs of a reduction cell have stride 2.

Super-net (DARTS' search setup on CIFAR-10): stem 3x3 conv to 3C channels and BN, 8 cells of
C = 16 channels with reductions (channels doubled) at 1/3 and 2/3 of the depth, global
average pooling, a linear classifier; batch norms without affine parameters (DARTS searches
so), pools followed by a batch norm inside the mixture. Every edge holds all 8 operations;
the 14 edges of the normal cell are edges 0..13 of θ, those of the reduction cell 14..27
(`wsdb.spaces.darts.EDGES_PER_CELL` flat order). A sampled genotype runs only its two edges
per node, through the operation it chose (Li and Talwalkar's random search with weight
sharing); a Mixture runs every edge (darts, pc-darts: partial channels, the bypass max-pooled
on stride-2 edges as PC-DARTS does; gdas: the drawn operation).

Evaluation network (DARTS' `NetworkCIFAR`): C = 36, 20 cells, affine batch norms, drop path on
every edge but the identity, an auxiliary head after the second reduction (ReLU, 5x5 average
pool stride 3, 1x1 conv to 128, BN, ReLU, 2x2 conv to 768, BN, ReLU, linear). Its parameter
count leaves the auxiliary head out, as DARTS' `count_parameters_in_MB` does (the closed form
`wsdb.spaces.darts.evaluation_parameters` gives the same number without building it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wsdb.spaces import darts as space
from wsdb.trainers.differentiable import Mixture
from wsdb.trainers.layers import BatchNormSettings, batch_norm, drop_features, drop_paths

SEARCH_BN = BatchNormSettings(affine=False)
EVALUATION_BN = BatchNormSettings()


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, bn: BatchNormSettings) -> None:
        super().__init__(nn.ReLU(), nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False), batch_norm(c_out, bn))


class DilConv(nn.Sequential):
    def __init__(self, c: int, kernel: int, stride: int, padding: int, dilation: int, bn: BatchNormSettings) -> None:
        super().__init__(nn.ReLU(), nn.Conv2d(c, c, kernel, stride, padding, dilation, groups=c, bias=False),
                         nn.Conv2d(c, c, 1, bias=False), batch_norm(c, bn))


class SepConv(nn.Sequential):
    def __init__(self, c: int, kernel: int, stride: int, padding: int, bn: BatchNormSettings) -> None:
        super().__init__(DilConv(c, kernel, stride, padding, 1, bn), DilConv(c, kernel, 1, padding, 1, bn))


class Zero(nn.Module):
    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, ::self.stride, ::self.stride] * 0.0


class FactorizedReduce(nn.Module):
    """Halves the resolution with two 1x1 stride-2 convolutions, the second shifted by one pixel."""

    def __init__(self, c_in: int, c_out: int, bn: BatchNormSettings) -> None:
        super().__init__()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
        self.bn = batch_norm(c_out, bn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


class AvgPool3x3(nn.Module):
    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 3, self.stride, 1, count_include_pad=False)


def make_operation(op: str, c: int, stride: int, bn: BatchNormSettings) -> nn.Module:
    if op == "none":
        return Zero(stride)
    if op == "max_pool_3x3":
        return nn.MaxPool2d(3, stride, 1)
    if op == "avg_pool_3x3":
        return AvgPool3x3(stride)
    if op == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c, bn)
    kind, kernel = op.rsplit("_", 1)
    k = int(kernel[0])
    if kind == "sep_conv":
        return SepConv(c, k, stride, k // 2, bn)
    return DilConv(c, k, stride, k - 1, 2, bn)  # dil_conv: dilation 2


def _preprocess(c_pp: int, c_p: int, c: int, reduction_prev: bool, bn: BatchNormSettings) -> tuple[nn.Module, nn.Module]:
    first = FactorizedReduce(c_pp, c, bn) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0, bn)
    return first, ReLUConvBN(c_p, c, 1, 1, 0, bn)


def _layout(layers: int) -> list[bool]:
    """Which cells reduce: those at 1/3 and 2/3 of the depth."""
    return [i in (layers // 3, 2 * layers // 3) for i in range(layers)]


# --- super-net ---------------------------------------------------------------------------------


def _edge_operations(c: int, stride: int, bn: BatchNormSettings) -> nn.ModuleDict:
    """All 8 operations of one super-net edge; a pool is followed by a batch norm (DARTS' MixedOp)."""
    operations = nn.ModuleDict()
    for op in space.SEARCH_OPERATIONS:
        module = make_operation(op, c, stride, bn)
        operations[op] = nn.Sequential(module, batch_norm(c, bn)) if "pool" in op else module
    return operations


class SuperCell(nn.Module):
    def __init__(self, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool, bn: BatchNormSettings,
                 partial_channels: int = 1) -> None:
        super().__init__()
        self.reduction = reduction
        self.preprocess0, self.preprocess1 = _preprocess(c_pp, c_p, c, reduction_prev, bn)
        self.edges = nn.ModuleList(
            _edge_operations(c // partial_channels, 2 if reduction and j < 2 else 1, bn)
            for n in range(space.NODES) for j in range(n + 2))

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, cell) -> torch.Tensor:
        """`cell`: a Mixture over the 28 edges, or a genotype (normal, reduce) of space.Cell."""
        offset = space.EDGES_PER_CELL if self.reduction else 0
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        start = 0
        for n in range(space.NODES):
            if isinstance(cell, Mixture):
                terms = [cell.edge(offset + start + j, states[j], self.edges[start + j].__getitem__)
                         for j in range(n + 2)]
            else:
                chosen = cell[1 if self.reduction else 0][n]
                terms = [self.edges[start + j][op](states[j]) for j, op in chosen]
            terms = drop_paths(terms)
            states.append(sum(terms[1:], terms[0]))
            start += n + 2
        return torch.cat(states[2:], dim=1)


class DartsSupernet(nn.Module):
    def __init__(self, channels: int = 16, layers: int = 8, num_classes: int = 10, bn: BatchNormSettings = SEARCH_BN,
                 partial_channels: int = 1) -> None:
        super().__init__()
        c_curr = 3 * channels
        self.stem = nn.Sequential(nn.Conv2d(3, c_curr, 3, padding=1, bias=False), batch_norm(c_curr, bn))
        c_pp, c_p, c = c_curr, c_curr, channels
        self.cells = nn.ModuleList()
        reduction_prev = False
        for reduction in _layout(layers):
            if reduction:
                c *= 2
            self.cells.append(SuperCell(c_pp, c_p, c, reduction, reduction_prev, bn, partial_channels))
            reduction_prev = reduction
            c_pp, c_p = c_p, space.NODES * c
        self.classifier = nn.Linear(c_p, num_classes)

    def forward(self, x: torch.Tensor, cell) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for layer in self.cells:
            s0, s1 = s1, layer(s0, s1, cell)
        return self.classifier(drop_features(s1).mean(dim=(2, 3)))


# --- evaluation network ------------------------------------------------------------------------


class DropPath(nn.Module):
    """DARTS' drop path: zero an edge's output per example with probability `rate`, scale the
    kept ones by 1/(1 - rate); only while training, never on the identity. The trainer sets
    `rate` every epoch (`set_drop_path`)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        self.rate = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.module(x)
        if not self.training or self.rate <= 0.0 or isinstance(self.module, nn.Identity):
            return y
        keep = 1.0 - self.rate
        mask = torch.empty(y.shape[0], 1, 1, 1, device=y.device, dtype=y.dtype).bernoulli_(keep)
        return y / keep * mask


def set_drop_path(model: nn.Module, rate: float) -> None:
    """The drop-path rate of every edge of an evaluation network."""
    for module in model.modules():
        if isinstance(module, DropPath):
            module.rate = rate


class EvaluationCell(nn.Module):
    def __init__(self, cell: space.Cell, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool) -> None:
        super().__init__()
        self.preprocess0, self.preprocess1 = _preprocess(c_pp, c_p, c, reduction_prev, EVALUATION_BN)
        self.inputs = [[index for index, _ in node] for node in cell]
        self.edges = nn.ModuleList(
            nn.ModuleList(DropPath(make_operation(op, c, 2 if reduction and index < 2 else 1, EVALUATION_BN))
                          for index, op in node)
            for node in cell)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for inputs, edges in zip(self.inputs, self.edges):
            states.append(sum(edge(states[i]) for i, edge in zip(inputs, edges)))
        return torch.cat(states[2:], dim=1)


class AuxiliaryHead(nn.Sequential):
    def __init__(self, c: int, num_classes: int) -> None:
        super().__init__(nn.ReLU(inplace=False), nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
                         nn.Conv2d(c, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
                         nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU(), nn.Flatten(),
                         nn.Linear(768, num_classes))


class DartsNetwork(nn.Module):
    """DARTS' CIFAR evaluation network of a genotype. In training mode with an auxiliary head
    `forward` returns (logits, auxiliary logits); otherwise the logits."""

    def __init__(self, genotype: tuple[space.Cell, space.Cell], channels: int = 36, layers: int = 20,
                 num_classes: int = 10, auxiliary: bool = True) -> None:
        super().__init__()
        normal, reduce = genotype
        c_curr = 3 * channels
        self.stem = nn.Sequential(nn.Conv2d(3, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr))
        c_pp, c_p, c = c_curr, c_curr, channels
        self.cells = nn.ModuleList()
        reduction_prev = False
        self.auxiliary_after = 2 * layers // 3
        c_auxiliary = None
        for i, reduction in enumerate(_layout(layers)):
            if reduction:
                c *= 2
            self.cells.append(EvaluationCell(reduce if reduction else normal, c_pp, c_p, c, reduction, reduction_prev))
            reduction_prev = reduction
            c_pp, c_p = c_p, space.NODES * c
            if i == self.auxiliary_after:
                c_auxiliary = c_p
        self.auxiliary = AuxiliaryHead(c_auxiliary, num_classes) if auxiliary else None
        self.classifier = nn.Linear(c_p, num_classes)

    def forward(self, x: torch.Tensor):
        s0 = s1 = self.stem(x)
        auxiliary = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1)
            if i == self.auxiliary_after and self.auxiliary is not None and self.training:
                auxiliary = self.auxiliary(s1)
        logits = self.classifier(s1.mean(dim=(2, 3)))
        return logits if auxiliary is None else (logits, auxiliary)


def parameter_count(model: nn.Module) -> int:
    """Trainable parameters without the auxiliary head (DARTS' count_parameters_in_MB x 10^6)."""
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith("auxiliary."))
