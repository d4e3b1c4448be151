"""NAS-Bench-101 networks: the standalone network of the benchmark and its super-net.

The network (google-research/nasbench, described in ../shared/notes/benchmarks.md): a 3x3
conv-BN-ReLU stem, 3 stacks of 3 cells, a 2x2 max-pool with stride 2 and doubled channels
before stacks 2 and 3, global average pooling, a dense layer. Inside a cell, vertices sum
their inputs (1x1 conv-BN-ReLU projections of the cell input, channel truncations of other
vertices) and apply their operation; the output concatenates the vertices that feed it and
adds a projection of the input when the input feeds it too. `vertex_channels` splits the
output channels among the vertices.

The super-net (Pourchot et al. 2020; Yu et al. 2020) holds in every vertex all three operations at the cell's
full width and runs the sampled cell on the first c channels (or an interpolation of all
of them, or c channels of a permutation redrawn every step: `slicing`); SINGLE-K uses the
centre of the 3x3 kernel as the 1x1 kernel, OFA (`super_kernel`) that centre through a learned
map. Path dropout acts on the inputs of every vertex and of the output; global dropout before
the pooling (training only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from wsdb.spaces import nb101 as space
from wsdb.trainers.layers import (BatchNormSettings, SlicedBatchNorm, SlicedConv2d, TransformedKernel, batch_norm,
                                  drop_features, drop_paths)

Cell = tuple[tuple[tuple[int, ...], ...], tuple[str, ...]]  # pruned (matrix, ops)
KERNEL = {space.CONV3X3: 3, space.CONV1X1: 1}


def vertex_channels(in_channels: int, out_channels: int, matrix) -> list[int]:
    """Channels of every vertex (nasbench's compute_vertex_channels): the vertices feeding the
    output share its channels (remainder to the first ones), the others take the largest
    count among their successors, going backwards."""
    n = len(matrix)
    channels = [0] * n
    channels[0], channels[-1] = in_channels, out_channels
    if n == 2:
        return channels
    feeding = [v for v in range(1, n - 1) if matrix[v][n - 1]]
    share, remainder = divmod(out_channels, len(feeding))
    for i, v in enumerate(feeding):
        channels[v] = share + (1 if i < remainder else 0)
    for v in range(n - 3, 0, -1):
        if not matrix[v][n - 1]:
            channels[v] = max(channels[d] for d in range(v + 1, n - 1) if matrix[v][d])
    return channels


def max_pool_3x3(x: torch.Tensor) -> torch.Tensor:
    # Fast on channels_last tensors (4x the NCHW speed with its backward on this CPU); a
    # separable max of shifted views was slower still (torch.maximum's backward splits ties).
    return F.max_pool2d(x, 3, 1, 1)


def run_cell(matrix, channels: list[int], x: torch.Tensor, project, operate) -> torch.Tensor:
    """The wiring of a cell, shared by the standalone network and the super-net.

    project(v, x, c): 1x1 projection of the cell input to c channels for vertex v (v = last:
    the output projection); operate(v, summed_input, c): vertex v's operation.
    """
    n = len(matrix)
    outputs: list[torch.Tensor | None] = [x] + [None] * (n - 1)
    for v in range(1, n - 1):
        c = channels[v]
        inputs = [outputs[u][:, :c] for u in range(1, v) if matrix[u][v]]
        if matrix[0][v]:
            inputs.append(project(v, x, c))
        inputs = drop_paths(inputs)
        total = inputs[0]
        for extra in inputs[1:]:
            total = total + extra
        outputs[v] = operate(v, total, c)
    feeding = [outputs[u] for u in range(1, n - 1) if matrix[u][n - 1]]
    if not feeding:
        return project(n - 1, x, channels[-1])
    terms = drop_paths(feeding + ([project(n - 1, x, channels[-1])] if matrix[0][n - 1] else []))  # output's edges
    y = torch.cat(terms[:len(feeding)], dim=1) if len(feeding) > 1 else terms[0]
    return y + terms[-1] if len(terms) > len(feeding) else y


@dataclass(frozen=True)
class Macro:
    """The network around the cells; the benchmark's is 128 channels, 3 stacks of 3 cells."""

    initial_channels: int = 128
    stacks: int = 3
    cells_per_stack: int = 3
    num_classes: int = 10
    bn: BatchNormSettings = field(default_factory=lambda: BatchNormSettings(momentum=0.003, eps=1e-5))

    def cell_channels(self) -> list[tuple[int, int, bool]]:
        """(in, out, downsample before) of every cell."""
        layout, c_in, c = [], self.initial_channels, self.initial_channels
        for stack in range(self.stacks):
            if stack > 0:
                c *= 2
            for i in range(self.cells_per_stack):
                layout.append((c_in, c, stack > 0 and i == 0))
                c_in = c
        return layout

    @property
    def final_channels(self) -> int:
        return self.initial_channels * 2 ** (self.stacks - 1)


class ConvBNReLU(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, bn: BatchNormSettings) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False), batch_norm(c_out, bn), nn.ReLU())


