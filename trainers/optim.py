"""Optimizers that touch only what the sampled architectures used.

torch.optim would apply weight decay and momentum to every parameter at every step; in a
super-net, parameters the sampled architecture did not use must get neither gradient nor
update, optimizer state included (Pourchot et al. 2020). A parameter whose grad is None was not used
at all; a sliced one (first c channels) carries a mask from `ParameterUsage`.

RMSProp follows TensorFlow 1 (`tf.train.RMSPropOptimizer`, used by NAS-Bench-101 and
Pourchot et al. 2020): mean square initialised to 1, epsilon inside the square root, learning rate
inside the momentum buffer:
    ms  = decay * ms + (1 - decay) * g^2
    mom = momentum * mom + lr * g / sqrt(ms + epsilon)
    p  -= mom
SGD with momentum (Zhang et al. 2020 (Deeper Insights)): buf = momentum * buf + g; p -= lr * buf. Both add weight decay
to the gradient (g = grad + wd * p), as TF's l2 loss and torch's weight_decay do. `gradient_clip`
(Zhang, Zhang, Yang 2020: 5) first scales the gradient to that global L2 norm when it is longer,
as torch.nn.utils.clip_grad_norm_ does.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from wsdb.trainers.config import TrainingConfig
from wsdb.trainers.layers import ParameterUsage


class MaskedOptimizer:
    def __init__(self, named_parameters, config: TrainingConfig) -> None:
        self.parameters: dict[str, nn.Parameter] = dict(named_parameters)
        self.config = config
        self.state: dict[str, dict[str, torch.Tensor]] = {}

    def _state_of(self, name: str, p: torch.Tensor) -> dict[str, torch.Tensor]:
        state = self.state.get(name)
        if state is None:
            if self.config.optimizer == "rmsprop":
                state = {"mean_square": torch.ones_like(p), "momentum": torch.zeros_like(p)}
            else:
                state = {"momentum": torch.zeros_like(p)}
            self.state[name] = state
        return state

    @torch.no_grad()
    def step(self, lr: float, usage: ParameterUsage) -> None:
        c = self.config
        if c.gradient_clip is not None:  # the global L2 norm of the gradient, before weight decay (as torch)
            nn.utils.clip_grad_norm_([p for p in self.parameters.values() if p.grad is not None], c.gradient_clip)
        for name, p in self.parameters.items():
            if p.grad is None:
                continue
            mask = usage.mask_of(p)
            g = p.grad + c.weight_decay * p if c.weight_decay else p.grad
            state = self._state_of(name, p)
            if c.optimizer == "rmsprop":
                mean_square = state["mean_square"] * c.rms_decay + (1 - c.rms_decay) * g * g
                momentum = state["momentum"] * c.momentum + lr * g / torch.sqrt(mean_square + c.epsilon)
                update = momentum
                self._assign(state["mean_square"], mean_square, mask)
            else:
                momentum = state["momentum"] * c.momentum + g
                update = lr * momentum
            self._assign(state["momentum"], momentum, mask)
            self._assign(p, p - update, mask)

    @staticmethod
    def _assign(target: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None) -> None:
        if mask is None:
            target.copy_(value)
        else:
            target.copy_(torch.where(mask, value, target))

    def state_dict(self) -> dict:
        return {name: dict(state) for name, state in self.state.items()}

    def load_state_dict(self, state: dict) -> None:
        self.state = {name: {k: v.to(self.parameters[name].device) for k, v in s.items()} for name, s in state.items()}


def cosine(start: float, end: float, progress: float) -> float:
    """Cosine annealing from `start` to `end` as `progress` goes from 0 to 1."""
    return end + 0.5 * (start - end) * (1 + math.cos(math.pi * progress))


def learning_rate(config: TrainingConfig, step: int, total_steps: int) -> float:
    """Cosine annealing per step from learning_rate to lr_min (or constant)."""
    if config.lr_schedule == "constant" or total_steps <= 0:
        return config.learning_rate
    return cosine(config.learning_rate, config.lr_min, step / total_steps)
