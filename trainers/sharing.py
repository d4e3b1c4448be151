"""The degree of sharing (Zhang et al. 2020, Deeper Insights, section 4.2): the architectures of a
space split into m groups, each trained with its own copy of the super-net's weights.

m = 1 is full sharing, m = 64 (ws64) none: every architecture then trains alone. A step trains
the copy of the drawn architecture's group only: the other copies get no gradient, so the
masked optimizer leaves them (and their optimizer state) untouched, and an architecture is
always scored with its own group's weights.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


class GroupedSupernet(nn.Module):
    """`groups` lists the names of each group's architectures; `name_of(cell)` names a cell."""

    def __init__(self, build: Callable[[], nn.Module], groups: list[list[str]], name_of: Callable) -> None:
        super().__init__()
        self.copies = nn.ModuleList(build() for _ in groups)
        self.group_of = {name: g for g, members in enumerate(groups) for name in members}
        self.name_of = name_of

    def forward(self, x: torch.Tensor, cell) -> torch.Tensor:
        return self.copies[self.group_of[self.name_of(cell)]](x, cell)
