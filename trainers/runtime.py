"""What every long-running trainer command shares: the device it runs on, and how it is told
to stop (a worker's lease lost, a worker being stopped) between two steps."""

from __future__ import annotations

from typing import Callable

import torch

from wsdb.base.errors import WsdbError


class RunInterrupted(Exception):
    """The run was asked to stop (its worker lost the job's lease or is being stopped). The
    super-net row is left alone: the job's next holder may already be running it."""


def check_keep_going(keep_going: Callable[[], bool] | None) -> None:
    if keep_going is not None and not keep_going():
        raise RunInterrupted("asked to stop")


def pick_device(requested: str | None) -> torch.device:
    if requested:
        device = torch.device(requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise WsdbError(f"--device {requested}: CUDA is not available on this machine")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