class StandaloneCell(nn.Module):
    def __init__(self, cell: Cell, c_in: int, c_out: int, bn: BatchNormSettings) -> None:
        super().__init__()
        self.matrix, self.ops = cell
        n = len(self.matrix)
        self.channels = vertex_channels(c_in, c_out, self.matrix)
        self.projections = nn.ModuleDict({
            str(v): ConvBNReLU(c_in, self.channels[v], 1, bn) for v in range(1, n) if self.matrix[0][v]
        })
        self.operations = nn.ModuleDict({
            str(v): ConvBNReLU(self.channels[v], self.channels[v], KERNEL[self.ops[v]], bn)
            for v in range(1, n - 1) if self.ops[v] in KERNEL
        })

    def _operate(self, v: int, x: torch.Tensor, c: int) -> torch.Tensor:
        return self.operations[str(v)](x) if str(v) in self.operations else max_pool_3x3(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return run_cell(self.matrix, self.channels, x, lambda v, t, c: self.projections[str(v)](t), self._operate)


class NB101Network(nn.Module):
    """The standalone network of one cell (at 128 channels: the benchmark's network)."""

    def __init__(self, cell: Cell, macro: Macro = Macro()) -> None:
        super().__init__()
        self.stem = ConvBNReLU(3, macro.initial_channels, 3, macro.bn)
        self.cells = nn.ModuleList(StandaloneCell(cell, c_in, c_out, macro.bn) for c_in, c_out, _ in macro.cell_channels())
        self.downsample = [down for _, _, down in macro.cell_channels()]
        self.classifier = nn.Linear(macro.final_channels, macro.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for cell, down in zip(self.cells, self.downsample):
            if down:
                x = F.max_pool2d(x, 2, 2)
            x = cell(x)
        return self.classifier(drop_features(x).mean(dim=(2, 3)))


def parameter_count(cell: Cell, macro: Macro = Macro()) -> int:
    """Trainable parameters of the standalone network, in closed form (no tensors built)."""
    matrix, ops = cell
    n = len(matrix)
    bn = 2 if macro.bn.affine else 0
    total = 3 * 9 * macro.initial_channels + bn * macro.initial_channels
    for c_in, c_out, _ in macro.cell_channels():
        channels = vertex_channels(c_in, c_out, matrix)
        for v in range(1, n):
            if matrix[0][v]:
                total += c_in * channels[v] + bn * channels[v]
            if v < n - 1 and ops[v] in KERNEL:
                total += channels[v] ** 2 * KERNEL[ops[v]] ** 2 + bn * channels[v]
    return total + macro.final_channels * macro.num_classes + macro.num_classes


# --- the super-net -----------------------------------------------------------------------


class SlicedConvBNReLU(nn.Module):
    """Conv-BN-ReLU on part of its channels. Shuffle slicing keeps a permutation of the output
    channels (`channel_order`, a buffer: checkpoints hold it; the trainer redraws it every
    step) and a narrower layer uses the first c channels of that order; the full width keeps
    the natural order."""

    def __init__(self, max_in: int, max_out: int, kernel: int, bn: BatchNormSettings, slicing: str) -> None:
        super().__init__()
        self.conv: SlicedConv2d | TransformedKernel = SlicedConv2d(max_in, max_out, kernel, slicing)
        self.bn = SlicedBatchNorm(max_out, bn)
        self.max_out = max_out
        if slicing == "shuffle":
            self.register_buffer("channel_order", torch.arange(max_out))
        else:
            self.channel_order = None

    def _index(self, c_out: int) -> torch.Tensor | None:
        return None if self.channel_order is None or c_out == self.max_out else self.channel_order[:c_out]

    def forward(self, x: torch.Tensor, c_out: int, kernel: int | None = None) -> torch.Tensor:
        index = self._index(c_out)
        return F.relu(self.bn(self.conv(x, c_out, kernel, index), index))

    def standalone(self, c_in: int, c_out: int, kernel: int | None = None) -> nn.Sequential:
        index = self._index(c_out)
        return nn.Sequential(self.conv.standalone(c_out, c_in, kernel, index), self.bn.standalone(c_out, index),
                             nn.ReLU())


class SuperVertex(nn.Module):
    """All operations of one vertex, and its projection of the cell input."""

    def __init__(self, c_in: int, c_out: int, bn: BatchNormSettings, slicing: str, single_kernel: bool,
                 super_kernel: str | None = None) -> None:
        super().__init__()
        self.projection = SlicedConvBNReLU(c_in, c_out, 1, bn, slicing)
        self.conv3x3 = SlicedConvBNReLU(c_out, c_out, 3, bn, slicing)
        # SINGLE-K: the 1x1 kernel is the centre of the 3x3 one; OFA: that centre through a
        # learned map. Either way the 1x1 keeps its own batch norm.
        self.conv1x1 = SlicedConvBNReLU(c_out, c_out, 1, bn, slicing)
        if single_kernel:
            self.conv1x1.conv = self.conv3x3.conv
        elif super_kernel == "ofa":
            self.conv1x1.conv = TransformedKernel(self.conv3x3.conv, 1)

    def layer(self, op: str) -> SlicedConvBNReLU | None:
        """The layer of a convolution op (None: max-pool has no weights)."""
        return {space.CONV3X3: self.conv3x3, space.CONV1X1: self.conv1x1}.get(op)

    def operate(self, op: str, x: torch.Tensor, c: int) -> torch.Tensor:
        layer = self.layer(op)
        return max_pool_3x3(x) if layer is None else layer(x, c, KERNEL[op])


class SuperCell(nn.Module):
    def __init__(self, c_in: int, c_out: int, bn: BatchNormSettings, slicing: str, single_kernel: bool,
                 super_kernel: str | None = None) -> None:
        super().__init__()
        self.c_in, self.c_out = c_in, c_out
        # Vertices 1..5 may be intermediate; any vertex position may be the output's.
        self.vertices = nn.ModuleList(
            SuperVertex(c_in, c_out, bn, slicing, single_kernel, super_kernel) for _ in range(space.MAX_VERTICES - 2)
        )
        self.output_projection = SlicedConvBNReLU(c_in, c_out, 1, bn, slicing)

    def _projection(self, v: int, n: int) -> SlicedConvBNReLU:
        """The projection of the cell input into vertex v of an n-vertex cell."""
        return self.output_projection if v == n - 1 else self.vertices[v - 1].projection

    def forward(self, x: torch.Tensor, cell: Cell) -> torch.Tensor:
        matrix, ops = cell
        n = len(matrix)
        channels = vertex_channels(self.c_in, self.c_out, matrix)
        return run_cell(matrix, channels, x, lambda v, t, c: self._projection(v, n)(t, c),
                        lambda v, t, c: self.vertices[v - 1].operate(ops[v], t, c))

    def standalone(self, cell: Cell, bn: BatchNormSettings) -> StandaloneCell:
        matrix, ops = cell
        n = len(matrix)
        out = StandaloneCell(cell, self.c_in, self.c_out, bn)
        for v in range(1, n):
            if matrix[0][v]:
                out.projections[str(v)] = self._projection(v, n).standalone(self.c_in, out.channels[v])
            if v < n - 1 and ops[v] in KERNEL:
                layer = self.vertices[v - 1].layer(ops[v])
                out.operations[str(v)] = layer.standalone(out.channels[v], out.channels[v], KERNEL[ops[v]])
        return out


class NB101Supernet(nn.Module):
    """Every NB101 cell at once; `forward(x, cell)` runs the network of one pruned cell."""

    def __init__(self, macro: Macro, slicing: str = "first", single_kernel: bool = False,
                 super_kernel: str | None = None) -> None:
        super().__init__()
        self.macro = macro
        self.stem = SlicedConvBNReLU(3, macro.initial_channels, 3, macro.bn, "first")
        layout = macro.cell_channels()
        self.cells = nn.ModuleList(SuperCell(c_in, c_out, macro.bn, slicing, single_kernel, super_kernel)
                                   for c_in, c_out, _ in layout)
        self.downsample = [down for _, _, down in layout]
        self.classifier = nn.Linear(macro.final_channels, macro.num_classes)

    def forward(self, x: torch.Tensor, cell: Cell) -> torch.Tensor:
        x = self.stem(x, self.macro.initial_channels)
        for layer, down in zip(self.cells, self.downsample):
            if down:
                x = F.max_pool2d(x, 2, 2)
            x = layer(x, cell)
        return self.classifier(drop_features(x).mean(dim=(2, 3)))

    def standalone(self, cell: Cell) -> NB101Network:
        """The standalone network of `cell` holding the weights this super-net uses for it."""
        net = NB101Network(cell, self.macro)
        net.stem = self.stem.standalone(3, self.macro.initial_channels)
        net.cells = nn.ModuleList(layer.standalone(cell, self.macro.bn) for layer in self.cells)
        net.classifier.load_state_dict(self.classifier.state_dict())
        return net
