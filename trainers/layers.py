"""Layers whose weights are shared by every architecture of a super-net.

A super-net layer holds the largest weight any architecture needs and runs, for the sampled
architecture, on a part of it: the first c channels (Guo et al. 2019; Pourchot et al. 2020; Yu et al. 2020), or a
linear interpolation of all channels (Yu et al.'s variant), or c channels of a permutation
redrawn at every step (Yu et al.'s "shuffle", after Zhang et al. 2018), or the centre of a 3x3
kernel for a 1x1 convolution (SINGLE-K, Pourchot et al. 2020), or that centre through a learned
linear map (OFA's kernel transformation, Cai et al. 2020). `effective_weight` is that part as a
plain tensor, so a standalone network can be given exactly the weights the super-net computes
with (the equivalence test).

The regularisers Yu et al. 2020 compare (path and global dropout) and weight-sharing batch
norm (one batch norm per incoming edge, Luo et al. 2018) live here too; dropout acts only
inside `regularising(...)`, which training sets up and evaluation never does.

Which parameter entries an architecture used is recorded while a `ParameterUsage` is active:
the optimizer updates only those (no gradient, no weight decay, no optimizer-state change
for the rest: Pourchot et al. 2020 section 3).
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

SLICING_MODES = ("first", "interpolate", "shuffle")


class ParameterUsage:
    """Boolean masks of the parameter entries used since the last `clear()`.

    A parameter absent from `masks` was used whole (or not at all: then its grad is None).
    """

    def __init__(self) -> None:
        self.masks: dict[nn.Parameter, torch.Tensor] = {}
        self.whole: set[nn.Parameter] = set()

    def mark(self, parameter: nn.Parameter, index: tuple | None = None) -> None:
        if index is None:
            self.whole.add(parameter)
            return
        mask = self.masks.get(parameter)
        if mask is None:
            mask = self.masks[parameter] = torch.zeros(parameter.shape, dtype=torch.bool, device=parameter.device)
        mask[index] = True

    def mask_of(self, parameter: nn.Parameter) -> torch.Tensor | None:
        """None when the whole parameter was used."""
        if parameter in self.whole:
            return None
        return self.masks.get(parameter)

    def clear(self) -> None:
        self.masks.clear()
        self.whole.clear()


_usage: contextvars.ContextVar[ParameterUsage | None] = contextvars.ContextVar("parameter_usage", default=None)


@contextmanager
def recording(usage: ParameterUsage):
    token = _usage.set(usage)
    try:
        yield usage
    finally:
        _usage.reset(token)


def mark_used(parameter: nn.Parameter, index: tuple | None = None) -> None:
    usage = _usage.get()
    if usage is not None:
        usage.mark(parameter, index)


@lru_cache(maxsize=None)
def _averaging_matrix(full: int, size: int) -> torch.Tensor:
    """size x full matrix averaging `full` channels into `size` (adaptive average pooling
    along the channel axis: the moving average of Yu et al.'s interpolation)."""
    matrix = torch.zeros(size, full)
    for i in range(size):
        start = (i * full) // size
        end = -((-(i + 1) * full) // size)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


@dataclass(frozen=True)
class BatchNormSettings:
    """momentum in PyTorch convention (TensorFlow's 0.997 is 0.003 here)."""

    momentum: float = 0.1
    eps: float = 1e-5
    affine: bool = True
    track_running_stats: bool = True


def batch_norm(channels: int, settings: BatchNormSettings) -> nn.BatchNorm2d:
    """A plain BatchNorm2d with these settings (the standalone networks' batch norm)."""
    return nn.BatchNorm2d(channels, eps=settings.eps, momentum=settings.momentum, affine=settings.affine,
                          track_running_stats=settings.track_running_stats)


class SlicedBatchNorm(nn.Module):
    """Batch norm over the first c of `channels` channels (statistics and affine sliced).

    Speaks nn.BatchNorm2d's interface where evaluation needs it: `reset_running_stats()`, and
    `momentum = None` for the exact average over the batches seen since the reset (BNS-FT).
    """

    def __init__(self, channels: int, settings: BatchNormSettings) -> None:
        super().__init__()
        self.channels = channels
        self.settings = settings
        self.momentum = settings.momentum
        if settings.affine:
            self.weight = nn.Parameter(torch.ones(channels))
            self.bias = nn.Parameter(torch.zeros(channels))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if settings.track_running_stats:
            self.register_buffer("running_mean", torch.zeros(channels))
            self.register_buffer("running_var", torch.ones(channels))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
        self.batches_tracked = 0

    def reset_running_stats(self) -> None:
        if self.running_mean is not None:
            self.running_mean.zero_()
            self.running_var.fill_(1.0)
        self.batches_tracked = 0

    def forward(self, x: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        """Normalise x's channels with this layer's first c channels, or with the channels
        `index` names (shuffle slicing; the running statistics are written back there)."""
        c = x.shape[1]
        chosen = (slice(0, c),) if index is None else (index,)
        weight = bias = None
        if self.weight is not None:
            weight, bias = self.weight[chosen], self.bias[chosen]
            mark_used(self.weight, chosen)
            mark_used(self.bias, chosen)
        tracking = self.running_mean is not None
        momentum = self.momentum
        if self.training and tracking:
            self.batches_tracked += 1
            if momentum is None:
                momentum = 1.0 / self.batches_tracked
        # Slices are views that F.batch_norm updates in place; an index gathers copies.
        mean = self.running_mean[chosen] if tracking else None
        var = self.running_var[chosen] if tracking else None
        y = F.batch_norm(x, mean, var, weight, bias, self.training or not tracking, momentum or 0.0, self.settings.eps)
        if tracking and index is not None and self.training:
            self.running_mean.index_copy_(0, index, mean)
            self.running_var.index_copy_(0, index, var)
        return y

    def standalone(self, c: int, index: torch.Tensor | None = None) -> nn.BatchNorm2d:
        """A plain BatchNorm2d holding this layer's first c channels (or those of `index`)."""
        s = self.settings
        chosen = slice(0, c) if index is None else index
        bn = batch_norm(c, s)
        with torch.no_grad():
            if s.affine:
                bn.weight.copy_(self.weight[chosen])
                bn.bias.copy_(self.bias[chosen])
            if s.track_running_stats:
                bn.running_mean.copy_(self.running_mean[chosen])
                bn.running_var.copy_(self.running_var[chosen])
        return bn


class SlicedConv2d(nn.Module):
    """A bias-free stride-1 convolution with max_out x max_in x k x k weights, run on part of them."""

    def __init__(self, max_in: int, max_out: int, kernel: int, slicing: str = "first") -> None:
        super().__init__()
        if slicing not in SLICING_MODES:
            raise ValueError(f"slicing must be one of {SLICING_MODES}, not {slicing!r}")
        self.kernel, self.slicing = kernel, slicing
        self.weight = nn.Parameter(torch.empty(max_out, max_in, kernel, kernel))
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")

    def effective_weight(self, c_out: int, c_in: int, kernel: int | None = None,
                         index: torch.Tensor | None = None) -> torch.Tensor:
        """The weight used at c_out x c_in channels (kernel 1 of a 3x3 weight: its centre); with
        `index` (shuffle slicing) the output channels it names."""
        w = self.weight
        full_out, full_in = w.shape[0], w.shape[1]
        k = self.kernel if kernel is None else kernel
        k0 = (self.kernel - k) // 2
        if index is not None:
            window = (slice(0, c_in), slice(k0, k0 + k), slice(k0, k0 + k))
            mark_used(w, (index, *window))
            return w.index_select(0, index)[(slice(None), *window)]
        if self.slicing != "interpolate" or (c_out == full_out and c_in == full_in):
            mark_used(w, (slice(0, c_out), slice(0, c_in), slice(k0, k0 + k), slice(k0, k0 + k)))
            return w[:c_out, :c_in, k0:k0 + k, k0:k0 + k]
        mark_used(w)
        w = w[:, :, k0:k0 + k, k0:k0 + k]
        if c_out != full_out:
            w = torch.einsum("of,fikl->oikl", _averaging_matrix(full_out, c_out).to(w), w)
        if c_in != full_in:
            w = torch.einsum("if,ofkl->oikl", _averaging_matrix(full_in, c_in).to(w), w)
        return w

    def forward(self, x: torch.Tensor, c_out: int, kernel: int | None = None,
                index: torch.Tensor | None = None) -> torch.Tensor:
        weight = self.effective_weight(c_out, x.shape[1], kernel, index)
        return F.conv2d(x, weight, padding=weight.shape[-1] // 2)

    def standalone(self, c_out: int, c_in: int, kernel: int | None = None,
                   index: torch.Tensor | None = None) -> nn.Conv2d:
        k = self.kernel if kernel is None else kernel
        conv = nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False)
        with torch.no_grad():
            conv.weight.copy_(self.effective_weight(c_out, c_in, k, index))
        return conv


def transformed_centre(weight: torch.Tensor, kernel: int, transform: torch.Tensor) -> torch.Tensor:
    """OFA's kernel transformation (Cai et al. 2020): the centre kernel x kernel window of every
    filter of `weight`, flattened, mapped by `transform` (kernel^2 x kernel^2, one per layer,
    shared by the channels)."""
    k0 = (weight.shape[-1] - kernel) // 2
    centre = weight[..., k0:k0 + kernel, k0:k0 + kernel]
    flat = centre.reshape(*weight.shape[:2], kernel * kernel)
    return (flat @ transform.t()).reshape(*weight.shape[:2], kernel, kernel)


class TransformedKernel(nn.Module):
    """A smaller kernel of a sliced convolution as OFA derives it: the larger kernel's centre
    through a learned linear map, initialised to the identity (so training starts from
    SINGLE-K's sharing); speaks SlicedConv2d's interface."""

    def __init__(self, source: SlicedConv2d, kernel: int) -> None:
        super().__init__()
        self.source, self.kernel = source, kernel
        self.transform = nn.Parameter(torch.eye(kernel * kernel))

    def effective_weight(self, c_out: int, c_in: int, kernel: int | None = None,
                         index: torch.Tensor | None = None) -> torch.Tensor:
        mark_used(self.transform)
        return transformed_centre(self.source.effective_weight(c_out, c_in, self.kernel, index), self.kernel,
                                  self.transform)

    forward = SlicedConv2d.forward
    standalone = SlicedConv2d.standalone


def channel_orders(model: nn.Module) -> list[torch.Tensor]:
    """The permutations of shuffle slicing (`channel_order` buffers), collected once per model."""
    return [m.channel_order for m in model.modules() if isinstance(getattr(m, "channel_order", None), torch.Tensor)]


def redraw_channel_orders(orders: list[torch.Tensor], generator: torch.Generator) -> None:
    """Shuffle slicing: a new permutation in each buffer, drawn from the run's generator (saved
    in checkpoints: a resumed run draws the same)."""
    with torch.no_grad():
        for order in orders:
            order.copy_(torch.randperm(len(order), generator=generator))


# --- regularisation: path and global dropout (training only) -------------------------------


@dataclass(frozen=True)
class Dropout:
    """path: probability of dropping each incoming edge of a node; features: dropout before
    global pooling; masks come from `generator` (CPU, saved with the run)."""

    path: float
    features: float
    generator: torch.Generator


_dropout: contextvars.ContextVar[Dropout | None] = contextvars.ContextVar("dropout", default=None)


@contextmanager
def regularising(dropout: Dropout | None):
    token = _dropout.set(dropout)
    try:
        yield
    finally:
        _dropout.reset(token)


def drop_paths(terms: list[torch.Tensor]) -> list[torch.Tensor]:
    """The incoming edges of one node under path dropout: per example, each edge is dropped
    with probability p and the kept ones scaled by 1/(1-p); an example that would lose every
    edge keeps one, drawn uniformly. Outside `regularising`, the terms as they are."""
    settings = _dropout.get()
    if settings is None or settings.path == 0.0 or len(terms) < 2:
        return terms
    n = terms[0].shape[0]
    keep = torch.rand(n, len(terms), generator=settings.generator) >= settings.path
    lost = ~keep.any(dim=1)
    if lost.any():
        rescued = torch.randint(len(terms), (int(lost.sum()),), generator=settings.generator)
        keep[lost.nonzero().squeeze(1), rescued] = True
    scale = keep.to(terms[0].dtype) / (1.0 - settings.path)
    scale = scale.to(terms[0].device)
    return [term * scale[:, k].view(n, *([1] * (term.dim() - 1))) for k, term in enumerate(terms)]


def drop_features(x: torch.Tensor) -> torch.Tensor:
    """Global dropout: inverted dropout of the feature map before global pooling."""
    settings = _dropout.get()
    if settings is None or settings.features == 0.0:
        return x
    keep = torch.rand(x.shape, generator=settings.generator) >= settings.features
    return x * (keep.to(x.dtype) / (1.0 - settings.features)).to(x.device)


# --- weight-sharing batch norm ---------------------------------------------------------------


_edge: contextvars.ContextVar[int | None] = contextvars.ContextVar("incoming_edge", default=None)


@contextmanager
def on_edge(edge: int):
    """The edge an operation shared by a node's edges is being run for (WSBN picks its norm)."""
    token = _edge.set(edge)
    try:
        yield
    finally:
        _edge.reset(token)


class EdgeBatchNorm(nn.Module):
    """WSBN (Luo et al. 2018): one batch norm, statistics and affine, per incoming edge of
    the node whose operation it belongs to; the edge is the one `on_edge` names."""

    def __init__(self, channels: int, settings: BatchNormSettings, edges: list[int]) -> None:
        super().__init__()
        self.norms = nn.ModuleDict({str(e): batch_norm(channels, settings) for e in edges})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        edge = _edge.get()
        if edge is None:
            raise RuntimeError("EdgeBatchNorm runs only inside on_edge(...)")
        return self.norms[str(edge)](x)


def norm_factory(settings: BatchNormSettings, wsbn_edges: list[int] | None = None):
    """channels -> the batch norm of an operation: plain, or one per edge of `wsbn_edges`."""
    if wsbn_edges is None:
        return lambda c: batch_norm(c, settings)
    return lambda c: EdgeBatchNorm(c, settings, wsbn_edges)


def shared_operations(edges, make_operations, sharing: str, wsbn: bool, bn: BatchNormSettings) -> tuple:
    """(ModuleList of operation sets, the set each edge uses): one set per edge, or per target
    node (`sharing` node), whose batch norms WSBN splits by incoming edge."""
    if sharing == "edge":
        return nn.ModuleList(make_operations(None) for _ in edges), list(range(len(edges)))
    targets = sorted({t for _, t in edges})
    incoming = [[i for i, (_, t) in enumerate(edges) if t == target] for target in targets]
    sets = nn.ModuleList(make_operations(norm_factory(bn, into) if wsbn else None) for into in incoming)
    return sets, [targets.index(t) for _, t in edges]


def batchnorm_layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (SlicedBatchNorm, nn.modules.batchnorm._BatchNorm))]


class EdgeChoiceSupernet:
    """Mixin of super-nets whose cells choose one operation per edge (nb201, ws64): edges are
    ModuleDicts named `...edges.<i>.<op>...`, the network skeleton provides `_run` and `macro`,
    and `standalone_network(cell, macro)` is the benchmark's network of one cell."""

    standalone_network: type

    def forward(self, x: torch.Tensor, cell) -> torch.Tensor:
        return self._run(x, lambda layer, t: layer(t, cell))

    def standalone(self, cell) -> nn.Module:
        """The standalone network of `cell` holding the weights this super-net uses for it."""
        net = self.standalone_network(cell, self.macro)
        net.load_state_dict(chosen_operations_state(self.state_dict(), cell))
        return net


def chosen_operations_state(supernet_state: dict, cell) -> dict:
    """A super-net state with, on every edge (`...edges.<i>.<op>...`), only the operation the
    cell chose, named as a standalone network names it (`...edges.<i>...`)."""
    state = {}
    for name, value in supernet_state.items():
        parts = name.split(".")
        if "edges" in parts:
            k = parts.index("edges")
            if cell[int(parts[k + 1])] != parts[k + 2]:
                continue
            name = ".".join(parts[:k + 2] + parts[k + 3:])
        state[name] = value
    return state
