"""Differentiable weight sharing: architecture weights θ learned with the shared weights.

Methods (configuration key `search`):
- darts: every edge outputs Σ_o θ_{e,o}·o(x) with θ_e = softmax(α_e) (Liu et al. 2019);
- gdas: one operation per edge, drawn by Gumbel-softmax at temperature τ (annealed linearly
  from `gdas_tau_max` to `gdas_tau_min` over training), hard in the forward pass with the
  straight-through gradient to α (Dong & Yang 2019); only the drawn operation runs;
- pc-darts: DARTS on 1/K of the channels (`partial_channels` = K; the rest bypass the edge,
  max-pooled on a stride-2 edge, then channels are shuffled), and edge normalisation: the edges into a node with several
  inputs are weighted by β, a point of that node's simplex (Xu et al. 2020: softmax of logits).
On NAS-Bench-1Shot1's one-shot model (trainers/one_shot1.py) θ holds the operation of each
vertex and β the parent choices of the vertices and the output (Zela, Siems, Hutter 2020:
softmax of logits), under every method; gdas draws the operations and weighs parents as darts.
Architecture update (`architecture_update`): adam on α and β's logits (DARTS' Adam, betas
0.5/0.999), or exponentiated: θ and β themselves, w ← w ⊙ exp(−η ∇_w L), renormalised per
edge (θ) and per node (β) onto the simplex (GAEA: Li, Khodak, Balcan, Talwalkar 2021 replace
every softmax-parameterised architecture weight so). Formulation: bilevel (θ on held-out batches of the
training split, the weights on the other half, alternating, first order, as DARTS) or
single-level (both on the same training batch: GAEA's ERM form).

θ (and β) live in an `ArchitectureWeights`; its state, optimizer included, goes into every
checkpoint so a resumed run continues exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from wsdb.trainers.layers import on_edge


def exponentiated_step(theta: torch.Tensor, gradient: torch.Tensor, learning_rate: float) -> torch.Tensor:
    """GAEA's update: θ ⊙ exp(−η g), each row (edge) renormalised to sum to 1. Computed from the
    log-domain to stay finite for large steps."""
    logits = torch.log(theta.clamp_min(1e-30)) - learning_rate * gradient
    return torch.softmax(logits, dim=-1)


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    batch, channels, height, width = x.shape
    return x.view(batch, groups, channels // groups, height, width).transpose(1, 2).reshape(batch, channels, height, width)


class Mixture:
    """What one forward pass of the super-net uses on each edge: per-edge operation weights
    (dense for darts/pc-darts, one-hot with straight-through gradient for gdas), edge weights
    for pc-darts' edge normalisation, and the partial-channel factor."""

    def __init__(self, operation_weights: torch.Tensor, operations: tuple[str, ...], drawn: list[int] | None = None,
                 edge_weights: torch.Tensor | None = None, partial_channels: int = 1) -> None:
        """`drawn`: gdas' operation index per edge, read once per step (a device sync per
        operation and cell otherwise); None: every operation of an edge runs."""
        self.weights, self.operations, self.drawn = operation_weights, operations, drawn
        self.edge_weights, self.partial_channels = edge_weights, partial_channels

    def operation(self, index: int, x: torch.Tensor, modules) -> torch.Tensor:
        """Σ_o w_o·o(x) over the operations of decision `index` (`modules[op]`, None for a zero op)."""
        weights = self.weights[index]
        k = self.partial_channels
        part, bypass = (x, None) if k == 1 else (x[:, : x.shape[1] // k], x[:, x.shape[1] // k:])
        chosen = range(len(self.operations)) if self.drawn is None else (self.drawn[index],)
        total = None
        for o in chosen:
            module = modules(self.operations[o])
            term = weights[o] * (torch.zeros_like(part) if module is None else module(part))
            total = term if total is None else total + term
        if bypass is not None:
            if bypass.shape[2] != total.shape[2]:  # a stride-2 edge: PC-DARTS max-pools the bypass
                bypass = F.max_pool2d(bypass, 2, 2)
            total = channel_shuffle(torch.cat([total, bypass], dim=1), k)
        return total

    def edge(self, index: int, x: torch.Tensor, modules) -> torch.Tensor:
        """The operation mixture of edge `index`, times the edge's weight under edge normalisation."""
        total = self.operation(index, x, modules)
        if self.edge_weights is not None:
            total = self.edge_weights[index] * total
        return total


def edge_output(cell, index: int, x: torch.Tensor, operations) -> torch.Tensor | None:
    """The output of edge `index` of an edge-choice super-cell (nb201, ws64) whose operations
    there are `operations` (a ModuleDict without the zero operation): the sampled cell's
    operation, or a Mixture's weighted ones; None for the zero operation. Run under
    `on_edge(index)`, so WSBN picks the edge's batch norm."""
    with on_edge(index):
        if isinstance(cell, Mixture):
            return cell.edge(index, x, lambda op: operations[op] if op in operations else None)
        return operations[cell[index]](x) if cell[index] in operations else None


EdgeDecisions = tuple[int, list[list[int]]]  # (edges weighted, the index groups that share a simplex)


class ArchitectureWeights:
    """θ of one super-net: `edges` x `operations`, with the update rule of the configuration, and
    β where the super-net weighs edges too (`edge_decisions`: how many edges, and which of them
    share a simplex): pc-darts' edge normalisation, NAS-Bench-1Shot1's parent choices."""

    def __init__(self, config, edges: int, operations: tuple[str, ...], edge_decisions: EdgeDecisions | None,
                 device: torch.device) -> None:
        self.config, self.operations = config, operations
        # index tensors made once (not at every step); a group of one edge is no decision
        groups = [] if edge_decisions is None else edge_decisions[1]
        self.edge_groups = [torch.tensor(group, device=device) for group in groups if len(group) > 1]
        shape = (edges, len(operations))
        if config.architecture_update == "exponentiated":
            self.value = torch.full(shape, 1.0 / len(operations), device=device, requires_grad=True)
        else:  # α: DARTS initialises 1e-3 x N(0, 1)
            self.value = (1e-3 * torch.randn(shape, device=device)).requires_grad_()
        # β: logits under adam (softmax per node), the simplex weights themselves under the
        # exponentiated update (uniform per node at the start: the softmax of zero logits)
        self.edge_value = (None if edge_decisions is None
                           else self._initial_edge_value(edge_decisions[0], device).requires_grad_())
        parameters = [self.value] + ([self.edge_value] if self.edge_value is not None else [])
        self.optimizer = (torch.optim.Adam(parameters, lr=config.architecture_lr, betas=(0.5, 0.999),
                                           weight_decay=config.architecture_weight_decay)
                          if config.architecture_update == "adam" else None)

    def theta(self) -> torch.Tensor:
        """The architecture weights on the simplex (edges x operations)."""
        return self.value if self.config.architecture_update == "exponentiated" else torch.softmax(self.value, dim=-1)

    def edge_weights(self) -> torch.Tensor | None:
        """β: the weight of each edge, on the simplex of its group (1 for an edge outside every
        group); None where the super-net weighs no edges."""
        if self.edge_value is None:
            return None
        if self.config.architecture_update == "exponentiated":
            return self.edge_value
        weights = torch.ones_like(self.edge_value)
        for group in self.edge_groups:  # edges into one node
            weights = weights.index_put((group,), torch.softmax(self.edge_value[group], dim=0))
        return weights

    def temperature(self, progress: float) -> float:
        """GDAS' τ, linear from tau_max to tau_min over training (progress in [0, 1])."""
        return self.config.gdas_tau_max - (self.config.gdas_tau_max - self.config.gdas_tau_min) * progress

    def mixture(self, progress: float, generator: torch.Generator | None = None) -> Mixture:
        theta = self.theta()
        if self.config.search == "gdas":
            logits = torch.log(theta.clamp_min(1e-30))
            uniform = torch.rand(logits.shape, generator=generator, device="cpu").to(logits.device)
            gumbel = -torch.log(-torch.log(uniform.clamp(1e-20, 1 - 1e-7)))
            soft = torch.softmax((logits + gumbel) / self.temperature(progress), dim=-1)
            drawn = soft.argmax(-1)
            hard = F.one_hot(drawn, soft.shape[-1]).to(soft.dtype)
            return Mixture(hard - soft.detach() + soft, self.operations, drawn=drawn.tolist(),
                           edge_weights=self.edge_weights())
        k = self.config.partial_channels if self.config.search == "pc-darts" else 1
        return Mixture(theta, self.operations, edge_weights=self.edge_weights(), partial_channels=k)

    def zero_grad(self) -> None:
        for tensor in (self.value, self.edge_value):
            if tensor is not None:
                tensor.grad = None

    def step(self) -> None:
        """Apply the gradients accumulated on θ and β (or their logits)."""
        if self.optimizer is not None:
            self.optimizer.step()
        else:
            rate = self.config.architecture_lr
            with torch.no_grad():
                if self.value.grad is not None:
                    self.value.copy_(exponentiated_step(self.value, self.value.grad, rate))
                if self.edge_value is not None and self.edge_value.grad is not None:
                    for group in self.edge_groups:  # each node's simplex
                        self.edge_value[group] = exponentiated_step(self.edge_value[group], self.edge_value.grad[group],
                                                                    rate)
        self.zero_grad()

    def _initial_edge_value(self, edges: int, device) -> torch.Tensor:
        if self.config.architecture_update != "exponentiated":
            return torch.zeros(edges, device=device)
        value = torch.ones(edges, device=device)
        for group in self.edge_groups:
            value[group] = 1.0 / len(group)
        return value

    def _stored_edge_value(self, state: dict) -> torch.Tensor:
        """β of a checkpoint. Older checkpoints hold β's logits as "edge_logits"; under the
        exponentiated update those were never learnt (zero: the uniform point of each simplex)."""
        if "edge_value" in state:
            return state["edge_value"]
        if self.config.architecture_update == "exponentiated":
            return self._initial_edge_value(len(self.edge_value), self.edge_value.device)
        return state["edge_logits"]

    def state_dict(self) -> dict:
        return {"value": self.value.detach().clone(),
                "edge_value": None if self.edge_value is None else self.edge_value.detach().clone(),
                "optimizer": None if self.optimizer is None else self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """θ (and β) from a checkpoint, checked: the shapes of this super-net, finite, and under
        the exponentiated update on the simplex (a NaN θ would otherwise train on as NaN)."""
        stored = [("theta", self.value, state["value"])]
        if self.edge_value is not None:
            stored.append(("beta", self.edge_value, self._stored_edge_value(state)))
        for name, current, value in stored:
            if not isinstance(value, torch.Tensor) or value.shape != current.shape:
                raise ValueError(f"{name} has shape {getattr(value, 'shape', None)}, this super-net's is "
                                 f"{tuple(current.shape)}")
            if not bool(torch.isfinite(value).all()):
                raise ValueError(f"{name} holds NaN or infinite weights")
            if self.config.architecture_update == "exponentiated" and bool((value < 0).any()):
                raise ValueError(f"{name} holds negative weights, which the exponentiated update never makes")
        with torch.no_grad():
            for _, current, value in stored:
                current.copy_(value)
        if self.optimizer is not None:
            self.optimizer.load_state_dict(state["optimizer"])


def search_step(model, architecture: ArchitectureWeights, weight_batch, architecture_batch, progress: float,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of a differentiable method, before the shared weights' optimizer step.

    Bilevel (`architecture_batch` given): θ takes one update from the loss on that batch (first
    order: the weights as they are), then the weights' gradient comes from `weight_batch` under
    the updated θ, and any gradient that loss leaves on θ is discarded. Single-level
    (`architecture_batch` None): one loss on `weight_batch` gives both gradients and θ is
    updated from it. Returns the training loss and the number of correct predictions.
    """
    if architecture_batch is not None:
        x, y = architecture_batch
        architecture.zero_grad()
        F.cross_entropy(model(x, architecture.mixture(progress, generator)).float(), y).backward()
        architecture.step()
        model.zero_grad(set_to_none=True)  # that loss trains θ only
    x, y = weight_batch
    logits = model(x, architecture.mixture(progress, generator))
    loss = F.cross_entropy(logits.float(), y)
    loss.backward()
    if architecture_batch is None:
        architecture.step()
    else:
        architecture.zero_grad()
    return loss.detach(), (logits.argmax(1) == y).sum()
